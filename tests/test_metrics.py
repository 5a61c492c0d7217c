"""Metrics of SPEC §7 against values worked out by hand on 3-6 day equity series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.kernels.valuation_nb import benchmark_equity_nb
from engine.results.metrics import (
    compute_metrics,
    cost_stats,
    daily_returns,
    drawdown,
    drawdown_stats,
    return_stats,
    trade_stats,
)
from engine.results.tables import FILL_COLUMNS, TRADE_COLUMNS

NAN = math.nan
SQRT252 = math.sqrt(252)


def _dates(n: int) -> np.ndarray:
    """n consecutive weekdays from Tue 2024-01-02 (Jan 6/7 are the weekend)."""
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08",
            "2024-01-09"]
    return np.array(days[:n], dtype="datetime64[D]")


def _trades(rows: list[tuple[float, float, int, bool]]) -> pd.DataFrame:
    """A trades table with only the columns the metrics read: pnl, return, bars_held, open."""
    frame = pd.DataFrame(rows, columns=["pnl", "return", "bars_held", "open"])
    frame["open"] = frame["open"].astype(bool)
    return frame


def _fills(rows: list[tuple[float, ...]]) -> pd.DataFrame:
    """A fills table with the columns cost_stats reads: shares, price, commission, tax and
    transfer fee (0 when a row leaves it out)."""
    return pd.DataFrame([(*row, 0.0)[:5] for row in rows],
                        columns=["shares", "price", "commission", "tax", "transfer_fee"])


# --------------------------------------------------------------- returns


def test_daily_returns_use_initial_capital_as_day_zero() -> None:
    # initial 100 -> 110 (+10%), 110 -> 99 (-10%), 99 -> 121 (+22/99 = +2/9)
    r = daily_returns(np.array([110.0, 99.0, 121.0]), 100.0)
    assert r == pytest.approx([0.1, -0.1, 2 / 9], rel=1e-12)
    assert r.size == 3


def test_return_stats_by_hand() -> None:
    stats = return_stats(np.array([110.0, 99.0, 121.0]), 100.0)
    # total: 121 / 100 - 1
    assert stats["total_return"] == pytest.approx(0.21, rel=1e-12)
    # cagr: 1.21 ** (252 / 3) - 1 = 1.1 ** 168 - 1 (1.21 = 1.1^2)
    assert stats["cagr"] == pytest.approx(1.1**168 - 1, rel=1e-10)
    # r = [0.1, -0.1, 2/9]; mean = (2/9) / 3 = 2/27.
    # deviations in 1/270ths: 0.1 - 2/27 = 7/270, -0.1 - 2/27 = -47/270, 2/9 - 2/27 = 40/270
    # sum of squares = (49 + 2209 + 1600) / 270^2 = 3858 / 270^2; ddof=1 -> 1929 / 270^2
    std = math.sqrt(1929) / 270
    assert stats["volatility"] == pytest.approx(std * SQRT252, rel=1e-12)
    # sharpe, rf = 0: (2/27) / (sqrt(1929)/270) = 20 / sqrt(1929)
    assert stats["sharpe"] == pytest.approx(20 / math.sqrt(1929) * SQRT252, rel=1e-12)
    # sortino: min(r, 0) = [0, -0.1, 0] -> sqrt(0.01 / 3) = 0.1 / sqrt(3)
    # (2/27) / (0.1 / sqrt(3)) * sqrt(252) = 20 / 27 * sqrt(3 * 252) = 20 / 27 * sqrt(756)
    assert stats["sortino"] == pytest.approx(20 / 27 * math.sqrt(756), rel=1e-12)


def test_sharpe_and_sortino_subtract_the_daily_risk_free_rate() -> None:
    # rf = 0.252 a year -> 0.001 a day, taken off the mean daily return 2/27
    stats = return_stats(np.array([110.0, 99.0, 121.0]), 100.0, risk_free_rate=0.252)
    excess = 2 / 27 - 0.001
    assert stats["sharpe"] == pytest.approx(excess / (math.sqrt(1929) / 270) * SQRT252,
                                            rel=1e-12)
    # the downside is below rf (SPEC §7): min(r - 0.001, 0) = [0, -0.101, 0]
    assert stats["sortino"] == pytest.approx(excess / (0.101 / math.sqrt(3)) * SQRT252,
                                             rel=1e-12)
    # volatility, total return and cagr do not depend on rf
    assert stats["volatility"] == pytest.approx(math.sqrt(1929) / 270 * SQRT252, rel=1e-12)
    assert stats["total_return"] == pytest.approx(0.21, rel=1e-12)


def test_cagr_annualises_over_the_number_of_run_days() -> None:
    # 4 days ending at 100 * 1.1: cagr = 1.1 ** (252 / 4) - 1 = 1.1 ** 63 - 1
    stats = return_stats(np.array([102.0, 101.0, 105.0, 110.0]), 100.0)
    assert stats["cagr"] == pytest.approx(1.1**63 - 1, rel=1e-10)
    # a loss annualises below zero: 0.9 ** 63 - 1
    stats = return_stats(np.array([98.0, 99.0, 95.0, 90.0]), 100.0)
    assert stats["cagr"] == pytest.approx(0.9**63 - 1, rel=1e-10)
    assert stats["total_return"] == pytest.approx(-0.1, rel=1e-12)


def test_sharpe_sign_follows_mean_return() -> None:
    # r = [-0.1, 0.1] (90 / 100, 99 / 90): mean 0, so sharpe is exactly 0 with rf = 0
    stats = return_stats(np.array([90.0, 99.0]), 100.0)
    assert stats["sharpe"] == pytest.approx(0.0, abs=1e-12)
    # std(ddof=1) of [-0.1, 0.1] = sqrt(0.02 / 1) = sqrt(0.02)
    assert stats["volatility"] == pytest.approx(math.sqrt(0.02) * SQRT252, rel=1e-12)
    assert stats["total_return"] == pytest.approx(-0.01, rel=1e-12)


# --------------------------------------------------------------- drawdown


def test_drawdown_series() -> None:
    # cummax: 110, 110, 121 -> [0, 99/110 - 1 = -0.1, 0]
    dd = drawdown(np.array([110.0, 99.0, 121.0]))
    assert dd == pytest.approx([0.0, -0.1, 0.0], abs=1e-12)
    # cummax: 100, 120, 120, 120, 120 -> [0, 0, -0.25, -0.5, -0.1]
    dd = drawdown(np.array([100.0, 120.0, 90.0, 60.0, 108.0]))
    assert dd == pytest.approx([0.0, 0.0, -0.25, -0.5, -0.1], abs=1e-12)


def test_drawdown_stats_peak_trough_and_duration() -> None:
    # 100, 120 (peak), 90, 60 (trough: 60/120 - 1 = -0.5), 108 (still under 120)
    stats = drawdown_stats(np.array([100.0, 120.0, 90.0, 60.0, 108.0]), _dates(5))
    assert stats["max_drawdown"] == pytest.approx(-0.5, abs=1e-12)
    assert stats["max_drawdown_peak"] == "2024-01-03"
    assert stats["max_drawdown_trough"] == "2024-01-05"
    # under water on days 2, 3, 4 and not recovered by the end: 3 trading days
    assert stats["max_drawdown_duration_days"] == 3


def test_longest_drawdown_counts_trading_days_under_water() -> None:
    # drawdown 1: peak 100 (day 0), days 1-2 under water (80, 90), recovered on day 3 (110)
    # drawdown 2: peak 110 (day 3), day 4 under water (105) until the end
    stats = drawdown_stats(np.array([100.0, 80.0, 90.0, 110.0, 105.0]), _dates(5))
    assert stats["max_drawdown_duration_days"] == 2
    assert stats["max_drawdown"] == pytest.approx(-0.2, abs=1e-12)
    assert stats["max_drawdown_peak"] == "2024-01-02"
    assert stats["max_drawdown_trough"] == "2024-01-03"


def test_longest_drawdown_need_not_be_the_deepest() -> None:
    # deepest: 100 -> 90 (-10%), one day under water, recovered the next day (100);
    # longest: from 100 on day 2, days 3, 4, 5 under water (98, 96, 97), never recovered
    stats = drawdown_stats(np.array([100.0, 90.0, 100.0, 98.0, 96.0, 97.0]), _dates(6))
    assert stats["max_drawdown"] == pytest.approx(-0.1, abs=1e-12)
    assert stats["max_drawdown_trough"] == "2024-01-03"
    assert stats["max_drawdown_duration_days"] == 3


def test_drawdown_at_the_start_is_measured_from_the_first_equity_value() -> None:
    # SPEC §7: min(equity / cummax(equity) - 1) over the equity series itself
    # (the initial capital is day 0 only for the returns): 95 -> 76 is -20%
    stats = drawdown_stats(np.array([95.0, 76.0, 95.0]), _dates(3))
    assert stats["max_drawdown"] == pytest.approx(-0.2, abs=1e-12)
    assert stats["max_drawdown_peak"] == "2024-01-02"
    assert stats["max_drawdown_duration_days"] == 1


def test_drawdown_peak_is_the_last_high_before_the_trough() -> None:
    # flat in cash at 100 for three days, then falls: the drawdown starts on day 2
    stats = drawdown_stats(np.array([100.0, 100.0, 100.0, 90.0]), _dates(4))
    assert stats["max_drawdown"] == pytest.approx(-0.1, abs=1e-12)
    assert stats["max_drawdown_trough"] == "2024-01-05"
    assert stats["max_drawdown_duration_days"] == 1
    assert stats["max_drawdown_peak"] == "2024-01-04"


def test_calmar_is_cagr_over_absolute_max_drawdown() -> None:
    # equity 110, 99, 121 from 100: cagr 1.1 ** 168 - 1, max drawdown -0.1
    dates = _dates(3)
    equity = np.array([110.0, 99.0, 121.0])
    m = compute_metrics(dates, equity, np.zeros(3), 100.0, _trades([]), _fills([]), equity)
    assert m["max_drawdown"] == pytest.approx(-0.1, abs=1e-12)
    assert m["calmar"] == pytest.approx((1.1**168 - 1) / 0.1, rel=1e-10)
    # a losing run: 4 days to 90 (cagr 0.9 ** 63 - 1), worst drop 100 -> 80 = -0.2
    equity = np.array([100.0, 80.0, 85.0, 90.0])
    m = compute_metrics(_dates(4), equity, np.zeros(4), 100.0, _trades([]), _fills([]), equity)
    assert m["max_drawdown"] == pytest.approx(-0.2, abs=1e-12)
    assert m["calmar"] == pytest.approx((0.9**63 - 1) / 0.2, rel=1e-10)
    assert m["calmar"] < 0


# --------------------------------------------------------------- trades and costs


def test_trade_stats_by_hand() -> None:
    trades = _trades([
        (30.0, 0.03, 4, False),
        (-10.0, -0.01, 2, False),
        (0.0, 0.0, 3, False),      # break-even: neither a win nor a loss
        (20.0, 0.02, 5, False),
        (-5.0, -0.005, 1, False),
        (1000.0, 0.5, 9, True),    # still open: not a trade
    ])
    stats = trade_stats(trades)
    assert stats["trades"] == 5
    assert stats["win_rate"] == pytest.approx(2 / 5, rel=1e-12)
    # gross profit 30 + 20 = 50, gross loss 10 + 5 = 15
    assert stats["profit_factor"] == pytest.approx(50 / 15, rel=1e-12)
    # (0.03 - 0.01 + 0 + 0.02 - 0.005) / 5 = 0.035 / 5
    assert stats["avg_trade_return"] == pytest.approx(0.007, rel=1e-12)
    # (4 + 2 + 3 + 5 + 1) / 5
    assert stats["avg_bars_held"] == pytest.approx(3.0, rel=1e-12)


def test_trade_stats_without_trades_are_nan() -> None:
    for trades in (pd.DataFrame(columns=list(TRADE_COLUMNS)),
                   _trades([(12.0, 0.1, 3, True)])):  # only an open position
        stats = trade_stats(trades)
        assert stats["trades"] == 0
        assert math.isnan(stats["win_rate"])
        assert math.isnan(stats["profit_factor"])
        assert math.isnan(stats["avg_trade_return"])
        assert math.isnan(stats["avg_bars_held"])


def test_profit_factor_without_losing_trades_is_nan() -> None:
    stats = trade_stats(_trades([(10.0, 0.1, 2, False), (5.0, 0.05, 4, False)]))
    assert stats["trades"] == 2
    assert stats["win_rate"] == 1.0
    assert math.isnan(stats["profit_factor"])
    assert stats["avg_trade_return"] == pytest.approx(0.075, rel=1e-12)
    assert stats["avg_bars_held"] == pytest.approx(3.0, rel=1e-12)


def test_profit_factor_with_only_losses_is_zero() -> None:
    stats = trade_stats(_trades([(-10.0, -0.1, 2, False), (-5.0, -0.05, 4, False)]))
    assert stats["win_rate"] == 0.0
    assert stats["profit_factor"] == 0.0


def test_cost_stats_by_hand() -> None:
    # buy 100 @ 10 (commission 5, fee 0.01), sell 100 @ 12 (commission 5,
    # tax 1200 * 0.0005 = 0.6, fee 1200 * 0.00001 = 0.012)
    fills = _fills([(100, 10.0, 5.0, 0.0, 0.01), (100, 12.0, 5.0, 0.6, 0.012)])
    equity = np.array([1000.0, 1100.0, 1200.0])
    positions = np.array([0.0, 550.0, 300.0])
    stats = cost_stats(fills, equity, positions)
    assert stats["total_commission"] == pytest.approx(10.0, rel=1e-12)
    assert stats["total_tax"] == pytest.approx(0.6, rel=1e-12)
    assert stats["total_transfer_fee"] == pytest.approx(0.022, rel=1e-12)
    # traded notional 1000 + 1200 = 2200 over mean equity 1100
    assert stats["turnover"] == pytest.approx(2.0, rel=1e-12)
    # mean of the daily ratios (0, 0.5, 0.25), not mean(positions) / mean(equity)
    assert stats["exposure"] == pytest.approx(0.25, rel=1e-12)


def test_cost_stats_without_fills() -> None:
    stats = cost_stats(pd.DataFrame(columns=list(FILL_COLUMNS)), np.array([100.0, 100.0]),
                       np.zeros(2))
    assert stats == {"total_commission": 0.0, "total_tax": 0.0, "total_transfer_fee": 0.0,
                     "turnover": 0.0, "exposure": 0.0}


# --------------------------------------------------------------- benchmark


def _benchmark_market() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """5 calendar rows, the window starts at row 1; 5 stocks, NaN = no bar.

    A: bars every day. B: suspended on row 3. C: first bar (IPO) on row 3.
    D: only a bar before the window. E: bar before the window, none on row 1 (the
    window's first day), suspended again on the last row.
    """
    nan = NAN
    open_ = np.array([
        # A     B     C     D    E
        [9.0, 5.0, nan, 3.0, 7.0],
        [10.0, 20.0, nan, nan, nan],
        [11.0, 25.0, nan, nan, 4.0],
        [12.0, nan, 50.0, nan, 5.0],
        [10.0, 24.0, 40.0, nan, nan],
    ])
    close = np.array([
        [9.5, 5.0, nan, 3.0, 7.0],
        [11.0, 25.0, nan, nan, nan],
        [12.0, 24.0, nan, nan, 5.0],
        [10.0, nan, 40.0, nan, 6.0],
        [15.0, 30.0, 60.0, nan, nan],
    ])
    return open_, close, ~np.isnan(close)


def test_benchmark_equal_weight_buy_and_hold_by_hand() -> None:
    open_, close, tradable = _benchmark_market()
    bench = benchmark_equity_nb(open_, close, tradable, 1, 500.0)
    # 100 per stock. A: 100 / 10 = 10 shares -> 110, 120, 100, 150
    # B: 100 / 20 = 5 shares (first open in the window, not row 0's 5)
    #    -> 125, 120, 120 (suspended: last close 24), 150
    # C: cash 100 until its first bar; 100 / 50 = 2 shares -> 100, 100, 80, 120
    # D: no bar in the window -> 100 in cash throughout
    # E: cash on row 1; 100 / 4 = 25 shares on row 2 -> 100, 125, 150, 150 (last close 6)
    expected = [
        110 + 125 + 100 + 100 + 100,
        120 + 120 + 100 + 100 + 125,
        100 + 120 + 80 + 100 + 150,
        150 + 150 + 120 + 100 + 150,
    ]
    assert bench.shape == (4,)
    assert bench == pytest.approx(expected, rel=1e-12)


def test_benchmark_single_stock_from_the_first_row() -> None:
    # 1 stock, 1000 capital at open 8 -> 125 shares; closes 10, 9, 12
    open_ = np.array([[8.0], [10.0], [9.0]])
    close = np.array([[10.0], [9.0], [12.0]])
    bench = benchmark_equity_nb(open_, close, np.ones((3, 1), bool), 0, 1000.0)
    assert bench == pytest.approx([1250.0, 1125.0, 1500.0], rel=1e-12)


def test_compute_metrics_benchmark_and_excess_return() -> None:
    open_, close, tradable = _benchmark_market()
    bench = benchmark_equity_nb(open_, close, tradable, 1, 500.0)
    equity = np.array([520.0, 480.0, 500.0, 600.0])
    m = compute_metrics(_dates(4), equity, np.full(4, 240.0), 500.0, _trades([]),
                        _fills([]), bench)
    # benchmark ends at 670 (see above): 670 / 500 - 1 = 0.34; strategy 600 / 500 - 1 = 0.2
    assert m["benchmark_total_return"] == pytest.approx(0.34, rel=1e-12)
    assert m["total_return"] == pytest.approx(0.2, rel=1e-12)
    assert m["excess_return"] == pytest.approx(0.2 - 0.34, rel=1e-12)
    assert m["days"] == 4
    assert m["final_equity"] == 600.0
    # exposure: 240 / [520, 480, 500, 600] averaged
    assert m["exposure"] == pytest.approx((240 / 520 + 240 / 480 + 240 / 500 + 240 / 600) / 4,
                                          rel=1e-12)


def test_compute_metrics_holds_every_metric_of_the_spec() -> None:
    equity = np.array([110.0, 99.0, 121.0])
    trades = _trades([(30.0, 0.03, 4, False), (-10.0, -0.01, 2, False)])
    fills = _fills([(100, 10.0, 5.0, 0.0), (100, 12.0, 5.0, 0.6)])
    m = compute_metrics(_dates(3), equity, np.array([55.0, 0.0, 60.5]), 100.0, trades,
                        fills, np.array([100.0, 100.0, 105.0]), risk_free_rate=0.252)
    expected = {
        "total_return": 0.21,
        "cagr": 1.1**168 - 1,
        "volatility": math.sqrt(1929) / 270 * SQRT252,
        "sharpe": (2 / 27 - 0.001) / (math.sqrt(1929) / 270) * SQRT252,
        "sortino": (2 / 27 - 0.001) / (0.101 / math.sqrt(3)) * SQRT252,
        "max_drawdown": -0.1,
        "calmar": (1.1**168 - 1) / 0.1,
        "trades": 2,
        "win_rate": 0.5,
        "profit_factor": 3.0,
        "avg_trade_return": 0.01,
        "avg_bars_held": 3.0,
        "total_commission": 10.0,
        "total_tax": 0.6,
        "total_transfer_fee": 0.0,
        "turnover": 2200 / (330 / 3),       # mean equity (110 + 99 + 121) / 3 = 110
        "exposure": (0.5 + 0.0 + 0.5) / 3,  # 55/110, 0/99, 60.5/121
        "benchmark_total_return": 0.05,
        "excess_return": 0.16,
        "days": 3,
        "final_equity": 121.0,
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
    assert m["max_drawdown_peak"] == "2024-01-02"
    assert m["max_drawdown_trough"] == "2024-01-03"
    assert m["max_drawdown_duration_days"] == 1


# --------------------------------------------------------------- undefined metrics


def test_constant_equity_has_undefined_ratios() -> None:
    equity = np.full(4, 100.0)
    m = compute_metrics(_dates(4), equity, np.zeros(4), 100.0,
                        pd.DataFrame(columns=list(TRADE_COLUMNS)),
                        pd.DataFrame(columns=list(FILL_COLUMNS)), equity)
    assert m["total_return"] == 0.0
    assert m["cagr"] == 0.0
    assert m["volatility"] == 0.0
    assert math.isnan(m["sharpe"])
    assert math.isnan(m["sortino"])
    # no drawdown: calmar undefined, no peak or trough
    assert m["max_drawdown"] == 0.0
    assert math.isnan(m["calmar"])
    assert m["max_drawdown_peak"] is None
    assert m["max_drawdown_trough"] is None
    assert m["max_drawdown_duration_days"] == 0
    # no trades
    assert m["trades"] == 0
    for key in ("win_rate", "profit_factor", "avg_trade_return", "avg_bars_held"):
        assert math.isnan(m[key]), key
    assert m["total_commission"] == 0.0 and m["total_tax"] == 0.0
    assert m["turnover"] == 0.0 and m["exposure"] == 0.0
    assert m["benchmark_total_return"] == 0.0 and m["excess_return"] == 0.0


def test_rising_equity_has_no_drawdown_and_no_downside() -> None:
    # r = [0.01, 0.02/1.01, 0.01/1.02]: all positive -> downside deviation 0 -> sortino NaN
    equity = np.array([101.0, 103.0, 104.0])
    m = compute_metrics(_dates(3), equity, np.zeros(3), 100.0, _trades([]), _fills([]),
                        equity)
    assert math.isnan(m["sortino"])
    assert m["sharpe"] > 0
    assert m["max_drawdown"] == 0.0
    assert math.isnan(m["calmar"])
    assert m["max_drawdown_peak"] is None and m["max_drawdown_trough"] is None
    assert m["max_drawdown_duration_days"] == 0


def test_a_single_day_has_undefined_volatility() -> None:
    # one daily return: std with ddof=1 is undefined
    stats = return_stats(np.array([105.0]), 100.0)
    assert stats["total_return"] == pytest.approx(0.05, rel=1e-12)
    assert stats["cagr"] == pytest.approx(1.05**252 - 1, rel=1e-10)
    assert math.isnan(stats["volatility"])
    assert math.isnan(stats["sharpe"])


# ------------------------------------------------------------ against a benchmark


def test_relative_stats_by_hand() -> None:
    from engine.results.metrics import relative_stats

    b = np.array([0.01, -0.02, 0.015, 0.0, -0.005, 0.02])
    r = 2 * b + 0.001
    stats = relative_stats(r, b)
    assert stats["beta"] == pytest.approx(2.0, rel=1e-12)
    assert stats["alpha"] == pytest.approx(0.001 * 252, rel=1e-9)
    active = r - b
    te = np.std(active, ddof=1) * math.sqrt(252)
    assert stats["tracking_error"] == pytest.approx(te, rel=1e-12)
    assert stats["information_ratio"] == pytest.approx(active.mean() * 252 / te, rel=1e-12)


def test_relative_stats_undefined_cases_are_nan() -> None:
    from engine.results.metrics import relative_stats

    b = np.array([0.01, -0.02, 0.015])
    same = relative_stats(b, b)
    assert same["beta"] == pytest.approx(1.0) and same["tracking_error"] == 0.0
    assert math.isnan(same["information_ratio"])
    flat = relative_stats(b, np.zeros(3))
    assert math.isnan(flat["beta"]) and math.isnan(flat["alpha"])


def test_runs_report_beta_alpha_against_the_equal_weight_benchmark() -> None:
    from engine.config import BacktestConfig
    from engine.results.metrics import daily_returns, relative_stats
    from engine.run.backtest import run_backtest
    from tests.conftest import SAMPLE

    result = run_backtest(BacktestConfig(data_dir=SAMPLE, workers=1))
    equity = result.equity
    expected = relative_stats(daily_returns(equity["equity"].to_numpy(), 1_000_000.0),
                              daily_returns(equity["benchmark"].to_numpy(), 1_000_000.0))
    for key, value in expected.items():
        assert result.metrics[key] == value


def test_alpha_is_jensens_and_sortinos_downside_is_below_the_risk_free_rate() -> None:
    # SPEC §7 (changed): both regressions' returns net of rf / 252; Sortino's downside
    # deviation is of r - rf / 252 below zero (empyrical's required return).
    from engine.results.metrics import relative_stats, return_stats

    rng = np.random.default_rng(3)
    b = rng.normal(0.0004, 0.01, 300)
    r = 1.3 * b + rng.normal(0.0002, 0.004, 300)
    rf = 0.03
    d = rf / 252
    stats = relative_stats(r, b, rf)
    beta = np.polyfit(b - d, r - d, 1)[0]
    assert stats["beta"] == pytest.approx(beta, rel=1e-10)
    assert stats["alpha"] == pytest.approx(((r - d).mean() - beta * (b - d).mean()) * 252,
                                           rel=1e-10)
    assert stats["alpha"] != pytest.approx(relative_stats(r, b)["alpha"], rel=1e-3)
    active = r - b  # the tracking error and information ratio do not involve rf
    assert stats["tracking_error"] == relative_stats(r, b)["tracking_error"]
    equity = 1e6 * np.cumprod(1 + r)
    got = return_stats(equity, 1e6, rf)
    daily = np.diff(np.concatenate([[1e6], equity])) / np.concatenate([[1e6], equity[:-1]])
    downside = math.sqrt(np.mean(np.minimum(daily - d, 0.0) ** 2))
    assert got["sortino"] == pytest.approx((daily.mean() - d) / downside * math.sqrt(252),
                                           rel=1e-10)
    assert active.size == 300
