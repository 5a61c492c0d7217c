"""Runs backtests off the GUI thread; talks to the window only through Qt signals."""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, Signal, Slot

from engine.backtest import run_backtest, warm_up
from engine.config import BacktestConfig
from engine.errors import BacktestError, Cancelled
from engine.parallel import prestart_pool


class RunWorker(QObject):
    """Lives in a QThread; ``start_run`` runs one backtest and emits the outcome.

    Signals: ``started()``, ``progress(stage, done, total)``, ``finished(result)``,
    ``failed(message, details)``, ``cancelled()``, and ``ready(seconds)`` after
    ``warm_up``. Cancellation is cooperative: ``cancel`` sets an event the engine checks
    between stages and work units.
    """

    started = Signal()
    progress = Signal(str, int, int)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    ready = Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the running (or about to start) backtest to stop; thread-safe."""
        self._cancel.set()

    def prepare(self) -> None:
        """Reset the cancel flag; call from the GUI thread before requesting a run, so a
        cancel pressed before the worker thread picks the run up is not lost."""
        self._cancel.clear()

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
        self.started.emit()
        try:
            result = run_backtest(config, progress=self._report, cancel=self._cancel)
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
