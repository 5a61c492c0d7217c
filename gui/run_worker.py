"""Worker objects that wait, in a QThread, for engine jobs on the job hosts
(``engine.execution.jobs``)
and talk to the window only through Qt signals."""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from engine.config import BacktestConfig
from engine.errors import BacktestError, Cancelled
from engine.execution import jobs
from engine.studies.folds import FoldSpec
from gui.strategy_files import error_line


class EngineWorker(QObject):
    """Base of the objects that run engine jobs in a QThread.

    Signals: ``started()``, ``progressed(stage, done, total)``, ``finished(result)``,
    ``failed(message, details)``, ``cancelled()``. Cancellation is cooperative: ``cancel``
    sets an event the engine checks between stages and work units; ``prepare`` clears it
    from the GUI thread before a request is emitted, so a cancel pressed before the
    worker thread picks the job up is not lost.
    """

    started = Signal()
    progressed = Signal(str, int, int)
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
            self.failed.emit(error_line(exc), "")
        except Exception as exc:  # shown in the error panel, never as a crash
            self.failed.emit(f"unexpected error: {exc}", traceback.format_exc())
        else:
            self.finished.emit(result)

    def _report(self, stage: str, done: int, total: int, *_: object) -> None:
        self.progressed.emit(stage, done, total)


class RunWorker(EngineWorker):
    """Starts the run host (``warm_up``, then ``host_started(seconds)`` or
    ``host_failed(message)``) and runs single backtests on it (``start_run``);
    ``finished`` carries an ``engine.execution.jobs.RunOutcome``."""

    host_started = Signal(float)
    host_failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._closing = threading.Event()

    def stop_waiting(self) -> None:
        """Stop waiting for the run host (the window closes; the host goes on starting),
        so the worker's thread can end; thread-safe."""
        self._closing.set()

    @Slot()
    def warm_up(self) -> None:
        """Start the run host, which loads (on the very first start, compiles) the kernels."""
        try:
            seconds = jobs.start("run", cancel=self._closing)
        except Cancelled:
            return
        except BacktestError as exc:
            self.host_failed.emit(f"the engine could not start: {exc}")
            return
        self.host_started.emit(seconds)

    @Slot(object, object)
    def start_run(self, config: BacktestConfig, store_path: Path | None) -> None:
        """Run ``config`` on the run host, saved to ``store_path``, to completion, failure or
        cancellation (in the worker thread)."""
        self.execute(lambda progress, cancel: jobs.run(config, store_path, progress, cancel))


class SweepWorker(EngineWorker):
    """Runs sweeps on the sweep host (``engine.execution.jobs.sweep``) from a QThread
    (``start_sweep``); signals and cancellation as ``EngineWorker``, ``finished``
    carries the SweepResult. ``warm_up`` starts the host and its worker pool."""

    @Slot()
    def warm_up(self) -> None:
        """Start the sweep host and its worker pool, so the first sweep pays no start-up
        (a failure here shows when a sweep is run)."""
        with contextlib.suppress(BacktestError):
            jobs.start("sweep")
            jobs.prestart_workers("sweep")

    @Slot(object, object, object)
    def start_sweep(self, config: BacktestConfig, grid: dict[str, list[float]],
                    cluster: str | None) -> None:
        """Run the sweep (on the Dask cluster at ``cluster``, if given) to completion,
        failure or cancellation (in the worker thread)."""
        self.execute(lambda progress, cancel: jobs.sweep(config, grid, progress, cancel,
                                                         cluster=cluster))

    @Slot(object, object, object)
    def start_walk_forward(self, config: BacktestConfig, grid: dict[str, list[float]],
                           plan: tuple[FoldSpec, str, Path | None, str | None]) -> None:
        """Run a walk-forward (``plan``: folds, metric, run store, Dask cluster or None)
        on the sweep host."""
        spec, metric, store, cluster = plan
        self.execute(lambda progress, cancel: jobs.walk_forward(
            config, grid, spec, metric, store, progress, cancel, cluster=cluster))
