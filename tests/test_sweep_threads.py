"""A sweep without a pool runs its batches on threads of this process: every table row,
daily return and diagnostic is the same whatever the thread count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.execution import parallel
from engine.studies.sweep import run_sweep
from tests.conftest import SAMPLE

GRID = {"period": [6, 9, 12, 16, 20], "oversold": [25, 30, 35], "overbought": [65, 75]}


@pytest.mark.parametrize("threads", [2, 3, 7])
@pytest.mark.parametrize("mode", ["shared", "per_stock"])
def test_threaded_sweep_equals_the_one_thread_sweep(
        threads: int, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = BacktestConfig(data_dir=SAMPLE, capital_mode=mode, stop_loss=0.05)
    one = run_sweep(config.replace(workers=1), GRID)
    monkeypatch.setattr(parallel, "cpu_threads", lambda: threads)
    monkeypatch.setattr(parallel, "choose_workers", lambda *args, **kwargs: 1)
    many = run_sweep(config, GRID)  # "auto" without a pool: threads
    assert many.timings["threads"] == threads and one.timings["threads"] == 1
    pd.testing.assert_frame_equal(one.table, many.table, check_exact=True)
    assert np.array_equal(one.returns.view(np.int32), many.returns.view(np.int32))
    assert one.diagnostics == many.diagnostics


def test_a_failing_batch_on_a_thread_raises_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.studies import sweep_worker

    def fail(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parallel, "cpu_threads", lambda: 2)
    monkeypatch.setattr(parallel, "choose_workers", lambda *args, **kwargs: 1)
    monkeypatch.setattr(sweep_worker, "evaluate", fail)
    with pytest.raises(RuntimeError, match="boom"):
        run_sweep(BacktestConfig(data_dir=SAMPLE), GRID)
