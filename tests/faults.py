"""Fault injection for tests and benchmarks of the worker pool and the job hosts.

``inject_fault(mode, stage)`` makes every task a ``WorkerPool.map`` of this process sends
inside the block fail at the start of its ``stage`` span ("attach", "indicators",
"sweep", "job", ...): each task's function is wrapped in ``Faulty``, a picklable
wrapper (this module is importable in the spawned workers) that hands the function a
context whose ``span(stage)`` applies the fault. Pools inside the workers (a job host's
own pool) are not affected.

``mode`` is "raise" (an exception), "hang" (sleep until cancelled) or "stall" (sleep and
ignore cancellation, so only killing the worker stops it).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from unittest import mock

from engine.execution.pool import Task, WorkerPool
from engine.progress import TaskContext

MODES = ("raise", "hang", "stall")


class _FaultyContext:
    """A task's ``TaskContext`` whose ``stage`` span starts with the fault."""

    def __init__(self, ctx: TaskContext, mode: str, stage: str) -> None:
        self._ctx, self._mode, self._stage = ctx, mode, stage

    def report(self, stage: str, done: int, total: int, force: bool = False) -> None:
        self._ctx.report(stage, done, total, force)

    def is_set(self) -> bool:
        return self._ctx.is_set()

    def check_cancel(self) -> None:
        self._ctx.check_cancel()

    def span(self, stage: str) -> AbstractContextManager[None]:
        return self._span(stage)

    @contextmanager
    def _span(self, stage: str) -> Iterator[None]:
        with self._ctx.span(stage):
            if stage == self._stage:
                self._inject()
            yield

    def _inject(self) -> None:
        if self._mode == "raise":
            raise RuntimeError(f"injected fault in {self._stage}")
        while True:
            time.sleep(0.01)
            if self._mode == "hang":
                self._ctx.check_cancel()


@dataclasses.dataclass(frozen=True)
class Faulty:
    """``fn`` as a pool task whose ``stage`` span fails as ``mode`` says."""

    fn: Callable[[Any, TaskContext], Any]
    mode: str
    stage: str

    def __call__(self, payload: Any, ctx: TaskContext) -> Any:
        return self.fn(payload, _FaultyContext(ctx, self.mode, self.stage))


@contextmanager
def inject_fault(mode: str, stage: str) -> Iterator[None]:
    """Tasks sent by ``WorkerPool.map`` inside this block fail at the start of ``stage``."""
    if mode not in MODES:
        raise ValueError(f"unknown fault mode {mode!r}; modes: {', '.join(MODES)}")
    real_map = WorkerPool.map

    def map_with_fault(pool: WorkerPool, tasks: Sequence[Task], *args: Any,
                       **kwargs: Any) -> Any:
        faulty = [dataclasses.replace(task, fn=Faulty(task.fn, mode, stage)) for task in tasks]
        return real_map(pool, faulty, *args, **kwargs)

    with mock.patch.object(WorkerPool, "map", map_with_fault):
        yield
