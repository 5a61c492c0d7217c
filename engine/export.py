"""Writes results, comparisons and sweeps to files atomically: CSV (UTF-8 with BOM for
spreadsheets), JSON, TOML."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from engine.errors import BacktestError
from engine.report import METRICS
from engine.results import BacktestResult

if TYPE_CHECKING:
    from engine.sweep import SweepResult
    from engine.walkforward import WalkForwardResult


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
    Returns the written paths."""
    folder = Path(folder)
    tables = {"equity.csv": result.equity, "fills.csv": result.fills,
              "trades.csv": result.trades, "rejections.csv": result.rejections}
    if len(result.excluded):
        tables["excluded.csv"] = result.excluded
    tables["metrics.csv"] = metrics_frame(result.metrics)
    tables.update({f"{name}.csv": frame for name, frame in (extra or {}).items()})
    written = []
    for name, frame in tables.items():
        write_csv(frame, folder / name)
        written.append(folder / name)
    write_json(result.metrics, folder / "metrics.json")
    write_json(result.timings, folder / "timings.json")
    write_atomic(folder / "config.toml", lambda h: h.write(result.config.to_toml()))
    written += [folder / "metrics.json", folder / "timings.json", folder / "config.toml"]
    return written


def export_walk_forward(result: WalkForwardResult, folder: Path) -> list[Path]:
    """A walk-forward into ``folder``: ``folds.csv`` (one row per fold: its dates, each
    chosen parameter, ``is_<metric>``, ``oos_<metric>``, trades), ``equity.csv`` (the
    stitched out-of-sample curve), the test windows' ``fills.csv`` and ``trades.csv``,
    ``summary.json`` (OOS metrics, walk-forward efficiency, deflated Sharpe, PBO) and
    ``config.toml``. Returns the written paths."""
    folder = Path(folder)
    written = []
    for name, frame in (("folds.csv", result.folds), ("equity.csv", result.equity),
                        ("fills.csv", result.fills), ("trades.csv", result.trades)):
        write_csv(frame, folder / name)
        written.append(folder / name)
    write_json({**result.summary(), "grid": {k: list(v) for k, v in result.grid.items()}},
               folder / "summary.json")
    write_atomic(folder / "config.toml", lambda h: h.write(result.config.to_toml()))
    return [*written, folder / "summary.json", folder / "config.toml"]
