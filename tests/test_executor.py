"""The executor interface's pieces that need no processes: batch sizes and what ``auto``
picks (the cluster and the pool run the same tasks: tests/test_cluster.py)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from engine.execution import parallel
from engine.execution.executor import TARGET_TASK_SECONDS, LocalExecutor, batch_sizes, executor_for
from engine.run.backtest import WORKER_SETUP
from engine.studies.sweep import estimate_sweep_seconds

#: The shape of the 500-stock demo universe over 2023-02-04 .. 2026-02-04.
DEMO = SimpleNamespace(tradable=SimpleNamespace(size=859 * 500, shape=(859, 500)),
                       start_index=125, n_stocks=500)


@pytest.mark.parametrize(("n", "seconds", "workers"), [
    (1000, 0.0095, 2), (1000, 0.0095, 16), (20_000, 0.004, 2), (7, 0.01, 4), (1, 1.0, 8),
    (1000, 0.0, 3), (5, 10.0, 2),
])
def test_batches_cover_every_unit_in_even_rounds(n: int, seconds: float, workers: int) -> None:
    sizes = batch_sizes(n, seconds, workers)
    assert sum(sizes) == n and min(sizes) >= 1
    assert max(sizes) - min(sizes) <= 1  # every worker finishes at about the same time
    if len(sizes) < n:  # not one unit per task: whole rounds, ~0.5 s each at most
        assert len(sizes) % workers == 0 and len(sizes) >= 2 * workers
        assert max(sizes) * seconds <= 2 * TARGET_TASK_SECONDS


def test_auto_uses_every_core_for_the_per_stock_sweep_it_ran_on_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 13: workers="auto" ran the 9.5 s per-stock sweep on 1 worker of 2 cores,
    # because the estimate priced a per-stock simulation like a shared one.
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(parallel, "pool_is_warm", lambda n: False)
    per_stock = estimate_sweep_seconds(DEMO, 25, 1000, "per_stock")  # type: ignore[arg-type]
    shared = estimate_sweep_seconds(DEMO, 25, 1000, "shared")  # type: ignore[arg-type]
    assert 5.0 < per_stock < 20.0 and per_stock > 2 * shared
    chosen = executor_for("auto", per_stock, 1000, setup=WORKER_SETUP)
    assert chosen == LocalExecutor(2, WORKER_SETUP) and chosen.describe() == "2 local workers"
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert executor_for("auto", per_stock, 1000, setup=WORKER_SETUP).workers == 16
    assert executor_for("auto", 0.05, 1000, setup=WORKER_SETUP).describe() == "this process"
