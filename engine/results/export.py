"""Writes results, comparisons and sweeps to files atomically: CSV (UTF-8 with BOM for
spreadsheets), JSON, TOML."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.errors import BacktestError
from engine.results.formatting import METRICS
from engine.results.tables import BacktestResult
from engine.util.atomic import atomic_path, staged_folder
from engine.util.lazy_import import lazy_module
from engine.util.oscompat import folder_accepts_files

if TYPE_CHECKING:
    import pandas as pd

    from engine.studies.sweep import SweepResult
    from engine.studies.walkforward import WalkForwardResult
else:
    pd = lazy_module("pandas")  # imported on first use: off the path of a plain run


#: Every file a run's export may write (``excluded.csv`` only when stocks were left
#: out; a stored run's attachments: a sweep's table and skips, a walk-forward's folds):
#: an earlier export's file that a new one does not write again is removed.
RESULT_FILES = ("equity.csv", "fills.csv", "trades.csv", "rejections.csv", "excluded.csv",
                "metrics.csv", "metrics.json", "timings.json", "config.toml", "sweep.csv",
                "skipped.csv", "folds.csv")
#: Every file a walk-forward's export writes.
WALK_FORWARD_FILES = ("folds.csv", "equity.csv", "fills.csv", "trades.csv", "summary.json",
                      "config.toml")


def check_writable_folder(path: Path, what: str) -> None:
    """Fail now, before any work, with a one-line error naming ``path`` when a folder
    cannot be created or written there (``what`` says which setting it is)."""
    probe = Path(path)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # the nearest existing folder will hold the new ones
    if probe.exists() and not probe.is_dir():
        raise BacktestError(f"cannot write {what} {path}: {probe} is a file, not a folder; "
                            "choose another folder")
    if not folder_accepts_files(probe):
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
    Lines end in LF on every OS (pandas would end them in the OS's own line separator).
    """
    write_atomic(path, lambda h: frame.to_csv(h, index=False, lineterminator="\n"),
                 encoding="utf-8-sig")


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
    """Metrics as rows (metric key, label, value): ``engine.results.formatting.METRICS`` order, then
    any others labelled by their key. Undefined values (None/NaN) are empty cells."""
    labels = {key: label for key, label, _ in METRICS}
    keys = [*(k for k in labels if k in metrics), *(k for k in metrics if k not in labels)]
    values = [None if isinstance(metrics[k], float) and math.isnan(metrics[k]) else metrics[k]
              for k in keys]
    return pd.DataFrame({"metric": keys, "label": [labels.get(k, k) for k in keys],
                         "value": pd.Series(values, dtype=object)})


def export_comparison(table: pd.DataFrame, path: Path) -> Path:
    """A comparison table (``engine.results.compare.compare_table``) as one CSV; returns the
    path."""
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
    with staged_folder(folder, owned=RESULT_FILES) as stage:
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
    with staged_folder(folder, owned=WALK_FORWARD_FILES) as stage:
        for name, frame in tables:
            write_csv(frame, stage / name)
        write_json({**result.summary(), "grid": {k: list(v) for k, v in result.grid.items()}},
                   stage / "summary.json")
        write_atomic(stage / "config.toml", lambda h: h.write(result.config.to_toml()))
    return [folder / name for name in (*dict(tables), "summary.json", "config.toml")]
