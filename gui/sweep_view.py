"""Parameter sweeps: ranges in, a run off the GUI thread, then a heatmap and a table of
every combination; clicking a cell asks the window to run that configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.config import BacktestConfig
from engine.execution import jobs
from engine.results.export import export_sweep, export_walk_forward
from engine.results.formatting import PackedText, diagnostics_text
from gui.dialog_folders import EXPORT, ask_folder, ask_save_file, file_name
from gui.error_panel import ErrorPanel
from gui.file_writes import write_file, write_folder
from gui.heatmap import Heatmap
from gui.heatmap_controls import HeatmapControls
from gui.metric_table import MetricTable
from gui.plot_style import GUIDE_COLOR
from gui.run_box import RunBox
from gui.run_on import RunOnBox
from gui.run_worker import SweepWorker
from gui.sweep_form import SweepForm
from gui.walkforward_view import WalkForwardForm, WalkForwardView

if TYPE_CHECKING:
    from engine.studies.sweep import SweepResult

GRID_MODE, WALK_MODE = "Grid sweep", "Walk-forward"


class SweepView(QWidget):
    """Set ranges, run a sweep on the base configuration, explore it as a heatmap.

    ``set_base_config(config)`` gives the configuration the swept fields vary (None
    disables Run with ``reason``). Signals: ``run_requested(BacktestConfig)`` when a
    heatmap cell is clicked (``gui.heatmap_controls``). Call ``shutdown()`` before the
    application quits (it stops the worker thread). ``walk_forward_saved(runs)`` after a
    walk-forward was saved to the run store at ``store_path`` (the store's run list).
    ``settings`` remembers where sweeps run ("Run on", ``gui.run_on``) between sessions.
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
        self._base_reason = "no base configuration yet"
        self._cluster: str | None = None  # of the running sweep
        self.errors = ErrorPanel()
        self.heatmap = Heatmap()
        self.form = SweepForm()
        self.form.edited.connect(self.validate)
        self.walk_form = WalkForwardForm()
        self.walk_form.edited.connect(self.validate)
        self.walk_view = WalkForwardView()
        self.heatmap_controls = HeatmapControls(self.heatmap, self.errors)
        self.heatmap_controls.run_requested.connect(self._cell_run_requested)
        self.run_box = RunBox("Run sweep", "Cancel")
        self.run_box.run_button.clicked.connect(self.run)
        self.run_box.cancel_button.clicked.connect(self.cancel)
        # the bar is shared by both modes: each mode's last status, shown with that mode
        self._statuses = {GRID_MODE: self.run_box.status(), WALK_MODE: self.run_box.status()}
        self._shown_mode = GRID_MODE
        self.table = MetricTable()
        self.table.export_name = "sweep"
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
        self._start_worker()
        self.set_base_config(None)

    @property
    def result(self) -> SweepResult | None:
        """The shown sweep."""
        return self.heatmap_controls.result

    @property
    def running(self) -> bool:
        """Whether a sweep or walk-forward is running."""
        return self.run_box.running

    @property
    def range_edits(self) -> dict[str, QLineEdit]:
        """The range fields by swept field ("extra": the extra field's values)."""
        return self.form.range_edits

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        left = QVBoxLayout()
        self.mode = QComboBox()
        self.mode.addItems([GRID_MODE, WALK_MODE])
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.walk_form.hide()
        self.export_button = QPushButton("Export sweep CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export)
        for widget in (self.mode, self.form, self.walk_form, self.run_on, self.run_box,
                       self.heatmap_controls, self.export_button):
            left.addWidget(widget)
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
        results.setSizes([3000, 2000])  # 3:2 from the start, whatever the size hints say
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

    def _start_worker(self) -> None:
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

    def _mode_changed(self, mode: str) -> None:
        self._statuses[self._shown_mode] = self.run_box.status()
        self._shown_mode = mode
        self.run_box.show_status(*self._statuses[mode])
        walking = mode == WALK_MODE
        self.walk_form.setVisible(walking)
        self.heatmap_controls.setVisible(not walking)
        self.results.setCurrentIndex(1 if walking else 0)
        self.run_box.run_button.setText("Run walk-forward" if walking else "Run sweep")
        self.export_button.setText("Export walk-forward…" if walking else "Export sweep CSV…")
        self.export_button.setEnabled((self.walk_view.outcome if walking else self.result)
                                      is not None)
        self.validate()

    # ----------------------------------------------------------------- checks
    def set_base_config(self, config: BacktestConfig | None, reason: str = "") -> None:
        """The configuration sweeps start from; None (with ``reason``) disables Run."""
        self.base_config = config
        self._base_reason = reason or "no base configuration yet"
        self.form.show_base(config, self._base_reason)
        self.validate()

    def validate(self) -> bool:
        """Check the fields; show the problem inline and enable Run only when fine."""
        reason = self.form.check()
        self.walk_form.error.hide()
        if not reason and self.mode.currentText() == WALK_MODE:
            reason = self.walk_form.check()
        if not reason and self.base_config is None:
            reason = self._base_reason
        if not reason and self.run_on.problem():
            reason = "see Run on above"
        self.run_box.set_reason(reason)
        return not reason

    # ----------------------------------------------------------------- runs
    def run(self) -> None:
        """Start the sweep (ignored while one runs or the fields are invalid)."""
        if self.running or not self.validate() or self.base_config is None:
            return
        grid = self.form.grid()
        self.errors.clear()
        self.run_box.start()
        self.run_on.setEnabled(False)
        self.mode.setEnabled(False)  # the bar and Cancel are this mode's until it ends
        if not self.sweep_thread.isRunning():
            self.sweep_thread.start()
        self.worker.prepare()
        self._cluster = self.run_on.cluster()
        if self.mode.currentText() == WALK_MODE:
            plan = (self.walk_form.spec(), self.walk_form.chosen_metric(), self.store_path,
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
            self.run_box.show_status("cancelling…")
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

    def _set_idle(self) -> None:
        self.run_box.set_running(False)
        self.run_on.setEnabled(True)
        self.mode.setEnabled(True)
        self.heatmap_controls.run_ended()
        self.validate()

    def _cell_run_requested(self, config: BacktestConfig) -> None:
        """Ask for a heatmap cell's run; once the backtest that runs it ends (the window's
        RunBox that started during the request stops), the heatmap no longer says
        "running …"."""
        boxes = self.window().findChildren(RunBox)
        idle = [box for box in boxes if not box.running]
        self.run_requested.emit(config)  # the window starts its backtest in this call
        started = [box for box in idle if box.running]
        if started:
            started[0].stopped.connect(self.heatmap_controls.run_ended,
                                       Qt.ConnectionType.SingleShotConnection)

    def _progress(self, stage: str, done: int, total: int) -> None:
        box = self.run_box
        if stage == "sweep" and total:
            box.show_progress(done / total, f"{done:,} of {total:,} combinations")
        elif stage == "load":
            box.show_status(f"loading data ({done}/{total})" if total else "loading…")
        elif stage == "startup":
            box.show_status("starting workers…" if self._cluster is None
                            else f"connecting to {self._cluster}…")
        elif stage in ("train", "test") and total:
            step = "sweeping the train window" if stage == "train" else "trading the test window"
            box.show_status(f"fold {done + 1} of {total}: {step}" if done < total
                            else "sweeping the whole window (diagnostics)",
                            (done + (stage == "test") * 0.5) / (total + 1))

    def _finished(self, outcome: jobs.SweepOutcome | jobs.WalkForwardOutcome) -> None:
        if isinstance(outcome, jobs.WalkForwardOutcome):
            self._walked(outcome)
            return
        result = outcome.result
        seconds = result.timings.get("total", 0.0)
        where = f" on {self._cluster}" if self._cluster else ""
        self.run_box.show_status(f"done: {len(result.table):,} combinations in "
                                 f"{seconds:.1f} s{where}", 1.0)
        self.set_result(result, outcome.text, then=self._set_idle)

    def _walked(self, outcome: jobs.WalkForwardOutcome) -> None:
        self._set_idle()
        self.export_button.setEnabled(True)
        seconds = outcome.result.timings.get("total", 0.0)
        self.run_box.show_status(f"done: {len(outcome.result.folds)} folds in {seconds:.1f} s",
                                 1.0)
        self.walk_view.set_result(outcome)
        if outcome.runs is not None:
            self.walk_forward_saved.emit(outcome.runs)

    def _failed(self, message: str, details: str) -> None:
        self._set_idle()
        self.run_box.show_status("failed")
        self.errors.show_error(message, details)

    def _cancelled(self) -> None:
        self._set_idle()
        self.run_box.show_status("cancelled", 0.0)

    # -------------------------------------------------------------- results
    def set_result(self, result: SweepResult, text: list[PackedText] | None = None,
                   then: Callable[[], None] | None = None) -> None:
        """Show a finished sweep: its table (``text``: its display text, when formatted
        elsewhere) now, and a heatmap of its first two swept fields in the next
        event-loop turn (so no single turn does both); then ``then``."""
        self.heatmap_controls.set_result(result)
        self.table.set_data(result.table, text)
        self.skipped.setText(
            f"{len(result.table):,} combinations run"
            + (f"; {len(result.skipped):,} skipped (e.g. {result.skipped['reason'].iloc[0]})"
               if len(result.skipped) else ""))
        self.diagnostics.setText(diagnostics_text(result.diagnostics))
        self.export_button.setEnabled(True)

        def draw() -> None:
            if self.result is result:
                self.heatmap_controls.draw()
            if then is not None:
                then()

        QTimer.singleShot(0, draw)

    def clear_data(self) -> None:
        """Forget the shown sweep."""
        self.heatmap_controls.clear_data()
        self.table.clear_data()
        self.skipped.setText(" ")
        self.diagnostics.setText(" ")
        self.export_button.setEnabled(False)

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
        self.run_box.show_status(f"wrote the walk-forward to {folder}")
        return folder

    def export_csv(self, path: Path | None = None) -> Path | None:
        """Write the sweep table as CSV (``engine.results.export.export_sweep``); asks where when
        ``path`` is None. Returns the written path, None if nothing was written."""
        if self.result is None:
            return None
        if path is None:
            config = self.result.config
            name = file_name("sweep of", ", ".join(self.result.grid),
                             f"{config.start}..{config.end}", suffix=".csv")
            path = ask_save_file(self, EXPORT, "Export sweep", name, "CSV (*.csv)")
            if path is None:
                return None
        result = self.result
        if not write_file(self.errors, path, lambda tmp: export_sweep(result, tmp),
                          "the sweep table"):
            return None
        self.errors.clear()
        self.skipped.setText(f"Wrote {path}")
        return path
