"""The Data tab: the open data folder, scanned on the run host; what it holds and what in
it is unusable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.execution import jobs
from engine.util.words import counted
from gui.config_panel import ConfigPanel
from gui.dialog_folders import DATA, remember_folder
from gui.error_panel import ErrorPanel
from gui.jobs_bridge import BackgroundJob
from gui.table_view import FrameTable

if TYPE_CHECKING:
    import pandas as pd


class DataTab(QWidget):
    """Scans a data folder (``open_folder``) in the background, with the run's end date,
    adjustment and layout from ``panel``; then lists the folder's stocks and dates in
    ``panel``, its coverage here (``info``, ``table``) and its unusable files in
    ``errors``. ``scan`` is the current folder's last scan (None after a failure).

    The table's bars in window and warm-up bars are counted on the run host for the
    panel's run window, and counted again (``COUNT_DELAY_MS`` after the last edit) when its
    start or end date changes; the info line says which window they are for.

    Signal: ``folder_scanned(folder)`` when a scan came back or failed, whether or not its
    folder is still the current one.
    """

    folder_scanned = Signal(object)
    #: Milliseconds a changed start or end date waits before the bars are counted again.
    COUNT_DELAY_MS = 300

    def __init__(self, panel: ConfigPanel, errors: ErrorPanel) -> None:
        super().__init__()
        self.panel, self.errors = panel, errors
        self.scan: jobs.FolderScan | None = None
        self._folder: Path | None = None
        #: (folder, start, end) of the last bar count asked for; its answer is shown.
        self._counting: tuple[Path, dt.date, dt.date] | None = None
        self._scan_text = ""
        self._timer = QTimer(self, singleShot=True, interval=self.COUNT_DELAY_MS)
        self._timer.timeout.connect(self._count)
        panel.changed.connect(self._panel_edited)
        self.info = QLabel("no folder loaded", wordWrap=True)
        self.table = FrameTable()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.info)
        box.addWidget(self.table, 1)

    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` in the background and list its stocks in the panel."""
        remember_folder(DATA, folder)
        self._folder, self._counting = folder, None
        self._timer.stop()
        # The run's end date and adjustment: the aligned cache entry the scan writes is
        # the one the first run of all the folder's stocks reads.
        end, adjust = self.panel.as_date("end"), self.panel.fields["adjust"].get()
        layout = self.panel.fields["layout"].get()
        self.info.setText(f"loading {folder}…")
        job = BackgroundJob(folder, lambda: jobs.scan_folder(folder, end, adjust, layout),
                            f"loading {folder}", self)
        job.start(self._folder_loaded, self._folder_not_loaded)

    def _folder_loaded(self, folder: Path, scan: jobs.FolderScan) -> None:
        try:
            self._show_scan(folder, scan)
        finally:
            self.folder_scanned.emit(folder)

    def _show_scan(self, folder: Path, scan: jobs.FolderScan) -> None:
        if folder != self._folder:
            return  # a slower load of a folder the user has since left
        self.scan = scan
        self.table.export_name = f"stocks of {folder.name}"
        # Until the run window's bars are counted, the table shows no counts.
        self.table.set_data(scan.coverage.drop(columns=["bars_in_window", "warmup_bars"]))
        excluded = scan.excluded
        unusable = f", {len(excluded):,} unusable (see Data tab)" if len(excluded) else ""
        stocks = counted(len(scan.codes), "stock")
        self.panel.show_folder(list(scan.codes), f"{scan.title}: {stocks}, "
                               f"{scan.first_date} .. {scan.last_date}{unusable}",
                               scan.indices)
        self._scan_text = "\n".join([
            f"{scan.folder} — layout: {scan.title} ({scan.layout}); {stocks}, "
            f"{scan.first_date} .. {scan.last_date}{unusable}",
            *(f"warning: {w}" for w in scan.warnings[:5])])
        self.info.setText(self._scan_text)
        self.panel.set_coverage(dt.date.fromisoformat(scan.first_date),
                                dt.date.fromisoformat(scan.last_date))
        self._count()  # the window as set_coverage left it
        if len(excluded):
            self.errors.show_error(f"{counted(len(excluded), 'file')} in the folder "
                                   f"{'is' if len(excluded) == 1 else 'are'} unusable",
                                   "\n".join(excluded["reason"]))

    def _window(self) -> tuple[dt.date, dt.date] | None:
        start, end = self.panel.as_date("start"), self.panel.as_date("end")
        if start is None or end is None or start > end:
            return None
        return start, end

    def _panel_edited(self) -> None:
        window = self._window()
        if self.scan is None or self._folder is None or window is None:
            return
        if self._counting is None or self._counting != (self._folder, *window):
            self._timer.start()  # restarted by each edit: one count after the last

    def _count(self) -> None:
        """Count the bars of the panel's run window on the run host."""
        self._timer.stop()
        window, folder = self._window(), self._folder
        if self.scan is None or folder is None or window is None:
            return
        key = (folder, *window)
        if key == self._counting:
            return
        self._counting = key
        start, end = window
        adjust, layout = self.panel.fields["adjust"].get(), self.panel.fields["layout"].get()
        self._show_info(f"counting bars for the run window {start} .. {end}…")
        job = BackgroundJob(key, lambda: jobs.coverage(folder, start, end, adjust, layout),
                            f"counting the bars of {folder}", self)
        job.start(self._counted, self._not_counted)

    def _show_info(self, line: str) -> None:
        self.info.setText(f"{self._scan_text}\n{line}" if self._scan_text else line)

    def _counted(self, key: tuple[Path, dt.date, dt.date], table: pd.DataFrame) -> None:
        if key != self._counting:
            return  # a count of a window or folder the user has since left
        self.table.set_data(table)
        _, start, end = key
        self._show_info(f"bars in window and warm-up bars: for the run window {start} .. "
                        f"{end}")

    def _not_counted(self, key: tuple[Path, dt.date, dt.date], message: str) -> None:
        if key != self._counting:
            return
        _, start, end = key
        self._show_info(f"could not count the bars of the run window {start} .. {end}: "
                        f"{message}")

    def _folder_not_loaded(self, folder: Path, message: str) -> None:
        try:
            self._folder_failed(folder, message)
        finally:
            self.folder_scanned.emit(folder)

    def _folder_failed(self, folder: Path, message: str) -> None:
        if folder != self._folder:
            return
        self.scan, self._scan_text = None, ""
        # A folder that is there but failed to load holds no usable stock: Run is off.
        self.panel.show_folder([], "could not read the folder", read=folder.is_dir())
        self.panel.set_coverage(None, None)
        self.info.setText(f"{folder}: could not read the folder")
        self.errors.show_error(message)
