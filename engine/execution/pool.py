"""A warm pool of spawned worker processes with progress, cancellation and fault reports.

Every worker is started with the ``spawn`` method (on every OS), runs the pool's
``initializer`` (the engine's pools pass ``engine.run.backtest.start_worker``, which loads the
numba kernels from the on-disk cache that ``prepare`` filled in the parent), then waits for
tasks on its own pipe. A task is a module-level function and a small payload
(see ``engine.execution.shared_data`` for how large arrays are shared instead of sent). Workers
talk to the parent only through their pipe, so a worker killed by the OS cannot leave a
shared lock or queue broken for the others.

Cancellation is cooperative with a deadline: the parent raises a shared flag that
workers check between pieces of work, waits ``CANCEL_GRACE`` seconds for them to stop,
then kills any worker still busy (it is respawned on the next run). A dead worker is
noticed through its process sentinel at once, and the run fails with ``WorkerCrashError``.

This module is the parent's side (``WorkerPool`` and ``_Run``, which drives one ``map``);
what runs in a worker, and the messages it sends back, is ``engine.execution.pool_worker``.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import multiprocessing.connection
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BacktestError, Cancelled
from engine.execution.pool_worker import PICKLE, worker_main
from engine.progress import CancelToken, ProgressSink
from engine.util.oscompat import max_workers

log = logging.getLogger(__name__)

#: Seconds busy workers get to notice a cancel (or a failed sibling) before being killed.
CANCEL_GRACE = 0.5
#: Seconds a worker may take to start (import the engine, load the kernels).
START_TIMEOUT = 120.0
_POLL = 0.05


class WorkerError(BacktestError):
    """A worker process failed while computing part of a run or sweep.

    ``worker`` is the worker's index, ``label`` names its share of the work (stocks or
    parameter combinations) and ``remote_traceback`` is the worker's traceback text.
    """

    def __init__(self, message: str, *, worker: int, label: str,
                 remote_traceback: str = "") -> None:
        super().__init__(message)
        self.worker, self.label, self.remote_traceback = worker, label, remote_traceback


class WorkerCrashError(WorkerError):
    """A worker process died (killed by the OS, out of memory, crashed)."""


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(payload, ctx)`` in a worker, ``units`` of progress.

    A ``relay`` task is a whole job (a run or a sweep with its own progress vocabulary):
    its progress events reach the caller unchanged, and an engine error it raises is
    raised again here as itself, not wrapped in ``WorkerError``.
    """

    fn: Callable[[Any, Any], Any]
    payload: Any
    label: str
    units: int
    relay: bool = False


@dataclass
class MapStats:
    """What a ``map`` cost: bytes through the pipes, start-up wait and worker spans.

    ``spans`` rows are (worker, stage, start, end) in wall-clock seconds.
    """

    bytes_to_workers: int = 0
    bytes_from_workers: int = 0
    startup_seconds: float = 0.0
    workers: int = 0
    spans: list[tuple[int, str, float, float]] = field(default_factory=list)


@dataclass
class _Worker:
    slot: int
    process: Any
    conn: Any
    spawned: float
    pid: int | None = None
    ready_at: float | None = None
    reported: bool = False  # start-up span already handed to a run

    @property
    def alive(self) -> bool:
        return self.process.is_alive()


class _Progress:
    """Sums the tasks' per-stage progress into run-wide events."""

    def __init__(self, tasks: Sequence[Task], sink: ProgressSink) -> None:
        self.tasks, self.sink = tasks, sink
        self.total = sum(t.units for t in tasks)
        self.done: dict[str, list[int]] = {}

    def update(self, task_id: int, stage: str, done: int, total: int, worker: int) -> None:
        if self.tasks[task_id].relay:
            self.sink(stage, done, total, None)
            return
        per_task = self.done.setdefault(stage, [0] * len(self.tasks))
        units = self.tasks[task_id].units
        per_task[task_id] = done * units // total if total else units
        self.sink(stage, sum(per_task), self.total, worker)


#: Handles the pool waits on per busy or starting worker: its pipe and its process.
_HANDLES_PER_WORKER = 2


def worker_cap(n: int) -> int:
    """``n`` workers, or fewer where the OS limits the handles one wait may watch (30 on
    Windows before Python 3.13: 32 would crash the first sweep of a 32-thread desktop)."""
    cap = max_workers(_HANDLES_PER_WORKER)
    return n if cap is None else max(1, min(n, cap))


class WorkerPool:
    """``size`` spawned worker processes, started lazily and kept warm between runs.

    ``initializer`` (a module-level callable) runs in each worker when it starts;
    ``prepare`` runs once in this process before the first worker is spawned (the
    engine compiles its kernels there, so workers only load them). Workers are daemonic
    unless ``daemon`` is False; a non-daemonic worker may start worker processes of its
    own (a job host whose jobs use a pool).

    One ``map`` runs at a time (others wait). A crashed or killed worker is respawned by
    the next ``map``; ``shutdown`` stops them all (also registered at exit by
    ``engine.execution.parallel`` for its shared pool).
    """

    def __init__(self, size: int, initializer: Callable[[], object] | None = None,
                 prepare: Callable[[], object] | None = None, daemon: bool = True,
                 name: str = "backtest-worker") -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {size}")
        self._initializer, self._prepare = initializer, prepare
        self._daemon, self._name = daemon, name
        self._ctx = multiprocessing.get_context("spawn")
        self._cancel_flag = self._ctx.RawValue("q", 0)
        self._workers: list[_Worker | None] = [None] * worker_cap(size)
        self._lock = threading.RLock()
        self._run_ids = itertools.count(1)
        self.closed = False

    @property
    def size(self) -> int:
        """Number of worker slots."""
        return len(self._workers)

    def pids(self) -> list[int]:
        """Process ids of the live workers, by slot (slot 0 first)."""
        return [w.process.pid for w in self._workers if w is not None and w.alive]

    def warm(self, n: int) -> bool:
        """Whether the first ``n`` workers are started and ready (no start-up to pay)."""
        live = [w for w in self._workers[:n] if w is not None and w.alive]
        if n > self.size or len(live) < n:
            return False
        if not self._lock.acquire(blocking=False):
            return all(w.ready_at for w in live)  # another thread's map is using them
        try:
            for w in live:
                if w.ready_at is None and w.conn.poll():
                    self._check_start(w)
        except WorkerError:
            return False
        finally:
            self._lock.release()
        return all(w.ready_at for w in live)

    def start(self, n: int | None = None) -> None:
        """Spawn the first ``n`` workers (default all) that are missing or dead, without
        waiting for them; ``prepare`` runs here first (once)."""
        with self._lock:
            n = self.size if n is None else worker_cap(n)
            if n > self.size:
                self._workers.extend([None] * (n - self.size))
            missing = [i for i, w in enumerate(self._workers[:n]) if w is None or not w.alive]
            if not missing:
                return
            if self._prepare is not None:
                self._prepare()
                self._prepare = None
            for slot in missing:
                self.reap(slot)
                parent_end, child_end = self._ctx.Pipe(duplex=True)
                process = self._ctx.Process(
                    target=worker_main, name=f"{self._name}-{slot}",
                    args=(slot, child_end, self._cancel_flag, self._initializer),
                    daemon=self._daemon)
                process.start()
                child_end.close()
                self._workers[slot] = _Worker(slot, process, parent_end, time.time())

    def map(self, tasks: Sequence[Task], n_workers: int, sink: ProgressSink,
            cancel: CancelToken | None,
            grace: float = CANCEL_GRACE) -> tuple[list[Any], MapStats]:
        """Run ``tasks`` on at most ``n_workers`` workers; results in task order.

        Raises ``Cancelled`` (nothing returned), ``WorkerError`` (a task raised) or
        ``WorkerCrashError`` (a worker died). The pool stays usable after each. After a
        cancel, busy workers get ``grace`` seconds to stop before they are killed.
        """
        if self.closed:
            raise RuntimeError("the worker pool was shut down")
        while not self._lock.acquire(timeout=_POLL):  # another run is using the pool
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while waiting for the worker pool")
        try:
            n_workers = worker_cap(max(1, min(n_workers, len(tasks))))
            t0 = time.perf_counter()
            cold = not self.warm(n_workers)
            self.start(n_workers)
            self._wait_ready(n_workers, sink, cancel)
            stats = MapStats(workers=n_workers)
            stats.startup_seconds = time.perf_counter() - t0 if cold else 0.0
            run_id = next(self._run_ids)
            run = _Run(self, run_id, tasks, n_workers, sink, cancel, stats, grace)
            return run.drive(), stats
        finally:
            self._lock.release()

    def _wait_ready(self, n: int, sink: ProgressSink, cancel: CancelToken | None) -> None:
        t0 = time.perf_counter()
        waiting = [w for w in self._workers[:n] if w is not None and w.ready_at is None]
        if not waiting:
            return
        while waiting:
            sink("startup", n - len(waiting), n, None)
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while the worker processes were starting")
            if time.perf_counter() - t0 > START_TIMEOUT:
                raise WorkerCrashError(
                    f"worker processes did not start within {START_TIMEOUT:.0f} s",
                    worker=waiting[0].slot, label="start-up")
            objects = [w.conn for w in waiting] + [w.process.sentinel for w in waiting]
            multiprocessing.connection.wait(objects, timeout=_POLL)
            for w in waiting:
                self._check_start(w)
            waiting = [w for w in waiting if w.ready_at is None]
        sink("startup", n, n, None)

    def _check_start(self, w: _Worker) -> None:
        if w.conn.poll():
            try:
                message = w.conn.recv()
            except (EOFError, OSError):
                message = None
            if message and message[0] == "ready":
                _, _, w.pid, _, w.ready_at = message
                return
            if message and message[0] == "init_error":
                self.reap(w.slot)
                raise WorkerCrashError(f"worker {w.slot} could not start:\n{message[2]}",
                                    worker=w.slot, label="start-up", remote_traceback=message[2])
        if not w.alive:
            code = w.process.exitcode
            self.reap(w.slot)
            raise WorkerCrashError(f"worker {w.slot} exited during start-up ({_exit_text(code)})",
                                worker=w.slot, label="start-up")

    def reap(self, slot: int) -> None:
        """Kill (if needed) and forget the worker in ``slot``."""
        w = self._workers[slot]
        if w is None:
            return
        if w.process.is_alive():
            w.process.kill()
        w.process.join(timeout=5)
        with suppress(OSError):  # closed already by a concurrent shutdown
            w.conn.close()
        self._workers[slot] = None

    def worker(self, slot: int) -> _Worker:
        """The live worker of ``slot`` (for ``_Run``)."""
        w = self._workers[slot]
        assert w is not None
        return w

    def cancel_run(self, run_id: int) -> None:
        """Ask the workers busy with ``run_id`` to stop."""
        self._cancel_flag.value = run_id

    def shutdown(self) -> None:
        """Stop every worker: ask politely, then kill any that does not exit in time."""
        self.closed = True
        for slot, w in enumerate(self._workers):
            if w is not None and w.ready_at is None:
                self.reap(slot)  # still importing: nothing to finish
            elif w is not None and w.alive:
                with suppress(OSError):
                    w.conn.send_bytes(pickle.dumps(None))
        deadline = time.monotonic() + 2.0
        for slot, w in enumerate(self._workers):
            if w is not None:
                w.process.join(timeout=max(0.0, deadline - time.monotonic()))
                self.reap(slot)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Run:
    """One ``map``: dispatches tasks to idle workers and collects what comes back."""

    def __init__(self, pool: WorkerPool, run_id: int, tasks: Sequence[Task], n_workers: int,
                 sink: ProgressSink, cancel: CancelToken | None, stats: MapStats,
                 grace: float) -> None:
        self.pool, self.run_id, self.tasks, self.grace = pool, run_id, tasks, grace
        self.slots = list(range(n_workers))
        self.cancel, self.stats = cancel, stats
        self.progress = _Progress(tasks, sink)
        self.results: list[Any] = [None] * len(tasks)
        self.busy: dict[int, int] = {}  # slot -> task id

    def drive(self) -> list[Any]:
        """Run every task to completion, or stop everything and raise."""
        self._startup_spans()
        pending = deque(range(len(self.tasks)))
        try:
            while pending or self.busy:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled("cancelled")
                for slot in self.slots:
                    if pending and slot not in self.busy:
                        self._send(slot, pending.popleft())
                self._poll()
        except BaseException:
            self._stop_busy()
            raise
        return self.results

    def _startup_spans(self) -> None:
        for slot in self.slots:
            w = self.pool.worker(slot)
            if not w.reported and w.ready_at is not None:
                self.stats.spans.append((slot, "startup", w.spawned, w.ready_at))
                w.reported = True

    def _send(self, slot: int, task_id: int) -> None:
        task = self.tasks[task_id]
        data = pickle.dumps((self.run_id, task_id, task.fn, task.payload), PICKLE)
        self.busy[slot] = task_id
        w = self.pool.worker(slot)
        try:
            w.conn.send_bytes(data)
        except OSError:  # it died while idle: the pipe is broken
            w.process.join(timeout=1)
            self._crashed(w)
        self.stats.bytes_to_workers += len(data)

    def _poll(self, timeout: float = _POLL) -> None:
        workers = [self.pool.worker(slot) for slot in self.busy]
        objects = [w.conn for w in workers] + [w.process.sentinel for w in workers]
        multiprocessing.connection.wait(objects, timeout=timeout)
        for w in workers:
            self._drain(w)
            if w.slot in self.busy and not w.alive:
                self._drain(w)  # anything it sent before dying
                if w.slot in self.busy:
                    self._crashed(w)

    def _drain(self, w: _Worker) -> None:
        try:
            while w.slot in self.busy and w.conn.poll():
                data = w.conn.recv_bytes()
                self.stats.bytes_from_workers += len(data)
                self._handle(w.slot, pickle.loads(data))
        except (EOFError, OSError):
            pass  # the pipe broke: the process sentinel reports the death

    def _handle(self, slot: int, message: tuple[Any, ...]) -> None:
        kind, run_id, task_id = message[:3]
        if run_id != self.run_id:
            return  # a straggler of an earlier, abandoned run
        if kind == "progress":
            stage, done, total = message[3:]
            self.progress.update(task_id, stage, done, total, worker=slot)
            return
        spans, sent = message[3], message[4]
        received = time.time()
        self.stats.spans.extend((slot, stage, a, b) for stage, a, b in spans)
        self.stats.spans.append((slot, "return", sent, received))
        self.busy.pop(slot, None)
        if kind == "result":
            self.results[task_id] = message[5]
        elif kind == "error":
            label = self.tasks[task_id].label
            if self.tasks[task_id].relay and message[7] is not None:
                raise message[7]
            raise WorkerError(f"worker {slot} failed on {label}: {message[5]}", worker=slot,
                              label=label, remote_traceback=message[6])
        elif kind == "cancelled":
            raise Cancelled("cancelled")

    def _crashed(self, w: _Worker) -> None:
        label = self.tasks[self.busy.pop(w.slot)].label
        text = _exit_text(w.process.exitcode)
        self.pool.reap(w.slot)
        raise WorkerCrashError(
            f"worker {w.slot} (pid {w.pid}) died while computing {label} ({text}); the run "
            "was stopped and the worker will be restarted on the next run",
            worker=w.slot, label=label)

    def _stop_busy(self) -> None:
        """Cancel what is still running; kill workers that do not stop in time."""
        if not self.busy:
            return
        self.pool.cancel_run(self.run_id)
        deadline = time.monotonic() + self.grace
        while self.busy and time.monotonic() < deadline:
            try:
                self._poll(timeout=min(_POLL, max(0.0, deadline - time.monotonic())))
            except (WorkerError, Cancelled):
                continue  # a sibling's outcome after the first failure does not matter
        for slot in list(self.busy):
            log.warning("worker %d did not stop within %.1f s; killing it", slot, self.grace)
            self.busy.pop(slot)
            self.pool.reap(slot)
