"""A FrameTable whose metric columns read as the reports write them (12.34 %, 1.23, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from engine.report import METRICS, format_value
from gui.frame_model import FrameModel
from gui.table_view import FrameTable

Formatter = Callable[[Any], str]


def metric_formatter(kind: str) -> Formatter:
    """Display text of a metric value of ``kind`` (``engine.report``); NaN shows as "—"."""
    def text(value: Any) -> str:
        return format_value(None if pd.isna(value) else value, kind)
    return text


#: Every metric column formatted by its ``engine.report`` kind; sorting still uses values.
METRIC_FORMATS: dict[str, Formatter] = {key: metric_formatter(kind) for key, _, kind in METRICS}


class FormattedFrameModel(FrameModel):
    """A FrameModel with per-column display text; the values (and sorting) are unchanged."""

    def __init__(self, formats: Mapping[str, Formatter]) -> None:
        super().__init__()
        self.formats = dict(formats)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            frame = self.frame()
            formatter = self.formats.get(str(frame.columns[index.column()]))
            if formatter is not None:
                return formatter(frame.iat[index.row(), index.column()])
        return super().data(index, role)


class MetricTable(FrameTable):
    """Sortable table of a frame with metric columns (and any ``extra_formats``) shown
    as text the reports use; ``row_activated(dict)`` on double-click."""

    def __init__(self, extra_formats: Mapping[str, Formatter] | None = None,
                 filter_column: str | None = None) -> None:
        super().__init__(filter_column=filter_column)
        # FrameTable builds a plain FrameModel; swap in the formatting one before use.
        self.model = FormattedFrameModel({**METRIC_FORMATS, **(extra_formats or {})})
        self.view.setModel(self.model)
