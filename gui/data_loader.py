"""Loads a data folder off the GUI thread and reports back through Qt signals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal

from engine.data import coverage, load_market_data
from engine.errors import BacktestError


class LoadSignals(QObject):
    """Signals of a folder load: ``finished(folder, data, coverage)`` or
    ``failed(folder, message)``; the folder tells a stale load from the current one."""

    finished = Signal(object, object, object)
    failed = Signal(object, str)


class FolderLoad(QRunnable):
    """Loads every stock of a folder (validated, aligned, cached) on the thread pool.

    ``end`` and ``adjust`` should be the run's, so the aligned cache entry this load
    writes is the one the first run of all the folder's stocks reads.
    """

    def __init__(self, folder: Path, end: dt.date, adjust: str) -> None:
        super().__init__()
        self.folder, self.end, self.adjust = folder, end, adjust
        self.signals = LoadSignals()

    def run(self) -> None:
        """Load; emit ``finished`` with the MarketData and its coverage, or ``failed``."""
        try:
            data = load_market_data(self.folder, end=self.end, adjust=self.adjust,
                                    on_bad_stock="skip")
            table = coverage(data)
        except BacktestError as exc:
            self.signals.failed.emit(self.folder, str(exc))
            return
        except Exception as exc:  # shown in the error panel, never as a traceback dialog
            self.signals.failed.emit(self.folder,
                                     f"unexpected error while loading {self.folder}: {exc!r}")
            return
        self.signals.finished.emit(self.folder, data, table)
