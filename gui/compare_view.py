"""Saved runs side by side: equity as growth of 1, metrics per run with the best marked,
and the configuration with the fields that differ highlighted."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.results.compare import (
    COVERAGE,
    PARAMETERS,
    best_per_metric,
    compare_table,
    config_differences,
    normalised_equity,
)
from engine.results.export import export_comparison
from engine.results.formatting import METRICS, format_column, format_value
from engine.results.tables import BacktestResult
from engine.util.words import counted
from gui.dialog_folders import EXPORT, ask_save_file, file_name
from gui.error_panel import ErrorPanel
from gui.file_writes import write_file
from gui.plot_style import (
    BEST_BACKGROUND,
    DIFFERENCE_BACKGROUND,
    GUIDE_COLOR,
    DateAxis,
    legend_above,
    make_plot_widget,
    placeholder_stack,
    posix_seconds,
    series_color,
    style_plot,
)

#: A run's column fits its values within these bounds; a longer name in the header is
#: elided (the full name is in the tooltip and the chart's legend).
MIN_COLUMN_WIDTH = 110
MAX_COLUMN_WIDTH = 240
#: Runs per line of the chart's legend (above the chart, so it covers no curve).
LEGEND_COLUMNS = 4


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def _cell(text: str, *, bold: bool = False, background: str | None = None,
          align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(text)
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    if background is not None:
        item.setBackground(QBrush(QColor(background)))
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table_widget() -> QTableWidget:
    table = QTableWidget()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.verticalHeader().setDefaultSectionSize(22)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setWordWrap(False)
    return table


class CompareView(QWidget):
    """Shows several results at once; computes nothing (the engine's ``compare`` module
    does). ``set_data({run id: result}, {run id: name})``, ``clear_data()``,
    ``export_csv(path)``."""

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[int, BacktestResult] = {}
        self.names: dict[int, str] = {}
        self.table = pd.DataFrame()
        self.best: dict[str, int] = {}
        self.differences: list[str] = []
        self.errors = ErrorPanel()
        self.canvas = make_plot_widget()
        self.plot = self.canvas.addPlot(row=1, col=0, axisItems={"bottom": DateAxis()})
        self.legend = legend_above(self.canvas, self.plot, row=0, columns=LEGEND_COLUMNS)
        style_plot(self.plot)
        self.plot.setLabel("left", "growth of 1 (equity / initial capital)")
        self.plot.addLine(y=1.0, pen=pg.mkPen(GUIDE_COLOR, width=1, style=Qt.PenStyle.DashLine))
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.readout = QLabel(" ")
        self.placeholder, self._stack = placeholder_stack(
            self.canvas, "Select two or more saved runs and press Compare.")
        self.metrics_table = _table_widget()
        self.config_table = _table_widget()
        self.only_differences = QCheckBox("Only fields that differ")
        self.only_differences.toggled.connect(self._filter_config_rows)
        self.export_button = QPushButton("Export comparison CSV…")
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.export_button.setEnabled(False)
        self.summary = QLabel(" ")
        self._lay_out()
        self._x: dict[int, np.ndarray] = {}
        self._proxy = pg.SignalProxy(self.canvas.scene().sigMouseMoved, rateLimit=60,
                                     slot=self._moved)

    def _lay_out(self) -> None:
        chart = QWidget()
        chart_box = QVBoxLayout(chart)
        chart_box.setContentsMargins(0, 0, 0, 0)
        chart_box.addWidget(self._stack, 1)
        chart_box.addWidget(self.readout)
        config = QWidget()
        config_box = QVBoxLayout(config)
        config_box.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Configuration</b>"))
        header.addStretch(1)
        header.addWidget(self.only_differences)
        config_box.addLayout(header)
        config_box.addWidget(self.config_table, 1)
        metrics = QWidget()
        metrics_box = QVBoxLayout(metrics)
        metrics_box.setContentsMargins(0, 0, 0, 0)
        metrics_box.addWidget(QLabel("<b>Metrics</b> (best of each row highlighted)"))
        metrics_box.addWidget(self.metrics_table, 1)
        tables = QSplitter(Qt.Orientation.Horizontal)
        tables.addWidget(metrics)
        tables.addWidget(config)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(chart)
        self.splitter.addWidget(tables)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.errors)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)

    # ------------------------------------------------------------------ data
    def set_data(self, results: Mapping[int, BacktestResult], names: Mapping[int, str]) -> None:
        """Compare ``results`` (run id -> result); ``names`` label them (id when missing)."""
        self.clear_data()
        if not results:
            return
        self.results = dict(results)
        self.names = {run_id: names.get(run_id, f"run {run_id}") for run_id in results}
        self.table = compare_table(self.results)
        self.best = best_per_metric(self.table)
        self.differences = config_differences(self.results)
        for i, (run_id, result) in enumerate(self.results.items()):
            curve = normalised_equity(result)
            x = posix_seconds(curve["date"])
            self._x[run_id] = x
            self.curves[run_id] = self.plot.plot(
                x, curve["value"].to_numpy(), name=self.label(run_id),
                pen=pg.mkPen(series_color(i), width=1))
        self.plot.enableAutoRange()
        self._fill_metrics()
        self._fill_config()
        fields = counted(len(self.differences), "configuration field")
        self.summary.setText(f"{counted(len(self.results), 'run')}; {fields} "
                             f"{'differs' if len(self.differences) == 1 else 'differ'}: "
                             f"{', '.join(self.differences) or 'none'}")
        self.readout.setText("move the mouse over the chart for values")
        self.export_button.setEnabled(True)
        self._stack.setCurrentWidget(self.canvas)

    def clear_data(self) -> None:
        """Show nothing."""
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.legend.clear()
        self.curves, self._x, self.results, self.names = {}, {}, {}, {}
        self.table, self.best, self.differences = pd.DataFrame(), {}, []
        for table in (self.metrics_table, self.config_table):
            table.clear()
            table.setRowCount(0)
            table.setColumnCount(0)
        self.summary.setText(" ")
        self.readout.setText(" ")
        self.export_button.setEnabled(False)
        self._stack.setCurrentWidget(self.placeholder)

    def label(self, run_id: int) -> str:
        """A run's legend and column label: "#id name"."""
        return f"#{run_id} {self.names.get(run_id, '')}".strip()

    def _set_columns(self, table: QTableWidget, rows: list[str]) -> None:
        table.setColumnCount(len(self.results))
        table.setRowCount(len(rows))
        table.setVerticalHeaderLabels(rows)
        for column, run_id in enumerate(self.results):
            header = QTableWidgetItem(_swatch(series_color(column)), self.label(run_id))
            header.setToolTip(self.label(run_id))
            table.setHorizontalHeaderItem(column, header)

    def _fit_columns(self, table: QTableWidget) -> None:
        for column in range(table.columnCount()):
            wanted = table.sizeHintForColumn(column) + 12  # values only, not the header
            table.setColumnWidth(column, int(np.clip(wanted, MIN_COLUMN_WIDTH, MAX_COLUMN_WIDTH)))

    def _fill_metrics(self) -> None:
        rows = [(key, label, kind) for key, label, kind in METRICS if key in self.table.columns]
        self._set_columns(self.metrics_table, [label for _, label, _ in rows])
        for row, (key, _, kind) in enumerate(rows):
            for column, run_id in enumerate(self.results):
                value = self.table.at[run_id, key]
                best = self.best.get(key) == run_id
                self.metrics_table.setItem(row, column, _cell(
                    format_value(value, kind), bold=best,
                    background=BEST_BACKGROUND if best else None, align_right=True))
        self._fit_columns(self.metrics_table)

    def _fill_config(self) -> None:
        rows = [name for name in (*PARAMETERS, *COVERAGE) if name in self.table.columns]
        self._set_columns(self.config_table, rows)
        for row, name in enumerate(rows):
            differs = name in self.differences
            header = QTableWidgetItem(name)
            if differs:
                header.setBackground(QBrush(QColor(DIFFERENCE_BACKGROUND)))
            self.config_table.setVerticalHeaderItem(row, header)
            texts = dict(zip(self.table.index,
                             format_column(name, self.table[name].to_numpy()), strict=True))
            for column, run_id in enumerate(self.results):
                self.config_table.setItem(row, column, _cell(
                    texts[run_id], bold=differs,
                    background=DIFFERENCE_BACKGROUND if differs else None))
        self._fit_columns(self.config_table)
        self._filter_config_rows(self.only_differences.isChecked())

    def _filter_config_rows(self, only: bool) -> None:
        for row in range(self.config_table.rowCount()):
            header = self.config_table.verticalHeaderItem(row)
            name = header.text() if header is not None else ""
            self.config_table.setRowHidden(row, only and name not in self.differences)

    # ------------------------------------------------------------- read-outs
    def highlighted_cells(self) -> dict[str, int]:
        """Metric label -> id of the run whose cell is highlighted as the best."""
        ids = list(self.results)
        out = {}
        for row in range(self.metrics_table.rowCount()):
            header = self.metrics_table.verticalHeaderItem(row)
            for column in range(self.metrics_table.columnCount()):
                item = self.metrics_table.item(row, column)
                if header is not None and item is not None and item.font().bold():
                    out[header.text()] = ids[column]
        return out

    def _moved(self, event: tuple[QPointF]) -> None:
        pos = event[0]
        if not self._x or not self.plot.sceneBoundingRect().contains(pos):
            return
        x = self.plot.vb.mapSceneToView(pos).x()
        parts = []
        for run_id, xs in self._x.items():
            i = int(np.clip(np.searchsorted(xs, x), 0, xs.size - 1))
            y = self.curves[run_id].yData[i]
            parts.append(f"#{run_id} {y:.3f}")
        day = pd.Timestamp(x, unit="s").date()
        self.readout.setText(f"{day}   " + "   ".join(parts))

    # ---------------------------------------------------------------- export
    def export_csv(self, path: Path | None = None) -> Path | None:
        """Write the comparison table (with a ``name`` column) as CSV; asks where when
        ``path`` is None. Returns the written path, None if nothing was written."""
        if self.table.empty:
            return None
        if path is None:
            ids = ", ".join(str(run_id) for run_id in self.table["id"])
            path = ask_save_file(self, EXPORT, "Export comparison",
                                 file_name("comparison of runs", ids, suffix=".csv"),
                                 "CSV (*.csv)")
            if path is None:
                return None
        table = self.table.copy()
        table.insert(1, "name", [self.names[run_id] for run_id in table["id"]])
        if not write_file(self.errors, path, lambda tmp: export_comparison(table, tmp),
                          "the comparison table"):
            return None
        self.errors.clear()
        self.summary.setText(f"Wrote {path}")
        return path
