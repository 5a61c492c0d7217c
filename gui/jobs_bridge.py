"""Short engine jobs (folder scans, drill-downs, stored runs) waited for on Qt's thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import BacktestError


class JobSignals(QObject):
    """Signals of a ``BackgroundJob``: ``finished(key, value)`` or ``failed(key,
    message)``; the key tells a stale job (a folder the user has left) from the current
    one."""

    finished = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, owner: QObject) -> None:
        super().__init__(owner)


class BackgroundJob(QRunnable):
    """Calls ``job()`` (an ``engine.execution.jobs`` function, which waits for a job host)
    on Qt's thread pool and reports its value or its one-line error with ``key``.

    The signals belong to ``owner``, so they outlive the runnable (deleted when ``run``
    returns) until their queued calls are delivered; ``start`` deletes them after that.
    """

    def __init__(self, key: object, job: Callable[[], object], what: str,
                 owner: QObject) -> None:
        super().__init__()
        self.key, self.job, self.what = key, job, what
        self.signals = JobSignals(owner)

    def start(self, done: Callable[[Any, Any], object],
              failed: Callable[[Any, str], object]) -> None:
        """Run on Qt's global thread pool; ``done(key, value)`` or ``failed(key, message)``
        is then called in the owner's thread."""
        signals = self.signals

        def finish(key: object, value: object) -> None:
            signals.deleteLater()
            done(key, value)

        def fail(key: object, message: str) -> None:
            signals.deleteLater()
            failed(key, message)

        signals.finished.connect(finish)
        signals.failed.connect(fail)
        QThreadPool.globalInstance().start(self)

    def run(self) -> None:
        """Run the job; emit ``finished`` with its value, or ``failed``."""
        try:
            value = self.job()
        except BacktestError as exc:
            self._emit("failed", str(exc))
            return
        except Exception as exc:  # shown in the error panel, never as a traceback dialog
            self._emit("failed", f"unexpected error while {self.what}: {exc!r}")
            return
        self._emit("finished", value)

    def _emit(self, signal: str, value: object) -> None:
        """Emit ``signal(key, value)``, unless the owner (a window closed while the job
        ran) and with it the signals were deleted meanwhile: nobody waits for the answer."""
        try:
            getattr(self.signals, signal).emit(self.key, value)
        except RuntimeError:  # "Signal source has been deleted"
            return
