"""The multiprocess engine: identical results for any worker count, shared data, progress,
cancellation and worker faults (spawned workers on every OS)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from engine import progress as progress_module
from engine.config import BacktestConfig
from engine.data import load_market_data
from engine.errors import Cancelled
from engine.execution import jobs, parallel
from engine.execution.pool import (
    CANCEL_GRACE,
    START_TIMEOUT,
    Task,
    WorkerCrashError,
    WorkerError,
)
from engine.progress import MIN_INTERVAL, STAGES, LocalContext, Progress, ProgressSink, TaskContext
from engine.run.backtest import WORKER_SETUP, run_backtest
from engine.run.column_pass import balance_chunks, column_pass, merge_records, pieces
from engine.studies.sweep import run_sweep
from tests.conftest import SAMPLE, needs_sigkill
from tests.faults import inject_fault
from tests.test_backtest import assert_same

# Big enough on the 50-stock sample to take several seconds on two workers.
LONG_GRID = {"period": range(6, 31), "oversold": range(20, 40), "overbought": range(60, 80)}


def _config(**changes: object) -> BacktestConfig:
    return BacktestConfig(**{"data_dir": SAMPLE, **changes})


@pytest.fixture(scope="module", autouse=True)
def stop_pool_afterwards() -> Iterator[None]:
    yield
    parallel.shutdown_pool()
    assert not {p.pid for p in multiprocessing.active_children()} - _host_pids()


def _host_pids() -> set[int]:
    """Process ids of the job hosts (``engine.execution.jobs``) that other tests started."""
    with jobs._hosts_lock:
        return {pid for pool in jobs._hosts.values() for pid in pool.pids()}


def _pool_children() -> tuple[set[int], set[int]]:
    """(pids of live multiprocessing children but the job hosts of other tests, pids of
    the shared pool's workers)."""
    children = {p.pid for p in multiprocessing.active_children()} - _host_pids()
    pool = parallel.shared_pool(1, WORKER_SETUP)
    return children, set(pool.pids())


def _assert_no_orphans() -> None:
    children, workers = _pool_children()
    assert children <= workers, f"processes outside the pool: {children - workers}"


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    """Wait until ``condition()`` holds. ``timeout`` only catches a hang: it is the
    engine's own limit for worker start-up, so a slow machine never fails here."""
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s: hung")
        time.sleep(0.05)


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


def test_long_work_reports_once_per_interval_and_at_its_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttle every reporter uses (in-process and in workers), on a fake clock: the
    first unit reports at once, then one event per ``MIN_INTERVAL``, the forced last one."""
    clock = [0.0]
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    sent: list[tuple[float, int]] = []
    ctx = LocalContext(ProgressSink(lambda stage, done, total: sent.append((clock[0], done))),
                       None)
    step, units = 0.02, 100  # 100 units of 20 ms: 2 s of work
    for done in range(1, units + 1):
        clock[0] = done * step
        ctx.report("sweep", done, units, force=done == units)
    times, dones = zip(*sent, strict=True)
    assert dones[0] == 1 and dones[-1] == units and list(dones) == sorted(set(dones))
    assert max(np.diff(times)) <= MIN_INTERVAL + step + 1e-9
    assert len(sent) >= units * step / (MIN_INTERVAL + step)  # never only start and end
    assert len(sent) < units  # but thinned out


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
def test_warm_workers_take_each_runs_start_from_a_shared_cache_entry() -> None:
    """Regression: runs and sweeps with the same end (one aligned-cache entry) and
    different starts on a warm pool; the workers kept the first one's start row, so the
    sleeves and the sweep's combinations of the second ran over the wrong window."""
    grid = {"period": [10, 14]}
    for start in ("2023-02-06", "2024-06-03", "2023-02-06"):
        config = _config(start=start, capital_mode="per_stock")
        pooled = run_backtest(config.replace(workers=2))
        assert_same(run_backtest(config.replace(workers=1)), pooled)
        swept = run_sweep(config.replace(workers=2), grid).table
        pd.testing.assert_frame_equal(run_sweep(config.replace(workers=1), grid).table, swept)


@pytest.mark.slow
def test_warm_pool_has_no_start_up_and_shared_memory_without_cache(tmp_path: Path) -> None:
    first = run_backtest(_config(workers=2))
    second = run_backtest(_config(workers=2))
    assert second.timings["pool_startup"] == 0.0
    assert "startup" not in set(second.worker_spans["stage"])
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("the cache cannot be written here", encoding="utf-8")
    no_cache = run_backtest(_config(workers=2, cache_dir=not_a_folder / "cache"))
    assert_same(first, no_cache)
    assert no_cache.timings["bytes_to_workers"] < 20_000
    _assert_no_orphans()


@pytest.mark.slow
def test_prestarted_pool_makes_the_first_run_warm() -> None:
    parallel.shutdown_pool()
    parallel.prestart_pool(2, setup=WORKER_SETUP)
    _wait_for(lambda: parallel.pool_is_warm(2), "the prestarted workers' start-up")
    result = run_backtest(_config(workers=2))
    assert result.timings["pool_startup"] == 0.0
    assert "startup" in set(result.worker_spans["stage"])  # shown once, in this run


@pytest.mark.slow
def test_progress_events_carry_the_worker_and_come_per_piece_of_work() -> None:
    # How long a user waits between two events is measured by benchmarks/bench_parallel.py
    # (progress gaps); here: which events come, from whom, in what order.
    events: list[tuple[str, int, int, int | None]] = []

    def progress(stage: str, done: int, total: int, worker: int | None) -> None:
        events.append((stage, done, total, worker))

    run_backtest(_config(capital_mode="per_stock", workers=2), progress=progress)
    stages = [e[0] for e in events]
    assert stages[-1] == "done"
    assert {e[3] for e in events if e[0] == "simulate" and e[2] == 50} == {0, 1}
    firsts = [s for s in dict.fromkeys(stages) if s in STAGES]
    assert firsts == [s for s in STAGES if s != "lookahead"]  # a built-in is not checked
    events.clear()
    sweep = run_sweep(_config(workers=2), {"period": range(6, 16), "oversold": [25, 30],
                                           "overbought": range(60, 80)}, progress=progress)
    ticks = [e for e in events if e[0] == "sweep"]
    assert ticks[-1][1] == ticks[-1][2] == len(sweep.table) == 400
    assert [e[1] for e in ticks] == sorted(e[1] for e in ticks)
    assert {e[3] for e in ticks} == {0, 1}
    # Each piece of work (one "sweep" span each; 40 combinations of one period here)
    # reports its first combination at once and its last one forced, however fast or
    # slow the machine: no piece runs silently.
    n_pieces = int((sweep.worker_spans["stage"] == "sweep").sum())
    assert n_pieces >= 2 * 2  # several per worker
    assert len(ticks) >= 2 * n_pieces
    assert events[-1] == ("done", 400, 400, None)


# How soon a cancel or a crash takes effect is measured by benchmarks/bench_parallel.py
# (cancel latency); these tests check what happens, triggered by events, not by timers.

def _cancel_at_first(event: threading.Event, when: str
                     ) -> tuple[Progress, list[tuple[str, int, int]]]:
    """A progress callback that records the events and sets ``event`` (in the caller's
    thread, at once) at the first ``when`` event."""
    seen: list[tuple[str, int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        seen.append((stage, done, total))
        if stage == when:
            event.set()

    return progress, seen


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_stops_a_sweep_and_the_next_one_works(workers: int) -> None:
    cancel = threading.Event()
    progress, seen = _cancel_at_first(cancel, "sweep")
    with pytest.raises(Cancelled):
        run_sweep(_config(workers=workers), LONG_GRID, progress=progress, cancel=cancel)
    ticks = [e for e in seen if e[0] == "sweep"]
    assert ticks and ticks[-1][1] < ticks[-1][2] == 25 * 20 * 20  # stopped early
    assert "done" not in {e[0] for e in seen}
    if workers == 1:
        # In this process the token is checked after every combination: the combination
        # whose event set it was the last one computed.
        assert len(ticks) == 1
    _assert_no_orphans()
    assert len(run_sweep(_config(workers=workers), {"period": [10, 12]}).table) == 2


@pytest.mark.slow
def test_cancel_stops_a_run_on_workers() -> None:
    cancel = threading.Event()
    seen: list[tuple[str, int | None]] = []

    def progress(stage: str, done: int, total: int, worker: int | None) -> None:
        seen.append((stage, worker))
        if worker is not None:  # the workers are computing
            cancel.set()

    with pytest.raises(Cancelled):
        run_backtest(_config(workers=2), progress=progress, cancel=cancel)
    assert any(worker is not None for _, worker in seen)
    assert ("done", None) not in seen and ("metrics", None) not in seen  # no partial result
    _assert_no_orphans()
    assert_same(run_backtest(_config(workers=1)), run_backtest(_config(workers=2)))


def _report_then_stall(stage: str, ctx: TaskContext) -> str:
    """Pool task: one progress event, then ``stage``'s span, where
    ``inject_fault("stall", stage)`` makes it ignore cancellation for good."""
    ctx.report("stall", 1, 1, force=True)
    with ctx.span(stage):
        return stage


@pytest.mark.slow
def test_cancel_kills_a_worker_that_does_not_stop_and_the_pool_recovers(
        caplog: pytest.LogCaptureFixture) -> None:
    run_backtest(_config(workers=2))  # warm
    pool = parallel.shared_pool(2, WORKER_SETUP)
    stalled = pool.pids()[:2]  # slots 0 and 1
    cancel = threading.Event()
    reached: set[int | None] = set()

    def progress(stage: str, done: int, total: int, worker: int | None) -> None:
        reached.add(worker)
        if {0, 1} <= reached:  # both workers are past their last look at the cancel flag
            cancel.set()

    tasks = [Task(_report_then_stall, "indicators", f"stalling task {i}", 1) for i in range(2)]
    hang_guard = threading.Timer(START_TIMEOUT, cancel.set)  # only if no event ever came
    hang_guard.start()
    try:
        with inject_fault("stall", "indicators"), pytest.raises(Cancelled):
            pool.map(tasks, 2, ProgressSink(progress), cancel)
    finally:
        hang_guard.cancel()
    assert {0, 1} <= reached, "the stalling tasks never reported"
    # Neither stalled worker could stop by itself: both were killed once the grace ran out.
    assert not set(stalled) & set(pool.pids())
    killed = sorted(r.getMessage() for r in caplog.records
                    if r.name == "engine.execution.pool" and "killing" in r.getMessage())
    assert [m.startswith(f"worker {slot} did not stop within {CANCEL_GRACE:.1f} s")
            for slot, m in enumerate(killed)] == [True, True]
    _assert_no_orphans()
    assert_same(run_backtest(_config(workers=1)), run_backtest(_config(workers=2)))
    respawned = pool.pids()[:2]
    assert len(respawned) == 2 and not set(stalled) & set(respawned)
    assert pool.map([Task(_report_then_stall, "no fault", "task", 1)] * 2, 2,
                    ProgressSink(None), None)[0] == ["no fault", "no fault"]


@pytest.mark.slow
def test_cancel_while_workers_start() -> None:
    parallel.shutdown_pool()
    cancel = threading.Event()
    progress, seen = _cancel_at_first(cancel, "startup")
    with pytest.raises(Cancelled):
        run_backtest(_config(workers=2), progress=progress, cancel=cancel)
    assert seen[-1] == ("startup", 0, 2)  # stopped at once, before any worker was ready
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


@needs_sigkill
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_worker_fails_the_run_naming_it_and_the_next_run_works() -> None:
    run_backtest(_config(workers=2))  # warm
    victim = parallel.shared_pool(2, WORKER_SETUP).pids()[0]  # slot 0: busy in any run
    seen: list[str] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "sweep" and "sweep" not in seen:  # the workers are computing
            os.kill(victim, signal.SIGKILL)
        seen.append(stage)

    with pytest.raises(WorkerCrashError, match="killed by signal SIGKILL") as info:
        run_sweep(_config(workers=2), LONG_GRID, progress=progress)
    error = info.value
    assert error.worker == 0 and error.label.startswith("period ")
    assert "combinations" in error.label
    assert f"worker 0 (pid {victim}) died while computing {error.label}" in str(error)
    assert "done" not in seen
    _assert_no_orphans()
    assert victim not in parallel.shared_pool(2, WORKER_SETUP).pids()
    table = run_sweep(_config(workers=2), {"period": [10, 14]}).table
    assert len(table) == 2 and table["trades"].gt(0).all()


def test_shared_pool_uses_spawn() -> None:
    assert parallel.shared_pool(1, WORKER_SETUP)._ctx.get_start_method() == "spawn"
