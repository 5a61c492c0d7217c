"""Result tables built from the kernels' records, and the BacktestResult container."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.config import BacktestConfig
from engine.enums import REASON_NAMES, SIDE_NAMES, Reason, Side
from engine.metrics import drawdown
from engine.valuation_nb import bars_between_nb, last_close_nb

FILL_COLUMNS = ("date", "code", "side", "shares", "price", "commission", "tax", "transfer_fee",
                "cash_after")
TRADE_COLUMNS = ("code", "entry_date", "entry_price", "exit_date", "exit_price", "shares",
                 "pnl", "return", "bars_held", "open")
REJECTION_COLUMNS = ("date", "code", "side", "reason")
#: Entries of ``timings`` that are counts, not seconds (present when workers ran).
TIMING_COUNTS = ("workers", "bytes_to_workers", "bytes_from_workers", "rsi_computations")


def _names(values: np.ndarray, names: dict[Any, str], kind: type) -> pd.Categorical:
    labels = [names[kind(v)] for v in sorted(names)]
    return pd.Categorical.from_codes(values.astype(np.int64), categories=labels)


def fills_frame(records: np.ndarray, dates: np.ndarray, codes: tuple[str, ...]) -> pd.DataFrame:
    """Fill records (``fill_dt``) as a table in execution order."""
    return pd.DataFrame({
        "date": dates[records["day"]],
        "code": np.asarray(codes, dtype=object)[records["stock"]],
        "side": _names(records["side"], SIDE_NAMES, Side),
        "shares": records["shares"],
        "price": records["price"],
        "commission": records["commission"],
        "tax": records["tax"],
        "transfer_fee": records["transfer_fee"],
        "cash_after": records["cash_after"],
    }, columns=list(FILL_COLUMNS))


def rejections_frame(records: np.ndarray, dates: np.ndarray,
                     codes: tuple[str, ...]) -> pd.DataFrame:
    """Rejection records (``rejection_dt``) as a table in the order they happened."""
    return pd.DataFrame({
        "date": dates[records["day"]],
        "code": np.asarray(codes, dtype=object)[records["stock"]],
        "side": _names(records["side"], SIDE_NAMES, Side),
        "reason": _names(records["reason"], REASON_NAMES, Reason),
    }, columns=list(REJECTION_COLUMNS))


def trade_arrays(records: np.ndarray, close: np.ndarray,
                 tradable: np.ndarray) -> dict[str, np.ndarray]:
    """Round trips from fills as columns: each buy with the sell that closed it.

    Columns: stock, entry_day, entry_price, exit_day, exit_price, shares, pnl, return,
    bars_held, open; rows by stock, chronological within a stock. pnl is net of both
    sides' commission, stamp tax and transfer fee; return is pnl over the entry cost
    (notional + the buy's costs); bars held counts the stock's own bars from entry to
    exit. A position still open at the end is marked open and valued at the stock's last
    close, without exit costs.
    """
    order = np.argsort(records["stock"], kind="stable")  # chronological within a stock
    rec = records[order]
    is_buy = rec["side"] == Side.BUY
    nxt = np.r_[np.flatnonzero(is_buy) + 1]
    closed = np.zeros(is_buy.sum(), dtype=bool)
    valid = nxt < rec.size
    closed[valid] = (rec["stock"][nxt[valid]] == rec["stock"][is_buy][valid]) & (
        rec["side"][nxt[valid]] == Side.SELL)
    entry = rec[is_buy]
    stock = entry["stock"]
    last_day = close.shape[0] - 1
    last_close = last_close_nb(close, tradable)
    exit_idx = np.where(closed, np.minimum(nxt, rec.size - 1), 0)
    exit_day = np.where(closed, rec["day"][exit_idx], last_day)
    exit_price = np.where(closed, rec["price"][exit_idx], last_close[stock])
    exit_costs = np.where(closed, rec["commission"][exit_idx] + rec["tax"][exit_idx]
                          + rec["transfer_fee"][exit_idx], 0.0)
    shares = entry["shares"].astype(np.float64)
    cost = shares * entry["price"] + entry["commission"] + entry["tax"] + entry["transfer_fee"]
    pnl = shares * exit_price - exit_costs - cost
    return {
        "stock": stock, "entry_day": entry["day"], "entry_price": entry["price"],
        "exit_day": exit_day, "exit_price": exit_price, "shares": entry["shares"],
        "pnl": pnl, "return": pnl / cost,
        "bars_held": bars_between_nb(tradable, stock, entry["day"], exit_day),
        "open": ~closed,
    }


def trades_frame(records: np.ndarray, dates: np.ndarray, codes: tuple[str, ...],
                 close: np.ndarray, tradable: np.ndarray) -> pd.DataFrame:
    """Round trips from fills (see ``trade_arrays``) as a table by entry date and code."""
    return trades_table(trade_arrays(records, close, tradable), dates, codes)


def trades_table(t: dict[str, np.ndarray], dates: np.ndarray,
                 codes: tuple[str, ...]) -> pd.DataFrame:
    """``trade_arrays`` columns as the trades table, sorted by entry date and code."""
    frame = pd.DataFrame({
        "code": np.asarray(codes, dtype=object)[t["stock"]],
        "entry_date": dates[t["entry_day"]],
        "entry_price": t["entry_price"],
        "exit_date": dates[t["exit_day"]],
        "exit_price": t["exit_price"],
        "shares": t["shares"],
        "pnl": t["pnl"],
        "return": t["return"],
        "bars_held": t["bars_held"],
        "open": t["open"],
    }, columns=list(TRADE_COLUMNS))
    return frame.sort_values(["entry_date", "code"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class BacktestResult:
    """Everything a run produced (SPEC §6), as tables and plain values.

    ``equity`` has one row per run day: date, equity, cash, positions_value, drawdown,
    benchmark. ``timings`` maps stage -> seconds; when workers ran it also holds
    ``pool_startup`` (seconds the run waited for worker processes, 0 on a warm pool) and
    the counts named in ``TIMING_COUNTS`` (``workers``, ``bytes_to_workers``,
    ``bytes_from_workers``). ``worker_spans`` holds per-worker (worker, stage, start,
    end) rows when workers were used: stages ``startup``, ``attach``, ``indicators``,
    ``signals``, ``simulate``, ``return``; times in seconds since the run started.
    """

    config: BacktestConfig
    codes: tuple[str, ...]
    equity: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    rejections: pd.DataFrame
    excluded: pd.DataFrame
    metrics: dict[str, Any]
    timings: dict[str, float]
    fingerprint: str
    warnings: tuple[str, ...] = ()
    worker_spans: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def benchmark(self) -> pd.DataFrame:
        """The equal-weight buy-and-hold benchmark per day (date, equity, drawdown), with
        its total and excess return in ``metrics``."""
        equity = self.equity["benchmark"].to_numpy()
        return pd.DataFrame({"date": self.equity["date"], "equity": equity,
                             "drawdown": drawdown(equity)})
