"""A read-only, sortable Qt table model over a pandas DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex


def format_value(value: Any) -> str:
    """Display text of one cell: "—" for missing, dates as YYYY-MM-DD, floats to 4 digits."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "—"
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(pd.Timestamp(value).date())
    if isinstance(value, float | np.floating):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


class FrameModel(QAbstractTableModel):
    """Shows a DataFrame; sorting re-orders a copy, the frame itself is never changed."""

    def __init__(self, frame: pd.DataFrame | None = None) -> None:
        super().__init__()
        self._frame = frame if frame is not None else pd.DataFrame()

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Replace the shown frame."""
        self.beginResetModel()
        self._frame = frame.reset_index(drop=True)
        self.endResetModel()

    def frame(self) -> pd.DataFrame:
        """The frame as currently shown (sorted as the view is)."""
        return self._frame

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._frame)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._frame.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._frame.iat[index.row(), index.column()]
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
        if self._frame.empty:
            return
        self.layoutAboutToBeChanged.emit()
        name = self._frame.columns[column]
        ascending = order == Qt.SortOrder.AscendingOrder
        self._frame = self._frame.sort_values(name, ascending=ascending, kind="stable",
                                              na_position="last").reset_index(drop=True)
        self.layoutChanged.emit()
