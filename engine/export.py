"""Writes results to files atomically: CSV (UTF-8 with BOM for spreadsheets), JSON, TOML."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

from engine.results import BacktestResult


def write_atomic(path: Path, write: Callable[[IO[str]], Any], encoding: str = "utf-8") -> None:
    """Write through a temporary file in the same folder, then rename: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def export_result(result: BacktestResult, folder: Path) -> list[Path]:
    """Every table of a run into ``folder``; returns the written paths."""
    folder = Path(folder)
    tables = {"equity.csv": result.equity, "fills.csv": result.fills,
              "trades.csv": result.trades, "rejections.csv": result.rejections}
    if len(result.excluded):
        tables["excluded.csv"] = result.excluded
    written = []
    for name, frame in tables.items():
        write_csv(frame, folder / name)
        written.append(folder / name)
    write_json(result.metrics, folder / "metrics.json")
    write_json(result.timings, folder / "timings.json")
    write_atomic(folder / "config.toml", lambda h: h.write(result.config.to_toml()))
    written += [folder / "metrics.json", folder / "timings.json", folder / "config.toml"]
    return written
