"""Multiprocess execution of runs and sweeps: the shared warm pool, the in-process vs pool
decision (``workers="auto"``), and the per-stock column work of a run split over workers.

How a run uses workers (SPEC §5: results are bit-identical for any worker count):

- per_stock mode: each worker computes the indicators, signals and its stocks' sleeves for a
  contiguous chunk of stock columns, balanced by bar count; the parent adds the sleeves
  in column order (``sum_sleeves_nb``) and merges the records by (day, sells first,
  stock), exactly what one pass makes.
- shared mode: workers compute the indicators and signals per chunk; the parent runs the single
  portfolio pass (cash competition cannot be split).

Market data reaches workers through the aligned cache's memory maps (or one shared
memory block), outputs come back through shared memory; only small task descriptions
are pickled (``timings["bytes_to_workers"]``).

The pool is created on first use, grows to the largest worker count asked for, stays
warm between runs (the GUI's second run pays no start-up) and is shut down at exit.
How its workers start (``WorkerSetup``: the engine's is ``engine.run.backtest.WORKER_SETUP``,
which loads the kernels) is given by the callers, so this module never imports the run
pipeline its workers warm up with. An application can ``prestart_pool(setup=...)`` at
start-up so even its first big job finds the workers ready. Entry points of frozen apps
must call ``multiprocessing.freeze_support()`` first.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.execution.pool import MapStats, Task, WorkerPool, worker_cap
from engine.execution.shared_data import (
    DataRef,
    Layout,
    SharedArrays,
    attach_market_data,
    share_market_data,
)
from engine.progress import CancelToken, LocalContext, ProgressSink, TaskContext
from engine.run.column_pass import Chunk, ChunkRecords, balance_chunks, column_pass, merge_records

#: Rough single-core costs used only to decide whether a pool repays its overhead
#: (seconds per day x stock cell, measured on the 500-stock demo universe).
COST_INDICATORS = 12e-9
COST_SIGNALS = 1e-9
COST_SIMULATE_PER_STOCK = 30e-9
#: A sweep combination's simulation (buy lists, no rejection records: measured 0.22 ms
#: shared, 1.8 ms per stock on the 500-stock x 3-year headline) and metrics (0.3 ms
#: before ``metrics_nb``, 0.07 ms since, the Python around it included; kept at 0.3 ms,
#: which keeps small sweeps' batches small enough to spread over the workers; a
#: per-stock combination's many trades add more, counted in its per-cell cost, which is
#: rounded up: per-stock sweeps are the ones that need the workers).
COST_SWEEP_SIMULATE_SHARED = 0.6e-9
COST_SWEEP_SIMULATE_PER_STOCK = 14e-9
COST_COMBO_METRICS = 0.3e-3
#: Seconds to start a pool from cold (spawn, import, load kernels) on a few cores, and
#: the fixed cost of one run on a warm pool (dispatch, attach, shared-memory set-up).
COLD_START_SECONDS = 2.5
WARM_OVERHEAD_SECONDS = 0.02
#: A run's outputs pass through shared memory: seconds per day x stock cell.
COST_POOL_PER_CELL = 10e-9


@dataclass(frozen=True)
class WorkerSetup:
    """How the shared pool's workers start (see ``WorkerPool``): ``initializer`` (a
    module-level callable) runs in each worker as it starts, ``prepare`` once in this
    process before the first worker is spawned."""

    initializer: Callable[[], object] | None = None
    prepare: Callable[[], object] | None = None


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def shared_pool(n_workers: int, setup: WorkerSetup) -> WorkerPool:
    """The process-wide warm pool, grown to at least ``n_workers`` workers. ``setup`` is
    used when the pool is created; a pool already running keeps the set-up it has (the
    engine's callers all pass ``engine.run.backtest.WORKER_SETUP``)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.closed:
            _pool = WorkerPool(n_workers, initializer=setup.initializer, prepare=setup.prepare)
        elif _pool.size < n_workers:
            _pool.start(n_workers)
        return _pool


def prestart_pool(n_workers: int | None = None, *, setup: WorkerSetup) -> None:
    """Start the shared pool's workers in the background (one per core by default), so
    the first run or sweep that needs them pays no start-up. Returns at once."""
    n = worker_cap(n_workers or os.cpu_count() or 1)
    shared_pool(n, setup).start(n)


def shutdown_pool() -> None:
    """Stop the shared pool's workers (registered to run at exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown()
            _pool = None


atexit.register(shutdown_pool)


def pool_is_warm(n_workers: int) -> bool:
    """Whether the shared pool has ``n_workers`` started, ready workers."""
    return _pool is not None and not _pool.closed and _pool.warm(n_workers)


def choose_workers(requested: str | int, serial_seconds: float, n_units: int,
                   transfer_seconds: float = 0.0) -> int:
    """Processes to use for a job (1 = in this process).

    An explicit count is used as given (capped by the job's units). "auto" uses one
    worker per core only when the time saved, ``serial_seconds * (1 - 1/k)``, exceeds
    the pool's cost: a cold start or the small fixed cost of a warm pool, plus
    ``transfer_seconds`` for moving the job's outputs.
    """
    if requested != "auto":
        return worker_cap(max(1, min(int(requested), n_units)))
    k = worker_cap(min(os.cpu_count() or 1, n_units))
    if k < 2:
        return 1
    overhead = WARM_OVERHEAD_SECONDS if pool_is_warm(k) else COLD_START_SECONDS
    return k if serial_seconds * (1 - 1 / k) > overhead + transfer_seconds else 1


def run_workers(config: BacktestConfig, data: MarketData) -> int:
    """Processes for a run's per-stock work (``config.workers``; see ``choose_workers``)."""
    cells = data.tradable.size
    per_cell = COST_INDICATORS + COST_SIGNALS
    if config.capital_mode == "per_stock":
        per_cell += COST_SIMULATE_PER_STOCK
    return choose_workers(config.workers, cells * per_cell, data.n_stocks,
                          cells * COST_POOL_PER_CELL)


def run_tasks(tasks: Sequence[Task], n_workers: int, sink: ProgressSink,
              cancel: CancelToken | None, setup: WorkerSetup,
              threads: int = 1) -> tuple[list[Any], MapStats]:
    """Results of ``tasks`` in order: one after another here (on ``threads`` threads of
    this process when more than one: tasks whose work releases the GIL), or on the
    shared pool (created with ``setup`` if it is not running)."""
    if n_workers > 1:
        return shared_pool(n_workers, setup).map(tasks, n_workers, sink, cancel)
    if threads > 1 and len(tasks) > 1:
        return _run_threaded(tasks, threads, sink, cancel), MapStats(workers=1)
    results, offset, total = [], 0, sum(t.units for t in tasks)
    for task in tasks:
        results.append(task.fn(task.payload, LocalContext(sink, cancel, offset, total)))
        offset += task.units
    return results, MapStats(workers=1)


class _ThreadContext(LocalContext):
    """``TaskContext`` of one of several tasks on threads of this process: progress is
    the units done by all of them together."""

    def __init__(self, sink: ProgressSink, cancel: CancelToken | None, done: list[int],
                 index: int, total: int, lock: threading.Lock) -> None:
        super().__init__(sink, cancel, 0, total)
        self.done, self.index, self.lock = done, index, lock

    def report(self, stage: str, done: int, total: int, force: bool = False) -> None:
        """Record this task's count; forward the sum of all tasks' (throttled)."""
        with self.lock:
            self.done[self.index] = done
            if self._throttle.ready(force):
                self.sink(stage, sum(self.done), self.grand_total or total, None)


def _run_threaded(tasks: Sequence[Task], threads: int, sink: ProgressSink,
                  cancel: CancelToken | None) -> list[Any]:
    """Every task's value in task order, the tasks taken in order by ``threads`` threads.
    A failure stops the tasks not yet started and is raised once the running ones end."""
    from concurrent.futures import ThreadPoolExecutor

    lock, done = threading.Lock(), [0] * len(tasks)
    total = sum(t.units for t in tasks)
    with ThreadPoolExecutor(min(threads, len(tasks)), "engine-task") as pool:
        futures = [pool.submit(task.fn, task.payload,
                               _ThreadContext(sink, cancel, done, i, total, lock))
                   for i, task in enumerate(tasks)]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def cpu_threads() -> int:
    """Threads a job may run on in this process: one per core this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return worker_cap(cores or os.cpu_count() or 1)


def pool_timings(stats: MapStats) -> dict[str, float]:
    """The pool's entries of a result's ``timings``."""
    return {"pool_startup": stats.startup_seconds, "workers": float(stats.workers),
            "bytes_to_workers": float(stats.bytes_to_workers),
            "bytes_from_workers": float(stats.bytes_from_workers)}


def stage_shares(stats: MapStats, wall: float, stages: Sequence[str]) -> dict[str, float]:
    """``wall`` seconds (less the pool's start-up) split over ``stages`` in proportion to
    the workers' time in each."""
    wall = max(0.0, wall - stats.startup_seconds)
    busy = {s: sum(b - a for _, stage, a, b in stats.spans if stage == s) for s in stages}
    total = sum(busy.values())
    if total <= 0:
        return dict.fromkeys(stages, 0.0)
    return {s: wall * busy[s] / total for s in stages}


def output_layout(data: MarketData, config: BacktestConfig) -> Layout:
    """Shared output arrays of a run's column work (see ``column_pass``)."""
    n_days, n_stocks = data.tradable.shape
    if config.capital_mode == "shared":
        return {"score": ((n_days, n_stocks), "f8"), "buy": ((n_days, n_stocks), "?"),
                "sell": ((n_days, n_stocks), "?")}
    n_run = n_days - data.start_index
    return {name: ((n_run, n_stocks), "f8") for name in ("equity", "cash", "positions_value")}


def stocks_label(codes: Sequence[str], chunk: Chunk) -> str:
    """Names a chunk's stocks for error messages."""
    a, b = chunk
    if b - a == 1:
        return f"stock {codes[a]}"
    return f"stocks {codes[a]}..{codes[b - 1]} ({b - a} stocks)"


@dataclass(frozen=True)
class ColumnsOutcome:
    """The column work of a run done on the pool: full-size outputs (shared memory,
    valid inside ``pooled_columns``), per-stock records, and the pool's statistics."""

    out: dict[str, Any]
    records: ChunkRecords | None
    stats: MapStats
    wall: float


def _column_task(payload: tuple[DataRef, BacktestConfig, Chunk, Any], ctx: TaskContext
                 ) -> ChunkRecords | None:
    """Worker side: attach the data and the output block, compute the chunk's columns."""
    ref, config, chunk, handle = payload
    with ctx.span("attach"):
        data = attach_market_data(ref)
        block = SharedArrays.attach(handle)
    try:
        return column_pass(data, config, chunk, block.arrays, ctx)
    finally:
        block.close()


@contextmanager
def pooled_columns(data: MarketData, config: BacktestConfig, n_workers: int,
                   sink: ProgressSink, cancel: CancelToken | None,
                   setup: WorkerSetup) -> Iterator[ColumnsOutcome]:
    """Run the run's column work on ``n_workers`` pool workers (one balanced chunk each;
    the pool created with ``setup`` if it is not running).

    The outputs live in shared memory that is released when the block exits.
    """
    t0 = time.perf_counter()
    ref, data_block = share_market_data(data)
    out_block = SharedArrays(output_layout(data, config))
    try:
        chunks = balance_chunks(data.tradable, n_workers)
        tasks = [Task(_column_task, (ref, config, chunk, out_block.handle()),
                      stocks_label(data.codes, chunk), chunk[1] - chunk[0]) for chunk in chunks]
        results, stats = run_tasks(tasks, len(tasks), sink, cancel, setup)
        records = None
        if config.capital_mode == "per_stock":
            records = ChunkRecords(merge_records([r.fills for r in results]),
                                   merge_records([r.rejections for r in results]))
        yield ColumnsOutcome(out_block.arrays, records, stats, time.perf_counter() - t0)
    finally:
        out_block.unlink()
        if data_block is not None:
            data_block.unlink()
