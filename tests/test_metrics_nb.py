"""The metrics kernel reproduces numpy's sums bit for bit, and a run's metrics (from the
kernel) equal the numpy path's metrics of its tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import BacktestConfig
from engine.kernels.metrics_nb import mean_nb, std_nb, sum_nb
from engine.results.metrics import compute_metrics
from engine.results.tables import to_frame
from engine.run.backtest import run_backtest
from tests.conftest import SAMPLE


def _bits(x: float) -> int:
    return int(np.float64(x).view(np.int64))


def test_sums_means_and_deviations_equal_numpys_bit_for_bit() -> None:
    rng = np.random.default_rng(26)
    lengths = [*range(0, 300), *rng.integers(300, 20_000, 300).tolist(), 65_537]
    for n in lengths:
        scale = 10.0 ** rng.integers(-6, 6, n)
        a = rng.standard_normal(n) * scale
        assert _bits(sum_nb(a)) == _bits(np.sum(a)), n
        if n:
            assert _bits(mean_nb(a)) == _bits(np.mean(a)), n
        if n > 1:
            assert _bits(std_nb(a, 1)) == _bits(np.std(a, ddof=1)), n


@pytest.mark.parametrize(("mode", "fill"), [("shared", "next_open"), ("per_stock", "close")])
def test_run_metrics_equal_the_numpy_path_over_the_tables(mode: str, fill: str) -> None:
    config = BacktestConfig(data_dir=SAMPLE, workers=1, capital_mode=mode, fill=fill,
                            stop_loss=0.05, risk_free_rate=0.02)
    result = run_backtest(config)
    equity = to_frame(result.tables["equity"])
    numpy_path = compute_metrics(
        equity["date"].to_numpy().astype("datetime64[D]"), equity["equity"].to_numpy(),
        equity["positions_value"].to_numpy(), config.initial_capital,
        to_frame(result.tables["trades"]), to_frame(result.tables["fills"]),
        equity["benchmark"].to_numpy(), config.risk_free_rate)
    assert list(numpy_path) == list(result.metrics)
    for name, value in numpy_path.items():
        kernel = result.metrics[name]
        if isinstance(value, float) and math.isnan(value):
            assert isinstance(kernel, float) and math.isnan(kernel), name
        elif isinstance(value, float):
            assert _bits(value) == _bits(kernel), name  # type: ignore[arg-type]
        else:
            assert str(value) == str(kernel), name
