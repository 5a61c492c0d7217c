"""Writes results, comparisons and sweeps to files atomically: CSV (UTF-8 with BOM for
spreadsheets), JSON, TOML."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.errors import BacktestError
from engine.lazy_import import lazy_module
from engine.report import METRICS
from engine.results import BacktestResult

if TYPE_CHECKING:
    import pandas as pd

    from engine.sweep import SweepResult
    from engine.walkforward import WalkForwardResult
else:
    pd = lazy_module("pandas")  # imported on first use: off the path of a plain run


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A new empty temporary file beside ``path`` for the block to write (by any means:
    text, parquet, an image); renamed onto ``path`` when the block ends, removed if it
    raises, so ``path`` is never a half file and an existing one survives a failure."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: A staging folder older than this was left by a killed export and is removed.
STALE_STAGING_SECONDS = 3600.0
_STAGING_PREFIX = ".partial-"


@contextlib.contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """A hidden staging folder inside ``folder`` (created if missing) for the block to
    fill; when the block ends each file is renamed into ``folder``, and the staging folder
    is removed, also when the block raises. A process killed while writing leaves only
    the hidden staging folder (removed by a later export), never a partial result file,
    and the earlier result in ``folder`` stays whole until the renames."""
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(folder)
    stage = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=folder))
    try:
        yield stage
        for path in sorted(stage.iterdir()):
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _remove_stale_staging(folder: Path) -> None:
    now = time.time()
    for path in folder.glob(f"{_STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and now - path.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(path, ignore_errors=True)


def check_writable_folder(path: Path, what: str) -> None:
    """Fail now, before any work, with a one-line error naming ``path`` when a folder
    cannot be created or written there (``what`` says which setting it is)."""
    probe = Path(path)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # the nearest existing folder will hold the new ones
    if probe.exists() and not probe.is_dir():
        raise BacktestError(f"cannot write {what} {path}: {probe} is a file, not a folder; "
                            "choose another folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BacktestError(f"cannot write {what} {path}: no permission to write in {probe}")


def write_atomic(path: Path, write: Callable[[IO[str]], Any], encoding: str = "utf-8") -> None:
    """Write text through a temporary file in the same folder (created if missing), then
    rename: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, tmp.open("w", encoding=encoding, newline="") as handle:
        write(handle)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Report a failure to write under ``path`` (a file in the way of a folder, no
    permission, disk full) as a one-line ``BacktestError`` naming the path."""
    try:
        yield
    except OSError as exc:
        raise BacktestError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A table as CSV in UTF-8 with a BOM (spreadsheets then read Chinese text).

    Floats are written in their shortest round-trip form, so they parse back exactly.
    """
    write_atomic(path, lambda h: frame.to_csv(h, index=False), encoding="utf-8-sig")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def write_json(payload: dict[str, Any], path: Path) -> None:
    """A mapping as indented JSON (NaN written as null)."""
    write_atomic(path, lambda h: json.dump(_jsonable(payload), h, indent=2, default=str))


def metrics_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """Metrics as rows (metric key, label, value): ``engine.report.METRICS`` order, then
    any others labelled by their key. Undefined values (None/NaN) are empty cells."""
    labels = {key: label for key, label, _ in METRICS}
    keys = [*(k for k in labels if k in metrics), *(k for k in metrics if k not in labels)]
    values = [None if isinstance(metrics[k], float) and math.isnan(metrics[k]) else metrics[k]
              for k in keys]
    return pd.DataFrame({"metric": keys, "label": [labels.get(k, k) for k in keys],
                         "value": pd.Series(values, dtype=object)})


def export_comparison(table: pd.DataFrame, path: Path) -> Path:
    """A comparison table (``engine.compare.compare_table``) as one CSV; returns the path."""
    path = Path(path)
    write_csv(table, path)
    return path


def export_sweep(sweep: SweepResult, path: Path) -> Path:
    """A sweep's table (every parameter, then every metric, one row per combination) as
    one CSV; returns the path."""
    path = Path(path)
    write_csv(sweep.table, path)
    return path


def export_result(result: BacktestResult, folder: Path,
                  extra: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Every table of a run into ``folder``: equity, fills, trades, rejections (and
    excluded stocks, if any) as CSV, ``metrics.csv`` and ``metrics.json``,
    ``timings.json`` and ``config.toml``; ``extra`` tables are written as ``NAME.csv``.
    All are written in a staging folder first (``staged_folder``). Returns the paths."""
    folder = Path(folder)
    tables = {"equity.csv": result.equity, "fills.csv": result.fills,
              "trades.csv": result.trades, "rejections.csv": result.rejections}
    if len(result.excluded):
        tables["excluded.csv"] = result.excluded
    tables["metrics.csv"] = metrics_frame(result.metrics)
    tables.update({f"{name}.csv": frame for name, frame in (extra or {}).items()})
    with staged_folder(folder) as stage:
        for name, frame in tables.items():
            write_csv(frame, stage / name)
        write_json(result.metrics, stage / "metrics.json")
        write_json(result.timings, stage / "timings.json")
        write_atomic(stage / "config.toml", lambda h: h.write(result.config.to_toml()))
    return [folder / name for name in (*tables, "metrics.json", "timings.json", "config.toml")]


def export_walk_forward(result: WalkForwardResult, folder: Path) -> list[Path]:
    """A walk-forward into ``folder``: ``folds.csv`` (one row per fold: its dates, each
    chosen parameter, ``is_<metric>``, ``oos_<metric>``, trades), ``equity.csv`` (the
    stitched out-of-sample curve), the test windows' ``fills.csv`` and ``trades.csv``,
    ``summary.json`` (OOS metrics, walk-forward efficiency, deflated Sharpe, PBO) and
    ``config.toml``, through a staging folder (``staged_folder``). Returns the paths."""
    folder = Path(folder)
    tables = (("folds.csv", result.folds), ("equity.csv", result.equity),
              ("fills.csv", result.fills), ("trades.csv", result.trades))
    with staged_folder(folder) as stage:
        for name, frame in tables:
            write_csv(frame, stage / name)
        write_json({**result.summary(), "grid": {k: list(v) for k, v in result.grid.items()}},
                   stage / "summary.json")
        write_atomic(stage / "config.toml", lambda h: h.write(result.config.to_toml()))
    return [folder / name for name in (*dict(tables), "summary.json", "config.toml")]
