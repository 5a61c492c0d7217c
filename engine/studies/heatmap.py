"""Heatmaps of a sweep table: two parameters on the axes, the other swept ones fixed or
aggregated, and the combination behind a cell.

A sweep over period × oversold × overbought has three dimensions; a heatmap shows two.
Each other dimension is either *fixed* (a slice at one of its values) or *aggregated*
(mean, max or min of the metric over its values). ``cell_parameters`` answers "which
combination does this cell stand for?": the x and y values, the fixed values, and for
aggregated dimensions the values of the best combination in the cell for the metric
(the largest, or the smallest where ``engine.results.compare.metric_goal`` says smaller is
better; for a metric without a better direction, such as the trade count, the largest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from engine.errors import ConfigError
from engine.results.formatting import METRICS
from engine.results.metric_registry import metric_goal

#: How the dimensions that are neither on an axis nor fixed are folded into one cell.
AGGREGATES: tuple[str, ...] = ("mean", "max", "min")

Number = int | float


class HeatmapGrid(NamedTuple):
    """A metric on a grid: ``z[i, j]`` is the value at ``y_values[i]``, ``x_values[j]``
    (NaN where no combination ran, e.g. oversold >= overbought, or the metric is
    undefined for every combination in the cell)."""

    x_values: np.ndarray
    y_values: np.ndarray
    z: np.ndarray


def scores(metric: str, values: np.ndarray) -> np.ndarray:
    """``values`` of ``metric`` turned so that larger is better (NaN stays NaN): negated
    where ``engine.results.compare.metric_goal`` says smaller is better."""
    values = np.asarray(values, dtype=np.float64)
    return -values if metric_goal(metric) == "min" else values


def heatmap_metrics(table: pd.DataFrame) -> list[str]:
    """The metric columns of a sweep table a heatmap can colour by (numeric ones), in
    ``engine.results.formatting.METRICS`` order."""
    return [key for key, _, kind in METRICS if kind != "text" and key in table.columns]


def _check(table: pd.DataFrame, names: Sequence[str]) -> None:
    for name in names:
        if name not in table.columns:
            raise ConfigError(f"the sweep table has no column {name!r}; "
                              f"columns: {', '.join(map(str, table.columns))}")


def _matching(table: pd.DataFrame, fixed: Mapping[str, Number] | None) -> pd.DataFrame:
    """Rows of ``table`` whose columns equal the ``fixed`` values."""
    mask = np.ones(len(table), dtype=bool)
    for name, value in (fixed or {}).items():
        _check(table, [name])
        column = table[name].to_numpy()
        if not (column == value).any():
            raise ConfigError(f"{name} = {value!r} is not a swept value; "
                              f"values: {', '.join(map(str, np.unique(column)))}", field=name)
        mask &= column == value
    return table[mask]


def heatmap_grid(table: pd.DataFrame, x: str, y: str, metric: str,
                 fixed: Mapping[str, Number] | None = None, agg: str = "mean") -> HeatmapGrid:
    """``metric`` of a sweep ``table`` over parameters ``x`` (columns) and ``y`` (rows).

    Rows are first restricted to the ``fixed`` parameter values; combinations that still
    share an (x, y) cell are folded with ``agg`` (one of ``AGGREGATES``; NaN values are
    ignored). The axes hold every value of ``x`` and ``y`` in the table, ascending, so
    they stay put when the slice changes.
    """
    if x == y:
        raise ConfigError(f"choose two different parameters for the axes, not {x!r} twice")
    if agg not in AGGREGATES:
        raise ConfigError(f"unknown aggregate {agg!r}; choose one of {', '.join(AGGREGATES)}")
    if fixed and {x, y} & set(fixed):
        raise ConfigError("an axis parameter cannot also be fixed")
    _check(table, [x, y, metric])
    x_values = np.sort(table[x].unique())
    y_values = np.sort(table[y].unique())
    rows = _matching(table, fixed)
    values = pd.to_numeric(rows[metric], errors="coerce").astype(np.float64)
    folded = values.groupby([rows[y].to_numpy(), rows[x].to_numpy()]).agg(agg)
    full = pd.MultiIndex.from_product([y_values, x_values])
    z = folded.reindex(full).to_numpy(dtype=np.float64).reshape(len(y_values), len(x_values))
    return HeatmapGrid(x_values, y_values, z)


def best_cell(grid: HeatmapGrid, metric: str) -> tuple[int, int] | None:
    """(row, column) of the best value of ``grid`` for ``metric``; None when the metric
    has no better direction (``engine.results.compare.metric_goal``) or every cell is NaN."""
    if metric_goal(metric) is None or np.isnan(grid.z).all():
        return None
    row, column = np.unravel_index(np.nanargmax(scores(metric, grid.z)), grid.z.shape)
    return int(row), int(column)


def cell_parameters(table: pd.DataFrame, parameters: Sequence[str], x: str, y: str,
                    x_value: Number, y_value: Number, metric: str,
                    fixed: Mapping[str, Number] | None = None) -> dict[str, Number] | None:
    """Every parameter of the combination a heatmap cell stands for, as plain Python
    numbers ready for ``BacktestConfig.replace``; None if no combination ran there.

    Aggregated dimensions take the values of the cell's best combination for ``metric``
    (see the module docstring); ties go to the first in table order.
    """
    _check(table, [*parameters, x, y, metric])
    rows = _matching(table, fixed)
    rows = rows[(rows[x].to_numpy() == x_value) & (rows[y].to_numpy() == y_value)]
    if rows.empty:
        return None
    ranked = scores(metric, pd.to_numeric(rows[metric], errors="coerce").to_numpy())
    pick = 0 if np.isnan(ranked).all() else int(np.nanargmax(ranked))
    best = rows.iloc[pick]
    return {name: np.asarray(best[name]).item() for name in parameters}


def neighbourhood_mean(grid: HeatmapGrid) -> HeatmapGrid:
    """Each cell's metric averaged with its neighbours one step away on each axis (a 3 x 3
    block, fewer at the edges; NaN neighbours ignored). A cell where no combination ran
    stays NaN. A bright cell amid dark ones drops; a plateau keeps its level."""
    z = grid.z
    padded = np.pad(z, 1, constant_values=np.nan)
    rows, columns = z.shape
    stack = np.stack([padded[i:i + rows, j:j + columns] for i in range(3) for j in range(3)])
    with np.errstate(invalid="ignore"):
        total = np.nansum(stack, axis=0)
        count = np.sum(~np.isnan(stack), axis=0)
        mean = np.where(np.isnan(z), np.nan, total / np.maximum(count, 1))
    return HeatmapGrid(grid.x_values, grid.y_values, mean)
