"""Shared pyqtgraph setup: palette-aware colours, date axes and time conversion for plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

pg.setConfigOptions(antialias=True)

PORTFOLIO = "#1f77b4"
BENCHMARK = "#7f7f7f"
DRAWDOWN = "#d62728"
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#bcbd22", "#7f7f7f")


def epoch_seconds(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as POSIX seconds, the x unit of ``pg.DateAxisItem``."""
    return np.asarray(dates, dtype="datetime64[s]").astype(np.float64)


def style_plot(plot: pg.PlotItem) -> None:
    """Follow the application palette (light or dark) and show a light grid."""
    palette = QApplication.palette()
    text = palette.color(QPalette.ColorRole.WindowText)
    for name in ("left", "bottom", "right"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
    plot.showGrid(x=True, y=True, alpha=0.15)


def make_plot_widget() -> pg.GraphicsLayoutWidget:
    """A layout widget whose background is the palette's base colour."""
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground(QApplication.palette().color(QPalette.ColorRole.Base))
    return widget
