"""Validation of stock rows (SPEC §1), vectorized over all stocks; errors name file and date."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.data.blocks import map_blocks
from engine.data.column_aliases import PRICE_COLUMNS
from engine.data.reader import NUMERIC_COLUMNS, FileTable
from engine.errors import DataError

TICK = 0.01
# Float slack so that a bar exactly one tick outside is still accepted.
_EPS = 1e-9
#: Columns of ``ValidBars.values``: the bar, and the optional per-day reference price,
#: daily limits and ST flag (NaN where a file has none; left out where no file has one).
BAR_COLUMNS = ("open", "high", "low", "close", "volume", "pre_close", "up_limit",
               "down_limit", "is_st")
#: A file's own limit prices, adjusted like the bar's own prices (its ``pre_close`` is
#: not: it is only the limits' reference, which SPEC §4 takes unadjusted).
_DAY_PRICES = ("up_limit", "down_limit")

Columns = dict[str, np.ndarray | None]
#: One rule over rows: (bad rows, rule, field, explain(row, day) -> message).
RowRule = tuple[np.ndarray, str, str, Callable[[int, str], str]]


@dataclass(frozen=True)
class Adjustment:
    """How forward adjustment scaled prices, for the limits decided before it (SPEC §4):
    ``raw_close`` the unadjusted closes and ``factor`` the ``adj_factor`` column, over
    the files' rows; ``last`` each stock's last factor (NaN for a stock not adjusted). A
    price ``p`` of stock ``j`` on row ``r`` became ``p * factor[r] / last[j]``."""

    raw_close: np.ndarray
    factor: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class ValidBars:
    """Traded bars of the stocks that passed, concatenated in stock order.

    Rows of stock ``j`` (``sid == j``) are sorted by date, end at ``end``, and are
    forward-adjusted if requested; ``dates`` are int32 days since epoch. The arrays may
    be read-only (Arrow's memory, when the files' rows needed no change). ``values``
    holds the ``BAR_COLUMNS`` that some file has (the bar's own five always), over the
    files' rows: bar ``i`` is their row ``index[i]`` (``index`` None: row ``i``), so
    rows that are no bar (after ``end``, without volume, of a failed stock) are left
    out without a copy of every column; ``column`` gives a column's bars.
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
    index: np.ndarray | None = None
    #: Set when some stock's prices were forward-adjusted: ``adjustment.raw_close`` over
    #: the files' rows, the factor column and each stock's last factor (NaN: none).
    adjustment: Adjustment | None = None

    def column(self, name: str) -> np.ndarray:
        """The bars' values of column ``name`` (a copy when some rows are no bar)."""
        values = self.values[name]
        return values if self.index is None else values[self.index]


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
    rows without volume are days without a bar and are dropped. A fast screen over
    all rows finds the stocks any rule could fail (or whose dates are not strictly
    increasing); the rules run one by one, with their messages, on those stocks' rows
    only, which gives each the same error as running them on every row.
    """
    counts = np.array([f.table.num_rows for f in files], dtype=np.int64)
    sid = np.repeat(np.arange(len(files), dtype=np.int32), counts)
    dates, cols = gather(files, adjust)
    factors = np.array([f.has_adj_factor for f in files], dtype=bool)
    has_factor = factors if adjust == "forward" and factors.any() else None
    suspects, clean, last_traded = _screen(dates, sid, cols, counts, end_day, has_factor)
    errors: dict[int, DataError] = {}
    warnings: list[str] = []
    if suspects.any():
        dates, errors, warnings = _check_suspects(files, dates, sid, cols, counts, suspects,
                                                  end_day, has_factor)
    if clean and not suspects.any():  # every row a good bar up to ``end``: keep them all
        index, last_day = None, last_traded
    else:
        index, last_day = _bar_rows(dates, sid, cols, errors, len(files), end_day)
    adjustment = None
    if has_factor is not None:  # the bars of the stocks with a factor
        adjustment = _forward_adjust(np.flatnonzero(has_factor[sid]) if index is None
                                     else index[has_factor[sid[index]]], sid, cols,
                                     len(files))
    present = {k: v for k in BAR_COLUMNS if (v := cols[k]) is not None}
    if index is None or index.size == dates.size:  # no copy of every column
        return ValidBars(dates, sid, present, errors, tuple(warnings), last_day,
                         adjustment=adjustment)
    return ValidBars(dates[index], sid[index], present, errors, tuple(warnings), last_day,
                     index, adjustment)


def _bar_rows(dates: np.ndarray, sid: np.ndarray, cols: Columns, errors: dict[int, DataError],
              n_files: int, end_day: int) -> tuple[np.ndarray, int | None]:
    """The rows that are bars (of a good stock, traded, up to ``end_day``), in order, and
    the latest day a good stock traded (after ``end_day`` too; None: none did)."""
    volume = cols["volume"]
    assert volume is not None
    good = np.ones(n_files, dtype=bool)
    good[list(errors)] = False
    wide = np.int32 if dates.size < 2**31 else np.int64

    def bars_of(block: slice) -> tuple[np.ndarray, int | None]:
        d, traded = dates[block], (volume[block] > 0) & good[sid[block]]
        last = int(d[traded].max()) if traded.any() else None
        return np.flatnonzero(traded & (d <= end_day)).astype(wide) + block.start, last

    parts = map_blocks(bars_of, dates.size)
    index = np.concatenate([rows for rows, _ in parts]) if parts else np.empty(0, wide)
    lasts = [last for _, last in parts if last is not None]
    return index, (max(lasts) if lasts else None)


def gather(files: Sequence[FileTable], adjust: str = "forward") -> tuple[np.ndarray, Columns]:
    """Every file's rows, concatenated, as NumPy columns (read-only where they are Arrow's
    own memory): int32 days, and each of ``NUMERIC_COLUMNS`` as float64, or None where no
    file has a value in it (an ``adj_factor`` column a file declares is kept, so its
    emptiness is reported)."""
    table = _rows_of(files)
    if table is None:
        return np.empty(0, dtype=np.int32), {name: np.empty(0) for name in NUMERIC_COLUMNS}
    dates = table.column("date").cast(pa.int32()).to_numpy()
    cols: Columns = {}
    for name in NUMERIC_COLUMNS:
        column = table.column(name)
        needed = column.null_count < len(column) or name in PRICE_COLUMNS or name == "volume"
        if name == "adj_factor":
            needed = needed or (adjust == "forward" and any(f.has_adj_factor for f in files))
        cols[name] = column.to_numpy() if needed else None
    return dates, cols


def _rows_of(files: Sequence[FileTable]) -> pa.Table | None:
    """The files' rows in order as one table: the batch they were read in when they are
    all of it, in order (no copy), else their concatenation."""
    if not files:
        return None
    batch = files[0].batch
    if batch is not None and all(f.batch is batch for f in files):
        counts = np.array([f.table.num_rows for f in files], dtype=np.int64)
        offsets = np.array([f.offset for f in files], dtype=np.int64)
        if (offsets[0] == 0 and int(counts.sum()) == batch.num_rows
                and np.array_equal(offsets[1:], np.cumsum(counts)[:-1])):
            return batch
    return pa.concat_tables([f.table for f in files])


def _writeable(values: np.ndarray) -> np.ndarray:
    """``values``, or a copy that may be written where they are read-only."""
    return values if values.flags.writeable else values.copy()


def _screen(dates: np.ndarray, sid: np.ndarray, cols: Columns, counts: np.ndarray,
            end_day: int, has_factor: np.ndarray | None
            ) -> tuple[np.ndarray, bool, int | None]:
    """Per stock: True where some rule may fail (any bad row, no traded row) or its dates
    do not strictly increase (unsorted or repeated); whether every row is traded and up
    to ``end_day`` (so none is dropped); the latest day of a traded row (None: none).
    Block by block (``map_blocks``), so its masks are small; it applies the very row
    rules ``_check_suspects`` reports."""
    volume = cols["volume"]
    assert volume is not None

    def screen(block: slice) -> tuple[np.ndarray, np.ndarray, bool, int | None]:
        """The block's suspect stocks, its stocks with a traded row, whether all its rows
        are kept, and its last traded day."""
        start = max(block.start - 1, 0)  # the row before, to compare dates across blocks
        d, s = dates[start:block.stop], sid[start:block.stop]
        unordered = s[1:][(d[1:] <= d[:-1]) & (s[1:] == s[:-1])]
        v, days = volume[block], dates[block]
        local = {k: (c[block] if c is not None else None) for k, c in cols.items()}
        factor_rows = has_factor[sid[block]] if has_factor is not None else None
        keep = days <= end_day
        bad = np.zeros(v.size, dtype=bool)
        for rows, *_ in _row_rules(keep, local, factor_rows):
            bad |= rows
        traded = v > 0
        last = int(days[traded].max()) if traded.any() else None
        return (np.r_[unordered, sid[block][bad]], np.unique(sid[block][traded]),
                bool((keep & traded).all()), last)

    suspect = np.zeros(counts.size, dtype=bool)
    traded = np.zeros(counts.size, dtype=bool)
    clean, last_traded = True, None
    for bad_stocks, traded_stocks, kept, last in map_blocks(screen, dates.size):
        suspect[bad_stocks] = True
        traded[traded_stocks] = True
        clean = clean and kept
        if last is not None:
            last_traded = last if last_traded is None else max(last_traded, last)
    return suspect | ~traded, clean, last_traded


def _check_suspects(files: Sequence[FileTable], dates: np.ndarray, sid: np.ndarray,
                    cols: Columns, counts: np.ndarray, suspects: np.ndarray, end_day: int,
                    has_factor: np.ndarray | None
                    ) -> tuple[np.ndarray, dict[int, DataError], list[str]]:
    """The rules, in order, on the suspect stocks' rows: the dates, sorted, their errors
    and the warning about unsorted dates. Unsorted rows are sorted in place in ``cols``
    (a stock's rows keep their span)."""
    where = np.flatnonzero(suspects[sid])
    d, s = dates[where], sid[where]
    c = {k: (v[where] if v is not None else None) for k, v in cols.items()}
    warnings: list[str] = []
    unsorted = np.flatnonzero((d[1:] < d[:-1]) & (s[1:] == s[:-1]))
    if unsorted.size:
        order = np.lexsort((d, s))
        d, c = d[order], {k: (v[order] if v is not None else None) for k, v in c.items()}
        dates = _writeable(dates)
        dates[where] = d
        for name, values in c.items():
            target = cols[name]
            if values is not None and target is not None:
                cols[name] = target = _writeable(target)
                target[where] = values
        names = [files[stock].label for stock in np.unique(s[unsorted]).tolist()]
        warnings.append(f"{names[0]}: dates were not sorted; sorted them" if len(names) == 1
                        else f"dates were not sorted in {len(names)} stocks' files; sorted "
                        "them: " + ", ".join(names[:10]) + (" ..." if len(names) > 10 else ""))
    checker = _Checker(files, d, s)
    dup = np.zeros(d.size, dtype=bool)
    dup[1:] = (d[1:] == d[:-1]) & (s[1:] == s[:-1])
    checker.check(dup, "duplicate date", "date",
                  lambda r, day: f"date {day} appears more than once; keep one row per date")
    volume = c["volume"]
    assert volume is not None
    _check_traded_rows(checker, counts, suspects, s, volume)
    factor_rows = has_factor[s] if has_factor is not None else None
    for rows, rule, field, explain in _row_rules(d <= end_day, c, factor_rows):
        checker.check(rows, rule, field, explain)
    return dates, checker.errors, warnings


def _row_rules(keep: np.ndarray, cols: Columns, factor_rows: np.ndarray | None
               ) -> Iterator[RowRule]:
    """Every rule of SPEC §1 that a single row can fail, in the order they are reported,
    each computed when asked for. ``keep``: rows up to ``end``; ``factor_rows``: rows of
    stocks whose prices are forward-adjusted (None: none are)."""
    volume = cols["volume"]
    assert volume is not None
    yield (keep & (volume < 0), "negative volume", "volume",
           lambda r, d: f"column `volume` is negative on {d}; fix the value")
    yield (keep & np.isinf(volume), "infinite volume", "volume",
           lambda r, d: f"column `volume` is {volume[r]} on {d}; volumes must be finite numbers")
    traded = keep & (volume > 0)
    yield from _price_rules(traded, cols)
    yield from _day_price_rules(traded, cols)
    factor = cols["adj_factor"]
    if factor_rows is not None and factor is not None:
        yield (traded & factor_rows & ~((factor > 0) & np.isfinite(factor)), "bad adj_factor",
               "adj_factor", lambda r, d: f"column `adj_factor` is {factor[r]} on {d}; it must "
               "be a positive number (or run with adjust='none')")


def _check_traded_rows(checker: _Checker, counts: np.ndarray, stocks: np.ndarray,
                       sid: np.ndarray, volume: np.ndarray) -> None:
    """A file without a single traded row (empty, header only, volume 0 throughout) is
    an error (SPEC §1): it can only be a broken export, never a stock to trade.
    ``sid``/``volume`` hold every row of the stocks flagged in ``stocks``."""
    traded = np.bincount(sid[volume > 0], minlength=counts.size)
    checker.check_stocks(stocks & (counts > 0) & (traded == 0), "no traded row", "volume",
                         lambda s: f"column `volume` is 0 or empty on all {counts[s]} rows, so "
                         "the file has no traded day; re-export it with its volumes")
    checker.check_stocks(stocks & (counts == 0), "no traded row", "date",
                         lambda s: "the file has a header but no rows; re-export it or "
                         "remove it from the data folder")


def _price_rules(traded: np.ndarray, cols: Columns) -> Iterator[RowRule]:
    def price(name: str) -> np.ndarray:
        values = cols[name]
        assert values is not None
        return values

    def not_positive(name: str) -> Callable[[int, str], str]:
        return lambda r, d: (f"column `{name}` is {price(name)[r]} on {d}, a traded day "
                             "(volume > 0); prices must be positive numbers")

    def infinite(name: str) -> Callable[[int, str], str]:
        return lambda r, d: (f"column `{name}` is {price(name)[r]} on {d}, a traded day "
                             "(volume > 0); prices must be finite numbers")

    for name in PRICE_COLUMNS:
        yield traded & ~(price(name) > 0), "price <= 0 or NaN", name, not_positive(name)
        yield traded & np.isinf(price(name)), "infinite price", name, infinite(name)
    top = np.maximum(price("open"), price("close"))
    high = price("high")
    yield (traded & (top - high > TICK + _EPS), "high < max(open, close)", "high",
           lambda r, d: f"on {d} high {high[r]} is below max(open, close) {top[r]} by "
           "more than one tick (0.01); fix the bar")
    bottom = np.minimum(price("open"), price("close"))
    low = price("low")
    yield (traded & (low - bottom > TICK + _EPS), "low > min(open, close)", "low",
           lambda r, d: f"on {d} low {low[r]} is above min(open, close) {bottom[r]} by "
           "more than one tick (0.01); fix the bar")


def _day_price_rules(traded: np.ndarray, cols: Columns) -> Iterator[RowRule]:
    """``pre_close`` and the daily limits are positive numbers where given (NaN: not given)."""
    def explain(name: str, values: np.ndarray) -> Callable[[int, str], str]:
        return lambda r, d: (f"column `{name}` is {values[r]} on {d}; it must be a "
                             "positive price, or empty where unknown")

    for name in _DAY_PRICES:
        values = cols[name]
        if values is not None:
            yield (traded & ~np.isnan(values) & ~((values > 0) & np.isfinite(values)),
                   f"bad {name}", name, explain(name, values))


def _forward_adjust(index: np.ndarray, sid: np.ndarray, cols: Columns,
                    n_files: int) -> Adjustment | None:
    """Scale prices by ``adj_factor / last adj_factor`` on the rows ``index`` (the bars,
    in order, of the stocks that have a factor); returns how, with the closes before
    (None when nothing was scaled).

    "Last" is the stock's last traded bar up to ``end``, so a run's final prices are
    the real ones (Tushare's convention for forward adjustment over a query window).
    """
    factor, close = cols["adj_factor"], cols["close"]
    if index.size == 0 or factor is None or close is None:
        return None
    # The limits' reference stays unadjusted: closes in Arrow's memory (read-only) are
    # copied by ``_writeable`` before they are scaled, which leaves them as they are;
    # writeable ones are scaled in place, so they are copied here.
    raw_close = close if not close.flags.writeable else close.copy()
    stocks = sid[index]
    # Rows are sorted by (stock, date), so each stock's rows form one run.
    starts = np.flatnonzero(np.r_[True, stocks[1:] != stocks[:-1]])
    ends = np.r_[starts[1:], stocks.size]
    last_of_stock = np.full(n_files, np.nan)
    last_of_stock[stocks[starts]] = factor[index[ends - 1]]
    last = np.repeat(factor[index[ends - 1]], ends - starts)
    scaled = []
    for name in (*PRICE_COLUMNS, *_DAY_PRICES):
        values = cols[name]
        if values is not None:
            cols[name] = values = _writeable(values)
            scaled.append(values)

    def scale(block: slice) -> None:
        rows = index[block]
        row_factor, row_last = factor[rows], last[block]
        for values in scaled:
            # Literal order of the spec's formula, (price * adj_factor) / last, for parity.
            price = values[rows]
            price *= row_factor
            price /= row_last
            values[rows] = price

    map_blocks(scale, index.size)
    return Adjustment(raw_close, factor, last_of_stock)
