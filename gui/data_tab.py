"""The Data tab: the open data folder, scanned on the run host; what it holds and what in
it is unusable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.execution import jobs
from gui.config_panel import ConfigPanel
from gui.dialog_folders import DATA, remember_folder
from gui.error_panel import ErrorPanel
from gui.jobs_bridge import BackgroundJob
from gui.table_view import FrameTable


class DataTab(QWidget):
    """Scans a data folder (``open_folder``) in the background, with the run's end date,
    adjustment and layout from ``panel``; then lists the folder's stocks and dates in
    ``panel``, its coverage here (``info``, ``table``) and its unusable files in
    ``errors``. ``scan`` is the current folder's last scan (None after a failure).

    Signal: ``folder_scanned(folder)`` when a scan came back or failed, whether or not its
    folder is still the current one.
    """

    folder_scanned = Signal(object)

    def __init__(self, panel: ConfigPanel, errors: ErrorPanel) -> None:
        super().__init__()
        self.panel, self.errors = panel, errors
        self.scan: jobs.FolderScan | None = None
        self._folder: Path | None = None
        self.info = QLabel("no folder loaded", wordWrap=True)
        self.table = FrameTable()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.info)
        box.addWidget(self.table, 1)

    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` in the background and list its stocks in the panel."""
        remember_folder(DATA, folder)
        self._folder = folder
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
        self.table.set_data(scan.coverage)
        excluded = scan.excluded
        unusable = f", {len(excluded)} unusable (see Data tab)" if len(excluded) else ""
        self.panel.show_folder(list(scan.codes), f"{scan.title}: {len(scan.codes)} stocks, "
                               f"{scan.first_date} .. {scan.last_date}{unusable}",
                               scan.indices)
        self.info.setText("\n".join([
            f"{scan.folder} — layout: {scan.title} ({scan.layout}); {len(scan.codes)} stocks, "
            f"{scan.first_date} .. {scan.last_date}{unusable}",
            *(f"warning: {w}" for w in scan.warnings[:5])]))
        self.panel.set_coverage(dt.date.fromisoformat(scan.first_date),
                                dt.date.fromisoformat(scan.last_date))
        if len(excluded):
            self.errors.show_error(f"{len(excluded)} file(s) in the folder are unusable",
                                   "\n".join(excluded["reason"]))

    def _folder_not_loaded(self, folder: Path, message: str) -> None:
        try:
            self._folder_failed(folder, message)
        finally:
            self.folder_scanned.emit(folder)

    def _folder_failed(self, folder: Path, message: str) -> None:
        if folder != self._folder:
            return
        self.scan = None
        # A folder that is there but failed to load holds no usable stock: Run is off.
        self.panel.show_folder([], "could not read the folder", read=folder.is_dir())
        self.panel.set_coverage(None, None)
        self.info.setText(f"{folder}: could not read the folder")
        self.errors.show_error(message)
