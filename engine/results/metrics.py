"""Performance metrics of SPEC §7 from the equity series, trades and fills; NaN where undefined."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the table forms of the statistics take DataFrames
    import pandas as pd

TRADING_DAYS = 252


def _div(a: float, b: float) -> float:
    """a / b, NaN when b is zero or either side is NaN (an undefined metric)."""
    return a / b if b != 0 and not (math.isnan(a) or math.isnan(b)) else math.nan


def daily_returns(equity: np.ndarray, initial_capital: float) -> np.ndarray:
    """Simple daily returns with the initial capital as day 0 (one per run day)."""
    prev = np.concatenate(([initial_capital], equity[:-1]))
    return equity / prev - 1.0


def drawdown(equity: np.ndarray) -> np.ndarray:
    """``equity / cummax(equity) - 1`` per day (0 at a new high, negative below it)."""
    return equity / np.maximum.accumulate(equity) - 1.0


def longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of consecutive True values (0 if none)."""
    edges = np.flatnonzero(np.diff(np.r_[False, flags, False].astype(np.int8)))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


def drawdown_stats(equity: np.ndarray, dates: np.ndarray) -> dict[str, object]:
    """Max drawdown, its peak and trough dates, and the longest drawdown in trading days.

    The duration is the longest run of consecutive days below the running high (the
    days spent under water), over all drawdowns.
    """
    dd = drawdown(equity)
    trough = int(np.argmin(dd))
    # The drawdown starts at the last day at the running high before the trough.
    peak = int(np.flatnonzero(dd[: trough + 1] == 0)[-1])
    return drawdown_figures(float(dd[trough]), peak, trough, longest_run(dd < 0), dates)


def drawdown_figures(max_drawdown: float, peak: int, trough: int, longest: int,
                     dates: np.ndarray) -> dict[str, object]:
    """``drawdown_stats`` from the deepest drawdown, its peak and trough days and the
    longest run of days under water."""
    return {
        "max_drawdown": max_drawdown,
        "max_drawdown_peak": str(dates[peak]) if max_drawdown < 0 else None,
        "max_drawdown_trough": str(dates[trough]) if max_drawdown < 0 else None,
        "max_drawdown_duration_days": longest,
    }


def return_stats(equity: np.ndarray, initial_capital: float,
                 risk_free_rate: float = 0.0) -> dict[str, float]:
    """Total return, CAGR, volatility, Sharpe and Sortino of SPEC §7."""
    r = daily_returns(equity, initial_capital)
    std = float(np.std(r, ddof=1)) if r.size > 1 else math.nan
    # Downside below the risk-free rate, as empyrical measures it (r - 0.0 is r exactly).
    downside = float(np.mean(np.minimum(r - risk_free_rate / TRADING_DAYS, 0.0) ** 2))
    return return_figures(float(equity[-1]), r.size, float(np.mean(r)), std, downside,
                          initial_capital, risk_free_rate)


def return_figures(final: float, n: int, mean: float, std: float,
                   downside_mean_square: float, initial_capital: float,
                   risk_free_rate: float = 0.0) -> dict[str, float]:
    """``return_stats`` from the final equity, the number of daily returns, their mean
    and standard deviation (ddof=1) and the mean square of their part below the daily
    risk-free rate."""
    excess = mean - risk_free_rate / TRADING_DAYS
    downside = math.sqrt(downside_mean_square)
    return {
        "total_return": final / initial_capital - 1.0,
        "cagr": (final / initial_capital) ** (TRADING_DAYS / n) - 1.0,
        "volatility": std * math.sqrt(TRADING_DAYS),
        "sharpe": _div(excess, std) * math.sqrt(TRADING_DAYS),
        "sortino": _div(excess, downside) * math.sqrt(TRADING_DAYS),
    }


def trade_stats(trades: pd.DataFrame) -> dict[str, float]:
    """Closed round trips: count, win rate, profit factor, average return and bars held."""
    closed = trades[~trades["open"]] if len(trades) else trades
    if not len(closed):
        return closed_trade_stats(np.empty(0), np.empty(0), np.empty(0))
    return closed_trade_stats(closed["pnl"].to_numpy(dtype=float),
                              closed["return"].to_numpy(dtype=float),
                              closed["bars_held"].to_numpy())


def closed_trade_stats(pnl: np.ndarray, returns: np.ndarray,
                       bars_held: np.ndarray) -> dict[str, float]:
    """``trade_stats`` from the closed round trips' columns, in the trades table's order."""
    n = int(pnl.size)
    return trade_figures(n, int((pnl > 0).sum()), float(pnl[pnl > 0].sum()),
                         float(-pnl[pnl < 0].sum()),
                         float(np.mean(returns)) if n else math.nan,
                         float(np.mean(bars_held)) if n else math.nan)


def trade_figures(n: int, wins: int, gross_profit: float, gross_loss: float,
                  mean_return: float, mean_bars_held: float) -> dict[str, float]:
    """``closed_trade_stats`` from the count of closed trades and winners, the gross
    profit and loss and the mean return and bars held (NaN when there are none)."""
    return {
        "trades": n,
        "win_rate": _div(float(wins), n),
        "profit_factor": _div(gross_profit, gross_loss),
        "avg_trade_return": mean_return,
        "avg_bars_held": mean_bars_held,
    }


def cost_stats(fills: pd.DataFrame, equity: np.ndarray,
               positions_value: np.ndarray) -> dict[str, float]:
    """Total commission, stamp tax and transfer fee, turnover and exposure.

    Turnover is traded notional (both sides) over mean equity; exposure is the mean of
    positions value over equity.
    """
    shares, price, commission, tax, fee = (
        fills[name].to_numpy() if len(fills) else np.empty(0)
        for name in ("shares", "price", "commission", "tax", "transfer_fee"))
    return fill_cost_stats(shares, price, commission, tax, fee, equity, positions_value)


def fill_cost_stats(shares: np.ndarray, price: np.ndarray, commission: np.ndarray,
                    tax: np.ndarray, transfer_fee: np.ndarray, equity: np.ndarray,
                    positions_value: np.ndarray) -> dict[str, float]:
    """``cost_stats`` from the fills' columns, in execution order."""
    return cost_figures(float(np.sum(shares * price)) if shares.size else 0.0,
                        float(np.sum(commission)) if commission.size else 0.0,
                        float(np.sum(tax)) if tax.size else 0.0,
                        float(np.sum(transfer_fee)) if transfer_fee.size else 0.0,
                        float(np.mean(equity)), float(np.mean(positions_value / equity)))


def cost_figures(notional: float, commission: float, tax: float, transfer_fee: float,
                 mean_equity: float, exposure: float) -> dict[str, float]:
    """``fill_cost_stats`` from the traded notional, the costs' totals, the mean equity
    and the exposure."""
    return {
        "total_commission": commission,
        "total_tax": tax,
        "total_transfer_fee": transfer_fee,
        "turnover": _div(notional, mean_equity),
        "exposure": exposure,
    }


def compute_metrics(dates: np.ndarray, equity: np.ndarray, positions_value: np.ndarray,
                    initial_capital: float, trades: pd.DataFrame, fills: pd.DataFrame,
                    benchmark: np.ndarray, risk_free_rate: float = 0.0) -> dict[str, object]:
    """Every metric of SPEC §7 as a flat dict (floats, NaN where undefined)."""
    return summary_metrics(dates, equity, initial_capital, trade_stats(trades),
                           cost_stats(fills, equity, positions_value), benchmark,
                           risk_free_rate)


def relative_stats(returns: np.ndarray, benchmark_returns: np.ndarray,
                   risk_free_rate: float = 0.0) -> dict[str, float]:
    """Beta, alpha, tracking error and information ratio against a benchmark (SPEC §7).

    Beta and alpha come from the daily OLS of ``returns`` on ``benchmark_returns``, both
    net of ``risk_free_rate / 252`` (Jensen's alpha), alpha annualised x 252; the tracking
    error is ``std(r - r_b, ddof=1) * sqrt(252)``; the information ratio the annualised
    mean of ``r - r_b`` over the tracking error.
    """
    daily_rf = risk_free_rate / TRADING_DAYS
    raw_r, raw_b = np.asarray(returns, float), np.asarray(benchmark_returns, float)
    r, b = raw_r - daily_rf, raw_b - daily_rf  # exactly the returns when rf is 0
    spread = b - b.mean()
    active = raw_r - raw_b
    return relative_figures(float(r.mean()), float(b.mean()),
                            float(np.sum(spread * (r - r.mean()))),
                            float(np.sum(spread * spread)),
                            float(np.std(active, ddof=1)) if r.size > 1 else math.nan,
                            float(np.mean(active)))


def relative_figures(mean: float, benchmark_mean: float, covariance: float,
                     variance: float, active_std: float, active_mean: float
                     ) -> dict[str, float]:
    """``relative_stats`` from the means of the returns and the benchmark's (net of the
    risk-free rate), the sums of their co-deviations and of the benchmark's squared
    deviations, and the standard deviation (ddof=1; NaN for one day) and mean of the
    active returns."""
    beta = _div(covariance, variance)
    tracking = active_std * math.sqrt(TRADING_DAYS)
    return {
        "beta": beta,
        "alpha": (mean - beta * benchmark_mean) * TRADING_DAYS,
        "tracking_error": tracking,
        "information_ratio": _div(active_mean * TRADING_DAYS, tracking),
    }


def summary_metrics(dates: np.ndarray, equity: np.ndarray, initial_capital: float,
                    trades: dict[str, float], costs: dict[str, float], benchmark: np.ndarray,
                    risk_free_rate: float = 0.0) -> dict[str, object]:
    """``compute_metrics`` from the trade and cost statistics already computed (the
    parameter-sweep path, which never builds tables) and the benchmark's equity per day."""
    return combine_metrics(
        return_stats(equity, initial_capital, risk_free_rate),
        drawdown_stats(equity, dates), float(drawdown(equity).min()), trades, costs,
        relative_stats(daily_returns(equity, initial_capital),
                       daily_returns(np.asarray(benchmark, float), initial_capital),
                       risk_free_rate),
        float(benchmark[-1]) / initial_capital - 1.0, int(equity.size), float(equity[-1]))


def combine_metrics(returns: dict[str, float], drawdowns: dict[str, object],
                    deepest: float, trades: dict[str, float], costs: dict[str, float],
                    relative: dict[str, float], benchmark_return: float, days: int,
                    final_equity: float) -> dict[str, object]:
    """The flat dict of SPEC §7, in its order, from the statistics' parts, the deepest
    drawdown (for the Calmar ratio) and the benchmark's total return."""
    out: dict[str, object] = {}
    out.update(returns)
    out.update(drawdowns)
    out["calmar"] = _div(returns["cagr"], abs(deepest))
    out.update(trades)
    out.update(costs)
    out["benchmark_total_return"] = benchmark_return
    out["excess_return"] = returns["total_return"] - benchmark_return
    out.update(relative)
    out["days"] = days
    out["final_equity"] = final_equity
    return out
