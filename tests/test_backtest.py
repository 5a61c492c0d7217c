"""run_backtest end to end on the committed sample: consistency, determinism, progress, cancel."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import Cancelled, DataError
from engine.progress import STAGES
from engine.results.formatting import METRICS
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from tests.conftest import ROOT, SAMPLE, bars

#: The README and the docs, where code examples name metrics.
DOCS = "\n".join(path.read_text(encoding="utf-8")
                 for path in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))))


def _config(**changes: object) -> BacktestConfig:
    return BacktestConfig(**{"data_dir": SAMPLE, **changes})


@pytest.fixture(scope="module")
def shared() -> BacktestResult:
    return run_backtest(_config())


def assert_same(a: BacktestResult, b: BacktestResult) -> None:
    """Bit-identical results (NaN equal to NaN)."""
    for name in ("equity", "fills", "trades", "rejections"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        other = b.metrics[key]
        assert value == other or (value != value and other != other), key


def test_equity_table_is_consistent(shared: BacktestResult) -> None:
    eq = shared.equity
    assert list(eq.columns) == ["date", "equity", "cash", "positions_value", "drawdown",
                                "benchmark"]
    assert eq["date"].iloc[0] >= np.datetime64("2023-02-04")
    assert eq["date"].iloc[-1] <= np.datetime64("2026-02-04")
    np.testing.assert_array_equal(eq["equity"], eq["cash"] + eq["positions_value"])
    assert (eq["cash"] >= 0).all() and (eq["drawdown"] <= 0).all()
    assert len(shared.fills) > 20 and len(shared.trades) > 10
    last = shared.fills.iloc[-1]
    assert last["cash_after"] >= 0


def test_every_displayed_and_documented_metric_exists(shared: BacktestResult) -> None:
    for key, _, _ in METRICS:
        assert key in shared.metrics
    documented = re.findall(r'metrics\["(\w+)"\]', DOCS)
    assert documented  # the Python API example in docs/cli.md names some
    for key in documented:
        assert key in shared.metrics


def test_timings_have_every_stage(shared: BacktestResult) -> None:
    for stage in (*STAGES, "total"):
        assert shared.timings[stage] >= 0
    assert shared.timings["total"] >= sum(shared.timings[s] for s in STAGES) * 0.99


def test_signals_only_inside_the_window() -> None:
    late = run_backtest(_config(start="2025-01-01"))
    assert (late.fills["date"] > np.datetime64("2025-01-01")).all()
    assert late.equity["date"].iloc[0] >= np.datetime64("2025-01-01")


@pytest.mark.parametrize("mode", ["shared", "per_stock"])
@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_rerun_from_cache_is_bit_identical(mode: str, fill: str, tmp_path: Path) -> None:
    config = _config(capital_mode=mode, fill=fill, cache_dir=tmp_path / "c")
    cold = run_backtest(config)
    warm = run_backtest(config)
    assert_same(cold, warm)


def test_file_names_and_read_order_do_not_matter(tmp_path: Path,
                                                 shared: BacktestResult) -> None:
    copy = tmp_path / "renamed"
    copy.mkdir()
    for path in sorted(SAMPLE.glob("*.parquet"), reverse=True):
        shutil.copy(path, copy / path.name.replace("_", "."))  # other spelling, other order
    assert_same(shared, run_backtest(_config(data_dir=copy)))


def test_progress_reports_each_stage_in_order() -> None:
    seen: list[str] = []
    run_backtest(_config(), progress=lambda stage, done, total: seen.append(stage))
    stages = [s for s in dict.fromkeys(seen) if s != "done"]
    # A built-in strategy is not checked for look-ahead: that stage is not entered.
    assert stages == [s for s in STAGES if s != "lookahead"] and seen[-1] == "done"


def test_cancel_raises_and_returns_nothing() -> None:
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "signals":
            cancel.set()

    with pytest.raises(Cancelled):
        run_backtest(_config(), progress=progress, cancel=cancel)


def test_bad_stock_fails_or_is_excluded(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    bad = bars(pd.bdate_range("2023-01-02", periods=30))
    bad.loc[5, "close"] = -1.0
    bad.to_parquet(folder / "600999_SH.parquet", index=False)
    with pytest.raises(DataError, match=r"600999_SH.parquet: column `close` is -1.0"):
        run_backtest(_config(data_dir=folder))
    result = run_backtest(_config(data_dir=folder, on_bad_stock="skip"))
    assert result.excluded["code"].tolist() == ["600999.SH"]
    assert "600999.SH" not in result.codes


def test_benchmark_table_matches_its_metrics(shared: BacktestResult) -> None:
    bench = shared.benchmark
    assert list(bench.columns) == ["date", "equity", "drawdown"]
    initial = shared.config.initial_capital
    assert bench["equity"].iloc[-1] / initial - 1 == shared.metrics["benchmark_total_return"]
    assert (bench["drawdown"] <= 0).all()
