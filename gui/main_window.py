"""The workbench main window: open a data folder and see what it holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.data import MarketData
from gui.data_loader import FolderLoad
from gui.frame_model import FrameModel


class MainWindow(QMainWindow):
    """Data folder picker, a summary of the universe, and a sortable per-stock table."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Backtest Workbench")
        self.settings = QSettings()
        self.data: MarketData | None = None
        self._pool = QThreadPool.globalInstance()
        self._build()
        self.resize(1100, 700)

    def _build(self) -> None:
        self.folder_edit = QLineEdit(readOnly=True, placeholderText="no data folder chosen")
        browse = QPushButton("Open data folder…")
        browse.clicked.connect(self.choose_folder)
        row = QHBoxLayout()
        row.addWidget(QLabel("Data folder:"))
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.summary = QLabel("Open a folder with one parquet or CSV file per stock.")
        self.summary.setWordWrap(True)
        self.messages = QPlainTextEdit(readOnly=True, placeholderText="warnings and errors")
        self.model = FrameModel()
        self.table = QTableView(sortingEnabled=True)
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(self.messages)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout()
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        action = QAction("Open data folder…", self, shortcut=QKeySequence.StandardKey.Open)
        action.triggered.connect(self.choose_folder)
        self.menuBar().addMenu("&File").addAction(action)
        self.statusBar().showMessage("Ready")

    def choose_folder(self) -> None:
        """Ask for a data folder (starting at the last one) and open it."""
        start = str(self.settings.value("data_folder", ""))
        folder = QFileDialog.getExistingDirectory(self, "Open data folder", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        """Load ``folder`` in the background; the window stays responsive meanwhile."""
        self.folder_edit.setText(str(folder))
        self.settings.setValue("data_folder", str(folder))
        self.statusBar().showMessage(f"Loading {folder} …")
        job = FolderLoad(folder)
        job.signals.finished.connect(self._loaded)
        job.signals.failed.connect(self._failed)
        self._pool.start(job)

    def _loaded(self, data: MarketData, table: pd.DataFrame) -> None:
        self.data = data
        self.model.set_frame(table)
        self.table.resizeColumnsToContents()
        dates = data.dates
        self.summary.setText(
            f"<b>{data.n_stocks}</b> stocks · {dates.size} trading days · "
            f"{dates[0]} .. {dates[-1]} · {len(data.excluded)} excluded · "
            f"fingerprint {data.fingerprint[:12]}")
        lines = list(data.warnings) + [f"excluded {r.code}: {r.reason}"
                                       for r in data.excluded.itertuples()]
        self.messages.setPlainText("\n".join(lines))
        source = "aligned cache" if data.from_cache else "files"
        self.statusBar().showMessage(
            f"Loaded {data.n_stocks} stocks from {source} in {data.timings['total'] * 1000:.0f} ms")

    def _failed(self, message: str) -> None:
        self.data = None
        self.model.set_frame(pd.DataFrame())
        self.summary.setText("<span style='color:#c0392b'>Could not load the folder.</span> "
                             "Choose another folder or fix the file named below.")
        self.messages.setPlainText(message)
        self.statusBar().showMessage("Load failed")
