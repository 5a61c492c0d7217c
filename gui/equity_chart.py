"""Equity of the portfolio against the benchmark, with a linked drawdown panel and crosshair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.results.formatting import format_value
from engine.util.words import index_title
from gui.plot_style import (
    BENCHMARK,
    DRAWDOWN,
    PORTFOLIO,
    DateAxis,
    legend_above,
    make_plot_widget,
    placeholder_stack,
    posix_seconds,
    style_plot,
)

EQUAL_WEIGHT = "equal-weight buy & hold"


class EquityChart(QWidget):
    """Shows a result's equity table (date, equity, benchmark, drawdown); computes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.canvas = make_plot_widget()
        self.equity_plot = self.canvas.addPlot(row=1, col=0,
                                               axisItems={"bottom": DateAxis()})
        self.drawdown_plot = self.canvas.addPlot(row=2, col=0,
                                                 axisItems={"bottom": DateAxis()})
        self.legend = legend_above(self.canvas, self.equity_plot, row=0)  # covers no curve
        self.canvas.ci.layout.setRowStretchFactor(1, 3)
        self.canvas.ci.layout.setRowStretchFactor(2, 1)
        self.drawdown_plot.setXLink(self.equity_plot)
        for plot in (self.equity_plot, self.drawdown_plot):
            style_plot(plot)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
        self.equity_plot.setLabel("left", "equity", units="¥")  # SI prefix: 1.2 M¥, not 1.2e+06
        self.drawdown_plot.setLabel("left", "drawdown", units="%")
        self.drawdown_plot.getAxis("left").enableAutoSIPrefix(False)
        self.portfolio = self.equity_plot.plot(pen=pg.mkPen(PORTFOLIO, width=1), name="portfolio")
        self.benchmark = self.equity_plot.plot(pen=pg.mkPen(BENCHMARK, width=1),
                                               name=EQUAL_WEIGHT)
        self.drawdown = self.drawdown_plot.plot(pen=pg.mkPen(DRAWDOWN), fillLevel=0,
                                                brush=pg.mkBrush(DRAWDOWN + "55"))
        self._cursor_lines = [pg.InfiniteLine(angle=90, movable=False,
                                              pen=pg.mkPen("#888", width=1)) for _ in range(2)]
        self.equity_plot.addItem(self._cursor_lines[0], ignoreBounds=True)
        self.drawdown_plot.addItem(self._cursor_lines[1], ignoreBounds=True)
        self.readout = QLabel(" ")
        self.placeholder, self._stack = placeholder_stack(
            self.canvas, "Run a backtest to see its equity curve and drawdown.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self.readout)
        self._frame = pd.DataFrame()
        self._x = np.empty(0)
        self._proxy = pg.SignalProxy(self.canvas.scene().sigMouseMoved, rateLimit=60,
                                     slot=self._moved)

    def set_data(self, equity: pd.DataFrame, benchmark: str | None = None) -> None:
        """Plot a result's ``equity`` table; ``benchmark`` names its index (None: the
        equal-weight buy and hold)."""
        label = (EQUAL_WEIGHT if benchmark is None
                 else f"benchmark: {index_title(Path(benchmark).name)}")
        self.legend.getLabel(self.benchmark).setText(label)
        self._frame = equity.reset_index(drop=True)
        self._x = posix_seconds(equity["date"])
        self.portfolio.setData(self._x, equity["equity"].to_numpy())
        self.benchmark.setData(self._x, equity["benchmark"].to_numpy())
        self.drawdown.setData(self._x, equity["drawdown"].to_numpy() * 100)
        self.equity_plot.enableAutoRange()
        self.drawdown_plot.enableAutoRange()
        self.readout.setText("move the mouse over the chart for values")
        self._stack.setCurrentWidget(self.canvas)

    def clear_data(self) -> None:
        """Empty the chart."""
        self._frame = pd.DataFrame()
        self._x = np.empty(0)
        for item in (self.portfolio, self.benchmark, self.drawdown):
            item.setData([], [])
        self.readout.setText(" ")
        self._stack.setCurrentWidget(self.placeholder)

    def point_count(self) -> int:
        """Number of days plotted."""
        return int(self._x.size)

    def _moved(self, event: tuple[QPointF]) -> None:
        if not self._x.size:
            return
        pos = event[0]
        for plot in (self.equity_plot, self.drawdown_plot):
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                break
        else:
            return
        i = int(np.clip(np.searchsorted(self._x, x), 0, self._x.size - 1))
        for line in self._cursor_lines:
            line.setPos(self._x[i])
        row = self._frame.iloc[i]
        self.readout.setText(
            f"{format_value(row['date'], 'date')}   equity {format_value(row['equity'], 'money')}"
            f"   benchmark {format_value(row['benchmark'], 'money')}"
            f"   drawdown {format_value(row['drawdown'], 'pct')}")
