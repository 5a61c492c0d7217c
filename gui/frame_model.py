"""A read-only, sortable Qt table model over a pandas DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from engine.report import MISSING

Index = QModelIndex | QPersistentModelIndex


def format_value(value: Any) -> str:
    """Display text of one cell: "—" for missing, dates as YYYY-MM-DD, floats to 4 digits."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return MISSING
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(pd.Timestamp(value).date())
    if isinstance(value, float | np.floating):
        number = float(value)
        return f"{number:,.4g}" if abs(number) < 1e4 else f"{number:,.0f}"
    return str(value)


class FrameModel(QAbstractTableModel):
    """Shows a DataFrame; sorting re-orders a copy, the frame itself is never changed."""

    def __init__(self, frame: pd.DataFrame | None = None) -> None:
        super().__init__()
        self._source = frame if frame is not None else pd.DataFrame()
        self._frame = self._source
        self._columns: list[np.ndarray] = []
        self._filter: tuple[str, str] | None = None
        self._sort: tuple[str, bool] | None = None
        self._refresh()

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Replace the data (the current filter and sort are applied to it)."""
        self._source = frame.reset_index(drop=True)
        self._refresh()

    def set_filter(self, column: str, text: str) -> None:
        """Show only rows whose ``column`` contains ``text`` (case-insensitive); "" = all."""
        self._filter = (column, text.strip()) if text.strip() else None
        self._refresh()

    def _refresh(self) -> None:
        self.beginResetModel()
        frame = self._source
        if self._filter is not None and self._filter[0] in frame.columns:
            column, text = self._filter
            mask = frame[column].astype(str).str.contains(text, case=False, regex=False)
            frame = frame[mask.to_numpy()]
        if self._sort is not None and self._sort[0] in frame.columns:
            frame = frame.sort_values(self._sort[0], ascending=self._sort[1], kind="stable",
                                      na_position="last")
        self._frame = frame.reset_index(drop=True)
        # Plain arrays per column: cell access must be cheap for views of 100k rows.
        self._columns = [self._frame[c].to_numpy() for c in self._frame.columns]
        self.endResetModel()

    def frame(self) -> pd.DataFrame:
        """The rows as currently shown (filtered and sorted as the view is)."""
        return self._frame

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._frame)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._frame.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._columns[index.column()][index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, int | float | np.number):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return str(self._frame.columns[section]).replace("_", " ")
        return str(section + 1)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self._source.empty:
            return
        self._sort = (self._source.columns[column], order == Qt.SortOrder.AscendingOrder)
        self._refresh()
