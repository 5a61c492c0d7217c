"""Drill-down chart of one stock: candlesticks, volume and RSI, x-linked, with fill markers.

Colours follow the A-share convention that users of Chinese trading software expect:
**red = up** (close >= open), **green = down**. Buys are blue up-triangles pointing at the
fill price from below, sells are amber down-triangles pointing at it from above, so they
never read as candles.

The widget only shows what it is given (``engine.run.drill_down.stock_detail`` and the run's
fills). Everything it derives is presentation: which bars are in view, and the per-pixel
peak binning that keeps 10^5+ bars smooth when zoomed out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPicture
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.plot_style import (
    AXIS_WIDTH,
    GUIDE_COLOR,
    TEXT_COLOR,
    DateAxis,
    placeholder_stack,
    posix_seconds,
    style_plot,
)

UP_COLOR = "#d6336c"
DOWN_COLOR = "#2b8a3e"
BUY_COLOR = "#1c7ed6"
SELL_COLOR = "#f59f00"
RSI_COLOR = "#5f3dc4"
DAY = 86_400.0  # seconds
MIN_X_RANGE = 10 * DAY  # the closest zoom: about a trading week
BODY_MIN_PX = 3.0  # narrower bars are drawn as high-low lines, binned to one per pixel


def compact_number(value: float) -> str:
    """``1234567`` -> ``1.23M``: short volume labels for axes and the hover readout."""
    if not math.isfinite(value):
        return "–"
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.4g}"


EMPTY_TEXT = "Select a stock to see its bars, RSI and fills."

class _CompactAxis(pg.AxisItem):
    """A y axis labelled 1.2M / 350K instead of 1.2e+06."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [compact_number(v * scale) for v in values]


class _BarSeriesItem(pg.GraphicsObject):
    """One mark per bar, redrawn into a QPicture for only the bars in view.

    Bars are stored relative to the first bar's x (the item sits at that x), which keeps
    the recorded picture's coordinates small. When bars are narrower than
    ``BODY_MIN_PX`` pixels they are drawn as lines, and when more than one bar falls in a
    pixel, consecutive bars are merged into bins aligned on absolute bar numbers (so
    panning does not make the picture shimmer). The picture is rebuilt only when the
    visible slice or the bin size changes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._x = np.empty(0)
        self._open = self._close = np.empty(0)
        self._half = 0.0  # half a body's width, in seconds
        self._pitch = 1.0  # mean seconds per bar: decides how many bars share a pixel
        self._bounds = QRectF()
        self._picture = QPicture()
        self._key: tuple[int, int, int, bool] | None = None
        #: number of marks in the current picture (bars or bins); <= visible pixels
        self.drawn_count = 0

    @property
    def bar_count(self) -> int:
        """Number of bars held (not the number drawn)."""
        return int(self._x.size)

    def _set_bars(self, x: np.ndarray, open_: np.ndarray, close: np.ndarray,
                  y_low: float, y_high: float) -> None:
        self.prepareGeometryChange()
        origin = float(x[0]) if x.size else 0.0
        self.setPos(origin, 0.0)
        self._x = np.asarray(x, dtype=np.float64) - origin
        self._open, self._close = np.asarray(open_, float), np.asarray(close, float)
        gaps = np.diff(self._x)
        gap = float(gaps[gaps > 0].min()) if (gaps > 0).any() else DAY
        self._half = 0.35 * gap
        self._pitch = float(self._x[-1] / (self._x.size - 1)) if self._x.size > 1 else gap
        self._bounds = QRectF()
        if self._x.size:
            self._bounds = QRectF(-self._half, y_low, self._x[-1] + 2 * self._half,
                                  y_high - y_low)
        self._key = None
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def dataBounds(self, ax: int, frac: float = 1.0,
                   orthoRange: tuple[float, float] | None = None,  # noqa: N803 (pyqtgraph's)
                   ) -> tuple[float, float] | None:
        if not self._x.size:
            return None
        if ax == 0:
            return (-self._half, float(self._x[-1]) + self._half)
        i0, i1 = 0, self._x.size
        if orthoRange is not None:
            origin = self.pos().x()
            i0 = int(np.searchsorted(self._x, orthoRange[0] - origin - self._half, "left"))
            i1 = int(np.searchsorted(self._x, orthoRange[1] - origin + self._half, "right"))
        return self._y_range(i0, i1) if i1 > i0 else None

    def _y_range(self, i0: int, i1: int) -> tuple[float, float] | None:
        raise NotImplementedError

    def _draw(self, painter: QPainter, starts: np.ndarray, ends: np.ndarray,
              bodies: bool) -> None:
        raise NotImplementedError

    def _view_key(self) -> tuple[int, int, int, bool]:
        """(first bar, end bar, bars per bin, draw bodies) for the current view."""
        n = self._x.size
        rect, view = self.viewRect(), self.getViewBox()
        if rect is None or view is None or view.width() <= 0:
            return 0, n, 1, True
        seconds_per_px = rect.width() / view.width()
        step = max(1, math.ceil(seconds_per_px / self._pitch))
        i0 = int(np.searchsorted(self._x, rect.left() - self._half, "left"))
        i1 = int(np.searchsorted(self._x, rect.right() + self._half, "right"))
        i0 = (max(i0 - 1, 0) // step) * step
        i1 = min(n, i1 + 1)
        return i0, i1, step, self._pitch / seconds_per_px >= BODY_MIN_PX

    def paint(self, painter: QPainter, *args: object) -> None:
        if not self._x.size:
            return
        key = self._view_key()
        if key != self._key:
            self._key = key
            i0, i1, step, bodies = key
            starts = np.arange(i0, i1, step)
            ends = np.minimum(starts + step, i1) - 1
            self._picture = QPicture()
            recorder = QPainter(self._picture)
            if starts.size:  # the view may show only the margin beside the bars
                self._draw(recorder, starts, ends, bodies and step == 1)
            recorder.end()
            self.drawn_count = int(starts.size)
        painter.drawPicture(0, 0, self._picture)

    def _mid(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return (self._x[starts] + self._x[ends]) / 2

    def _up(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """A bin rises when its last close is at or above its first open."""
        return self._close[ends] >= self._open[starts]

    @staticmethod
    def _peak(values: np.ndarray, starts: np.ndarray, ends: np.ndarray,
              ufunc: np.ufunc) -> np.ndarray:
        """``ufunc`` (fmax/fmin) over each bin: peak downsampling, NaN-tolerant."""
        first = int(starts[0])
        return ufunc.reduceat(values[first:int(ends[-1]) + 1], starts - first)

    @staticmethod
    def _groups(up: np.ndarray, alpha: int = 255) -> list[tuple[np.ndarray, QColor]]:
        """(mask, colour) of the rising and the falling marks."""
        out = []
        for mask, name in ((up, UP_COLOR), (~up, DOWN_COLOR)):
            colour = QColor(name)
            colour.setAlpha(alpha)
            out.append((mask, colour))
        return out


class CandleItem(_BarSeriesItem):
    """Candlesticks from open/high/low/close arrays at x (POSIX seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self._high = self._low = np.empty(0)

    def set_data(self, x: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                 close: np.ndarray) -> None:
        """Show these bars (empty arrays clear the item)."""
        self._high, self._low = np.asarray(high, float), np.asarray(low, float)
        finite = self._low[np.isfinite(self._low)]
        y_low = float(finite.min()) if finite.size else 0.0
        y_high = float(np.nanmax(self._high)) if finite.size else 1.0
        self._set_bars(x, open_, close, y_low, y_high)

    def _y_range(self, i0: int, i1: int) -> tuple[float, float] | None:
        low, high = self._low[i0:i1], self._high[i0:i1]
        if not np.isfinite(low).any():
            return None
        return float(np.nanmin(low)), float(np.nanmax(high))

    def _draw(self, painter: QPainter, starts: np.ndarray, ends: np.ndarray,
              bodies: bool) -> None:
        x = self._mid(starts, ends)
        high = self._peak(self._high, starts, ends, np.fmax)
        low = self._peak(self._low, starts, ends, np.fmin)
        open_, close = self._open[starts], self._close[ends]
        w = 2 * self._half
        for mask, colour in self._groups(self._up(starts, ends)):
            painter.setPen(pg.mkPen(colour, width=1))
            painter.setBrush(pg.mkBrush(colour))
            xs, hs, ls = x[mask].tolist(), high[mask].tolist(), low[mask].tolist()
            painter.drawLines([QLineF(a, lo, a, hi) for a, lo, hi in zip(xs, ls, hs, strict=True)])
            if bodies:
                tops = np.minimum(open_[mask], close[mask]).tolist()
                heights = np.abs(close[mask] - open_[mask]).tolist()
                painter.drawRects([QRectF(a - self._half, t, w, h)
                                   for a, t, h in zip(xs, tops, heights, strict=True)])


class VolumeItem(_BarSeriesItem):
    """Volume bars coloured like their candle; zoomed out, each pixel shows its peak."""

    def __init__(self) -> None:
        super().__init__()
        self._volume = np.empty(0)

    def set_data(self, x: np.ndarray, volume: np.ndarray, open_: np.ndarray,
                 close: np.ndarray) -> None:
        """Show these volumes; ``open_`` and ``close`` only choose each bar's colour."""
        self._volume = np.asarray(volume, float)
        top = float(np.nanmax(self._volume)) if np.isfinite(self._volume).any() else 1.0
        self._set_bars(x, open_, close, 0.0, top)

    def _y_range(self, i0: int, i1: int) -> tuple[float, float] | None:
        part = self._volume[i0:i1]
        return (0.0, float(np.nanmax(part))) if np.isfinite(part).any() else None

    def _draw(self, painter: QPainter, starts: np.ndarray, ends: np.ndarray,
              bodies: bool) -> None:
        x = self._mid(starts, ends)
        volume = np.nan_to_num(self._peak(self._volume, starts, ends, np.fmax))
        w = 2 * self._half
        for mask, colour in self._groups(self._up(starts, ends), alpha=170):
            xs, vs = x[mask].tolist(), volume[mask].tolist()
            if bodies:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(pg.mkBrush(colour))
                painter.drawRects([QRectF(a - self._half, 0.0, w, v)
                                   for a, v in zip(xs, vs, strict=True)])
            else:
                painter.setPen(pg.mkPen(colour, width=1))
                painter.drawLines([QLineF(a, 0.0, a, v) for a, v in zip(xs, vs, strict=True)])


def _marker_symbol(up: bool) -> QPainterPath:
    """A triangle whose tip is the symbol's origin, so it points exactly at the price."""
    sign = 1.0 if up else -1.0
    path = QPainterPath(QPointF(0.0, 0.0))
    path.lineTo(-0.32, 0.5 * sign)
    path.lineTo(0.32, 0.5 * sign)
    path.closeSubpath()
    return path


BUY_SYMBOL, SELL_SYMBOL = _marker_symbol(True), _marker_symbol(False)


class StockChart(QWidget):
    """Candles, volume and RSI of one stock, x-linked on a date axis, with fill markers.

    Wheel zooms the dates (prices and volume rescale to what is in view), drag pans,
    double-click shows everything again. A crosshair snaps to the bar under the mouse
    and the header reads out its date, OHLC, volume and RSI; hovering a marker shows
    the fill. ``fill_clicked(row)`` gives the position of a clicked fill in the
    ``fills`` frame passed to ``set_data``.
    """

    fill_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._x = np.empty(0)
        self._bars: dict[str, np.ndarray] = {}
        self._tips: list[str] = []
        self._build()
        self.clear_data()

    def _build(self) -> None:
        self.title = QLabel()
        self.title.setStyleSheet(f"font-weight: 600; font-size: 13pt; color: {TEXT_COLOR};")
        self.readout = QLabel()
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        header.addWidget(self.title)
        header.addWidget(self.readout, 1)  # takes the rest, so its text never waits on layout
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.plots.ci.setSpacing(2)
        self.price_plot = self._add_plot(0, "Price")
        self.volume_plot = self._add_plot(1, "Volume", _CompactAxis("left"))
        self.rsi_plot = self._add_plot(2, "RSI")
        for row, stretch in enumerate((5, 2, 2)):
            self.plots.ci.layout.setRowStretchFactor(row, stretch)
        for plot in (self.price_plot, self.volume_plot):
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.setAutoVisible(y=True)
        self.volume_plot.setXLink(self.price_plot)
        self.rsi_plot.setXLink(self.price_plot)
        self.rsi_plot.disableAutoRange(axis="y")
        self.rsi_plot.setYRange(-9, 109, padding=0)  # room for the 0 and 100 tick labels

        self.candles = CandleItem()
        self.price_plot.addItem(self.candles)
        self.markers = pg.ScatterPlotItem(size=22, hoverable=True, tip=self._tip,
                                          hoverSize=26)
        self.markers.sigClicked.connect(self._marker_clicked)
        self.price_plot.addItem(self.markers)
        self.volume = VolumeItem()
        self.volume_plot.addItem(self.volume)
        self.rsi_band = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                            brush=pg.mkBrush(95, 61, 196, 14),
                                            pen=pg.mkPen(None))
        self.rsi_plot.addItem(self.rsi_band, ignoreBounds=True)
        self.overbought_line = self._threshold_line(above=True)
        self.oversold_line = self._threshold_line(above=False)
        for line in (self.overbought_line, self.oversold_line):
            line.setZValue(20)  # the labels stay readable above the curve
            self.rsi_plot.addItem(line, ignoreBounds=True)
        self.rsi_curve = pg.PlotDataItem(pen=pg.mkPen(RSI_COLOR, width=1), connect="finite")
        self.rsi_plot.addItem(self.rsi_curve)

        cross = pg.mkPen("#adb5bd", width=1, style=Qt.PenStyle.DashLine)
        self._crosshair: list[tuple[pg.PlotItem, pg.InfiniteLine, pg.InfiniteLine]] = []
        for plot in (self.price_plot, self.volume_plot, self.rsi_plot):
            v_line = pg.InfiniteLine(angle=90, movable=False, pen=cross)
            h_line = pg.InfiniteLine(angle=0, movable=False, pen=cross)
            for line in (v_line, h_line):
                line.setZValue(50)
                plot.addItem(line, ignoreBounds=True)
            self._crosshair.append((plot, v_line, h_line))
        scene = self.plots.scene()
        self._mouse_proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=60,
                                           slot=self._mouse_moved)
        scene.sigMouseClicked.connect(self._mouse_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        self.placeholder, self._stack = placeholder_stack(self.plots, EMPTY_TEXT)
        layout.addWidget(self._stack, 1)
        self.setMinimumSize(420, 320)

    @staticmethod
    def _threshold_line(above: bool) -> pg.InfiniteLine:
        """A dashed RSI threshold with its name at the right end, above or below the line."""
        anchor = (1, 1) if above else (1, 0)
        return pg.InfiniteLine(
            angle=0, movable=False, label=" ",
            pen=pg.mkPen(GUIDE_COLOR, width=1, style=Qt.PenStyle.DashLine),
            labelOpts={"position": 0.995, "color": GUIDE_COLOR, "anchors": [anchor, anchor],
                       "fill": pg.mkBrush(255, 255, 255, 210)})

    def _add_plot(self, row: int, label: str, left: pg.AxisItem | None = None) -> pg.PlotItem:
        axes: dict[str, pg.AxisItem] = {"bottom": DateAxis()}
        if left is not None:
            axes["left"] = left
        plot = self.plots.addPlot(row=row, col=0, axisItems=axes)
        style_plot(plot)
        plot.setLabel("left", label, color=TEXT_COLOR)
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.setMouseEnabled(x=True, y=False)
        # PlotItem.addItem imposes these on line items: only the visible part, peak-binned.
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        return plot

    def sizeHint(self) -> QSize:
        return QSize(960, 640)

    def set_data(self, detail: pd.DataFrame, fills: pd.DataFrame, oversold: float,
                 overbought: float, title: str) -> None:
        """Show one stock.

        ``detail``: ``engine.run.drill_down.stock_detail`` (date, open, high, low, close, volume,
        rsi); ``fills``: *this stock's* rows of ``BacktestResult.fills`` (filter by code
        first; every row given becomes a marker); ``oversold``/``overbought``: the run's
        RSI thresholds; ``title``: shown above the chart (e.g. the code).
        """
        self._x = posix_seconds(detail["date"]) if len(detail) else np.empty(0)
        self._bars = {name: detail[name].to_numpy(dtype=float)
                      for name in ("open", "high", "low", "close", "volume", "rsi")}
        bars = self._bars
        self.candles.set_data(self._x, bars["open"], bars["high"], bars["low"], bars["close"])
        self.volume.set_data(self._x, bars["volume"], bars["open"], bars["close"])
        self.rsi_curve.setData(self._x, bars["rsi"])
        # Another strategy than RSI: the detail's RSI is NaN throughout; no empty pane.
        self._show_rsi_pane(bool(np.isfinite(bars["rsi"]).any()))
        self._set_fills(fills)
        self._set_thresholds(oversold, overbought)
        self.title.setText(title)
        self._set_limits()
        self.reset_view()
        self._stack.setCurrentWidget(self.plots if len(detail) else self.placeholder)
        self._show_hint()

    def _show_rsi_pane(self, show: bool) -> None:
        """The RSI pane below the volume, or none: the volume then carries the dates and
        the price and volume take the whole height."""
        layout = self.plots.ci
        if show == (self.rsi_plot in layout.items):
            return
        if show:
            layout.addItem(self.rsi_plot, row=2, col=0)
        else:
            layout.removeItem(self.rsi_plot)
        layout.layout.setRowStretchFactor(2, 2 if show else 0)
        self.rsi_plot.setVisible(show)
        self.volume_plot.getAxis("bottom").setStyle(showValues=not show)

    def candles_count(self) -> int:
        """Number of bars shown."""
        return int(self._x.size)

    def show_loading(self, code: str) -> None:
        """Say that ``code``'s bars are on their way (until ``set_data``)."""
        self.clear_data()
        self.title.setText(code)
        self.placeholder.setText(f"Loading {code}…")

    def clear_data(self) -> None:
        """Show nothing: no bars, markers or title."""
        empty = np.empty(0)
        self._x, self._bars, self._tips = empty, {}, []
        self.candles.set_data(empty, empty, empty, empty, empty)
        self.volume.set_data(empty, empty, empty, empty)
        self.rsi_curve.setData(empty, empty)
        self.markers.setData([])
        self.title.setText("No stock selected")
        self._set_thresholds(30.0, 70.0)
        self._show_crosshair(None)
        self.placeholder.setText(EMPTY_TEXT)
        self._stack.setCurrentWidget(self.placeholder)
        self._show_hint()

    def reset_view(self) -> None:
        """Show every bar; prices and volume fit the view."""
        if self._x.size:
            pad = max(0.01 * (self._x[-1] - self._x[0]), 2 * DAY)
            self.price_plot.setXRange(self._x[0] - pad, self._x[-1] + pad, padding=0)
        for plot in (self.price_plot, self.volume_plot):
            plot.enableAutoRange(axis="y")

    def _set_limits(self) -> None:
        if not self._x.size:
            return
        pad = max(0.05 * (self._x[-1] - self._x[0]), MIN_X_RANGE / 2)
        for plot in (self.price_plot, self.volume_plot, self.rsi_plot):
            plot.setLimits(xMin=self._x[0] - pad, xMax=self._x[-1] + pad,
                           minXRange=MIN_X_RANGE)

    def _set_thresholds(self, oversold: float, overbought: float) -> None:
        self.oversold_line.setPos(oversold)
        self.overbought_line.setPos(overbought)
        self.oversold_line.label.setFormat(f"oversold {oversold:g}")
        self.overbought_line.label.setFormat(f"overbought {overbought:g}")
        self.rsi_band.setRegion((oversold, overbought))
        ticks = [(v, f"{v:g}") for v in sorted({0.0, oversold, 50.0, overbought, 100.0})]
        self.rsi_plot.getAxis("left").setTicks([ticks, []])

    def _set_fills(self, fills: pd.DataFrame) -> None:
        if not len(fills):
            self._tips = []
            self.markers.setData([])
            return
        dates = pd.to_datetime(fills["date"])
        sides = fills["side"].astype(str).to_numpy()
        prices = fills["price"].to_numpy(dtype=float)
        buys = sides == "buy"
        self._tips = [f"{d:%Y-%m-%d}  {s.upper()}\n{int(n):,} shares @ {p:.2f}"
                      for d, s, n, p in zip(dates, sides, fills["shares"], prices, strict=True)]
        buy_pen, sell_pen = pg.mkPen("#0b3d75", width=1), pg.mkPen("#8a5a00", width=1)
        self.markers.setData(
            x=posix_seconds(dates), y=prices, data=np.arange(len(fills)),
            symbol=[BUY_SYMBOL if b else SELL_SYMBOL for b in buys],
            brush=[pg.mkBrush(BUY_COLOR if b else SELL_COLOR) for b in buys],
            pen=[buy_pen if b else sell_pen for b in buys])

    def _tip(self, x: float, y: float, data: int) -> str:
        return self._tips[int(data)] if self._tips else ""

    def _marker_clicked(self, item: object, points: list, event: object) -> None:
        if len(points):
            self.fill_clicked.emit(int(points[0].data()))

    def _mouse_clicked(self, event: MouseClickEvent) -> None:
        if event.double():
            self.reset_view()

    def _mouse_moved(self, args: tuple[QPointF]) -> None:
        pos = args[0]
        for plot, _, _ in self._crosshair:
            if self._x.size and plot.vb.sceneBoundingRect().contains(pos):
                point = plot.vb.mapSceneToView(pos)
                self._show_crosshair(plot, point.x(), point.y())
                return
        self._show_crosshair(None)
        self._show_hint()

    def _show_crosshair(self, target: pg.PlotItem | None, x: float = 0.0,
                        y: float = 0.0) -> None:
        """Snap to the bar nearest ``x`` in every panel; the level line only in ``target``."""
        index = self._nearest_bar(x) if target is not None else -1
        for plot, v_line, h_line in self._crosshair:
            v_line.setVisible(index >= 0)
            h_line.setVisible(plot is target)
            if index >= 0:
                v_line.setPos(self._x[index])
            if plot is target:
                h_line.setPos(y)
        if index >= 0:
            self._show_bar(index)

    def _nearest_bar(self, x: float) -> int:
        i = int(np.searchsorted(self._x, x))
        if i == 0 or i == self._x.size:
            return min(i, self._x.size - 1)
        return i - 1 if x - self._x[i - 1] < self._x[i] - x else i

    def _show_bar(self, i: int) -> None:
        b = self._bars
        day = np.datetime64(int(self._x[i]), "s").astype("datetime64[D]")
        colour = UP_COLOR if b["close"][i] >= b["open"][i] else DOWN_COLOR
        rsi = b["rsi"][i]
        self.readout.setText(
            f"<span style='color:{TEXT_COLOR}'><b>{day}</b> &nbsp; "
            f"O {b['open'][i]:.2f} &nbsp;H {b['high'][i]:.2f} &nbsp;L {b['low'][i]:.2f} "
            f"&nbsp;C <b style='color:{colour}'>{b['close'][i]:.2f}</b> &nbsp;·&nbsp; "
            f"Vol {compact_number(b['volume'][i])} &nbsp;·&nbsp; "
            f"RSI <b style='color:{RSI_COLOR}'>{'–' if rsi != rsi else f'{rsi:.1f}'}</b>"
            "</span>")

    def _show_hint(self) -> None:
        if not self._x.size:
            self.readout.clear()
            return
        self.readout.setText(f"<span style='color:{GUIDE_COLOR}'>wheel: zoom · drag: pan · "
                             "double-click: show all</span>")

    def leaveEvent(self, event: QEvent) -> None:
        self._show_crosshair(None)
        self._show_hint()
        super().leaveEvent(event)
