"""Parameter sweeps: grid parsing, exact agreement with single runs, skipped combinations,
the pool path and the ``backtest sweep`` command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli.main import main
from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.execution import parallel
from engine.run.backtest import run_backtest
from engine.studies.grid import GRID_FIELDS, expand_grid, parse_values
from engine.studies.sweep import run_sweep
from tests.conftest import SAMPLE

METRIC_KEYS = list(run_backtest(BacktestConfig(data_dir=SAMPLE)).metrics)


def _config(**changes: object) -> BacktestConfig:
    return BacktestConfig(**{"data_dir": SAMPLE, "workers": 1, **changes})


@pytest.fixture(scope="module", autouse=True)
def stop_pool_afterwards() -> Iterator[None]:
    yield
    parallel.shutdown_pool()


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize(("text", "values"), [
    ("6:30:1", list(range(6, 31))),
    ("20:35:5", [20, 25, 30, 35]),
    ("62:80:2", list(range(62, 81, 2))),
    ("0.1:0.3:0.1", [0.1, 0.2, 0.3]),
    ("30:35:10", [30]),
    ("25,30, 32.5", [25, 30, 32.5]),
    ("14", [14]),
])
def test_ranges_are_inclusive_and_exact(text: str, values: list[float]) -> None:
    assert parse_values(text) == values


@pytest.mark.parametrize("text", ["a:b:c", "10:5:1", "1:5:0", "1:5", "", "x,y"])
def test_bad_ranges_are_explained(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_values(text)


def test_grid_fields_are_the_numeric_config_fields() -> None:
    assert {"period", "oversold", "overbought", "position_pct", "max_positions", "slippage",
            "commission_rate", "lot_size", "initial_capital"} <= set(GRID_FIELDS)
    assert "workers" not in GRID_FIELDS and "fill" not in GRID_FIELDS
    with pytest.raises(ConfigError, match="cannot sweep 'fill'"):
        expand_grid({"fill": ["close"]})
    grid, combos = expand_grid({"period": [6, 8], "oversold": [20, 25, 20]})
    assert grid == {"period": (6, 8), "oversold": (20, 25)}
    assert combos[:2] == [{"period": 6, "oversold": 20}, {"period": 6, "oversold": 25}]


@pytest.mark.parametrize("mode", ["shared", "per_stock"])
@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_sweep_rows_equal_single_runs_exactly(mode: str, fill: str) -> None:
    base = _config(capital_mode=mode, fill=fill)
    grid = {"period": [9, 14], "oversold": [25, 30], "position_pct": [0.1, 0.25]}
    result = run_sweep(base, grid)
    assert len(result.table) == 8 and result.skipped.empty
    assert list(result.table.columns) == [*grid, "overbought", *METRIC_KEYS]
    assert result.timings["indicator_computations"] == 2  # once per period
    for _, row in result.table.iloc[[0, 3, 5, 7]].iterrows():
        params = {name: row[name] for name in result.parameters}
        metrics = run_backtest(base.replace(**params)).metrics
        for key, value in metrics.items():
            assert _same(value, row[key]), (params, key, value, row[key])


def test_impossible_combinations_are_skipped_with_the_reason() -> None:
    result = run_sweep(_config(), {"oversold": [30, 60], "overbought": [50, 70]})
    assert len(result.table) == 3
    assert result.skipped[["oversold", "overbought"]].values.tolist() == [[60, 50]]
    assert "must be above oversold" in result.skipped["reason"].iloc[0]
    with pytest.raises(ConfigError, match="no valid combination"):
        run_sweep(_config(), {"oversold": [80], "overbought": [60]})


def test_top_sorts_by_a_metric_with_undefined_values_last() -> None:
    result = run_sweep(_config(), {"period": [10, 20], "max_positions": [1, 5]})
    best = result.top("sharpe", 4)
    assert best["sharpe"].is_monotonic_decreasing
    assert result.top("max_drawdown", 1, ascending=True)["max_drawdown"].iloc[0] == \
        result.table["max_drawdown"].min()
    with pytest.raises(ConfigError, match="no metric 'shrape'"):
        result.top("shrape")


@pytest.mark.slow
def test_pool_sweep_equals_in_process_sweep() -> None:
    grid = {"period": [8, 12, 16], "oversold": [25, 30], "overbought": [65, 75]}
    local = run_sweep(_config(), grid)
    pooled = run_sweep(_config(workers=2), grid)
    pd.testing.assert_frame_equal(local.table, pooled.table, check_exact=True)
    assert pooled.timings["workers"] == 2 and not pooled.worker_spans.empty
    assert pooled.timings["bytes_to_workers"] < 50_000
    assert pooled.timings["indicator_computations"] <= 3 * 2


def test_cli_sweep_writes_the_table_and_prints_the_best(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    out = tmp_path / "sweep"
    code = main(["sweep", "--data", str(SAMPLE), "--workers", "1", "--period", "10:14:2",
                 "--oversold", "25,30", "--overbought", "70", "--grid", "slippage=0:0.001:0.001",
                 "--out", str(out), "--sort", "sharpe", "--top", "3", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "12 combinations on 50 stocks" in printed and "top 3 by sharpe" in printed
    table = pd.read_csv(out / "sweep.csv", encoding="utf-8-sig")
    assert len(table) == 12
    assert {"period", "oversold", "overbought", "slippage", *METRIC_KEYS} <= set(table.columns)
    assert {p.name for p in out.iterdir()} == {"sweep.csv", "skipped.csv", "sweep.json"}
    best = table.sort_values("sharpe", ascending=False).iloc[0]
    first_row = printed.split("top 3 by sharpe:")[1].splitlines()[2].split()
    assert [float(first_row[0]), float(first_row[1])] == [best["period"], best["oversold"]]


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "30:6:1"], "is not a range start:stop:step"),
    (["--grid", "fill=close"], "cannot sweep 'fill'"),
    (["--grid", "slippage"], "use FIELD=VALUES"),
    ([], "nothing to sweep"),
    (["--period", "10", "--sort", "sharp"], "no metric 'sharp'"),
])
def test_cli_sweep_errors_are_one_line(args: list[str], message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--data", str(SAMPLE), "--workers", "1", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


_WITHOUT_DASK = """
import sys
class _NoDask:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, _NoDask())
import gui.sweep_view  # the window's Sweep tab imports without Dask
from engine.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("cluster", [None, "local:2"])
def test_without_dask_sweeps_run_here_and_a_cluster_says_how_to_install_it(
        cluster: str | None) -> None:
    args = ["sweep", "--data", str(SAMPLE), "--period", "10,12", "--no-progress",
            *(["--cluster", cluster] if cluster else [])]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_DASK, *args], capture_output=True,
                          text=True, timeout=300, env=env, encoding="utf-8", errors="replace")
    if cluster is None:
        assert done.returncode == 0, done.stderr
        assert "2 combinations" in done.stdout
    else:
        assert done.returncode == 2
        assert done.stderr.startswith("error: cannot use the Dask cluster at local:2: Dask is "
                                      "not installed; install Dask with: pip install")
        assert len(done.stderr.strip().splitlines()) == 1

def test_sweep_keeps_each_combinations_daily_returns_and_diagnoses_them() -> None:
    grid = {"period": [8, 12, 16], "oversold": [25, 30]}
    sweep = run_sweep(_config(), grid)
    run = run_backtest(_config(period=12, oversold=30.0))
    assert sweep.returns.shape == (len(run.equity), len(sweep.table))
    column = sweep.table.index[(sweep.table["period"] == 12)
                               & (sweep.table["oversold"] == 30.0)][0]
    equity = run.equity["equity"].to_numpy()
    expected = (equity / np.r_[1_000_000.0, equity[:-1]] - 1.0).astype(np.float32)
    assert np.array_equal(sweep.returns[:, column], expected)
    d = sweep.diagnostics
    assert d["trials"] == 6 and d["pbo_splits"] == math.comb(16, 8)
    assert 0.0 <= d["deflated_sharpe"] <= 1.0 and 0.0 <= d["pbo"] <= 1.0
    assert d["best_sharpe"] * math.sqrt(252) == pytest.approx(sweep.table["sharpe"].max(),
                                                             rel=1e-5)


def test_sweep_diagnostics_do_not_depend_on_the_worker_count() -> None:
    grid = {"period": [8, 12], "oversold": [25, 30]}
    one, two = run_sweep(_config(), grid), run_sweep(_config(workers=2), grid)
    assert np.array_equal(one.returns, two.returns)
    assert one.diagnostics == two.diagnostics


def test_cli_sweep_prints_and_writes_the_diagnostics(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--data", str(SAMPLE), "--workers", "1", "--period", "10,14",
                 "--oversold", "25,30", "--out", str(tmp_path), "--no-store",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "deflated Sharpe" in out and "PBO" in out
    summary = json.loads((tmp_path / "sweep.json").read_text(encoding="utf-8"))
    assert set(summary["diagnostics"]) >= {"deflated_sharpe", "pbo", "trials"}
