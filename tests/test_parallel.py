"""The multiprocess engine: identical results for any worker count, shared data, progress,
cancellation and worker faults (spawned workers on every OS)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine import parallel
from engine.backtest import STAGES, run_backtest
from engine.columns import balance_chunks, column_pass, merge_records, pieces
from engine.config import BacktestConfig
from engine.data import load_market_data
from engine.errors import Cancelled
from engine.pool import WorkerCrashError, WorkerError, inject_fault
from engine.progress import LocalContext, ProgressSink
from engine.sweep import run_sweep
from tests.conftest import SAMPLE
from tests.test_backtest import assert_same

# Big enough on the 50-stock sample to take several seconds on two workers.
LONG_GRID = {"period": range(6, 31), "oversold": range(20, 40), "overbought": range(60, 80)}


def _config(**changes: object) -> BacktestConfig:
    return BacktestConfig(**{"data_dir": SAMPLE, **changes})


@pytest.fixture(scope="module", autouse=True)
def stop_pool_afterwards() -> Iterator[None]:
    yield
    parallel.shutdown_pool()
    assert not multiprocessing.active_children()


def _pool_children() -> tuple[set[int], set[int]]:
    """(pids of live multiprocessing children, pids of the shared pool's workers)."""
    children = {p.pid for p in multiprocessing.active_children()}
    pool = parallel.shared_pool(1)
    return children, set(pool.pids())


def _assert_no_orphans() -> None:
    children, workers = _pool_children()
    assert children <= workers, f"processes outside the pool: {children - workers}"


# --- splitting (no processes) ------------------------------------------------------------

def test_chunks_are_contiguous_and_balanced_by_bars() -> None:
    tradable = np.zeros((100, 10), dtype=bool)
    tradable[:, :5] = True  # five stocks with full histories
    tradable[90:, 5:] = True  # five recent listings
    assert balance_chunks(tradable, 2) == [(0, 3), (3, 10)]  # by bars, not stock count
    assert balance_chunks(tradable, 50) == [(i, i + 1) for i in range(10)]
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 7):
        tradable = rng.random((200, 37)) < rng.random(37)
        chunks = balance_chunks(tradable, n)
        assert chunks[0][0] == 0 and chunks[-1][1] == 37 and len(chunks) <= n
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(chunks))
        weight = tradable.sum(axis=0) + 50
        loads = [weight[a:b].sum() for a, b in chunks]
        assert max(loads) <= weight.sum() / len(chunks) + weight.max()
    assert pieces(tradable, (2, 9), piece_cells=400) == [(2, 4), (4, 5), (5, 7), (7, 9)]


@pytest.mark.parametrize("mode", ["shared", "per_stock"])
def test_any_column_split_gives_the_same_arrays_and_records(mode: str) -> None:
    config = _config(capital_mode=mode, fill="close")
    data = load_market_data(SAMPLE, None, config.start, config.end)
    ctx = LocalContext(ProgressSink(None), None)
    whole: dict[str, np.ndarray] = {}
    one = column_pass(data, config, (0, data.n_stocks), whole, ctx)
    for n in (2, 3, 7):
        split: dict[str, np.ndarray] = {}
        parts = [column_pass(data, config, chunk, split, ctx)
                 for chunk in balance_chunks(data.tradable, n)]
        for name, array in whole.items():
            np.testing.assert_array_equal(split[name], array)
        if mode == "per_stock":
            assert one is not None
            assert merge_records([p.fills for p in parts]).tobytes() == one.fills.tobytes()
            assert (merge_records([p.rejections for p in parts]).tobytes()
                    == one.rejections.tobytes())


def test_auto_decides_by_estimated_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(parallel, "pool_is_warm", lambda n: False)
    assert parallel.choose_workers("auto", 0.05, 500) == 1  # never repays a cold start
    assert parallel.choose_workers("auto", 60.0, 500) == 4
    assert parallel.choose_workers("auto", 60.0, 3) == 3  # no more workers than units
    monkeypatch.setattr(parallel, "pool_is_warm", lambda n: True)
    assert parallel.choose_workers("auto", 0.05, 500) == 4  # a warm pool costs ~nothing
    assert parallel.choose_workers("auto", 0.01, 500) == 1
    assert parallel.choose_workers("auto", 0.2, 500, transfer_seconds=0.2) == 1
    assert parallel.choose_workers(7, 0.0, 500) == 7 and parallel.choose_workers(7, 0.0, 2) == 2


def test_small_auto_run_stays_in_process() -> None:
    result = run_backtest(_config())
    assert result.worker_spans.empty and "workers" not in result.timings


# --- worker processes --------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", ["shared", "per_stock"])
def test_results_are_bit_identical_for_any_worker_count(mode: str) -> None:
    reference = run_backtest(_config(capital_mode=mode, workers=1))
    data_bytes = 50 * 900 * 7 * 8
    for workers in (2, 3, 7):
        result = run_backtest(_config(capital_mode=mode, workers=workers))
        assert_same(reference, result)
        assert result.timings["workers"] == workers
        assert 0 < result.timings["bytes_to_workers"] < data_bytes / 100  # never the dataset
        spans = result.worker_spans
        assert list(spans.columns) == ["worker", "stage", "start", "end"]
        assert set(spans["worker"]) == set(range(workers))
        assert {"attach", "indicators", "signals", "return"} <= set(spans["stage"])
        assert (spans["end"] >= spans["start"]).all()
        for stage in (*STAGES, "total", "pool_startup"):
            assert result.timings[stage] >= 0


@pytest.mark.slow
def test_warm_pool_has_no_start_up_and_shared_memory_without_cache(tmp_path: Path) -> None:
    first = run_backtest(_config(workers=2))
    second = run_backtest(_config(workers=2))
    assert second.timings["pool_startup"] == 0.0
    assert "startup" not in set(second.worker_spans["stage"])
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("the cache cannot be written here")
    no_cache = run_backtest(_config(workers=2, cache_dir=not_a_folder / "cache"))
    assert_same(first, no_cache)
    assert no_cache.timings["bytes_to_workers"] < 20_000
    _assert_no_orphans()


@pytest.mark.slow
def test_prestarted_pool_makes_the_first_run_warm() -> None:
    parallel.shutdown_pool()
    parallel.prestart_pool(2)
    deadline = time.monotonic() + 60
    while not parallel.pool_is_warm(2):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    result = run_backtest(_config(workers=2))
    assert result.timings["pool_startup"] == 0.0
    assert "startup" in set(result.worker_spans["stage"])  # shown once, in this run


@pytest.mark.slow
def test_progress_events_carry_the_worker_and_come_often() -> None:
    events: list[tuple[float, str, int, int, int | None]] = []

    def progress(stage: str, done: int, total: int, worker: int | None) -> None:
        events.append((time.perf_counter(), stage, done, total, worker))

    run_backtest(_config(capital_mode="per_stock", workers=2), progress=progress)
    stages = [e[1] for e in events]
    assert stages[-1] == "done"
    assert {e[4] for e in events if e[1] == "simulate" and e[3] == 50} == {0, 1}
    firsts = [s for s in dict.fromkeys(stages) if s in STAGES]
    assert firsts == list(STAGES)
    sweep = run_sweep(_config(workers=2), {"period": range(6, 16), "oversold": [25, 30],
                                           "overbought": range(60, 80)}, progress=progress)
    ticks = [e for e in events if e[1] == "sweep"]
    assert ticks[-1][2] == ticks[-1][3] == len(sweep.table)
    assert [e[2] for e in ticks] == sorted(e[2] for e in ticks)
    gaps = np.diff([e[0] for e in ticks])
    assert gaps.max() < 0.3, f"{gaps.max():.2f} s without a progress event"


def _cancel_after(seconds: float, event: threading.Event, when: str = "sweep"
                  ) -> tuple[object, list[float]]:
    """A progress callback that sets ``event`` ``seconds`` after the first ``when`` event."""
    set_at: list[float] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == when and not set_at:
            set_at.append(time.perf_counter() + seconds)
            threading.Timer(seconds, event.set).start()

    return progress, set_at


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_stops_a_sweep_within_a_second(workers: int) -> None:
    cancel = threading.Event()
    progress, set_at = _cancel_after(0.3, cancel)
    with pytest.raises(Cancelled):
        run_sweep(_config(workers=workers), LONG_GRID, progress=progress, cancel=cancel)
    assert time.perf_counter() - set_at[0] < 1.0
    _assert_no_orphans()
    assert len(run_sweep(_config(workers=workers), {"period": [10, 12]}).table) == 2


@pytest.mark.slow
def test_cancel_kills_a_worker_that_does_not_stop_and_the_pool_recovers() -> None:
    run_backtest(_config(workers=2))  # warm
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.perf_counter()
    with inject_fault("stall", "indicators"), pytest.raises(Cancelled):
        run_backtest(_config(workers=2), cancel=cancel)
    assert time.perf_counter() - t0 < 0.3 + 1.0
    _assert_no_orphans()
    assert_same(run_backtest(_config(workers=1)), run_backtest(_config(workers=2)))


@pytest.mark.slow
def test_cancel_while_workers_start() -> None:
    parallel.shutdown_pool()
    cancel = threading.Event()
    progress, set_at = _cancel_after(0.1, cancel, when="startup")
    with pytest.raises(Cancelled):
        run_backtest(_config(workers=2), progress=progress, cancel=cancel)
    assert time.perf_counter() - set_at[0] < 1.0
    _assert_no_orphans()
    assert run_backtest(_config(workers=2)).timings["workers"] == 2


@pytest.mark.slow
def test_a_worker_that_raises_fails_the_run_naming_its_stocks() -> None:
    with inject_fault("raise", "signals"), pytest.raises(WorkerError) as info:
        run_backtest(_config(workers=3))
    error = info.value
    message = str(error)
    assert f"worker {error.worker} failed on stocks " in message
    assert "RuntimeError: injected fault in signals" in message
    assert "(1" in error.label and "stocks)" in error.label  # e.g. "(17 stocks)"
    assert "Traceback" in error.remote_traceback
    first, last = error.label.split(" ")[1].split("..")
    codes = run_backtest(_config()).codes
    assert first in codes and last in codes
    _assert_no_orphans()
    assert_same(run_backtest(_config(workers=1)), run_backtest(_config(workers=3)))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_worker_fails_the_run_quickly_and_the_next_run_works() -> None:
    run_backtest(_config(workers=2))  # warm
    victim = parallel.shared_pool(2).pids()[0]  # slot 0: busy in any run
    killed_at: list[float] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "sweep" and not killed_at:  # the workers are computing
            killed_at.append(time.perf_counter())
            os.kill(victim, signal.SIGKILL)

    with pytest.raises(WorkerCrashError, match="killed by signal SIGKILL") as info:
        run_sweep(_config(workers=2), LONG_GRID, progress=progress)
    assert time.perf_counter() - killed_at[0] < 5.0
    assert info.value.worker == 0 and "combinations" in info.value.label
    _assert_no_orphans()
    assert victim not in parallel.shared_pool(2).pids()
    table = run_sweep(_config(workers=2), {"period": [10, 14]}).table
    assert len(table) == 2 and table["trades"].gt(0).all()


def test_shared_pool_uses_spawn() -> None:
    assert parallel.shared_pool(1)._ctx.get_start_method() == "spawn"
