"""Shared look of the charts: colours, axes, dates as plot x values, empty-state placeholder."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd
import pyqtgraph as pg
from pyqtgraph.graphicsItems.DateAxisItem import ZoomLevel
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget

# Antialiasing and alpha-blended grid lines made one paint of the equity chart take
# 60-80 ms (benchmarks/bench_responsive.py); without them it takes a few ms.
pg.setConfigOptions(antialias=False, background="w", foreground="k")

PORTFOLIO = "#1f77b4"
BENCHMARK = "#7f7f7f"
DRAWDOWN = "#d62728"
AXIS_COLOR = "#8a9099"
TEXT_COLOR = "#343a40"
GUIDE_COLOR = "#868e96"
AXIS_WIDTH = 68  # fixed left-axis width so stacked panels line up


class _UtcZoomLevel(ZoomLevel):
    """A zoom level of a UTC axis: ticks are already where they belong. (pyqtgraph works
    out each tick's local-time offset through QDateTime and then, the offset being
    given as 0, throws it away: a third of a chart's first paint.)"""

    def moveTicksToLocalTimeCoords(self, ticks: np.ndarray, spacing: int,
                                   skipFactor: int) -> np.ndarray:  # noqa: N803
        return ticks


class DateAxis(pg.DateAxisItem):
    """pyqtgraph's date axis in UTC (the charts' x values are dates at UTC midnight, so
    a local-time axis would label them a day early west of Greenwich), minus finer labels
    that would touch a coarser one."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom", utcOffset=0)
        levels: OrderedDict = self.zoomLevels  # type: ignore[has-type]
        self.zoomLevels = OrderedDict(
            (spacing, _UtcZoomLevel(level.tickSpecs, level.exampleText))
            for spacing, level in levels.items())

    def generateDrawSpecs(self, p: QPainter) -> tuple | None:
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis, ticks, texts = specs
        kept: list = []  # coarsest level first, so a month label wins over a day label
        for rect, flags, text in texts:
            if not any(rect.adjusted(-12, 0, 12, 0).intersects(r) for r, _, _ in kept):
                kept.append((rect, flags, text))
        return axis, ticks, kept


def style_plot(plot: pg.PlotItem) -> None:
    """Light-palette axes (no grid: it is the slowest part of a paint), no pyqtgraph context
    menu or auto-range button."""
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(AXIS_COLOR))
        axis.setTextPen(pg.mkPen(TEXT_COLOR))
    plot.setMenuEnabled(False)
    plot.hideButtons()


class LegendRow(pg.GraphicsWidget):
    """A row of a plot layout, above ``plot``, that holds the plot's legend: a legend inside
    the plot's view box covers its curves and bars wherever the data happen to run.

    ``legend`` becomes the plot's legend, so items plotted with a ``name`` are listed in it,
    up to ``columns`` entries to a line (fewer when they would not fit the row's width);
    the row is as tall as the legend's lines."""

    def __init__(self, plot: pg.PlotItem, columns: int) -> None:
        super().__init__()
        self.columns = columns
        self._fitting = False
        self.legend = pg.LegendItem(colCount=columns, labelTextColor=TEXT_COLOR)
        self.legend.setParentItem(self)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-10, 0))
        plot.legend = self.legend
        self.legend.geometryChanged.connect(self._fit)
        self.geometryChanged.connect(self._fit)
        self._fit()

    def _fit(self) -> None:
        if self._fitting:  # a column count change resizes the legend
            return
        self._fitting = True
        try:
            room = self.width() - 20
            if room > 0:
                for count in range(self.columns, 0, -1):
                    self.legend.setColumnCount(count)
                    if self.legend.width() <= room:
                        break
            height = float(self.legend.height())
            if height != self.minimumHeight() or height != self.maximumHeight():
                self.setMinimumHeight(height)
                self.setMaximumHeight(height)
        finally:
            self._fitting = False


def legend_above(canvas: pg.GraphicsLayoutWidget, plot: pg.PlotItem, row: int,
                 columns: int = 4) -> pg.LegendItem:
    """Put ``plot``'s legend in row ``row`` of ``canvas`` (the row above the plot's own),
    outside the data, and return it."""
    holder = LegendRow(plot, columns)
    canvas.addItem(holder, row=row, col=0)
    canvas.ci.layout.setRowStretchFactor(row, 0)
    return holder.legend


def posix_seconds(dates: object) -> np.ndarray:
    """Dates (datetime64 of any unit, Timestamps or ISO strings) as float POSIX seconds."""
    values = np.asarray(pd.to_datetime(pd.Series(dates)), dtype="datetime64[s]")
    return values.astype(np.int64).astype(np.float64)


def make_plot_widget() -> pg.GraphicsLayoutWidget:
    """A white layout widget for stacked plots."""
    return pg.GraphicsLayoutWidget()


def placeholder_stack(plots: QWidget, text: str) -> tuple[QLabel, QStackedWidget]:
    """A stack that shows ``text`` until data arrives, then ``plots`` (index 1)."""
    placeholder = QLabel(text, wordWrap=True)  # wraps in a narrow pane, never cut off
    placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
    placeholder.setContentsMargins(12, 0, 12, 0)
    placeholder.setStyleSheet(f"color: {GUIDE_COLOR}; font-size: 11pt;")
    stack = QStackedWidget()
    stack.addWidget(placeholder)
    stack.addWidget(plots)
    return placeholder, stack


#: Distinct colours for overlaid series (Tableau 10), used in order.
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
#: Table cell backgrounds: the best value of a row; a field that differs between runs.
BEST_BACKGROUND = "#d3f9d8"
DIFFERENCE_BACKGROUND = "#fff3bf"
ERROR_COLOR = "#c0392b"
HEATMAP_COLORMAP = "viridis"


def series_color(index: int) -> str:
    """The ``index``-th series colour (the palette repeats after ten)."""
    return SERIES[index % len(SERIES)]


def error_label() -> QLabel:
    """A word-wrapped red label for inline error text."""
    label = QLabel(wordWrap=True)
    label.setStyleSheet(f"color: {ERROR_COLOR};")
    return label
