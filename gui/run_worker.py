"""Runs backtests off the GUI thread; talks to the window only through Qt signals."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from engine.backtest import run_backtest, warm_up
from engine.config import BacktestConfig
from engine.errors import BacktestError, Cancelled
from engine.parallel import prestart_pool


class EngineWorker(QObject):
    """Base of the objects that run engine jobs in a QThread.

    Signals: ``started()``, ``progress(stage, done, total)``, ``finished(result)``,
    ``failed(message, details)``, ``cancelled()``. Cancellation is cooperative: ``cancel``
    sets an event the engine checks between stages and work units; ``prepare`` clears it
    from the GUI thread before a request is emitted, so a cancel pressed before the
    worker thread picks the job up is not lost.
    """

    started = Signal()
    progress = Signal(str, int, int)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the running (or about to start) job to stop; thread-safe."""
        self._cancel.set()

    def prepare(self) -> None:
        """Reset the cancel flag (GUI thread, before the request is emitted)."""
        self._cancel.clear()

    def execute(self, job: Callable[[Callable[..., None], threading.Event], object]) -> None:
        """Run ``job(progress, cancel)`` and emit exactly one outcome signal."""
        self.started.emit()
        try:
            if self._cancel.is_set():
                raise Cancelled("cancelled before it started")
            result = job(self._report, self._cancel)
        except Cancelled:
            self.cancelled.emit()
        except BacktestError as exc:
            self.failed.emit(str(exc), "")
        except Exception as exc:  # shown in the error panel, never as a crash
            self.failed.emit(f"unexpected error: {exc}", traceback.format_exc())
        else:
            self.finished.emit(result)

    def _report(self, stage: str, done: int, total: int, *_: object) -> None:
        self.progress.emit(stage, done, total)


class RunWorker(EngineWorker):
    """Runs single backtests (``start_run``) and warms the engine up (``warm_up``,
    then ``ready(seconds)``)."""

    ready = Signal(float)

    @Slot()
    def warm_up(self) -> None:
        """Load (or on the very first start, compile) the kernels before the first run.

        Loading holds the GIL in long C calls, so it is done once when the window opens
        rather than during a run; then the worker pool is started in the background.
        Emits ``ready(seconds)``.
        """
        seconds = warm_up()["seconds"]
        prestart_pool()  # a warm worker pool: sweeps and big runs pay no start-up
        self.ready.emit(seconds)

    @Slot(object)
    def start_run(self, config: BacktestConfig) -> None:
        """Run ``config`` to completion, failure or cancellation (in the worker thread)."""
        self.execute(lambda progress, cancel: run_backtest(config, progress=progress,
                                                           cancel=cancel))
