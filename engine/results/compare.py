"""Comparing runs: parameters and metrics side by side, which way each metric is better,
the best run per metric, and equity curves on a common scale."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.config import BacktestConfig
from engine.results.formatting import METRICS
from engine.results.metric_registry import RUN_METRICS
from engine.results.tables import BacktestResult

#: The config fields that define a run (``cache_dir`` only says where the cache lives).
PARAMETERS: tuple[str, ...] = tuple(f.name for f in fields(BacktestConfig) if f.compare)
#: What each run actually covered, beside its parameters.
COVERAGE = ("n_stocks", "first_day", "last_day")
#: Which way each metric is better ("max" or "min"), from the registry
#: (``engine.results.metric_registry``); metrics that describe a run rather than rate it
#: are not listed: no run is "best" at them.
METRIC_GOALS: dict[str, str] = {m.key: m.goal for m in RUN_METRICS if m.goal}
ALL_STOCKS = "(all files)"


def normalised_equity(result: BacktestResult) -> pd.DataFrame:
    """The equity curve as growth of 1 (equity / initial capital), columns date, value,
    so runs with different capital share one axis."""
    equity = result.equity["equity"].to_numpy(dtype=np.float64)
    return pd.DataFrame({"date": result.equity["date"].to_numpy(),
                         "value": equity / result.config.initial_capital})


def parameter_value(config: BacktestConfig, name: str) -> Any:
    """A config field as a table cell: paths and dates as text, a code list comma-joined,
    no stock selection as ``ALL_STOCKS``."""
    value = getattr(config, name)
    if value is None and name == "stocks":
        return ALL_STOCKS
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _metric_order(results: Mapping[int, BacktestResult]) -> list[str]:
    """Metric keys any run has: ``METRICS`` order, then the others as first seen."""
    present = dict.fromkeys(k for r in results.values() for k in r.metrics)
    known = [key for key, _, _ in METRICS if key in present]
    return [*known, *(k for k in present if k not in known)]


def _day(dates: pd.Series, position: int) -> str | None:
    """The run's first (0) or last (-1) trading day as ISO text; None for an empty run."""
    return str(pd.Timestamp(dates.iloc[position]).date()) if len(dates) else None


def compare_table(results: Mapping[int, BacktestResult]) -> pd.DataFrame:
    """One row per run (index = run id, also column ``id``): every config parameter in
    its own column (``PARAMETERS``), then the stock count and first/last trading day
    actually run (``COVERAGE``), then every metric (``engine.results.formatting.METRICS`` order,
    then
    any others; NaN where a run lacks one)."""
    metric_keys = _metric_order(results)
    records = []
    for run_id, result in results.items():
        dates = result.equity["date"]
        records.append({
            "id": int(run_id),
            **{name: parameter_value(result.config, name) for name in PARAMETERS},
            "n_stocks": len(result.codes), "first_day": _day(dates, 0),
            "last_day": _day(dates, -1),
            **{key: result.metrics.get(key, math.nan) for key in metric_keys},
        })
    columns = ["id", *PARAMETERS, *COVERAGE, *metric_keys]
    table = pd.DataFrame.from_records(records, columns=columns)
    table.index = pd.Index(table["id"].to_numpy(), name="run")
    return table


def config_differences(results: Mapping[int, BacktestResult]) -> list[str]:
    """Names of the config fields (``PARAMETERS`` order) whose values differ between runs."""
    configs = [r.config for r in results.values()]
    return [name for name in PARAMETERS
            if any(getattr(c, name) != getattr(configs[0], name) for c in configs[1:])]


def metric_columns(table: pd.DataFrame) -> list[str]:
    """The metric columns of a comparison (or sweep) table that can be ranked: those with
    a direction in ``METRIC_GOALS``, in table order."""
    return [c for c in table.columns if c in METRIC_GOALS]


def best_per_metric(table: pd.DataFrame) -> dict[str, int]:
    """Metric column -> id of the run with the best value (the ``id`` column, else the
    row's index label).

    The rule is ``METRIC_GOALS``: higher is better, except volatility, the longest
    drawdown, commission, tax and turnover, where lower is; the max drawdown (negative)
    is best closest to zero. Metrics without a direction (days, trades, exposure, ...)
    are left out. NaN is ignored; a metric NaN in every run is left out; a tie goes to
    the first row.
    """
    ids = table["id"] if "id" in table.columns else pd.Series(table.index, index=table.index)
    best: dict[str, int] = {}
    for column in metric_columns(table):
        values = pd.to_numeric(table[column], errors="coerce").astype("float64")
        if values.notna().any():
            label = values.idxmin() if METRIC_GOALS[column] == "min" else values.idxmax()
            best[column] = int(ids.loc[label])
    return best
