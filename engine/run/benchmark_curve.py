"""A run's benchmark (SPEC §7): the equal-weight buy-and-hold of its stocks, or an index's
close-to-close growth from the window's first day (an index file in the data folder, such
as TongDaXin's ``sh000300.day``, or a file of daily closes)."""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.data.cache import edit_stamp
from engine.data.column_aliases import map_columns
from engine.data.layouts.detect import read_security, scan_folder
from engine.data.naming import DATA_SUFFIXES, parse_code
from engine.data.reader import parse_dates
from engine.errors import DataError
from engine.kernels.valuation_nb import benchmark_equity_nb
from engine.util.text import read_text


def read_closes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970, closes) of a file of daily closes: CSV (UTF-8 with or without a
    BOM, else GB18030/GBK), parquet or feather with a date column (any alias of SPEC §1)
    and a close column; sorted by date.

    Errors name the file and the row: a missing column, an unreadable date, a close that
    is not a positive number, a date given twice.
    """
    import pandas as pd  # only for a benchmark file: off the path of a default run

    try:
        suffix = path.suffix.lower()
        frame = (pd.read_parquet(path) if suffix == ".parquet" else
                 pd.read_feather(path) if suffix == ".feather" else
                 pd.read_csv(io.StringIO(read_text(path, f"benchmark {path.name}")),
                             dtype=str))
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"benchmark {path.name}: cannot be read ({exc}); give a CSV, parquet "
                        "or feather file with date and close columns", file=path) from exc
    mapping = map_columns([str(c) for c in frame.columns])
    for need in ("date", "close"):
        if need not in mapping:
            raise DataError(f"benchmark {path.name}: column `{need}` is missing; found: "
                            f"{', '.join(map(str, frame.columns))}", file=path, field=need)
    dates = parse_dates(path, f"benchmark {path.name}",
                        pa.chunked_array([pa.array(frame[mapping["date"]])]), mapping["date"])
    days = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    closes = pd.to_numeric(frame[mapping["close"]], errors="coerce").to_numpy(float)
    return _checked(path, path.name, days, closes, frame[mapping["close"]].tolist())


def _checked(path: Path, name: str, days: np.ndarray, closes: np.ndarray,
             shown: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """Closes sorted by date; a close that is not a positive number or a date given
    twice is an error naming the row (``shown``: the closes as the file wrote them)."""
    bad = np.flatnonzero(~(np.isfinite(closes) & (closes > 0)))
    if bad.size:
        raise DataError(f"benchmark {name}: row {bad[0] + 1} has close "
                        f"{shown[bad[0]]!r}; closes must be positive "
                        "numbers", file=path, field="close", row=str(bad[0] + 1))
    order = np.argsort(days, kind="stable")
    days, closes = days[order], closes[order]
    twice = np.flatnonzero(days[1:] == days[:-1])
    if twice.size:
        raise DataError(f"benchmark {name}: date {np.datetime64(int(days[twice[0]]), 'D')}"
                        " appears more than once; keep one row per date", file=path,
                        field="date")
    return days, closes


def closes_for(benchmark: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The closes ``benchmark`` names: an existing file, else an index code looked up in
    the data ``folder``; a DataError says what was tried."""
    source, code, _ = _locate(benchmark, folder)
    return _read_located(benchmark, folder, source, code)


def _locate(benchmark: str, folder: Path) -> tuple[Path | None, str | None, tuple[Path, ...]]:
    """Where ``benchmark``'s closes are: (a file of closes, or None; the index code to read
    by the folder's layout, or None; the files and folders that decide the closes, for
    ``_cached_closes`` to stat)."""
    path = Path(benchmark).expanduser()
    if path.is_file():
        return path, None, (path,)
    code = parse_code(benchmark)
    if code is None:
        return None, None, ()
    scan = scan_folder(folder)
    where = {**scan.other_files, **scan.files}
    files = scan.sources.get(code, (where[code],)) if code in where else ()
    decides = (folder, *dict.fromkeys(p.parent for p in files), *files)
    found = scan.other_files.get(code)
    if found is not None and found.suffix.lower() in DATA_SUFFIXES:
        return found, None, decides  # a per-stock file, which may hold only the closes
    return None, code, decides


def _read_located(benchmark: str, folder: Path, source: Path | None,
                  code: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Read what ``_locate`` found; a DataError says what was tried when it found none."""
    if source is not None:
        return read_closes(source)
    if code is not None:
        closes = _layout_closes(folder, code)
        if closes is not None:
            return closes
    raise DataError(f"benchmark {benchmark!r} is neither a file nor an index in {folder}; "
                    "give an index code such as 000300.SH whose file is in the data folder, "
                    "or the path of a file of daily closes", code=benchmark)


def _layout_closes(folder: Path, code: str) -> tuple[np.ndarray, np.ndarray] | None:
    """An index's closes read by the data folder's layout (TongDaXin's ``sh000300.day``, a
    qlib instrument, a long file's rows) on its days with a bar; None if it has none."""
    bars = read_security(folder, code) if folder.is_dir() or folder.is_file() else None
    if bars is None:
        return None
    days = bars.table.column("date").to_numpy().astype("datetime64[D]").astype(np.int64)
    closes = bars.table.column("close").to_numpy(zero_copy_only=False)
    traded = bars.table.column("volume").to_numpy(zero_copy_only=False) > 0
    return _checked(bars.path, bars.label, days[traded], closes[traded],
                    closes[traded].tolist())


def index_equity(run_days: np.ndarray, days: np.ndarray, closes: np.ndarray,
                 initial_capital: float, name: str = "the benchmark") -> np.ndarray:
    """``initial_capital`` grown like the index from the run's first day: ``capital *
    close_t / close_first`` on each run day, a day without an index bar taking the last
    close before it. The index must cover the run (SPEC §7, never held flat): a close on
    or before its first day and none of its days after the index's last close; a
    DataError names the index's range otherwise."""
    run_days = np.asarray(run_days, dtype=np.int64)
    at = np.searchsorted(days, run_days, side="right") - 1
    if at.size:
        first, last = (np.datetime64(int(d), "D") for d in (run_days[0], run_days[-1]))
        span = (f"its closes run {np.datetime64(int(days[0]), 'D')} .. "
                f"{np.datetime64(int(days[-1]), 'D')}" if days.size else "it has no close")
        if at[0] < 0:
            raise DataError(f"{name} has no close on or before the run's first day {first}; "
                            f"{span}: start the run later or give closes that cover it",
                            field="benchmark")
        if days[-1] < run_days[-1]:
            raise DataError(f"{name} ends {np.datetime64(int(days[-1]), 'D')}, before the "
                            f"run's last day {last} ({span}); an index is never held flat: "
                            "end the run earlier or give closes that cover it",
                            field="benchmark")
    level = closes[at]
    return initial_capital * level / level[0]


#: Benchmarks whose closes the process keeps (the run host runs many runs on one).
CACHED_BENCHMARKS = 4
#: (benchmark, folder) -> (the paths stamped, their stamp, the closes)
_closes_cache: OrderedDict[tuple[str, str], tuple[tuple[Path, ...], tuple[object, ...],
                                                  tuple[np.ndarray, np.ndarray]]]
_closes_cache = OrderedDict()
_closes_lock = threading.Lock()


def _stamp(paths: tuple[Path, ...]) -> tuple[object, ...]:
    """Each path's ``edit_stamp`` (None for a path that is gone)."""
    out: list[object] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append((os.fspath(path), None))
            continue
        out.append((os.fspath(path), *edit_stamp(st)))
    return tuple(out)


def _cached_closes(benchmark: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """``closes_for``, kept while the files it read (and the folders that chose them) are
    unchanged: the stamp is taken before the read, so an edit during it reads again."""
    key = (benchmark, os.fspath(folder))
    with _closes_lock:
        hit = _closes_cache.get(key)
    if hit is not None and _stamp(hit[0]) == hit[1]:
        return hit[2]
    source, code, decides = _locate(benchmark, folder)
    stamp = _stamp(decides)
    closes = _read_located(benchmark, folder, source, code)
    with _closes_lock:
        _closes_cache[key] = (decides, stamp, closes)
        _closes_cache.move_to_end(key)
        while len(_closes_cache) > CACHED_BENCHMARKS:
            _closes_cache.popitem(last=False)
    return closes


def benchmark_curve(data: MarketData, config: BacktestConfig,
                    capital: float | None = None, first: int | None = None) -> np.ndarray:
    """The benchmark's equity per run day for ``capital`` (default the config's): the
    equal-weight buy-and-hold of the run's stocks, or ``config.benchmark``'s index.

    ``first`` (a row of the calendar; default the run's first day, ``data.start_index``)
    starts it later: the benchmark of a run from that day to the run's end (a
    walk-forward's out-of-sample span)."""
    capital = config.initial_capital if capital is None else capital
    start = data.start_index if first is None else first
    if config.benchmark is None:
        return benchmark_equity_nb(data.open, data.close, data.tradable, start, capital)
    days, closes = _cached_closes(config.benchmark, config.data_dir)
    return index_equity(data.arrays.calendar[start:], days, closes, capital,
                        f"benchmark {config.benchmark}")
