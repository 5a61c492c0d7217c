"""What a sweep's heatmap shows: its axes, the metric, a slice or an aggregate over each
other swept field; a click on a cell asks for a run of that cell's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox

from engine.errors import ConfigError
from engine.results.formatting import METRICS
from engine.studies.heatmap import (
    AGGREGATES,
    HeatmapGrid,
    best_cell,
    cell_parameters,
    heatmap_grid,
    neighbourhood_mean,
)
from engine.studies.heatmap import heatmap_metrics as metric_choices
from gui.error_panel import ErrorPanel
from gui.heatmap import Heatmap
from gui.wheel_guard import guard_wheel

if TYPE_CHECKING:
    from engine.studies.sweep import SweepResult

AGGREGATE_ITEM = "all values (aggregate)"
DEFAULT_METRIC = "sharpe"
LABELS = {key: label for key, label, _ in METRICS}
KINDS = {key: kind for key, _, kind in METRICS}


class HeatmapControls(QGroupBox):
    """The "Heatmap" group: draws the shown sweep (``result``) into ``heatmap`` as its
    combo boxes describe (``engine.studies.heatmap.heatmap_grid``) and reports a choice
    the engine refuses in ``errors``.

    ``set_result`` fills the choices, ``draw`` draws; ``run_requested(BacktestConfig)``
    when a cell is clicked: the sweep's base configuration with that cell's parameters,
    for a dimension aggregated here the value of the cell's best combination for the
    shown metric (``engine.studies.heatmap.cell_parameters``); the heatmap's read-out
    says "running …" that configuration until ``run_ended``.
    """

    run_requested = Signal(object)

    def __init__(self, heatmap: Heatmap, errors: ErrorPanel) -> None:
        super().__init__("Heatmap")
        self.heatmap, self.errors = heatmap, errors
        self.result: SweepResult | None = None
        self.current_grid: HeatmapGrid | None = None
        self._hint = " "  # the read-out's text when nothing runs
        self._running_text = ""
        form = QFormLayout(self)
        self.x_combo, self.y_combo = QComboBox(), QComboBox()
        self.metric_combo, self.agg_combo = QComboBox(), QComboBox()
        self.agg_combo.addItems(list(AGGREGATES))
        form.addRow("x axis", self.x_combo)
        form.addRow("y axis", self.y_combo)
        form.addRow("metric", self.metric_combo)
        form.addRow("aggregate", self.agg_combo)
        self.smooth_box = QCheckBox("average over neighbours (±1 step)")
        self.smooth_box.setToolTip(
            "Each cell shows the mean of its 3 x 3 neighbourhood: a lone bright cell fades, "
            "a plateau of good results stays. Orange: the best cell; dashed blue: the best "
            "plateau.")
        self.smooth_box.toggled.connect(self.update_heatmap)
        form.addRow(self.smooth_box)
        self.others_form = QFormLayout()
        form.addRow(self.others_form)
        self.slice_combos: dict[str, QComboBox] = {}
        self.x_combo.activated.connect(lambda _: self._axis_chosen(self.x_combo, self.y_combo))
        self.y_combo.activated.connect(lambda _: self._axis_chosen(self.y_combo, self.x_combo))
        self.metric_combo.currentIndexChanged.connect(self.update_heatmap)
        self.agg_combo.currentIndexChanged.connect(self.update_heatmap)
        heatmap.cell_clicked.connect(self._cell_clicked)
        self.setEnabled(False)

    def set_result(self, result: SweepResult) -> None:
        """Offer ``result``'s fields and metrics (its first two swept fields on the axes);
        ``draw`` then draws it."""
        self.result = result
        axes = result.parameters
        swept = [p for p in result.grid if len(result.grid[p]) > 1] + axes
        for combo in (self.x_combo, self.y_combo):
            combo.clear()
            combo.addItems(axes)
        self.x_combo.setCurrentText(swept[0])
        self.y_combo.setCurrentText(next(p for p in swept if p != swept[0]))
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for key in metric_choices(result.table):
            self.metric_combo.addItem(LABELS[key], key)
        self.metric_combo.setCurrentIndex(max(0, self.metric_combo.findData(DEFAULT_METRIC)))
        self.metric_combo.blockSignals(False)
        self.setEnabled(True)

    def clear_data(self) -> None:
        """Forget the shown sweep."""
        self.result = self.current_grid = None
        self.heatmap.clear_data()
        self.setEnabled(False)

    def set_heatmap(self, x: str, y: str, metric: str, agg: str = "mean",
                    fixed: Mapping[str, float] | None = None) -> None:
        """Choose what the heatmap shows, as the combo boxes would."""
        self.x_combo.setCurrentText(x)
        self.y_combo.setCurrentText(y)
        self.draw()
        for name, combo in self.slice_combos.items():
            value = (fixed or {}).get(name)
            combo.setCurrentIndex(0 if value is None else combo.findData(value))
        self.agg_combo.setCurrentText(agg)
        self.metric_combo.setCurrentIndex(self.metric_combo.findData(metric))
        self.update_heatmap()

    def _axis_chosen(self, changed: QComboBox, other: QComboBox) -> None:
        if changed.currentText() == other.currentText():  # swap instead of a 1-D "map"
            previous = next(p for p in self.result.parameters if p != changed.currentText()) \
                if self.result is not None else ""
            other.setCurrentText(previous)
        self.draw()

    def draw(self) -> None:
        """One combo per other swept field (aggregate over it, or fix one of its values),
        then the heatmap."""
        while self.others_form.rowCount():
            self.others_form.removeRow(0)
        self.slice_combos = {}
        if self.result is None:
            return
        axes = {self.x_combo.currentText(), self.y_combo.currentText()}
        for name, values in self.result.grid.items():
            if name in axes or len(values) < 2:
                continue
            combo = QComboBox()
            combo.addItem(AGGREGATE_ITEM, None)
            for value in values:
                combo.addItem(f"= {value:g}", value)
            combo.currentIndexChanged.connect(self.update_heatmap)
            self.slice_combos[name] = combo
            self.others_form.addRow(name, combo)
        guard_wheel(self)
        self.agg_combo.setEnabled(any(c.currentData() is None
                                      for c in self.slice_combos.values()))
        self.update_heatmap()

    def _fixed(self) -> dict[str, float]:
        return {name: combo.currentData() for name, combo in self.slice_combos.items()
                if combo.currentData() is not None}

    def update_heatmap(self) -> None:
        """Draw the heatmap the combo boxes describe."""
        metric = self.metric_combo.currentData()
        if self.result is None or metric is None:
            return
        self.agg_combo.setEnabled(any(c.currentData() is None
                                      for c in self.slice_combos.values()))
        x, y = self.x_combo.currentText(), self.y_combo.currentText()
        try:
            grid = heatmap_grid(self.result.table, x, y, metric, self._fixed(),
                                self.agg_combo.currentText())
        except ConfigError as exc:
            self.errors.show_error(str(exc))
            return
        self.errors.clear()
        self.current_grid = grid
        smooth = neighbourhood_mean(grid)
        shown = smooth if self.smooth_box.isChecked() else grid
        label = LABELS[metric] + (" (neighbourhood mean)" if shown is smooth else "")
        self.heatmap.set_data(shown.x_values, shown.y_values, shown.z, x_label=x, y_label=y,
                              value_label=label, kind=KINDS[metric],
                              best=best_cell(grid, metric), title=self._title(metric),
                              plateau=best_cell(smooth, metric))
        self._hint = self.heatmap.readout.text()
        self._running_text = ""

    def _title(self, metric: str) -> str:
        fixed = self._fixed()
        folded = [name for name in self.slice_combos if name not in fixed]
        parts = [f"{name} = {value:g}" for name, value in fixed.items()]
        if folded:
            parts.append(f"{self.agg_combo.currentText()} over {', '.join(folded)}")
        return LABELS[metric] + (f"  ({'; '.join(parts)})" if parts else "")

    def _cell_clicked(self, row: int, column: int) -> None:
        grid, result = self.current_grid, self.result
        metric = self.metric_combo.currentData()
        if grid is None or result is None or metric is None:
            return
        x, y = self.x_combo.currentText(), self.y_combo.currentText()
        try:
            params = cell_parameters(result.table, result.parameters, x, y,
                                     grid.x_values[column], grid.y_values[row], metric,
                                     self._fixed())
            if params is None:
                self.heatmap.readout.setText("no combination ran in this cell")
                return
            config = result.config.replace(**params)
        except ConfigError as exc:
            self.errors.show_error(str(exc))
            return
        self._running_text = (
            "running " + ", ".join(f"{k} = {v:g}" for k, v in params.items()) + " …")
        self.heatmap.readout.setText(self._running_text)
        self.run_requested.emit(config)

    def run_ended(self) -> None:
        """The run a click asked for has ended (or the sweep tab's own run has): the
        read-out no longer says "running …" (it shows its hint again)."""
        if self._running_text and self.heatmap.readout.text() == self._running_text:
            self.heatmap.readout.setText(self._hint)
        self._running_text = ""
