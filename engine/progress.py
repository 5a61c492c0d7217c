"""Progress events of runs and sweeps, and how they reach a caller's callback.

A caller passes ``progress`` to ``run_backtest`` or ``run_sweep``; it is called in the
caller's own thread (never from another process) with either three or four
positional arguments, whichever it accepts::

    def progress(stage: str, done: int, total: int) -> None: ...
    def progress(stage: str, done: int, total: int, worker: int | None) -> None: ...

``stage`` is one of ``"startup"`` (worker processes starting), ``"load"``,
``"indicators"``, ``"signals"``, ``"simulate"``, ``"metrics"``, ``"sweep"`` and
``"done"`` (the last event of a completed run or sweep). ``worker`` is None for
events of the calling process and the worker's index (0, 1, ...) for events that a
worker process reported.

``done`` and ``total`` count:

- for the stage-start marker of ``run_backtest`` (the first event of each stage of
  ``engine.run.backtest.STAGES``, worker None): the stage's position,
  ``STAGES.index(stage)`` of ``len(STAGES)``, as before;
- for later ``"load"`` events: files read of files to read;
- for later ``"indicators"``, ``"signals"`` and ``"simulate"`` events: stocks done of
  all stocks (summed over the workers when workers share the run);
- for ``"sweep"``: parameter combinations done of all combinations;
- for ``"startup"``: workers ready of workers started.

Long jobs report at least one event per ~100 ms of work: workers send at most one
event per ``MIN_INTERVAL`` seconds each, plus one when they finish a piece of work.

A progress bar can show ``STAGES.index(stage) / len(STAGES)`` for a run (as the
markers say) and ``done / total`` of ``"sweep"`` events for a sweep; worker lanes can
use the four-argument form.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import NamedTuple, Protocol

from engine.errors import Cancelled

#: Three-argument callback (the original form) or four-argument callback (with worker).
Progress = Callable[..., None]

class CancelToken(Protocol):
    """Anything with ``is_set()``, such as ``threading.Event`` or a multiprocessing Event."""

    def is_set(self) -> bool: ...


#: Seconds between two throttled events of one reporter.
MIN_INTERVAL = 0.05
#: A run's stages, in order: its progress events and its timing breakdown name them.
STAGES = ("load", "indicators", "signals", "lookahead", "simulate", "metrics")


class ProgressEvent(NamedTuple):
    """One progress report; see the module docstring for what the numbers count."""

    stage: str
    done: int
    total: int
    worker: int | None = None


def _takes_worker(callback: Progress) -> bool:
    """Whether ``callback`` accepts a fourth positional argument."""
    try:
        params = list(inspect.signature(callback).parameters.values())
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 4


class ProgressSink:
    """Delivers events to an optional user callback in its preferred form."""

    def __init__(self, callback: Progress | None) -> None:
        self.callback = callback
        self._with_worker = callback is not None and _takes_worker(callback)

    def __call__(self, stage: str, done: int, total: int, worker: int | None = None) -> None:
        """Report one event (a no-op without a callback)."""
        if self.callback is None:
            return
        if self._with_worker:
            self.callback(stage, done, total, worker)
        else:
            self.callback(stage, done, total)

    def emit(self, event: ProgressEvent) -> None:
        """Report an event object."""
        self(*event)


class Throttle:
    """Lets an event through at most every ``interval`` seconds, or when forced."""

    def __init__(self, interval: float = MIN_INTERVAL) -> None:
        self.interval = interval
        self._last = -float("inf")

    def ready(self, force: bool = False) -> bool:
        """True (and restarts the interval) when an event may be sent now."""
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False


class TaskContext(Protocol):
    """What a unit of work (in a worker process or in-process) may do besides computing."""

    def report(self, stage: str, done: int, total: int, force: bool = False) -> None:
        """Report ``done`` of ``total`` units of ``stage`` of this task (throttled)."""

    def is_set(self) -> bool:
        """Whether the run was cancelled (so a context is a ``CancelToken``)."""

    def check_cancel(self) -> None:
        """Raise ``Cancelled`` if the run was cancelled."""

    def span(self, stage: str) -> AbstractContextManager[None]:
        """Record the block as a span of ``stage`` (for the workers' lane chart)."""


class SpanRecorder:
    """Records each ``span`` block in ``spans`` as (stage, start, end) wall-clock times:
    the part of a worker's ``TaskContext`` that feeds the workers' lane chart."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []

    @contextmanager
    def span(self, stage: str) -> Iterator[None]:
        """Record the block as a span of ``stage``."""
        start = time.time()
        try:
            yield
        finally:
            self.spans.append((stage, start, time.time()))


class LocalContext:
    """``TaskContext`` of work done in the calling process: events go straight to the
    caller's callback (worker None) and the caller's cancel token is polled.

    When several tasks run one after another, ``offset`` (units of earlier tasks) and
    ``grand_total`` turn a task's own counts into run-wide ones.
    """

    def __init__(self, sink: ProgressSink, cancel: CancelToken | None, offset: int = 0,
                 grand_total: int | None = None) -> None:
        self.sink, self.cancel = sink, cancel
        self.offset, self.grand_total = offset, grand_total
        self._throttle = Throttle()

    def report(self, stage: str, done: int, total: int, force: bool = False) -> None:
        """Forward an event to the caller (throttled unless forced)."""
        if self._throttle.ready(force):
            grand = total if self.grand_total is None else self.grand_total
            self.sink(stage, self.offset + done, grand, None)

    def is_set(self) -> bool:
        """Whether the caller's token is set."""
        return self.cancel is not None and self.cancel.is_set()

    def check_cancel(self) -> None:
        """Raise ``Cancelled`` when the caller's token is set."""
        if self.is_set():
            raise Cancelled("cancelled")

    def span(self, stage: str) -> AbstractContextManager[None]:
        """In-process work has no worker lanes: a no-op."""
        return nullcontext()
