"""Loads a universe: scan, read in parallel, validate, align, cache (SPEC §1-2)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.config import parse_date
from engine.data import cache
from engine.data.align import PLANES, AlignedArrays, align, day_positions
from engine.data.blocks import BLOCK, map_blocks
from engine.data.folder import FolderScan, ProgressCallback
from engine.data.layouts import tdx_gbbq as tdx_gbbq_module
from engine.data.layouts.detect import LAYOUT_CHOICES, layout_title, read_stocks, scan_folder
from engine.data.limits import LISTING_MODES, BarLimits
from engine.data.reader import FileTable
from engine.data.stocklist import parse_stock_selection, resolve_codes
from engine.data.validate import validate
from engine.errors import ConfigError, DataError
from engine.progress import CancelToken
from engine.util.log_once import warn_once
from engine.util.oscompat import tune_allocator
from engine.util.words import counted

log = logging.getLogger(__name__)

ADJUST_MODES = ("forward", "none")
#: The layout an ex-rights table (``tdx_gbbq``) adjusts (SPEC §1).
EX_RIGHTS_LAYOUT = "tdx"
BAD_STOCK_MODES = ("fail", "skip")
EXCLUDED_COLUMNS = ("code", "file", "reason")
#: The rule of the errors that say the run window holds none of the data's bars.
WINDOW_RULE = "no bars in window"


@dataclass(frozen=True)
class MarketData:
    """A loaded universe, aligned on its union calendar (SPEC §2).

    The calendar runs from the earliest bar of any selected stock to ``end``, so rows
    before ``start_index`` are warm-up history for indicators; ``run_dates`` is the
    run's own calendar. Columns follow ``codes`` (sorted). Arrays may be read-only
    memory maps of the aligned cache; ``cache_path`` is then the cache entry folder
    (``prices.npy``, ``tradable.npy``, ...) that worker processes map too, else None.
    ``layout`` names the folder's layout (``engine.data.layouts.detect.LAYOUTS``).
    ``excluded`` holds a (code, file, reason) row (``EXCLUDED_COLUMNS``) for each stock
    of the selection that was left out.
    """

    codes: tuple[str, ...]
    dates: np.ndarray
    start_index: int
    arrays: AlignedArrays
    files: tuple[str, ...]
    excluded: tuple[tuple[str, str, str], ...]
    warnings: tuple[str, ...]
    fingerprint: str
    from_cache: bool
    timings: dict[str, float] = field(default_factory=dict)
    cache_path: Path | None = None
    layout: str = "per-stock"

    def plane(self, name: str) -> np.ndarray:
        """One (n_days, n_stocks) plane of ``PLANES``: open, high, low, close, volume,
        up_limit or down_limit."""
        return self.arrays.prices[PLANES.index(name)]

    @property
    def open(self) -> np.ndarray:
        """Open prices (n_days, n_stocks)."""
        return self.plane("open")

    @property
    def high(self) -> np.ndarray:
        """High prices (n_days, n_stocks)."""
        return self.plane("high")

    @property
    def low(self) -> np.ndarray:
        """Low prices (n_days, n_stocks)."""
        return self.plane("low")

    @property
    def close(self) -> np.ndarray:
        """Close prices (n_days, n_stocks)."""
        return self.plane("close")

    @property
    def volume(self) -> np.ndarray:
        """Volumes (n_days, n_stocks)."""
        return self.plane("volume")

    @property
    def up_limit(self) -> np.ndarray:
        """Limit-up price of each bar, NaN where the bar has no limit (n_days, n_stocks)."""
        return self.plane("up_limit")

    @property
    def down_limit(self) -> np.ndarray:
        """Limit-down price of each bar, NaN where the bar has no limit (n_days, n_stocks)."""
        return self.plane("down_limit")

    @property
    def tradable(self) -> np.ndarray:
        """True where the stock has a bar that day (n_days, n_stocks)."""
        return self.arrays.tradable

    @property
    def run_dates(self) -> np.ndarray:
        """The run's calendar: the dates in [start, end]."""
        return self.dates[self.start_index:]

    @property
    def n_stocks(self) -> int:
        """Number of stocks (columns)."""
        return len(self.codes)


def _to_day(value: str | dt.date | np.datetime64, name: str) -> int:
    return int(np.datetime64(parse_date(value, name), "D").astype(np.int64))


def load_market_data(
    data_dir: Path | str,
    stocks: str | Path | Iterable[str] | None = None,
    start: str | dt.date = "1990-01-01",
    end: str | dt.date = "2100-01-01",
    *,
    layout: str = "auto",
    adjust: str = "forward",
    on_bad_stock: str = "fail",
    listing: str = "list_date",
    use_cache: bool = True,
    cache_dir: Path | str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    tdx_gbbq: Path | str | None = None,
) -> MarketData:
    """Load, validate and align a universe, from the aligned cache when it is fresh.

    ``stocks`` is None/"all" (every stock file in the folder), a stock-list file, a
    string of codes or a list of codes. ``layout`` is "auto" (detected from the folder's
    contents) or one of ``LAYOUT_CHOICES``. ``listing`` says which bar is a new listing's
    first (SPEC §4): the file's ``list_date`` or, with "first_bar", its first bar.
    ``tdx_gbbq`` names the TongDaXin ex-rights table that adjusts ``.day`` bars (None:
    the one of the installation the folder is in, if any; SPEC §1). Errors name the
    file, stock or field.
    """
    t0 = time.perf_counter()
    start_day, end_day = _to_day(start, "start"), _to_day(end, "end")
    if start_day > end_day:
        raise ConfigError(f"start {start} is after end {end}", field="start")
    if adjust not in ADJUST_MODES:
        raise ConfigError(f"adjust must be one of {ADJUST_MODES}, not {adjust!r}", field="adjust")
    if on_bad_stock not in BAD_STOCK_MODES:
        raise ConfigError(f"on_bad_stock must be one of {BAD_STOCK_MODES}, not {on_bad_stock!r}",
                          field="on_bad_stock")
    if listing not in LISTING_MODES:
        raise ConfigError(f"listing must be one of {LISTING_MODES}, not {listing!r}",
                          field="listing")
    if layout not in LAYOUT_CHOICES:
        raise ConfigError(f"layout must be one of {', '.join(LAYOUT_CHOICES)}, not {layout!r}",
                          field="layout")
    scan, table_notes = _with_ex_rights(scan_folder(data_dir, layout), tdx_gbbq)
    codes, missing = resolve_codes(scan, parse_stock_selection(stocks))
    if missing and on_bad_stock == "fail":
        raise DataError(_missing_reason(scan, missing[0]) + "; fix the stock list or use "
                        "on_bad_stock='skip'", code=missing[0], file=scan.folder)
    # on_bad_stock is not in the key: an entry records every bad stock, and the mode is
    # applied after it, so a "skip" load (the window's folder scan) serves "fail" runs.
    params: dict[str, Any] = {"end": end_day, "adjust": adjust, "listing": listing,
                              "layout": scan.layout}
    if scan.layout == EX_RIGHTS_LAYOUT:  # the key says which table adjusted it, if any
        params["ex_rights"] = "none" if scan.ex_rights is None else _table_identity(
            scan.ex_rights)
    root = Path(cache_dir) if cache_dir is not None else cache.default_cache_dir()
    key = cache.cache_key({code: scan.sources_of(code) for code in codes}, missing, params)
    hit, damage = cache.load(root, key) if use_cache else (None, None)
    timings = {"scan": time.perf_counter() - t0}
    entry: Path | None = None
    if hit is not None:
        arrays, meta, entry = hit
    else:
        arrays, meta = _build(scan, codes, missing, params, on_bad_stock, progress, cancel,
                              timings)
        if use_cache:
            entry = cache.store(root, key, arrays, meta)
    if on_bad_stock == "fail" and meta["errors"]:
        raise _error(meta["errors"][0])
    notices = (*scan.warnings, *table_notes, *([damage] if damage else []))
    data = _assemble(arrays, meta, start_day, end_day, scan.layout, notices, hit is not None,
                     timings, entry)
    timings["total"] = time.perf_counter() - t0
    return data


def _with_ex_rights(scan: FolderScan, tdx_gbbq: Path | str | None
                    ) -> tuple[FolderScan, list[str]]:
    """The scan with the ex-rights table ``tdx_gbbq`` names (else the installation's it
    found), and a warning when a table is named for a folder whose bars it cannot adjust."""
    if tdx_gbbq is None:
        return scan, []
    if scan.layout != EX_RIGHTS_LAYOUT:
        return scan, [f"the ex-rights table {tdx_gbbq} (tdx_gbbq) is not used: it adjusts "
                      f"TongDaXin .day bars, and {scan.folder} holds "
                      f"{layout_title(scan.layout)}"]
    return dataclasses.replace(scan, ex_rights=Path(tdx_gbbq)), []


def _table_identity(path: Path) -> list[str | int]:
    """The ex-rights table's part of the cache key: what an edit of it cannot keep."""
    try:
        return cache.file_identity(path)
    except OSError as exc:
        raise tdx_gbbq_module.table_error(path, f"cannot be read ({exc.strerror or exc})"
                                          ) from exc


def _missing_reason(scan: FolderScan, code: str) -> str:
    kind = scan.others.get(code)
    if kind is not None:
        return f"{code} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not an A-share"
    if scan.layout == "per-stock":
        return (f"stock {code} has no file in {scan.folder} (looked for "
                f"{code.replace('.', '_')}.parquet/.csv and the other spellings of its code)")
    return f"stock {code} has no bars in {scan.folder} ({layout_title(scan.layout)})"


def _build(scan: FolderScan, wanted: list[str], missing: list[str], params: dict[str, Any],
           on_bad_stock: str, progress: ProgressCallback | None, cancel: CancelToken | None,
           timings: dict[str, float]) -> tuple[AlignedArrays, dict[str, Any]]:
    """Read, validate, price-limit and align every stock (``params``: end, adjust,
    listing, layout); bad stocks are recorded in ``meta``, not raised, except when none
    is usable."""
    end_day = params["end"]
    t0 = time.perf_counter()
    tune_allocator()
    results = read_stocks(scan, wanted, progress, cancel) if wanted else []
    # Arrow keeps the memory it frees for its next allocations; the arrays to come are
    # NumPy's, so Arrow's cache is handed back to the OS whenever it has freed much (here
    # the decoders' buffers, below the files' tables): freshly freed pages are then
    # reused, much cheaper than pages the process never had.
    pa.default_memory_pool().release_unused()
    read_errors = {i: r for i, r in enumerate(results) if isinstance(r, DataError)}
    for i, error in read_errors.items():
        error.code = error.code or wanted[i]
    tables = [r for r in results if isinstance(r, FileTable)]
    codes = [c for c, r in zip(wanted, results, strict=True) if isinstance(r, FileTable)]
    timings["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    bars = validate(tables, end_day, params["adjust"])
    for i, error in bars.errors.items():
        error.code = codes[i]
    # The bars are NumPy columns now: free the files' tables before the limits and planes
    # take their memory; only names, digests and two per-file facts are needed.
    sources = [(table.label, table.digest) for table in tables]
    unadjusted = np.array([table.unadjusted for table in tables], dtype=bool)
    has_limits = [table.has_limits for table in tables]
    list_days = [table.list_day for table in tables]
    del results, tables
    pa.default_memory_pool().release_unused()
    positions = day_positions(bars.dates)  # the limits' day of each bar, and the planes'
    # Priced as the planes are filled (the pricer keeps the columns it reads).
    limits = BarLimits(bars, codes, has_limits, list_days, params["listing"], positions)
    for name in set(bars.values) - set(PLANES):
        del bars.values[name]
    timings["validate"] = time.perf_counter() - t1
    # In code order, so "fail" reports the first bad stock by code, however it failed.
    errors = sorted((_error_record(e) for e in [*read_errors.values(), *bars.errors.values()]),
                    key=lambda record: record["code"] or "")
    excluded = [[code, "", "no file in the data folder" if code not in scan.others
                 else _missing_reason(scan, code)] for code in missing]
    excluded += [[e["code"] or "", Path(e["file"]).name if e["file"] else "", str(e["message"])]
                 for e in errors]
    good = [i for i in range(len(sources)) if i not in bars.errors]
    if not good:
        if on_bad_stock == "fail" and errors:
            raise _error(errors[0])
        raise DataError(_nothing_usable(excluded, errors))
    t2 = time.perf_counter()
    sid = bars.sid
    if len(good) < len(sources):  # renumber the good stocks' columns 0..len(good)-1
        remap = np.full(len(sources), -1, dtype=np.int32)
        remap[good] = np.arange(len(good))
        sid = remap[sid]
    arrays = align(bars.dates, sid, bars.values, len(good), release=True, positions=positions,
                   limits=limits, index=bars.index)
    del sid, positions, limits
    warnings, last_day = list(bars.warnings), bars.last_day
    del bars
    if unadjusted[good].any():
        warnings += ex_rights_gap_warning(arrays, [codes[i] for i in good], unadjusted[good],
                                          scan.ex_rights, scan.layout)
    timings["align"] = time.perf_counter() - t2
    if arrays.calendar.size == 0:
        raise DataError(f"no bars on or before the end date {np.datetime64(end_day, 'D')} in "
                        "the selected stocks; choose a later end date", rule=WINDOW_RULE)
    digests = hashlib.blake2b(digest_size=16)
    for i in good:
        digests.update(f"{codes[i]}:{sources[i][1]};".encode())
    meta = {
        "codes": [codes[i] for i in good],
        "files": [sources[i][0] for i in good],
        "excluded": sorted(excluded),
        "errors": errors,
        "warnings": warnings,
        "last_day": last_day,
        "fingerprint": digests.hexdigest(),
    }
    return arrays, meta


#: How far beyond a limit an open may be and count as no gap: one tick, and float slack.
_GAP_SLACK = 0.01 + 1e-9


def _gaps_per_stock(arrays: AlignedArrays) -> tuple[np.ndarray, np.ndarray]:
    """Per stock: how many opens gap beyond the day's limits, and the day (row) of its
    first (-1: none). Over blocks of days on all cores (``map_blocks``), so the masks
    stay in the cache instead of costing planes of memory."""
    open_, down, up = (arrays.prices[PLANES.index(name)]
                       for name in ("open", "down_limit", "up_limit"))
    n_days, n_stocks = open_.shape

    def count(days: slice) -> tuple[np.ndarray, np.ndarray]:
        opened = open_[days]
        gaps = np.less(opened + _GAP_SLACK, down[days])
        gaps |= np.greater(opened - _GAP_SLACK, up[days])
        found = np.count_nonzero(gaps, axis=0)
        return found, np.where(found > 0, np.argmax(gaps, axis=0) + days.start, -1)

    per_stock = np.zeros(n_stocks, dtype=np.int64)
    first_day = np.full(n_stocks, -1, dtype=np.int64)
    for found, first in map_blocks(count, n_days, max(1, BLOCK // max(n_stocks, 1))):
        per_stock += found
        first_day = np.where(first_day < 0, first, first_day)
    return per_stock, first_day


def ex_rights_gap_warning(arrays: AlignedArrays, codes: list[str],
                          unadjusted: np.ndarray | None = None,
                          table: Path | None = None, layout: str = "tdx") -> list[str]:
    """The one warning of unadjusted bars (SPEC §1: TongDaXin ``.day`` bars, 不复权
    exports) that counts the stocks whose open gaps beyond the day's price limit (below
    limit-down or above limit-up of the reference): the mark of an ex-rights day, which
    books as a loss or a gain that no holder had. A gap of up to one tick (0.01) beyond
    is rounding (a reference a cent off, a dividend under a cent a share), not counted.
    Only the stocks flagged in ``unadjusted`` (None: all) count. With an ex-rights
    ``table`` the reference of each ex-rights day is the table's, so only days the table
    misses remain. ``layout`` says how to adjust them (TongDaXin ``.day`` bars or
    exports). Nothing when no open gaps."""
    per_stock, first_day = _gaps_per_stock(arrays)
    if unadjusted is not None:
        per_stock[~unadjusted] = 0
    stocks = np.flatnonzero(per_stock)
    if stocks.size == 0:
        return []
    first = int(stocks[0])
    day = np.datetime64(int(arrays.calendar[first_day[first]]), "D")
    named = ", ".join(codes[j] for j in stocks[:5]) + (" ..." if stocks.size > 5 else "")
    gaps = int(per_stock.sum())
    summary = (f"{stocks.size:,} of {len(codes):,} stocks {'has' if stocks.size == 1 else 'have'} "
               f"{gaps:,} overnight {'gap' if gaps == 1 else 'gaps'} beyond the price limit "
               f"({named}; first {codes[first]} on {day})")
    if table is not None:
        return [f"{summary} that the ex-rights table {table} does not explain: ex-rights "
                "days missing from an old table, each booked as a loss or gain no holder "
                "had. Let TongDaXin download its data again (盘后数据下载) to bring "
                "T0002/hq_cache/gbbq up to date"]
    if layout == "tdx-export":
        return [f"{summary}: the mark of ex-rights days in 不复权 TongDaXin exports, each "
                "booked as a loss or gain no holder had. To adjust them, export 前复权 "
                "data, or load the installation's vipdoc with its ex-rights table "
                "(T0002/hq_cache/gbbq)"]
    return [f"{summary}: the mark of ex-rights days in unadjusted TongDaXin bars, each "
            "booked as a loss or gain no holder had. To adjust them, give the "
            "installation's ex-rights table (T0002/hq_cache/gbbq beside vipdoc, or "
            "--tdx-gbbq PATH), or use a TongDaXin 前复权 export or files with adj_factor"]


def _nothing_usable(excluded: list[list[str]], errors: list[dict[str, str | None]]) -> str:
    """"no usable stock in the selection: 3 stocks excluded (2 missing column, 1 no bars in
    the folder); first: ..." on one line."""
    if not excluded:
        return "no usable stock in the selection"
    rules = Counter(str(e["rule"] or "unreadable") for e in errors)
    if len(excluded) > len(errors):
        rules["no bars in the folder"] = len(excluded) - len(errors)
    counts = ", ".join(f"{n} {rule}" for rule, n in rules.most_common())
    return (f"no usable stock in the selection: {len(excluded)} stock(s) excluded ({counts}); "
            f"first: {excluded[0][2]}")


_ERROR_FIELDS = ("code", "file", "field", "row", "rule")


def _error_record(error: DataError) -> dict[str, str | None]:
    """A DataError as JSON-friendly fields (kept in the cache entry's metadata)."""
    return {"message": str(error), **{name: getattr(error, name) for name in _ERROR_FIELDS}}


def _error(record: dict[str, str | None]) -> DataError:
    """The DataError of a record made by ``_error_record``."""
    return DataError(str(record["message"]), **{name: record[name] for name in _ERROR_FIELDS})


def _empty_window(start_day: int, end_day: int, last_day: int | None) -> DataError:
    """The error of a run window without a trading day, naming the date to change."""
    start, end = np.datetime64(start_day, "D"), np.datetime64(end_day, "D")
    if last_day is not None and last_day > end_day:
        return DataError(f"no trading day from {start} to {end} in the selected stocks (a "
                         "weekend or holiday?); choose a later end date", field="end",
                         rule=WINDOW_RULE)
    last = f"on {np.datetime64(last_day, 'D')}" if last_day is not None else "before it"
    return DataError(f"the selected stocks have no bars on or after the start date {start} "
                     f"(their data ends {last}); choose an earlier start", field="start",
                     rule=WINDOW_RULE)


def _assemble(arrays: AlignedArrays, meta: dict[str, Any], start_day: int, end_day: int,
              layout: str, notices: tuple[str, ...], from_cache: bool,
              timings: dict[str, float], entry: Path | None = None) -> MarketData:
    codes = tuple(meta["codes"])
    for array in (arrays.prices, arrays.tradable):
        array.flags.writeable = False  # market data is shared and never modified
    start_index = int(np.searchsorted(arrays.calendar, start_day))
    if start_index >= arrays.calendar.size:
        raise _empty_window(start_day, end_day, meta["last_day"])
    in_window = np.asarray(arrays.tradable[start_index:]).any(axis=0)
    idle = [codes[j] for j in np.flatnonzero(~in_window)]
    warnings = [*notices, *meta["warnings"]]
    if idle:
        warnings.append(f"{counted(len(idle), 'stock')} "
                        f"{'has' if len(idle) == 1 else 'have'} no bars in the run window: "
                        + ", ".join(idle[:10]) + (" ..." if len(idle) > 10 else ""))
    for message in meta["warnings"]:
        # Every scan and run reloads: said once per folder, not per reload.
        warn_once(log, message, str(Path(meta["files"][0]).parent) if meta["files"] else "")
    return MarketData(
        codes=codes,
        dates=arrays.calendar.astype("datetime64[D]"),
        start_index=start_index,
        arrays=arrays,
        files=tuple(meta["files"]),
        excluded=tuple((code, file, reason) for code, file, reason in meta["excluded"]),
        warnings=tuple(warnings),
        fingerprint=meta["fingerprint"],
        from_cache=from_cache,
        timings=timings,
        cache_path=entry,
        layout=layout,
    )
