"""A table of a result frame with a code filter; double-click reports the row."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.results.export import write_csv
from engine.results.formatting import TextColumn
from gui.dialog_folders import EXPORT, ask_save_file, file_name
from gui.file_writes import error_panel_of, write_file
from gui.frame_model import FrameModel

#: Pixels around a cell's text, for the header's sort arrow, and the widest column.
CELL_PADDING, SORT_ARROW, MAX_COLUMN_WIDTH = 16, 14, 480

class FrameTable(QWidget):
    """Sortable, filterable view of a DataFrame; ``row_activated(dict)`` on double-click.
    ``export_name`` says what it holds in the file name its CSV export proposes ("trades
    RSI 14 30-70 2024-01-02..2024-12-31")."""

    row_activated = Signal(dict)

    def __init__(self, filter_column: str | None = "code") -> None:
        super().__init__()
        self.filter_column = filter_column
        self.export_name = "table"
        self.model = FrameModel()
        self.view = QTableView(sortingEnabled=True)
        self.view.setModel(self.model)
        # No arrow until the user sorts: the rows start in the table's own order.
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.filter = QLineEdit(placeholderText=f"Filter by {filter_column}…",
                                clearButtonEnabled=True)
        self.filter.setVisible(filter_column is not None)
        self.filter.textChanged.connect(self._filter_changed)
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)

    def set_data(self, frame: pd.DataFrame, text: Sequence[TextColumn] | None = None) -> None:
        """Show ``frame``; ``text`` is its display text (``engine.results.formatting.format_frame``,
        computed off the GUI thread), formatted here when None."""
        self.model.set_frame(frame, text)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Size each column to its header and widest text, measured once per column."""
        cells = self.view.fontMetrics()
        header = self.view.horizontalHeader()
        heads = header.fontMetrics()
        for column in range(self.model.columnCount()):
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            width = max(cells.horizontalAdvance(self.model.widest_text(column)),
                        heads.horizontalAdvance(title) + SORT_ARROW) + CELL_PADDING
            self.view.setColumnWidth(column, min(width, MAX_COLUMN_WIDTH))

    def clear_data(self) -> None:
        """Show nothing."""
        self.model.set_frame(pd.DataFrame())

    def _filter_changed(self, text: str) -> None:
        if self.filter_column is not None:
            self.model.set_filter(self.filter_column, text)

    def _double_clicked(self, index: QModelIndex) -> None:
        self.row_activated.emit(self.model.frame().iloc[index.row()].to_dict())

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Export table as CSV…", self.export_csv)
        menu.addAction("Copy selected rows", self.copy_rows)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def export_csv(self, path: Path | None = None) -> Path | None:
        """Write the rows as shown (filtered and sorted) to a CSV file (asks where when
        ``path`` is None). Returns the path, None if nothing was written; a failure shows
        in the error panel of the nearest enclosing widget that has one."""
        if path is None:
            path = ask_save_file(self, EXPORT, "Export table",
                                 file_name(self.export_name, suffix=".csv"), "CSV (*.csv)")
            if path is None:
                return None
        frame = self.model.frame()
        if not write_file(error_panel_of(self), path, lambda tmp: write_csv(frame, tmp),
                          "the table"):
            return None
        return path

    def copy_rows(self) -> None:
        """Copy the selected rows (all shown rows when none) as tab-separated text."""
        frame = self.model.frame()
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        chosen = frame.iloc[rows] if rows else frame
        QApplication.clipboard().setText(chosen.to_csv(sep="\t", index=False))
