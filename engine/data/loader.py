"""Loads a universe: scan, read in parallel, validate, align, cache (SPEC §1-2)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.data import cache
from engine.data.align import PLANES, AlignedArrays, align
from engine.data.limits import LISTING_MODES, bar_limits
from engine.data.reader import FileTable, read_file
from engine.data.stocklist import parse_stock_selection, resolve_codes, scan_folder
from engine.data.validate import validate
from engine.errors import Cancelled, ConfigError, DataError
from engine.progress import CancelToken

log = logging.getLogger(__name__)

ADJUST_MODES = ("forward", "none")
BAD_STOCK_MODES = ("fail", "skip")
EXCLUDED_COLUMNS = ("code", "file", "reason")

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class MarketData:
    """A loaded universe, aligned on its union calendar (SPEC §2).

    The calendar runs from the earliest bar of any selected stock to ``end``, so rows
    before ``start_index`` are warm-up history for indicators; ``run_dates`` is the
    run's own calendar. Columns follow ``codes`` (sorted). Arrays may be read-only
    memory maps of the aligned cache; ``cache_path`` is then the cache entry folder
    (``prices.npy``, ``tradable.npy``, ...) that worker processes map too, else None.
    """

    codes: tuple[str, ...]
    dates: np.ndarray
    start_index: int
    arrays: AlignedArrays
    files: tuple[str, ...]
    excluded: pd.DataFrame
    warnings: tuple[str, ...]
    fingerprint: str
    from_cache: bool
    timings: dict[str, float] = field(default_factory=dict)
    cache_path: Path | None = None

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
    try:
        return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name} {value!r} is not a date; use YYYY-MM-DD", field=name) from exc


def load_market_data(
    data_dir: Path | str,
    stocks: str | Path | Iterable[str] | None = None,
    start: str | dt.date = "1990-01-01",
    end: str | dt.date = "2100-01-01",
    *,
    adjust: str = "forward",
    on_bad_stock: str = "fail",
    listing: str = "list_date",
    use_cache: bool = True,
    cache_dir: Path | str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MarketData:
    """Load, validate and align a universe, from the aligned cache when it is fresh.

    ``stocks`` is None/"all" (every stock file in the folder), a stock-list file, a
    string of codes or a list of codes. ``listing`` says which bar is a new listing's
    first (SPEC §4): the file's ``list_date`` or, with "first_bar", its first bar.
    Errors name the file, stock or field.
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
    scan = scan_folder(data_dir)
    codes, missing = resolve_codes(scan, parse_stock_selection(stocks))
    if missing and on_bad_stock == "fail":
        raise DataError(f"stock {missing[0]} has no file in {scan.folder} (looked for "
                        f"{missing[0].replace('.', '_')}.parquet/.csv); fix the stock list or "
                        "use on_bad_stock='skip'", code=missing[0], file=scan.folder)
    files = {code: scan.files[code] for code in codes}
    # on_bad_stock is not in the key: an entry records every bad stock, and the mode is
    # applied after it, so a "skip" load (the window's folder scan) serves "fail" runs.
    params = {"end": end_day, "adjust": adjust, "listing": listing}
    root = Path(cache_dir) if cache_dir is not None else cache.default_cache_dir()
    key = cache.cache_key(files, missing, params)
    hit, damage = cache.load(root, key) if use_cache else (None, None)
    timings = {"scan": time.perf_counter() - t0}
    entry: Path | None = None
    if hit is not None:
        arrays, meta = hit
        entry = root / key
    else:
        arrays, meta = _build(files, missing, params, on_bad_stock, progress, cancel, timings)
        if use_cache:
            entry = cache.store(root, key, arrays, meta)
    if on_bad_stock == "fail" and meta["errors"]:
        raise _error(meta["errors"][0])
    notices = (*scan.warnings, *([damage] if damage else []))
    data = _assemble(arrays, meta, start_day, end_day, notices, hit is not None, timings, entry)
    timings["total"] = time.perf_counter() - t0
    return data


def _read_one(code: str, path: Path) -> FileTable | DataError:
    try:
        return read_file(path)
    except DataError as exc:
        exc.code = exc.code or code
        return exc


def _read_all(files: dict[str, Path], progress: ProgressCallback | None,
              cancel: CancelToken | None) -> list[FileTable | DataError]:
    """Read every file on a thread pool (Arrow's readers release the GIL)."""
    codes = list(files)
    results: list[FileTable | DataError] = []
    # Two threads: reads of small files barely scale past that (Python overhead holds the
    # GIL), and more threads starve the GUI thread of the GIL during a load.
    workers = min(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        futures = [pool.submit(_read_one, c, files[c]) for c in codes]
        for done, future in enumerate(futures, start=1):
            if cancel is not None and cancel.is_set():
                for f in futures:
                    f.cancel()
                raise Cancelled("loading was cancelled")
            results.append(future.result())
            if progress is not None and (done % 25 == 0 or done == len(codes)):
                progress(done, len(codes))
    return results


def _build(files: dict[str, Path], missing: list[str], params: dict[str, Any],
           on_bad_stock: str, progress: ProgressCallback | None, cancel: CancelToken | None,
           timings: dict[str, float]) -> tuple[AlignedArrays, dict[str, Any]]:
    """Read, validate, price-limit and align every file (``params``: end, adjust,
    listing); bad stocks are recorded in ``meta``, not raised, except when none is usable."""
    end_day = params["end"]
    t0 = time.perf_counter()
    results = _read_all(files, progress, cancel)
    read_errors = {i: r for i, r in enumerate(results) if isinstance(r, DataError)}
    tables = [r for r in results if isinstance(r, FileTable)]
    codes = [c for c, r in zip(files, results, strict=True) if isinstance(r, FileTable)]
    timings["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    bars = validate(tables, end_day, params["adjust"])
    for i, error in bars.errors.items():
        error.code = codes[i]
    bars.values["up_limit"], bars.values["down_limit"] = bar_limits(bars, tables, codes,
                                                                    params["listing"])
    timings["validate"] = time.perf_counter() - t1
    # In code order, so "fail" reports the first bad stock by code, however it failed.
    errors = sorted((_error_record(e) for e in [*read_errors.values(), *bars.errors.values()]),
                    key=lambda record: record["code"] or "")
    excluded = [[code, "", "no file in the data folder"] for code in missing]
    excluded += [[e["code"] or "", Path(e["file"]).name if e["file"] else "", str(e["message"])]
                 for e in errors]
    good = [i for i in range(len(tables)) if i not in bars.errors]
    if not good:
        if on_bad_stock == "fail" and errors:
            raise _error(errors[0])
        raise DataError("no usable stock in the selection"
                        + (f" ({len(excluded)} excluded; first: {excluded[0][2]})"
                           if excluded else ""))
    t2 = time.perf_counter()
    remap = np.full(len(tables), -1, dtype=np.int64)
    remap[good] = np.arange(len(good))
    arrays = align(bars.dates, remap[bars.sid], bars.values, len(good))
    timings["align"] = time.perf_counter() - t2
    if arrays.calendar.size == 0:
        raise DataError(f"no bars on or before the end date {np.datetime64(end_day, 'D')} in "
                        "the selected stocks; choose a later end date")
    digests = hashlib.blake2b(digest_size=16)
    for i in good:
        digests.update(f"{codes[i]}:{tables[i].digest};".encode())
    meta = {
        "codes": [codes[i] for i in good],
        "files": [tables[i].path.name for i in good],
        "excluded": sorted(excluded),
        "errors": errors,
        "warnings": list(bars.warnings),
        "fingerprint": digests.hexdigest(),
        "last_day": bars.last_day,
    }
    return arrays, meta


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
                         "weekend or holiday?); choose a later end date", field="end")
    last = f"on {np.datetime64(last_day, 'D')}" if last_day is not None else "before it"
    return DataError(f"the selected stocks have no bars on or after the start date {start} "
                     f"(their data ends {last}); choose an earlier start", field="start")


def _assemble(arrays: AlignedArrays, meta: dict[str, Any], start_day: int, end_day: int,
              scan_warnings: tuple[str, ...], from_cache: bool,
              timings: dict[str, float], entry: Path | None = None) -> MarketData:
    codes = tuple(meta["codes"])
    for array in (arrays.prices, arrays.tradable):
        array.flags.writeable = False  # market data is shared and never modified
    start_index = int(np.searchsorted(arrays.calendar, start_day))
    if start_index >= arrays.calendar.size:
        raise _empty_window(start_day, end_day, meta["last_day"])
    in_window = np.asarray(arrays.tradable[start_index:]).any(axis=0)
    idle = [codes[j] for j in np.flatnonzero(~in_window)]
    warnings = [*scan_warnings, *meta["warnings"]]
    if idle:
        warnings.append(f"{len(idle)} stock(s) have no bars in the run window: "
                        + ", ".join(idle[:10]) + (" ..." if len(idle) > 10 else ""))
    for message in meta["warnings"]:
        log.warning(message)
    return MarketData(
        codes=codes,
        dates=arrays.calendar.astype("datetime64[D]"),
        start_index=start_index,
        arrays=arrays,
        files=tuple(meta["files"]),
        excluded=pd.DataFrame(meta["excluded"], columns=list(EXCLUDED_COLUMNS)),
        warnings=tuple(warnings),
        fingerprint=meta["fingerprint"],
        from_cache=from_cache,
        timings=timings,
        cache_path=entry,
    )
