"""Parameter sweeps: ranges in, a run off the GUI thread, then a heatmap and a table of
every combination; clicking a cell asks the window to run that configuration."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.config import BacktestConfig
from engine.errors import BacktestError, ConfigError
from engine.execution import jobs
from engine.results.export import export_sweep, export_walk_forward
from engine.results.formatting import METRICS, PackedText, diagnostics_text
from engine.results.metric_registry import metric_goal
from engine.studies.folds import FoldSpec, Window
from engine.studies.grid import GRID_FIELDS, RSI_FIELDS, expand_grid, parse_values
from engine.studies.heatmap import (
    AGGREGATES,
    HeatmapGrid,
    best_cell,
    cell_parameters,
    heatmap_grid,
    neighbourhood_mean,
)
from engine.studies.heatmap import heatmap_metrics as metric_choices
from gui.dialog_folders import EXPORT, ask_folder, ask_save_file
from gui.error_panel import ErrorPanel
from gui.file_writes import write_file, write_folder
from gui.heatmap import Heatmap
from gui.metric_table import MetricTable
from gui.plot_style import GUIDE_COLOR, error_label
from gui.run_on import RunOnBox
from gui.run_worker import EngineWorker
from gui.walkforward_view import WalkForwardView
from gui.wheel_guard import guard_wheel

if TYPE_CHECKING:
    from engine.studies.sweep import SweepResult

GRID_MODE, WALK_MODE = "Grid sweep", "Walk-forward"
NO_EXTRA = "(none)"
AGGREGATE_ITEM = "all values (aggregate)"
DEFAULT_RANGES = {"period": "10:20:2", "oversold": "20:35:5", "overbought": "65:80:5"}
DEFAULT_METRIC = "sharpe"
LABELS = {key: label for key, label, _ in METRICS}
KINDS = {key: kind for key, _, kind in METRICS}


class SweepWorker(EngineWorker):
    """Runs sweeps on the sweep host (``engine.execution.jobs.sweep``) from a QThread
    (``start_sweep``); signals and cancellation as ``EngineWorker``, ``finished``
    carries the SweepResult. ``warm_up`` starts the host and its worker pool."""

    @Slot()
    def warm_up(self) -> None:
        """Start the sweep host and its worker pool, so the first sweep pays no start-up
        (a failure here shows when a sweep is run)."""
        with contextlib.suppress(BacktestError):
            jobs.start("sweep")
            jobs.prestart_workers("sweep")

    @Slot(object, object, object)
    def start_sweep(self, config: BacktestConfig, grid: dict[str, list[float]],
                    cluster: str | None) -> None:
        """Run the sweep (on the Dask cluster at ``cluster``, if given) to completion,
        failure or cancellation (in the worker thread)."""
        self.execute(lambda progress, cancel: jobs.sweep(config, grid, progress, cancel,
                                                         cluster=cluster))

    @Slot(object, object, object)
    def start_walk_forward(self, config: BacktestConfig, grid: dict[str, list[float]],
                           plan: tuple[FoldSpec, str, Path | None, str | None]) -> None:
        """Run a walk-forward (``plan``: folds, metric, run store, Dask cluster or None)
        on the sweep host."""
        spec, metric, store, cluster = plan
        self.execute(lambda progress, cancel: jobs.walk_forward(
            config, grid, spec, metric, store, progress, cancel, cluster=cluster))


class SweepView(QWidget):
    """Set ranges, run a sweep on the base configuration, explore it as a heatmap.

    ``set_base_config(config)`` gives the configuration the swept fields vary (None
    disables Run with ``reason``). Signals: ``run_requested(BacktestConfig)`` when a
    heatmap cell is clicked: the sweep's base configuration with that cell's
    parameters; for a dimension aggregated in the heatmap, the value of the cell's best
    combination for the shown metric (``engine.studies.heatmap.cell_parameters``). Call
    ``shutdown()`` before the application quits (it stops the worker thread).
    ``walk_forward_saved(runs)`` after a walk-forward was saved to the run store at
    ``store_path`` (the store's run list). ``settings`` remembers where sweeps run ("Run
    on", ``gui.run_on``) between sessions.
    """

    run_requested = Signal(object)
    walk_forward_saved = Signal(object)
    _sweep_requested = Signal(object, object, object)
    _walk_forward_requested = Signal(object, object, object)
    _warm_up_requested = Signal()

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.run_on = RunOnBox(settings)
        self.run_on.changed.connect(self.validate)
        self.base_config: BacktestConfig | None = None
        self.store_path: Path | None = None
        self.walk_view = WalkForwardView()
        self._base_reason = "no base configuration yet"
        self.result: SweepResult | None = None
        self.current_grid: HeatmapGrid | None = None
        self.running = False
        self._started_at = 0.0
        self._cluster: str | None = None  # of the running sweep
        self.errors = ErrorPanel()
        self.heatmap = Heatmap()
        self.heatmap.cell_clicked.connect(self._cell_clicked)
        self.table = MetricTable()
        self.skipped = QLabel(" ")
        self.skipped.setStyleSheet(f"color: {GUIDE_COLOR};")
        self.diagnostics = QLabel(" ", wordWrap=True)
        self.diagnostics.setToolTip(
            "Deflated Sharpe ratio (Bailey & López de Prado, 2014): the probability that the "
            "best combination's Sharpe ratio beats the best that as many tries would reach "
            "by luck.\nPBO (Bailey, Borwein, López de Prado & Zhu, 2015): over 12,870 ways "
            "of splitting the days in halves, how often the best in one half is in the "
            "bottom half of the other.")
        self._build()
        self.sweep_thread = QThread(self)
        self.worker = SweepWorker()
        self.worker.moveToThread(self.sweep_thread)
        self._sweep_requested.connect(self.worker.start_sweep)
        self._walk_forward_requested.connect(self.worker.start_walk_forward)
        self._warm_up_requested.connect(self.worker.warm_up)
        self.worker.progressed.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.set_base_config(None)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        left = QVBoxLayout()
        self.mode = QComboBox()
        self.mode.addItems([GRID_MODE, WALK_MODE])
        self.mode.currentTextChanged.connect(self._mode_changed)
        left.addWidget(self.mode)
        left.addWidget(self._grid_group())
        left.addWidget(self._walk_group())
        left.addWidget(self.run_on)
        left.addLayout(self._run_box())
        left.addWidget(self._heatmap_group())
        self.export_button = QPushButton("Export sweep CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export)
        left.addWidget(self.export_button)
        left.addStretch(1)
        controls = QWidget()
        controls.setLayout(left)
        controls.setFixedWidth(340)
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.skipped)
        table_layout.addWidget(self.diagnostics)
        table_layout.addWidget(self.table, 1)
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(self.heatmap)
        results.addWidget(table_box)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)
        self.results = QStackedWidget()
        self.results.addWidget(results)
        self.results.addWidget(self.walk_view)
        right = QVBoxLayout()
        right.addWidget(self.errors)
        right.addWidget(self.results, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(controls)
        layout.addLayout(right, 1)

    def _grid_group(self) -> QGroupBox:
        group = QGroupBox("Ranges")
        form = QFormLayout(group)
        self.range_edits: dict[str, QLineEdit] = {}
        self.range_errors: dict[str, QLabel] = {}
        for name in RSI_FIELDS:
            edit = QLineEdit(DEFAULT_RANGES[name], clearButtonEnabled=True)
            edit.setPlaceholderText("base value")
            self._add_range(form, name, name, edit)
        self.extra_field = QComboBox()
        self.extra_field.addItems([NO_EXTRA, *(f for f in GRID_FIELDS if f not in RSI_FIELDS)])
        self.extra_field.currentTextChanged.connect(self.validate)
        form.addRow("extra field", self.extra_field)
        self.extra_values = QLineEdit(clearButtonEnabled=True)
        self.extra_values.setPlaceholderText("e.g. 0.05,0.1,0.2")
        self._add_range(form, "extra", "its values", self.extra_values)
        hint = QLabel("start:stop:step (inclusive) or a comma list; "
                      "empty = the base configuration's value", wordWrap=True)
        hint.setStyleSheet(f"color: {GUIDE_COLOR};")
        form.addRow(hint)
        self.count = QLabel(" ")
        self.base_label = QLabel(" ", wordWrap=True)
        self.base_label.setStyleSheet(f"color: {GUIDE_COLOR};")
        form.addRow(self.count)
        form.addRow(self.base_label)
        return group

    def _walk_group(self) -> QGroupBox:
        group = QGroupBox("Walk-forward folds")
        form = QFormLayout(group)
        self.train_edit = QLineEdit("12m")
        self.test_edit = QLineEdit("3m")
        for edit, tip in ((self.train_edit, "train window: months (12m) or trading days "
                           "(250d)"), (self.test_edit, "test window: 3m or 60d")):
            edit.setToolTip(tip)
            edit.textChanged.connect(self.validate)
        self.anchored = QCheckBox("anchored (train from the start)")
        self.anchored.setToolTip("every train window starts at the run's start; otherwise "
                                 "each trains on the window just before its test window")
        self.walk_metric = QComboBox()
        for key, label, kind in METRICS:
            if kind != "text" and metric_goal(key) is not None:
                self.walk_metric.addItem(label, key)
        self.walk_metric.setCurrentIndex(self.walk_metric.findData(DEFAULT_METRIC))
        self.walk_error = error_label()
        self.walk_error.hide()
        form.addRow("train", self.train_edit)
        form.addRow("test", self.test_edit)
        form.addRow(self.anchored)
        form.addRow("best by", self.walk_metric)
        form.addRow(self.walk_error)
        group.hide()
        self.walk_group = group
        return group

    def walk_spec(self) -> FoldSpec:
        """The fold settings; raises ``ConfigError`` naming the bad window."""
        train = str(Window.parse(self.train_edit.text(), "train"))
        test = str(Window.parse(self.test_edit.text(), "test"))
        return FoldSpec(train, test, self.anchored.isChecked())

    def _mode_changed(self, mode: str) -> None:
        walking = mode == WALK_MODE
        self.walk_group.setVisible(walking)
        self.heatmap_group.setVisible(not walking)

        self.results.setCurrentIndex(1 if walking else 0)
        self.run_button.setText("Run walk-forward" if walking else "Run sweep")
        self.export_button.setText("Export walk-forward…" if walking else "Export sweep CSV…")
        self.export_button.setEnabled((self.walk_view.outcome if walking else self.result)
                                      is not None)
        self.validate()

    def _add_range(self, form: QFormLayout, key: str, label: str, edit: QLineEdit) -> None:
        error = error_label()
        error.hide()
        edit.textChanged.connect(self.validate)
        self.range_edits[key] = edit
        self.range_errors[key] = error
        form.addRow(label, edit)
        form.addRow(error)

    def _run_box(self) -> QVBoxLayout:
        self.run_button = QPushButton("Run sweep")
        self.run_button.setStyleSheet("font-weight: bold; padding: 6px;")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.reason = error_label()
        row = QHBoxLayout()
        row.addWidget(self.run_button, 1)
        row.addWidget(self.cancel_button)
        box = QVBoxLayout()
        box.addLayout(row)
        box.addWidget(self.progress)
        box.addWidget(self.reason)
        return box

    def _heatmap_group(self) -> QGroupBox:
        group = QGroupBox("Heatmap")
        form = QFormLayout(group)
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
        group.setEnabled(False)
        self.heatmap_group = group
        return group

    # ------------------------------------------------------------- the grid
    def set_base_config(self, config: BacktestConfig | None, reason: str = "") -> None:
        """The configuration sweeps start from; None (with ``reason``) disables Run."""
        self.base_config = config
        self._base_reason = reason or "no base configuration yet"
        if config is not None:
            stocks = ("all stocks" if config.stocks is None else
                      f"{len(config.stocks)} stocks" if isinstance(config.stocks, tuple)
                      else Path(config.stocks).name)
            self.base_label.setText(
                f"Base: {config.data_dir.name}, {stocks}, {config.start}..{config.end}, "
                f"RSI {config.period} {config.oversold:g}/{config.overbought:g}, "
                f"{config.fill}, {config.capital_mode}")
        else:
            self.base_label.setText(f"Base: {self._base_reason}")
        self.validate()

    def grid(self) -> dict[str, list[float]]:
        """The grid the fields describe; raises ``ConfigError`` naming the bad field."""
        grid: dict[str, list[float]] = {}
        for name in RSI_FIELDS:
            text = self.range_edits[name].text().strip()
            if text:
                grid[name] = self._parse(name, text)
        extra = self.extra_field.currentText()
        if extra != NO_EXTRA:
            text = self.range_edits["extra"].text().strip()
            if not text:
                raise ConfigError(f"enter the values of {extra}", field="extra")
            grid[extra] = self._parse("extra", text)
        if not grid:
            raise ConfigError("enter at least one range")
        return grid

    @staticmethod
    def _parse(key: str, text: str) -> list[float]:
        try:
            return parse_values(text)
        except ConfigError as exc:
            raise ConfigError(str(exc), field=key) from exc

    def validate(self) -> bool:
        """Check the fields; show the problem inline and enable Run only when fine."""
        self.range_edits["extra"].setEnabled(self.extra_field.currentText() != NO_EXTRA)
        for error in self.range_errors.values():
            error.hide()
        reason = ""
        try:
            _, combos = expand_grid(self.grid())
            self.count.setText(f"{len(combos):,} combinations")
        except ConfigError as exc:
            reason = str(exc)
            self.count.setText(" ")
            if exc.field in self.range_errors:  # the details go beside the field
                self.range_errors[exc.field].setText(reason)
                self.range_errors[exc.field].show()
                label = "extra field's values" if exc.field == "extra" else exc.field
                reason = f"the {label} range is not valid (see above)"
        self.walk_error.hide()
        if not reason and self.mode.currentText() == WALK_MODE:
            try:
                self.walk_spec()
            except ConfigError as exc:
                self.walk_error.setText(str(exc))
                self.walk_error.show()
                reason = f"the {exc.field} window is not valid (see above)"
        if not reason and self.base_config is None:
            reason = self._base_reason
        if not reason and self.run_on.problem():
            reason = "see Run on above"
        self.reason.setText(f"Cannot run: {reason}" if reason else "")
        self.reason.setVisible(bool(reason))
        self.run_button.setEnabled(not reason and not self.running)
        return not reason

    # ----------------------------------------------------------------- runs
    def run(self) -> None:
        """Start the sweep (ignored while one runs or the fields are invalid)."""
        if self.running or not self.validate() or self.base_config is None:
            return
        grid = self.grid()
        self.errors.clear()
        self._set_running(True)
        self._started_at = time.perf_counter()
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        if not self.sweep_thread.isRunning():
            self.sweep_thread.start()
        self.worker.prepare()
        self._cluster = self.run_on.cluster()
        if self.mode.currentText() == WALK_MODE:
            plan = (self.walk_spec(), self.walk_metric.currentData(), self.store_path,
                    self._cluster)
            self._walk_forward_requested.emit(self.base_config, grid, plan)
        else:
            self._sweep_requested.emit(self.base_config, grid, self._cluster)

    def warm_up(self) -> None:
        """Start the sweep host and its worker pool in the background."""
        if not self.sweep_thread.isRunning():
            self.sweep_thread.start()
        self._warm_up_requested.emit()

    def cancel(self) -> None:
        """Ask the running sweep to stop."""
        if self.running:
            self.progress.setFormat("cancelling…")
            self.worker.cancel()

    def shutdown(self) -> None:
        """Cancel any sweep and stop the worker thread (before the application quits)."""
        self.worker.cancel()
        if self.sweep_thread.isRunning():
            self.sweep_thread.quit()
            self.sweep_thread.wait(10_000)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def _set_running(self, on: bool) -> None:
        self.running = on
        self.cancel_button.setEnabled(on)
        self.run_on.setEnabled(not on)
        self.validate()

    def _progress(self, stage: str, done: int, total: int) -> None:
        if stage == "sweep" and total:
            fraction = done / total
            elapsed = time.perf_counter() - self._started_at
            eta = f", ~{elapsed / fraction - elapsed:.0f} s left" if fraction > 0.05 else ""
            self.progress.setValue(int(fraction * 1000))
            self.progress.setFormat(f"{done:,} of {total:,} combinations{eta}")
        elif stage == "load":
            self.progress.setFormat(f"loading data ({done}/{total})" if total else "loading…")
        elif stage == "startup":
            self.progress.setFormat("starting workers…" if self._cluster is None
                                    else f"connecting to {self._cluster}…")
        elif stage in ("train", "test") and total:
            self.progress.setValue(int((done + (stage == "test") * 0.5) / (total + 1) * 1000))
            step = "sweeping the train window" if stage == "train" else "trading the test window"
            self.progress.setFormat(f"fold {done + 1} of {total}: {step}" if done < total
                                    else "sweeping the whole window (diagnostics)")

    def _finished(self, outcome: jobs.SweepOutcome | jobs.WalkForwardOutcome) -> None:
        if isinstance(outcome, jobs.WalkForwardOutcome):
            self._walked(outcome)
            return
        result = outcome.result
        self.progress.setValue(1000)
        seconds = result.timings.get("total", 0.0)
        where = f" on {self._cluster}" if self._cluster else ""
        self.progress.setFormat(f"done: {len(result.table):,} combinations in {seconds:.1f} s"
                                + where)
        self.set_result(result, outcome.text, then=lambda: self._set_running(False))

    def _walked(self, outcome: jobs.WalkForwardOutcome) -> None:
        self._set_running(False)
        self.export_button.setEnabled(True)
        self.progress.setValue(1000)
        seconds = outcome.result.timings.get("total", 0.0)
        self.progress.setFormat(f"done: {len(outcome.result.folds)} folds in {seconds:.1f} s")
        self.walk_view.set_result(outcome)
        if outcome.runs is not None:
            self.walk_forward_saved.emit(outcome.runs)

    def _failed(self, message: str, details: str) -> None:
        self._set_running(False)
        self.progress.setFormat("failed")
        self.errors.show_error(message, details)

    def _cancelled(self) -> None:
        self._set_running(False)
        self.progress.setValue(0)
        self.progress.setFormat("cancelled")

    # -------------------------------------------------------------- results
    def set_result(self, result: SweepResult, text: list[PackedText] | None = None,
                   then: Callable[[], None] | None = None) -> None:
        """Show a finished sweep: its table (``text``: its display text, when formatted
        elsewhere) now, and a heatmap of its first two swept fields in the next
        event-loop turn (so no single turn does both); then ``then``."""
        self.result = result
        self.table.set_data(result.table, text)
        self.skipped.setText(
            f"{len(result.table):,} combinations run"
            + (f"; {len(result.skipped):,} skipped (e.g. {result.skipped['reason'].iloc[0]})"
               if len(result.skipped) else ""))
        self.diagnostics.setText(diagnostics_text(result.diagnostics))
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
        self.heatmap_group.setEnabled(True)
        self.export_button.setEnabled(True)

        def draw() -> None:
            if self.result is result:
                self._rebuild_slices()
            if then is not None:
                then()

        QTimer.singleShot(0, draw)

    def clear_data(self) -> None:
        """Forget the shown sweep."""
        self.result = self.current_grid = None
        self.heatmap.clear_data()
        self.table.clear_data()
        self.skipped.setText(" ")
        self.diagnostics.setText(" ")
        self.heatmap_group.setEnabled(False)
        self.export_button.setEnabled(False)

    def set_heatmap(self, x: str, y: str, metric: str, agg: str = "mean",
                    fixed: Mapping[str, float] | None = None) -> None:
        """Choose what the heatmap shows, as the combo boxes would."""
        self.x_combo.setCurrentText(x)
        self.y_combo.setCurrentText(y)
        self._rebuild_slices()
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
        self._rebuild_slices()

    def _rebuild_slices(self) -> None:
        """One combo per other swept field: aggregate over it, or fix one of its values."""
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
        """Draw the heatmap the combo boxes describe (``engine.studies.heatmap.heatmap_grid``)."""
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
        self.heatmap.readout.setText(
            "running " + ", ".join(f"{k} = {v:g}" for k, v in params.items()) + " …")
        self.run_requested.emit(config)

    # --------------------------------------------------------------- export
    def _export(self) -> None:
        if self.mode.currentText() == WALK_MODE:
            self.export_walk_forward()
        else:
            self.export_csv()

    def export_walk_forward(self, folder: Path | None = None) -> Path | None:
        """Write the shown walk-forward's files into ``folder``
        (``engine.results.export.export_walk_forward``); asks where when None."""
        outcome = self.walk_view.outcome
        if outcome is None:
            return None
        if folder is None:
            folder = ask_folder(self, EXPORT, "Export walk-forward into")
            if folder is None:
                return None
        result = outcome.result
        if not write_folder(self.errors, folder,
                            lambda target: export_walk_forward(result, target),
                            "the walk-forward"):
            return None
        self.errors.clear()
        self.progress.setFormat(f"wrote the walk-forward to {folder}")
        return folder

    def export_csv(self, path: Path | None = None) -> Path | None:
        """Write the sweep table as CSV (``engine.results.export.export_sweep``); asks where when
        ``path`` is None. Returns the written path, None if nothing was written."""
        if self.result is None:
            return None
        if path is None:
            path = ask_save_file(self, EXPORT, "Export sweep", "sweep.csv", "CSV (*.csv)")
            if path is None:
                return None
        result = self.result
        if not write_file(self.errors, path, lambda tmp: export_sweep(result, tmp),
                          "the sweep table"):
            return None
        self.errors.clear()
        self.skipped.setText(f"Wrote {path}")
        return path
