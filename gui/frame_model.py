"""A read-only, sortable Qt table model over a pandas DataFrame and its display text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from engine.results.formatting import (
    EXTRA_METRICS,
    METRICS,
    PackedText,
    TextColumn,
    format_frame,
)

Index = QModelIndex | QPersistentModelIndex
#: Display text of one value, for a column shown otherwise than by ``engine.results.formatting``.
Formatter = Callable[[Any], str]
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _is_number(column: pd.Series) -> bool:
    """Numbers are right-aligned (booleans are not numbers here)."""
    return is_numeric_dtype(column.dtype) and not is_bool_dtype(column.dtype)


#: Headers of the metric columns (a run list's, a sweep's): the metric's own label.
HEADERS = {key: label for key, label, _ in (*METRICS, *EXTRA_METRICS)}
#: Rows whose text sets a column's width (the view's own fit measured every row).
WIDTH_SAMPLE = 2000

def _text_column(text: TextColumn) -> TextColumn:
    """Packed text as it is (indexed per cell); anything else as an object array."""
    return text if isinstance(text, PackedText) else np.asarray(text, dtype=object)


class FrameModel(QAbstractTableModel):
    """Shows a DataFrame through precomputed display text
    (``engine.results.formatting.format_frame``);
    painting only indexes into it. Sorting and filtering choose the rows shown, in order,
    and text and values are both read through that choice: no value is formatted again,
    and the frame itself is never changed.

    ``formats`` maps column names to their own formatters (applied in ``set_frame``).
    """

    def __init__(self, frame: pd.DataFrame | None = None,
                 formats: Mapping[str, Formatter] | None = None) -> None:
        super().__init__()
        self.formats: dict[str, Formatter] = dict(formats or {})
        self._source = pd.DataFrame()
        self._source_text: list[TextColumn] = []
        self._rows = np.arange(0)  # positions in the source of the rows shown, in order
        self._frame: pd.DataFrame | None = None  # the rows shown, made when asked for
        self._right: list[bool] = []
        self._filter: tuple[str, str] | None = None
        self._sort: tuple[str, bool] | None = None
        self.set_frame(frame if frame is not None else pd.DataFrame())

    def set_frame(self, frame: pd.DataFrame, text: Sequence[TextColumn] | None = None) -> None:
        """Replace the data (the current filter and sort are applied to it).

        ``text`` is the display text of ``frame``, one array per column as
        ``engine.results.formatting.format_frame`` returns it (computed off the GUI thread); it is
        computed here when None. Columns in ``formats`` are formatted by those instead.
        """
        frame = frame.reset_index(drop=True)
        shown: list[TextColumn] = (
            [_text_column(t) for t in text] if text is not None else list(format_frame(frame)))
        if len(shown) != frame.shape[1] or any(len(t) != len(frame) for t in shown):
            raise ValueError(f"display text of {len(shown)} column(s) does not fit a frame "
                             f"of {frame.shape[1]} column(s) x {len(frame)} row(s)")
        for i, name in enumerate(frame.columns):
            formatter = self.formats.get(str(name))
            if formatter is not None:
                column = np.empty(len(frame), dtype=object)
                column[:] = [formatter(v) for v in frame.iloc[:, i].tolist()]
                shown[i] = column
        self._source, self._source_text = frame, shown
        self._right = [_is_number(frame.iloc[:, i]) for i in range(frame.shape[1])]
        self._refresh()

    def set_filter(self, column: str, text: str) -> None:
        """Show only rows whose ``column`` contains ``text`` (case-insensitive); "" = all."""
        self._filter = (column, text.strip()) if text.strip() else None
        self._refresh()

    def _refresh(self) -> None:
        self.beginResetModel()
        source = self._source
        rows = np.arange(len(source))
        if self._filter is not None and self._filter[0] in source.columns:
            column, text = self._filter
            mask = source[column].astype(str).str.contains(text, case=False, regex=False)
            rows = rows[mask.to_numpy(dtype=bool)]
        if self._sort is not None and self._sort[0] in source.columns:
            values = source[self._sort[0]].iloc[rows]
            ordered = values.sort_values(ascending=self._sort[1], kind="stable",
                                         na_position="last")
            rows = ordered.index.to_numpy()  # the source's RangeIndex: row positions
        self._rows, self._frame = rows, None
        self.endResetModel()

    def frame(self) -> pd.DataFrame:
        """The rows as currently shown (filtered and sorted as the view is)."""
        if self._frame is None:
            self._frame = self._source.iloc[self._rows].reset_index(drop=True)
        return self._frame

    def text(self) -> list[np.ndarray]:
        """The display text of the rows as currently shown, one array per column."""
        return [text[self._rows] for text in self._source_text]

    def widest_text(self, column: int, sample: int = WIDTH_SAMPLE) -> str:
        """The longest display text of ``column`` among its first ``sample`` rows (all the
        text a column width needs, found without asking the view to measure each cell)."""
        text = self._source_text[column]
        if not len(text):
            return ""
        lengths = (text.lengths()[:sample] if isinstance(text, PackedText)
                   else [len(t) for t in text[:sample]])
        return str(text[int(np.argmax(lengths))])

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._source.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._source_text[index.column()][self._rows[index.row()]]
        if role == Qt.ItemDataRole.TextAlignmentRole and self._right[index.column()]:
            return _RIGHT
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            name = str(self._source.columns[section])
            return HEADERS.get(name) or name.replace("_", " ")
        return str(section + 1)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self._source.columns):  # -1: no sort, the rows' own order
            self._sort = None
            self._refresh()
            return
        if self._source.empty:
            return
        self._sort = (self._source.columns[column], order == Qt.SortOrder.AscendingOrder)
        self._refresh()
