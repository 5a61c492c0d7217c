"""Result tables built from the kernels' records, and the BacktestResult container.

A run's tables are built as Arrow record batches straight from the kernels' arrays
(``engine.results.arrow_columns``: no pandas on a run's path, so a fresh ``backtest run`` process
never imports it). Each table's pandas DataFrame is made on first use and kept
(``BacktestResult.frame``); the run store saves the Arrow batches as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pyarrow as pa

from engine.config import BacktestConfig
from engine.data.loader import EXCLUDED_COLUMNS
from engine.kernels.records import EXIT_NAMES, REASON_NAMES, SIDE_NAMES, ExitReason, Reason, Side
from engine.results import arrow_columns as cols
from engine.results.metrics import drawdown

if TYPE_CHECKING:
    import pandas as pd

FILL_COLUMNS = ("date", "code", "side", "shares", "price", "commission", "tax", "transfer_fee",
                "cash_after", "exit_reason")
TRADE_COLUMNS = ("code", "entry_date", "entry_price", "exit_date", "exit_price", "shares",
                 "pnl", "return", "bars_held", "open", "exit_reason")
REJECTION_COLUMNS = ("date", "code", "side", "reason")
SPAN_COLUMNS = ("worker", "stage", "start", "end")
#: The tables of a result, in the order they are saved.
RESULT_TABLES = ("equity", "fills", "trades", "rejections", "excluded", "worker_spans")
#: Entries of ``timings`` that are counts, not seconds (present when workers ran).
TIMING_COUNTS = ("workers", "bytes_to_workers", "bytes_from_workers", "indicator_computations")

#: A result table: an Arrow batch or table (as built or loaded), or a pandas DataFrame.
AnyTable = Union[pa.RecordBatch, pa.Table, "pd.DataFrame"]


def date_column(days: np.ndarray) -> pa.Array:
    """Calendar dates as an Arrow ``timestamp[s]`` column (a pandas ``datetime64[s]``)."""
    return cols.numbers(np.asarray(days).astype("datetime64[s]"))


def _category_column(values: np.ndarray, names: Mapping[Any, str], kind: type) -> pa.Array:
    """Enum codes as a dictionary column (a pandas Categorical of every name, in order)."""
    return cols.categories(values, [names[kind(v)] for v in sorted(names)])


def _exit_column(codes: np.ndarray) -> pa.Array:
    """``ExitReason`` codes as a dictionary column; a buy's ``NO_EXIT`` is empty text."""
    labels = ["", *(EXIT_NAMES[ExitReason(v)] for v in sorted(EXIT_NAMES))]
    return cols.categories(np.asarray(codes).astype(np.int64) + 1, labels)



def fills_table(records: np.ndarray, dates: np.ndarray, codes: tuple[str, ...]) -> pa.RecordBatch:
    """Fill records (``fill_dt``) as a table in execution order (``FILL_COLUMNS``)."""
    return cols.record_batch({
        "date": date_column(dates[records["day"]]),
        "code": cols.picked_strings(records["stock"], codes),
        "side": _category_column(records["side"], SIDE_NAMES, Side),
        **{name: np.ascontiguousarray(records[name]) for name in FILL_COLUMNS[3:-1]},
        "exit_reason": _exit_column(records["exit_reason"]),
    })


def rejections_table(records: np.ndarray, dates: np.ndarray,
                     codes: tuple[str, ...]) -> pa.RecordBatch:
    """Rejection records (``rejection_dt``) as a table in the order they happened."""
    return cols.record_batch({
        "date": date_column(dates[records["day"]]),
        "code": cols.picked_strings(records["stock"], codes),
        "side": _category_column(records["side"], SIDE_NAMES, Side),
        "reason": _category_column(records["reason"], REASON_NAMES, Reason),
    })


def trade_arrays(records: np.ndarray, close: np.ndarray,
                 tradable: np.ndarray) -> dict[str, np.ndarray]:
    """Round trips from fills as columns: each buy with the sell that closed it.

    Columns: stock, entry_day, entry_price, exit_day, exit_price, shares, pnl, return,
    bars_held, open, exit_reason (``ExitReason`` codes; ``END`` for an open position);
    rows by stock, chronological within a stock. pnl is net of both
    sides' commission, stamp tax and transfer fee; return is pnl over the entry cost
    (notional + the buy's costs); bars held counts the stock's own bars from entry to
    exit. A position still open at the end is marked open and valued at the stock's last
    close, without exit costs.
    """
    # Imported here: a window that shows results never loads the kernels (nor numba).
    from engine.kernels.valuation_nb import bars_between_nb, last_close_nb

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
        "exit_reason": np.where(closed, rec["exit_reason"][exit_idx], ExitReason.END),
    }


def trade_order(t: dict[str, np.ndarray]) -> np.ndarray:
    """The order of the trades table's rows among ``trade_arrays`` rows: by entry date,
    then code (``codes`` are sorted, so code order is column order)."""
    return np.lexsort((t["stock"], t["entry_day"]))


def trades_table(t: dict[str, np.ndarray], dates: np.ndarray,
                 codes: tuple[str, ...]) -> pa.RecordBatch:
    """``trade_arrays`` columns as the trades table (``TRADE_COLUMNS``), in
    ``trade_order``."""
    order = trade_order(t)
    return cols.record_batch({
        "code": cols.picked_strings(t["stock"][order], codes),
        "entry_date": date_column(dates[t["entry_day"][order]]),
        "entry_price": t["entry_price"][order],
        "exit_date": date_column(dates[t["exit_day"][order]]),
        **{name: t[name][order] for name in TRADE_COLUMNS[4:-1]},
        "exit_reason": _exit_column(t["exit_reason"][order]),
    })


def excluded_table(rows: tuple[tuple[str, str, str], ...]) -> pa.RecordBatch:
    """Stocks left out of a run, as (code, file, reason) rows, as a table."""
    return cols.record_batch({name: cols.strings([row[i] for row in rows])
                  for i, name in enumerate(EXCLUDED_COLUMNS)})


def spans_table(spans: list[tuple[int, str, float, float]], t0: float) -> pa.RecordBatch:
    """Worker spans as a table: worker, stage, start, end (seconds since ``t0``, wall),
    by worker and start."""
    rows = sorted(((w, stage, a - t0, b - t0) for w, stage, a, b in spans),
                  key=lambda row: (row[0], row[2]))
    return cols.record_batch({
        "worker": np.array([r[0] for r in rows], dtype=np.int64),
        "stage": cols.strings([r[1] for r in rows]),
        "start": np.array([r[2] for r in rows], dtype=np.float64),
        "end": np.array([r[3] for r in rows], dtype=np.float64),
    })


def to_frame(table: AnyTable) -> pd.DataFrame:
    """A result table as a pandas DataFrame (the frame itself when it is one)."""
    if isinstance(table, pa.RecordBatch | pa.Table):
        return table.to_pandas()
    return table


def to_arrow(table: AnyTable) -> pa.RecordBatch | pa.Table:
    """A result table in Arrow form (a DataFrame converted, its dtypes kept in the
    pandas metadata)."""
    if isinstance(table, pa.RecordBatch | pa.Table):
        return table
    return pa.RecordBatch.from_pandas(table, preserve_index=False)


def n_rows(table: AnyTable) -> int:
    """Rows of a result table, without converting it."""
    return int(table.num_rows) if isinstance(table, pa.RecordBatch | pa.Table) else len(table)


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Everything a run produced (SPEC §6), as tables and plain values.

    ``tables`` maps each name of ``RESULT_TABLES`` to its table (Arrow or pandas); the
    properties ``equity``, ``fills``, ``trades``, ``rejections``, ``excluded`` and
    ``worker_spans`` give them as pandas DataFrames, made on first use. ``equity`` has
    one row per run day: date, equity, cash, positions_value, drawdown, benchmark.
    ``timings`` maps stage -> seconds; when workers ran it also holds ``pool_startup``
    (seconds the run waited for worker processes, 0 on a warm pool) and the counts named
    in ``TIMING_COUNTS`` (``workers``, ``bytes_to_workers``, ``bytes_from_workers``).
    ``worker_spans`` holds per-worker (worker, stage, start, end) rows when workers were
    used: stages ``startup``, ``attach``, ``indicators``, ``signals``, ``simulate``,
    ``return``; times in seconds since the run started. Without workers it has no columns.
    """

    config: BacktestConfig
    codes: tuple[str, ...]
    tables: Mapping[str, AnyTable]
    metrics: dict[str, Any]
    timings: dict[str, float]
    fingerprint: str
    warnings: tuple[str, ...] = ()
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        missing = [name for name in RESULT_TABLES[:-1] if name not in self.tables]
        if missing:
            raise ValueError(f"a result needs its {', '.join(missing)} table(s)")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the DataFrames made from the tables (they are made again)."""
        return {**self.__dict__, "_frames": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def table(self, name: str) -> AnyTable:
        """One of ``RESULT_TABLES`` as it is held (``worker_spans`` may be absent: then
        a table without columns)."""
        if name == "worker_spans" and name not in self.tables:
            return cols.record_batch({})
        return self.tables[name]

    def frame(self, name: str) -> pd.DataFrame:
        """One of ``RESULT_TABLES`` as a pandas DataFrame (made once, then kept)."""
        if name not in self._frames:
            self._frames[name] = to_frame(self.table(name))
        return self._frames[name]

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame, made now: a window calls it on its job thread, so
        its own thread never converts a table."""
        return {name: self.frame(name) for name in RESULT_TABLES}

    def count(self, name: str) -> int:
        """Rows of one of ``RESULT_TABLES``, without making its DataFrame."""
        return n_rows(self.table(name))

    def with_tables(self, **tables: AnyTable) -> BacktestResult:
        """A copy with some tables replaced (the rest shared)."""
        return BacktestResult(config=self.config, codes=self.codes,
                              tables={**self.tables, **tables}, metrics=self.metrics,
                              timings=self.timings, fingerprint=self.fingerprint,
                              warnings=self.warnings)

    @property
    def equity(self) -> pd.DataFrame:
        """One row per run day: date, equity, cash, positions_value, drawdown, benchmark."""
        return self.frame("equity")

    @property
    def fills(self) -> pd.DataFrame:
        """Executed orders in execution order (``FILL_COLUMNS``)."""
        return self.frame("fills")

    @property
    def trades(self) -> pd.DataFrame:
        """Round trips by entry date and code (``TRADE_COLUMNS``)."""
        return self.frame("trades")

    @property
    def rejections(self) -> pd.DataFrame:
        """Rejected order attempts in the order they happened (``REJECTION_COLUMNS``)."""
        return self.frame("rejections")

    @property
    def excluded(self) -> pd.DataFrame:
        """Stocks left out of the run: code, file, reason."""
        return self.frame("excluded")

    @property
    def worker_spans(self) -> pd.DataFrame:
        """Per-worker stage spans (``SPAN_COLUMNS``); no columns when no workers ran."""
        return self.frame("worker_spans")

    @property
    def benchmark(self) -> pd.DataFrame:
        """The run's benchmark per day (date, equity, drawdown), with its total and
        excess return in ``metrics``."""
        import pandas as pd

        equity = self.equity["benchmark"].to_numpy()
        return pd.DataFrame({"date": self.equity["date"], "equity": equity,
                             "drawdown": drawdown(equity)})
