"""Validation of stock rows (SPEC §1), vectorized over all stocks; errors name file and date."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.data.column_aliases import PRICE_COLUMNS
from engine.data.reader import NUMERIC_COLUMNS, FileTable
from engine.errors import DataError

TICK = 0.01
# Float slack so that a bar exactly one tick outside is still accepted.
_EPS = 1e-9
#: Columns of ``ValidBars.values``: the bar, and the optional per-day reference price,
#: daily limits and ST flag (NaN where the file has none).
BAR_COLUMNS = ("open", "high", "low", "close", "volume", "pre_close", "up_limit",
               "down_limit", "is_st")
#: Optional prices of a day, adjusted like the bar's own prices.
_DAY_PRICES = ("pre_close", "up_limit", "down_limit")


@dataclass(frozen=True)
class ValidBars:
    """Traded bars of the stocks that passed, concatenated in stock order.

    Rows of stock ``j`` (``sid == j``) are sorted by date, end at ``end``, and are
    forward-adjusted if requested; ``dates`` are int64 days since epoch.
    ``errors`` maps a failed stock's index to its error; its rows are removed.
    ``last_day`` is the latest traded day of the good stocks, after ``end`` too (None
    when none is left), so an empty run window can be explained.
    """

    dates: np.ndarray
    sid: np.ndarray
    values: dict[str, np.ndarray]
    errors: dict[int, DataError]
    warnings: tuple[str, ...]
    last_day: int | None = None


class _Checker:
    """Collects the first failing rule per stock, in the order the rules are applied."""

    def __init__(self, files: Sequence[FileTable], dates: np.ndarray, sid: np.ndarray) -> None:
        self.files, self.dates, self.sid = files, dates, sid
        self.errors: dict[int, DataError] = {}

    def check(self, bad: np.ndarray, rule: str, field: str,
              explain: Callable[[int, str], str]) -> None:
        """Record ``explain(row)`` for the first bad row of each stock not yet failed."""
        rows = np.flatnonzero(bad)
        if rows.size == 0:
            return
        stocks, first = np.unique(self.sid[rows], return_index=True)
        for stock, row in zip(stocks.tolist(), rows[first].tolist(), strict=True):
            if stock in self.errors:
                continue
            path, label = self.files[stock].path, self.files[stock].label
            day = str(np.datetime64(int(self.dates[row]), "D"))
            self.errors[stock] = DataError(f"{label}: {explain(row, day)}", file=path,
                                           field=field, row=day, rule=rule)

    def check_stocks(self, bad: np.ndarray, rule: str, field: str,
                     explain: Callable[[int], str]) -> None:
        """Record ``explain(stock)`` for each stock flagged in ``bad`` (one per stock)."""
        for stock in np.flatnonzero(bad).tolist():
            if stock not in self.errors:
                path = self.files[stock].path
                self.errors[stock] = DataError(f"{path.name}: {explain(stock)}", file=path,
                                               field=field, rule=rule)


def validate(files: Sequence[FileTable], end_day: int, adjust: str) -> ValidBars:
    """Apply every rule of SPEC §1 to every file and return the traded bars of the good ones.

    Unsorted dates are sorted (with a warning); rows after ``end_day`` are ignored;
    rows without volume are days without a bar and are dropped.
    """
    counts = np.array([f.table.num_rows for f in files], dtype=np.int64)
    table = pa.concat_tables([f.table for f in files]) if files else None
    sid = np.repeat(np.arange(len(files)), counts)
    dates = _column(table, "date").astype("datetime64[D]").astype(np.int64)
    cols = {name: _column(table, name) for name in NUMERIC_COLUMNS}
    del table  # the columns are NumPy copies now
    warnings: list[str] = []
    unsorted = np.flatnonzero((dates[1:] < dates[:-1]) & (sid[1:] == sid[:-1]))
    if unsorted.size:
        order = np.lexsort((dates, sid))
        dates, cols = dates[order], {k: v[order] for k, v in cols.items()}
        names = [files[stock].label for stock in np.unique(sid[unsorted]).tolist()]
        warnings.append(f"{names[0]}: dates were not sorted; sorted them" if len(names) == 1
                        else f"dates were not sorted in {len(names)} stocks' files; sorted "
                        "them: " + ", ".join(names[:10]) + (" ..." if len(names) > 10 else ""))
    checker = _Checker(files, dates, sid)
    dup = np.zeros(dates.size, dtype=bool)
    dup[1:] = (dates[1:] == dates[:-1]) & (sid[1:] == sid[:-1])
    checker.check(dup, "duplicate date", "date",
                  lambda r, d: f"date {d} appears more than once; keep one row per date")
    volume = cols["volume"]
    _check_traded_rows(checker, counts, sid, volume)
    keep = dates <= end_day
    checker.check(keep & (volume < 0), "negative volume", "volume",
                  lambda r, d: f"column `volume` is negative on {d}; fix the value")
    checker.check(keep & np.isinf(volume), "infinite volume", "volume",
                  lambda r, d: f"column `volume` is {volume[r]} on {d}; volumes must be "
                  "finite numbers")
    traded = keep & (volume > 0)
    _check_prices(checker, traded, cols)
    _check_day_prices(checker, traded, cols)
    if adjust == "forward":
        has_factor = np.array([f.has_adj_factor for f in files], dtype=bool)
        _forward_adjust(checker, traded & has_factor[sid], sid, cols)
    good = np.ones(len(files), dtype=bool)
    good[list(checker.errors)] = False
    rows = traded & good[sid]
    any_day = (volume > 0) & good[sid]
    last_day = int(dates[any_day].max()) if any_day.any() else None
    if rows.all():  # clean data up to ``end``: no copy of every column
        return ValidBars(dates, sid, {k: cols[k] for k in BAR_COLUMNS}, checker.errors,
                         tuple(warnings), last_day)
    return ValidBars(dates[rows], sid[rows], {k: cols[k][rows] for k in BAR_COLUMNS},
                     checker.errors, tuple(warnings), last_day)


def _column(table: pa.Table | None, name: str) -> np.ndarray:
    if table is None:
        return np.empty(0, dtype="datetime64[D]" if name == "date" else np.float64)
    values = table.column(name).to_numpy()
    return values if values.flags.writeable else values.copy()


def _check_traded_rows(checker: _Checker, counts: np.ndarray, sid: np.ndarray,
                       volume: np.ndarray) -> None:
    """A file without a single traded row (empty, header only, volume 0 throughout) is
    an error (SPEC §1): it can only be a broken export, never a stock to trade."""
    traded = np.bincount(sid[volume > 0], minlength=counts.size)
    checker.check_stocks((counts > 0) & (traded == 0), "no traded row", "volume",
                         lambda s: f"column `volume` is 0 or empty on all {counts[s]} rows, so "
                         "the file has no traded day; re-export it with its volumes")
    checker.check_stocks(counts == 0, "no traded row", "date",
                         lambda s: "the file has a header but no rows; re-export it or "
                         "remove it from the data folder")


def _check_prices(checker: _Checker, traded: np.ndarray, cols: dict[str, np.ndarray]) -> None:
    def not_positive(name: str) -> Callable[[int, str], str]:
        return lambda r, d: (f"column `{name}` is {cols[name][r]} on {d}, a traded day "
                             "(volume > 0); prices must be positive numbers")

    def infinite(name: str) -> Callable[[int, str], str]:
        return lambda r, d: (f"column `{name}` is {cols[name][r]} on {d}, a traded day "
                             "(volume > 0); prices must be finite numbers")

    for name in PRICE_COLUMNS:
        checker.check(traded & ~(cols[name] > 0), "price <= 0 or NaN", name, not_positive(name))
        checker.check(traded & np.isinf(cols[name]), "infinite price", name, infinite(name))
    top = np.maximum(cols["open"], cols["close"])
    bottom = np.minimum(cols["open"], cols["close"])
    high, low = cols["high"], cols["low"]
    checker.check(traded & (top - high > TICK + _EPS), "high < max(open, close)", "high",
                  lambda r, d: f"on {d} high {high[r]} is below max(open, close) {top[r]} by "
                  "more than one tick (0.01); fix the bar")
    checker.check(traded & (low - bottom > TICK + _EPS), "low > min(open, close)", "low",
                  lambda r, d: f"on {d} low {low[r]} is above min(open, close) {bottom[r]} by "
                  "more than one tick (0.01); fix the bar")


def _check_day_prices(checker: _Checker, traded: np.ndarray,
                      cols: dict[str, np.ndarray]) -> None:
    """``pre_close`` and the daily limits are positive numbers where given (NaN: not given)."""
    def explain(name: str) -> Callable[[int, str], str]:
        return lambda r, d: (f"column `{name}` is {cols[name][r]} on {d}; it must be a "
                             "positive price, or empty where unknown")

    for name in _DAY_PRICES:
        values = cols[name]
        checker.check(traded & ~np.isnan(values) & ~((values > 0) & np.isfinite(values)),
                      f"bad {name}", name, explain(name))


def _forward_adjust(checker: _Checker, rows: np.ndarray, sid: np.ndarray,
                    cols: dict[str, np.ndarray]) -> None:
    """Scale prices by ``adj_factor / last adj_factor`` on the rows of stocks that have one.

    "Last" is the stock's last traded bar up to ``end``, so a run's final prices are
    the real ones (Tushare's convention for forward adjustment over a query window).
    """
    factor = cols["adj_factor"]
    checker.check(rows & ~((factor > 0) & np.isfinite(factor)), "bad adj_factor", "adj_factor",
                  lambda r, d: f"column `adj_factor` is {factor[r]} on {d}; it must be a "
                  "positive number (or run with adjust='none')")
    index = np.flatnonzero(rows)
    if index.size == 0:
        return
    stocks = sid[index]
    # Rows are sorted by (stock, date), so each stock's rows form one run.
    starts = np.flatnonzero(np.r_[True, stocks[1:] != stocks[:-1]])
    ends = np.r_[starts[1:], stocks.size]
    last = np.repeat(factor[index[ends - 1]], ends - starts)
    for name in (*PRICE_COLUMNS, *_DAY_PRICES):
        # Literal order of the spec's formula, (price * adj_factor) / last, for exact parity.
        cols[name][index] = cols[name][index] * factor[index] / last
