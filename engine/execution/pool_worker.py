"""The child side of ``engine.execution.pool``: the body of a spawned worker process.

A worker runs the pool's initializer, says it is ready, then serves tasks from its pipe
until told to stop. Each task message is one pickle of ``(run_id, task_id, fn,
payload)``; the worker runs ``fn(payload, ctx)`` and sends back, on the same pipe, what
the parent's ``_Run`` reads: ``("progress", run_id, task_id, stage, done, total)``
while it runs, then one of ``("result", run_id, task_id, spans, sent, value)``,
``("error", run_id, task_id, spans, sent, text, traceback, engine_error)`` or
``("cancelled", run_id, task_id, spans, sent)``. Start-up sends ``("ready", slot, pid,
started, ready)`` or ``("init_error", slot, traceback)``.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

from engine.errors import BacktestError, Cancelled
from engine.progress import MIN_INTERVAL, SpanRecorder, Throttle

#: Pickle protocol of everything sent through the pipes.
PICKLE = pickle.HIGHEST_PROTOCOL


class _WorkerContext(SpanRecorder):
    """``TaskContext`` inside a worker: events and spans go back through the pipe."""

    def __init__(self, conn: Any, run_id: int, task_id: int, cancel_flag: Any) -> None:
        super().__init__()
        self.conn, self.run_id, self.task_id = conn, run_id, task_id
        self.cancel_flag = cancel_flag
        self._throttle = Throttle(MIN_INTERVAL)

    def report(self, stage: str, done: int, total: int, force: bool = False) -> None:
        if self._throttle.ready(force):
            self.conn.send(("progress", self.run_id, self.task_id, stage, done, total))

    def is_set(self) -> bool:
        """Whether the parent cancelled this task's run (so the context is a CancelToken)."""
        return bool(self.cancel_flag.value == self.run_id)

    def check_cancel(self) -> None:
        if self.is_set():
            raise Cancelled("cancelled")


def worker_main(slot: int, conn: Any, cancel_flag: Any,
                initializer: Callable[[], object] | None) -> None:
    """Body of a worker process: run the initializer, then serve tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    started = time.time()
    try:
        if initializer is not None:
            initializer()
    except BaseException:
        conn.send(("init_error", slot, traceback.format_exc()))
        return
    conn.send(("ready", slot, os.getpid(), started, time.time()))
    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        try:
            _serve(conn, cancel_flag, *message)
        except (BrokenPipeError, EOFError, OSError):
            return


def _serve(conn: Any, cancel_flag: Any, run_id: int, task_id: int, fn: Callable[..., Any],
           payload: Any) -> None:
    ctx = _WorkerContext(conn, run_id, task_id, cancel_flag)
    try:
        value = fn(payload, ctx)
    except Cancelled:
        conn.send(("cancelled", run_id, task_id, ctx.spans, time.time()))
    except Exception as exc:
        conn.send(("error", run_id, task_id, ctx.spans, time.time(),
                   f"{type(exc).__name__}: {exc}", traceback.format_exc(), _portable(exc)))
    else:
        data = pickle.dumps(("result", run_id, task_id, ctx.spans, time.time(), value), PICKLE)
        conn.send_bytes(data)


def _portable(exc: Exception) -> BacktestError | None:
    """``exc`` when it is an engine error that survives pickling (it is sent as is)."""
    if not isinstance(exc, BacktestError):
        return None
    try:
        pickle.loads(pickle.dumps(exc, PICKLE))
    except Exception:
        return None
    return exc
