"""A metric over two swept parameters as coloured cells with a colour bar; hover reads a
cell out, a click reports it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.results.formatting import format_value
from gui.plot_style import (
    HEATMAP_COLORMAP,
    make_plot_widget,
    placeholder_stack,
    style_plot,
)

#: Largest grid whose cells carry their value as text (beyond that they get too small).
MAX_LABELLED_COLUMNS = 12
MAX_LABELLED_ROWS = 24


def _tick(value: float) -> str:
    return f"{value:g}"


class Heatmap(QWidget):
    """Shows ``z[row, column]`` over ``x_values`` (columns) and ``y_values`` (rows);
    computes nothing. NaN cells (combinations that never ran) stay blank.

    Signals: ``cell_clicked(row, column)`` when the user clicks a cell.
    """

    cell_clicked = Signal(int, int)

    def __init__(self) -> None:
        super().__init__()
        self.canvas = make_plot_widget()
        self.plot = self.canvas.addPlot(row=0, col=0)
        style_plot(self.plot)
        self.plot.showGrid(x=False, y=False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get(HEATMAP_COLORMAP), interactive=False,
                                   width=16, colorMapMenu=False)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.bar.axis.enableAutoSIPrefix(False)  # a Sharpe of 0.5 is not "500 (x0.001)"
        self.hover_box = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.hover_box.setPen(pg.mkPen("#ffffff", width=2))
        self.best_box = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.best_box.setPen(pg.mkPen("#e8590c", width=3))
        self.plateau_box = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.plateau_box.setPen(pg.mkPen("#1c7ed6", width=3, style=Qt.PenStyle.DashLine))
        for box in (self.best_box, self.plateau_box, self.hover_box):
            box.setZValue(10)
            box.hide()
            self.plot.addItem(box, ignoreBounds=True)
        self._labels: list[pg.TextItem] = []
        self.readout = QLabel(" ")
        self.placeholder, self._stack = placeholder_stack(
            self.canvas, "Run a sweep to see its heatmap.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self.readout)
        self.x_values = np.empty(0)
        self.y_values = np.empty(0)
        self.z = np.empty((0, 0))
        self.x_label = self.y_label = self.value_label = ""
        self.kind = "ratio"
        self._proxy = pg.SignalProxy(self.canvas.scene().sigMouseMoved, rateLimit=60,
                                     slot=self._moved)
        self.canvas.scene().sigMouseClicked.connect(self._clicked)

    # ------------------------------------------------------------------ data
    def set_data(self, x_values: np.ndarray, y_values: np.ndarray, z: np.ndarray, *,
                 x_label: str, y_label: str, value_label: str, kind: str,
                 best: tuple[int, int] | None = None, title: str = "",
                 plateau: tuple[int, int] | None = None) -> None:
        """Show ``z`` (shape ``len(y_values)`` x ``len(x_values)``); ``kind`` is the
        metric's ``engine.results.formatting`` kind, ``best`` the (row, column) to outline (solid
        orange), ``plateau`` the best neighbourhood's centre (dashed blue)."""
        self.x_values, self.y_values, self.z = np.asarray(x_values), np.asarray(y_values), z
        self.x_label, self.y_label, self.value_label, self.kind = (x_label, y_label,
                                                                   value_label, kind)
        shown = z * 100 if kind == "pct" else z  # the colour bar reads in percent
        finite = np.isfinite(shown)
        self.image.setImage(shown.T, autoLevels=False)
        self.image.setRect(QRectF(-0.5, -0.5, len(self.x_values), len(self.y_values)))
        if finite.any():
            low, high = float(np.min(shown[finite])), float(np.max(shown[finite]))
            self.bar.setLevels((low, high if high > low else low + 1e-9))
        self.bar.axis.setLabel(value_label + (" (%)" if kind == "pct" else ""))
        bottom, left = self.plot.getAxis("bottom"), self.plot.getAxis("left")
        bottom.setTicks([[(j, _tick(v)) for j, v in enumerate(self.x_values)]])
        left.setTicks([[(i, _tick(v)) for i, v in enumerate(self.y_values)]])
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.plot.setTitle(title, color="#343a40", size="10pt")
        self.plot.setRange(xRange=(-0.5, len(self.x_values) - 0.5),
                           yRange=(-0.5, len(self.y_values) - 0.5), padding=0)
        self._place(self.best_box, best)
        self._place(self.plateau_box, plateau)
        self.hover_box.hide()
        self._label_cells(shown)
        self.readout.setText("hover a cell for its value; click it to run that configuration")
        self._stack.setCurrentWidget(self.canvas)

    def clear_data(self) -> None:
        """Show the placeholder."""
        self.x_values, self.y_values, self.z = np.empty(0), np.empty(0), np.empty((0, 0))
        self.image.clear()
        self._label_cells(self.z)
        self.best_box.hide()
        self.plateau_box.hide()
        self.hover_box.hide()
        self.readout.setText(" ")
        self._stack.setCurrentWidget(self.placeholder)

    def _label_cells(self, shown: np.ndarray) -> None:
        for label in self._labels:
            self.plot.removeItem(label)
        self._labels = []
        rows, columns = shown.shape
        if not shown.size or columns > MAX_LABELLED_COLUMNS or rows > MAX_LABELLED_ROWS:
            return
        low, high = self.bar.levels()
        for i in range(rows):
            for j in range(columns):
                if not np.isfinite(shown[i, j]):
                    continue
                # viridis is dark below ~60 % of its range and light above
                dark_cell = (shown[i, j] - low) < 0.6 * (high - low)
                label = pg.TextItem(self.value_text(i, j), anchor=(0.5, 0.5),
                                    color="#ffffff" if dark_cell else "#212529")
                label.setPos(j, i)
                self.plot.addItem(label, ignoreBounds=True)
                self._labels.append(label)

    # ------------------------------------------------------------ read-outs
    def value_text(self, row: int, column: int) -> str:
        """The formatted value of a cell ("—" where none)."""
        value = float(self.z[row, column])
        return format_value(None if np.isnan(value) else value, self.kind)

    def cell_text(self, row: int, column: int) -> str:
        """The read-out of a cell: both parameters and the value."""
        return (f"{self.x_label} = {_tick(self.x_values[column])}   "
                f"{self.y_label} = {_tick(self.y_values[row])}   "
                f"{self.value_label}: {self.value_text(row, column)}")

    def label_count(self) -> int:
        """Number of cells showing their value as text."""
        return len(self._labels)

    def hover(self, row: int, column: int) -> None:
        """Outline a cell and show its read-out (what moving the mouse onto it does)."""
        self._place(self.hover_box, (row, column))
        text = self.cell_text(row, column)
        self.readout.setText(text)
        self.canvas.setToolTip(text)

    def _place(self, box: pg.QtWidgets.QGraphicsRectItem, cell: tuple[int, int] | None) -> None:
        if cell is None:
            box.hide()
            return
        row, column = cell
        box.setRect(QRectF(column - 0.5, row - 0.5, 1, 1))
        box.show()

    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        if not self.z.size or not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.plot.vb.mapSceneToView(scene_pos)
        row, column = int(np.floor(point.y() + 0.5)), int(np.floor(point.x() + 0.5))
        if 0 <= row < self.z.shape[0] and 0 <= column < self.z.shape[1]:
            return row, column
        return None

    def _moved(self, event: tuple[QPointF]) -> None:
        cell = self._cell_at(event[0])
        if cell is None:
            self.hover_box.hide()
            self.canvas.setToolTip("")
        else:
            self.hover(*cell)

    def _clicked(self, event: object) -> None:
        cell = self._cell_at(event.scenePos())  # type: ignore[attr-defined]
        if cell is not None:
            self.cell_clicked.emit(*cell)
