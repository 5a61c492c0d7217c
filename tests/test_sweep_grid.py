"""Heatmap grids of sweep tables and growth-of-1 curves, checked against plain loops."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.results.compare import normalised_equity
from engine.run.backtest import run_backtest
from engine.studies.heatmap import (
    AGGREGATES,
    best_cell,
    cell_parameters,
    heatmap_grid,
    heatmap_metrics,
    scores,
)
from tests.conftest import SAMPLE

PARAMS = ["period", "oversold", "overbought"]


@pytest.fixture
def table() -> pd.DataFrame:
    """A 3 x 2 x 3 sweep table with the combinations oversold >= overbought missing and
    one undefined Sharpe, like a real sweep's."""
    rng = np.random.default_rng(5)
    rows = [{"period": p, "oversold": float(lo), "overbought": float(hi),
             "sharpe": float(rng.normal()), "volatility": float(rng.uniform(0.1, 0.4)),
             "max_drawdown_peak": "2024-01-02"}
            for p, lo, hi in itertools.product([10, 12, 14], [30, 40], [35, 70, 75])
            if lo < hi]
    frame = pd.DataFrame(rows)
    frame.loc[3, "sharpe"] = np.nan
    return frame


def _loop(table: pd.DataFrame, x: str, y: str, metric: str, fixed: dict[str, float],
          agg: str) -> np.ndarray:
    xs, ys = sorted(table[x].unique()), sorted(table[y].unique())
    z = np.full((len(ys), len(xs)), np.nan)
    fold = {"mean": np.mean, "max": np.max, "min": np.min}[agg]
    for (i, yv), (j, xv) in itertools.product(enumerate(ys), enumerate(xs)):
        cell = [r[metric] for _, r in table.iterrows()
                if r[x] == xv and r[y] == yv and all(r[k] == v for k, v in fixed.items())
                and not math.isnan(r[metric])]
        if cell:
            z[i, j] = fold(cell)
    return z


@pytest.mark.parametrize("agg", AGGREGATES)
@pytest.mark.parametrize(("x", "y", "fixed"), [
    ("period", "oversold", {}),
    ("oversold", "overbought", {"period": 12}),
    ("overbought", "period", {}),
    ("period", "overbought", {"oversold": 40.0}),
])
def test_grid_equals_a_plain_loop(table: pd.DataFrame, x: str, y: str,
                                  fixed: dict[str, float], agg: str) -> None:
    grid = heatmap_grid(table, x, y, "sharpe", fixed, agg)
    np.testing.assert_array_equal(grid.x_values, sorted(table[x].unique()))
    np.testing.assert_array_equal(grid.y_values, sorted(table[y].unique()))
    np.testing.assert_allclose(grid.z, _loop(table, x, y, "sharpe", fixed, agg))


def test_combinations_that_never_ran_are_nan(table: pd.DataFrame) -> None:
    grid = heatmap_grid(table, "oversold", "overbought", "sharpe", {"period": 10})
    assert grid.z.shape == (3, 2)
    assert np.isnan(grid.z[0, 1])  # oversold 40 is not below overbought 35: never ran
    assert np.isnan(grid.z[1, 1])  # ran, but its Sharpe is undefined
    assert np.isfinite(grid.z[:, 0]).all() and np.isfinite(grid.z[2, 1])


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: heatmap_grid(t, "period", "period", "sharpe"), "two different"),
    (lambda t: heatmap_grid(t, "period", "oversold", "sharpe", agg="median"), "aggregate"),
    (lambda t: heatmap_grid(t, "period", "oversold", "nope"), "no column 'nope'"),
    (lambda t: heatmap_grid(t, "period", "oversold", "sharpe", {"overbought": 1}), "not a swept"),
    (lambda t: heatmap_grid(t, "period", "oversold", "sharpe", {"period": 10}), "axis"),
])
def test_bad_requests_are_explained(table: pd.DataFrame, call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(table)  # type: ignore[operator]


def test_best_cell_follows_the_metrics_direction(table: pd.DataFrame) -> None:
    grid = heatmap_grid(table, "period", "oversold", "volatility", agg="min")
    assert best_cell(grid, "volatility") == np.unravel_index(np.nanargmin(grid.z), grid.z.shape)
    grid = heatmap_grid(table, "period", "oversold", "sharpe", agg="max")
    assert best_cell(grid, "sharpe") == np.unravel_index(np.nanargmax(grid.z), grid.z.shape)
    assert best_cell(grid, "trades") is None  # no better direction


def test_a_cell_stands_for_its_best_combination(table: pd.DataFrame) -> None:
    params = cell_parameters(table, PARAMS, "period", "oversold", 12, 30.0, "volatility")
    cell = table[(table["period"] == 12) & (table["oversold"] == 30.0)]
    best = cell.loc[cell["volatility"].idxmin()]  # smaller volatility is better
    assert params == {"period": 12, "oversold": 30.0, "overbought": best["overbought"]}
    assert type(params["period"]) is int and type(params["overbought"]) is float
    fixed = cell_parameters(table, PARAMS, "period", "oversold", 12, 30.0, "sharpe",
                            {"overbought": 75.0})
    assert fixed == {"period": 12, "oversold": 30.0, "overbought": 75.0}
    assert cell_parameters(table, PARAMS, "oversold", "overbought", 40.0, 35.0, "sharpe") is None


def test_heatmap_metrics_are_the_numeric_ones(table: pd.DataFrame) -> None:
    assert heatmap_metrics(table) == ["volatility", "sharpe"]


def test_scores_make_larger_better() -> None:
    values = np.array([-0.3, -0.1, np.nan])
    np.testing.assert_array_equal(scores("max_drawdown", values), values)  # nearer 0 is better
    np.testing.assert_array_equal(scores("volatility", values), [0.3, 0.1, np.nan])
    np.testing.assert_array_equal(scores("sharpe", values), values)


def test_normalised_equity_is_growth_of_one() -> None:
    result = run_backtest(BacktestConfig(data_dir=SAMPLE, workers=1, initial_capital=500_000))
    curve = normalised_equity(result)
    assert list(curve.columns) == ["date", "value"]
    np.testing.assert_array_equal(curve["date"], result.equity["date"])
    np.testing.assert_allclose(curve["value"], result.equity["equity"] / 500_000)
    assert curve["value"].iloc[0] == pytest.approx(1.0)


def test_neighbourhood_mean_averages_the_3x3_block_ignoring_gaps() -> None:
    from engine.studies.heatmap import HeatmapGrid, best_cell, neighbourhood_mean

    z = np.array([[1.0, 2.0, 3.0],
                  [4.0, np.nan, 6.0],
                  [7.0, 8.0, 30.0]])
    grid = HeatmapGrid(np.array([1, 2, 3]), np.array([10, 20, 30]), z)
    smooth = neighbourhood_mean(grid).z
    assert smooth[0, 0] == (1 + 2 + 4) / 3  # corner: itself and three neighbours, one NaN
    assert np.isnan(smooth[1, 1])  # nothing ran there
    assert smooth[2, 2] == (30 + 6 + 8) / 3
    assert smooth[1, 2] == (2 + 3 + 6 + 8 + 30) / 5
    # A lone bright cell (30) is the best raw cell; averaged, the plateau wins elsewhere.
    spike = np.array([[5.0, 5.0, 0.0], [5.0, 5.0, 0.0], [0.0, 0.0, 9.0]])
    g = HeatmapGrid(np.array([1, 2, 3]), np.array([1, 2, 3]), spike)
    assert best_cell(g, "sharpe") == (2, 2)
    assert best_cell(neighbourhood_mean(g), "sharpe") == (0, 0)
