"""A FrameTable of metric rows (runs, sweep combinations) with extra per-column formats."""

from __future__ import annotations

from collections.abc import Mapping

from gui.frame_model import Formatter
from gui.table_view import FrameTable


class MetricTable(FrameTable):
    """Sortable table of a frame with metric columns, shown as the reports write them
    (``engine.results.formatting``, as every FrameTable is); ``extra_formats`` show other columns
    their own way (applied once per ``set_data``, not per paint). ``row_activated(dict)``
    on double-click."""

    def __init__(self, extra_formats: Mapping[str, Formatter] | None = None,
                 filter_column: str | None = None) -> None:
        super().__init__(filter_column=filter_column)
        self.model.formats.update(extra_formats or {})
