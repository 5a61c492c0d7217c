"""The workbench window: configure on the left, run with progress, results in tabs."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.execution import jobs
from engine.progress import STAGES
from engine.results.export import export_result
from engine.results.formatting import PackedText, metric_rows
from engine.results.tables import BacktestResult
from gui.compare_view import CompareView
from gui.config_panel import ConfigPanel
from gui.data_loader import JobLoad
from gui.dialog_folders import (
    CONFIG,
    DATA,
    EXPORT,
    IMAGE,
    ask_folder,
    ask_open_file,
    ask_save_file,
    remember_folder,
)
from gui.equity_chart import EquityChart
from gui.error_panel import ErrorPanel
from gui.file_writes import write_file, write_folder
from gui.native import Shortcut, shortcut_label
from gui.run_worker import RunWorker
from gui.runs_panel import RunsPanel
from gui.stock_chart import StockChart
from gui.sweep_view import SweepView
from gui.table_view import FrameTable
from gui.timing_chart import TimingChart
from gui.wheel_guard import guard_wheel

#: Qt reads "Ctrl" as the Command key on macOS.
RUN_KEY: Shortcut = "Ctrl+R"
CANCEL_KEY: Shortcut = Qt.Key.Key_Escape


class MainWindow(QMainWindow):
    """Configure a run, start it (Ctrl+R), cancel it (Esc), inspect and export the result."""

    run_requested = Signal(object, object)
    warm_up_requested = Signal()
    #: A folder scan came back (``folder``), whether or not it is still the current folder.
    folder_scanned = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Backtest Workbench")
        self.settings = QSettings()
        self.result: BacktestResult | None = None
        self.outcome: jobs.RunOutcome | None = None  # of the last run started here
        self.scan: jobs.FolderScan | None = None
        self._pending: dict[QWidget, Callable[[], object]] = {}
        self._steps: list[Callable[[], object]] = []
        self._folder: Path | None = None
        self._detail_code = ""
        self._closed = False
        self.running = False
        self._run_started = 0.0
        self._build()
        guard_wheel(self)  # every field: scrolling over it never changes it
        self._start_worker()
        self._restore()

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.panel = ConfigPanel()
        self.panel.validity_changed.connect(self._validity)
        self.panel.folder_changed.connect(self.open_folder)
        self.panel.stocks.message_posted.connect(
            lambda text: self.statusBar().showMessage(text, 10000))
        self.panel.stocks.stock_activated.connect(self.show_stock)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.panel)
        # Never narrower than the panel's widest row plus a vertical scroll bar: without a
        # horizontal bar, a narrower area would cut the fields off at the right.
        scroll.setMinimumWidth(max(340, self.panel.widest_row()
                                   + scroll.verticalScrollBar().sizeHint().width() + 4))
        left = QWidget()
        box = QVBoxLayout(left)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(scroll, 1)
        box.addLayout(self._run_box())
        self.errors = ErrorPanel()
        self.tabs = QTabWidget()
        self.equity_chart = EquityChart()
        self.metrics_table = FrameTable(filter_column=None)
        self.trades_table = FrameTable()
        self.fills_table = FrameTable()
        self.rejections_table = FrameTable()
        self.timing_chart = TimingChart()
        self.stock_chart = StockChart()
        self.data_table = FrameTable()
        self.data_info = QLabel("no folder loaded", wordWrap=True)
        data_tab = QWidget()
        data_box = QVBoxLayout(data_tab)
        data_box.setContentsMargins(0, 0, 0, 0)
        data_box.addWidget(self.data_info)
        data_box.addWidget(self.data_table, 1)
        self.runs_panel = RunsPanel()
        self.compare_view = CompareView()
        self.sweep_view = SweepView(self.settings)
        for widget, title in ((self.equity_chart, "Equity"), (self.metrics_table, "Metrics"),
                              (self.trades_table, "Trades"), (self.fills_table, "Fills"),
                              (self.rejections_table, "Rejections"),
                              (self.timing_chart, "Timing"), (self.stock_chart, "Stock"),
                              (data_tab, "Data"), (self.runs_panel, "Runs"),
                              (self.compare_view, "Compare"), (self.sweep_view, "Sweep")):
            self.tabs.addTab(widget, title)
        self.tabs.currentChanged.connect(lambda _: self._fill_current_tab())
        self.runs_panel.open_requested.connect(self.open_stored_run)
        self.runs_panel.compare_requested.connect(self.compare_runs)
        self.sweep_view.run_requested.connect(self._run_sweep_cell)
        self.sweep_view.walk_forward_saved.connect(self.runs_panel.show_runs)
        self.panel.changed.connect(self._sweep_base_changed)
        for table in (self.trades_table, self.fills_table, self.rejections_table,
                      self.data_table):
            table.row_activated.connect(lambda row: self.show_stock(str(row.get("code", ""))))
        right = QWidget()
        rbox = QVBoxLayout(right)
        rbox.setContentsMargins(0, 0, 0, 0)
        rbox.addWidget(self.errors)
        rbox.addWidget(self.tabs, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)
        self._menus()
        self.total_label = QLabel("no run yet")
        self.statusBar().addPermanentWidget(self.total_label)
        self.resize(1400, 880)

    def _run_box(self) -> QVBoxLayout:
        self.run_button = QPushButton(f"Run  ({shortcut_label(RUN_KEY)})")
        self.run_button.setStyleSheet("font-weight: bold; padding: 6px;")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton(f"Cancel  ({shortcut_label(CANCEL_KEY)})")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.reason = QLabel(wordWrap=True)
        self.reason.setStyleSheet("color: #c0392b;")
        row = QHBoxLayout()
        row.addWidget(self.run_button, 1)
        row.addWidget(self.cancel_button)
        box = QVBoxLayout()
        box.setContentsMargins(6, 6, 6, 6)
        box.addLayout(row)
        box.addWidget(self.progress)
        box.addWidget(self.reason)
        return box

    def _menus(self) -> None:
        def action(menu: QMenu, text: str, shortcut: Shortcut | None,
                   slot: Callable[[], object]) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            # triggered(bool) must not reach the slot: save_png took the bool as its path.
            act.triggered.connect(lambda _checked=False, run=slot: run())
            menu.addAction(act)
            self.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        action(file_menu, "Open data folder…", QKeySequence.StandardKey.Open,
               self._choose_folder)
        action(file_menu, "Load configuration…", None, self.load_config)
        action(file_menu, "Save configuration…", QKeySequence.StandardKey.Save, self.save_config)
        self.export_action = action(file_menu, "Export result…", "Ctrl+E", self.export)
        action(file_menu, "Save current chart as PNG…", "Ctrl+Shift+S", self.save_png)
        file_menu.addSeparator()
        action(file_menu, "Quit", QKeySequence.StandardKey.Quit, self.close)
        run_menu = self.menuBar().addMenu("&Run")
        action(run_menu, "Run", RUN_KEY, self.run)
        action(run_menu, "Cancel", CANCEL_KEY, self.cancel)

    def _start_worker(self) -> None:
        self.run_thread = QThread(self)
        self.worker = RunWorker()
        self.worker.moveToThread(self.run_thread)
        self.run_requested.connect(self.worker.start_run)
        self.worker.progressed.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.worker.host_started.connect(self._engine_ready)
        self.worker.host_failed.connect(self.errors.show_error)
        self.run_thread.start()
        self.statusBar().showMessage("Preparing the engine (the very first start compiles "
                                     "its kernels, about 10 s)…")
        self.warm_up_requested.connect(self.worker.warm_up)
        self.warm_up_requested.emit()

    def _engine_ready(self, seconds: float) -> None:
        if self._closed:
            return  # the window was closed while the engine started
        self.statusBar().showMessage(f"Engine ready ({seconds:.1f} s)", 5000)
        self.sweep_view.warm_up()  # after the run host, which compiled any missing kernel
        # Start-up's objects (Qt wrappers, modules) never become garbage: keep them out of
        # every later collection, so a full collection stays short.
        gc.collect()
        gc.freeze()

    # ------------------------------------------------------------------- runs
    def run(self) -> None:
        """Start a backtest with the panel's configuration (ignored while one runs)."""
        if self.running:
            return
        try:
            config = self.panel.config()
        except ConfigError as exc:
            self._validity(False, str(exc))
            return
        self.errors.clear()
        self._set_running(True)
        self._run_started = time.perf_counter()
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.worker.prepare()
        store = self.runs_panel.store
        self.run_requested.emit(config, store.path if store is not None else None)

    def cancel(self) -> None:
        """Ask the running backtest to stop."""
        if self.running:
            self.progress.setFormat("cancelling…")
            self.worker.cancel()

    def _set_running(self, on: bool) -> None:
        self.running = on
        self.cancel_button.setEnabled(on)
        self.run_button.setEnabled(not on and not self.reason.text())

    def _progress(self, stage: str, done: int, total: int) -> None:
        if stage not in STAGES:
            return
        index = STAGES.index(stage)
        fraction = (index + (done / total if total and stage == "load" else 0)) / len(STAGES)
        elapsed = time.perf_counter() - self._run_started
        eta = f", ~{elapsed / fraction - elapsed:.1f} s left" if fraction > 0.05 else ""
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"{stage} ({index + 1}/{len(STAGES)}){eta}")

    def _finished(self, outcome: jobs.RunOutcome) -> None:
        self.progress.setValue(1000)
        self.progress.setFormat("showing…")
        self.show_result(outcome.result, then=lambda: self._shown(outcome), text=outcome.text)

    def _shown(self, outcome: jobs.RunOutcome) -> None:
        self.outcome = outcome
        self._set_running(False)
        self.progress.setFormat("done")
        if outcome.store_error:  # a failure costs history, not the run
            self.statusBar().showMessage(f"Run not saved to the history: "
                                         f"{outcome.store_error}", 10000)
        if outcome.runs is not None:
            self.runs_panel.show_runs(outcome.runs)
        if outcome.run_id is not None:
            self.total_label.setText(f"{self.total_label.text()} · saved as run "
                                     f"{outcome.run_id}")

    def _load_stored(self, run_ids: list[int],
                     then: Callable[[dict[int, BacktestResult], dict[int, str]], None]) -> None:
        """Read stored runs on the run host, then call ``then(results, names)`` here."""
        store = self.runs_panel.store
        if store is None:
            self.errors.show_error("no run store is open")
            return
        path = store.path
        job = JobLoad(tuple(run_ids), lambda: jobs.load_runs(path, run_ids), "reading runs",
                      self)
        job.start(lambda _, value: then(*value), self._job_failed)

    def open_stored_run(self, run_id: int) -> None:
        """Show a run from the history as if it had just finished (once it is read and
        its tables formatted, on the run host)."""
        store = self.runs_panel.store
        if store is None:
            self.errors.show_error("no run store is open")
            return
        path = store.path

        def show(_: object, stored: jobs.StoredRun) -> None:
            self.apply_config(stored.result.config)
            self.show_result(stored.result, text=stored.text)
            self.tabs.setCurrentWidget(self.equity_chart)

        job = JobLoad(run_id, lambda: jobs.open_run(path, run_id), "reading the run", self)
        job.start(show, self._job_failed)

    def compare_runs(self, run_ids: list[int]) -> None:
        """Overlay and tabulate the chosen stored runs (once they are read)."""
        def show(results: dict[int, BacktestResult], names: dict[int, str]) -> None:
            self.compare_view.set_data(results, names)
            self.tabs.setCurrentWidget(self.compare_view)

        self._load_stored(run_ids, show)

    def _sweep_base_changed(self) -> None:
        store = self.runs_panel.store
        self.sweep_view.store_path = store.path if store is not None else None
        try:
            self.sweep_view.set_base_config(self.panel.config())
        except ConfigError as exc:
            self.sweep_view.set_base_config(None, str(exc))

    def _run_sweep_cell(self, config: BacktestConfig) -> None:
        self.panel.set_config(config)
        self.tabs.setCurrentWidget(self.equity_chart)
        self.run()

    def _failed(self, message: str, details: str) -> None:
        self._set_running(False)
        self.progress.setFormat("failed")
        self.errors.show_error(message, details)
        self.statusBar().showMessage("Run failed; the previous result is still shown", 10000)

    def _cancelled(self) -> None:
        self._set_running(False)
        self.progress.setValue(0)
        self.progress.setFormat("cancelled")
        self.statusBar().showMessage("Run cancelled; the previous result is still shown", 10000)

    def _validity(self, ok: bool, reason: str) -> None:
        self.reason.setText("" if ok else f"Cannot run: {reason}")
        self.run_button.setEnabled(ok and not self.running)

    # ---------------------------------------------------------------- results
    def show_result(self, result: BacktestResult, then: Callable[[], None] | None = None,
                    text: dict[str, list[PackedText]] | None = None) -> None:
        """Show ``result``: the visible tab now, every other result tab when it is first
        shown; then the summary and ``then``, each in its own event-loop turn so no
        single turn does much. ``text`` is the display text of its tables by name
        (``engine.execution.jobs.RunOutcome.text``); tables without it are formatted here."""
        text = text or {}
        self.result = result
        metrics = pd.DataFrame(metric_rows(result.metrics), columns=["metric", "value"])
        fillers: dict[QWidget, Callable[[], object]] = {
            self.equity_chart: lambda: self.equity_chart.set_data(result.equity,
                                                                  result.config.benchmark),
            self.metrics_table: lambda: self.metrics_table.set_data(metrics),
            self.trades_table: lambda: self.trades_table.set_data(result.trades,
                                                                  text.get("trades")),
            self.fills_table: lambda: self.fills_table.set_data(result.fills, text.get("fills")),
            self.rejections_table: lambda: self.rejections_table.set_data(
                result.rejections, text.get("rejections")),
            self.timing_chart: lambda: self.timing_chart.set_data(result.timings,
                                                                  result.worker_spans),
        }
        self._pending = fillers
        steps: list[Callable[[], object]] = [self._fill_current_tab,
                                             lambda: self._summarise(result)]
        if then is not None:
            steps.append(then)
        self._steps = steps

        def next_step() -> None:
            if self._steps and self.result is result:
                self._steps.pop(0)()
                QTimer.singleShot(0, next_step)

        next_step()

    def _fill_current_tab(self) -> None:
        """Give the visible tab the shown result, if it has not got it yet."""
        fill = self._pending.pop(self.tabs.currentWidget(), None)
        if fill is not None:
            fill()

    def result_tab_filled(self, widget: QWidget) -> bool:
        """Whether result tab ``widget`` shows the current result (tabs fill when shown)."""
        return self.result is not None and widget not in self._pending

    def _summarise(self, result: BacktestResult) -> None:
        total = result.timings.get("total", 0.0)
        self.total_label.setText(f"last run: {total:.2f} s, {len(result.codes)} stocks")
        self.statusBar().showMessage(
            f"Done: {len(result.fills)} fills, {len(result.trades)} round trips, "
            f"{len(result.rejections)} rejections" + (f", {len(result.excluded)} stocks "
                                                      "excluded" if len(result.excluded) else ""))
        if len(result.excluded):
            self.errors.show_error(f"{len(result.excluded)} stock(s) were excluded; see details",
                                   result.excluded.to_string(index=False))

    def show_stock(self, code: str) -> None:
        """Drill down into ``code``: candles, volume, RSI and the run's fills, shown in the
        Stock tab once the run host has loaded them."""
        if not code:
            return
        result = self.result
        try:
            config = result.config if result is not None else self.panel.config()
        except ConfigError as exc:
            self.errors.show_error(str(exc))
            return
        self._detail_code = code
        self.stock_chart.show_loading(code)
        self.tabs.setCurrentWidget(self.stock_chart)
        job = JobLoad(code, lambda: jobs.stock_detail(config, code), f"loading {code}", self)

        def loaded(key: object, detail: pd.DataFrame) -> None:
            if key != self._detail_code:
                return  # the user has asked for another stock since
            fills = (result.fills[result.fills["code"] == code]
                     if result is not None else pd.DataFrame())
            self.stock_chart.set_data(detail, fills, config.oversold, config.overbought,
                                      f"{code}  RSI {config.period}")

        job.start(loaded, self._job_failed)

    def _job_failed(self, _: object, message: str) -> None:
        self.errors.show_error(message)

    # ------------------------------------------------------------ data folder
    def _choose_folder(self) -> None:
        folder = ask_folder(self, DATA, "Open data folder")
        if folder is not None:
            self.panel.set_folder(folder)

    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` in the background and list its stocks in the panel."""
        remember_folder(DATA, folder)
        self._folder = folder
        # The run's end date and adjustment: the aligned cache entry the scan writes is
        # the one the first run of all the folder's stocks reads.
        end, adjust = self.panel.as_date("end"), self.panel.fields["adjust"].get()
        layout = self.panel.fields["layout"].get()
        self.data_info.setText(f"loading {folder}…")
        job = JobLoad(folder, lambda: jobs.scan_folder(folder, end, adjust, layout),
                      f"loading {folder}", self)
        job.start(self._folder_loaded, self._folder_failed)

    def _folder_loaded(self, folder: Path, scan: jobs.FolderScan) -> None:
        try:
            self._show_scan(folder, scan)
        finally:
            self.folder_scanned.emit(folder)

    def _show_scan(self, folder: Path, scan: jobs.FolderScan) -> None:
        if folder != self._folder:
            return  # a slower load of a folder the user has since left
        self.scan = scan
        self.data_table.set_data(scan.coverage)
        excluded = scan.excluded
        unusable = f", {len(excluded)} unusable (see Data tab)" if len(excluded) else ""
        self.panel.show_folder(list(scan.codes), f"{scan.title}: {len(scan.codes)} stocks, "
                               f"{scan.first_date} .. {scan.last_date}{unusable}",
                               scan.indices)
        self.data_info.setText("\n".join([
            f"{scan.folder} — layout: {scan.title} ({scan.layout}); {len(scan.codes)} stocks, "
            f"{scan.first_date} .. {scan.last_date}{unusable}",
            *(f"warning: {w}" for w in scan.warnings[:5])]))
        self.panel.set_coverage(dt.date.fromisoformat(scan.first_date),
                                dt.date.fromisoformat(scan.last_date))
        if len(excluded):
            self.errors.show_error(f"{len(excluded)} file(s) in the folder are unusable",
                                   "\n".join(excluded["reason"]))

    def _folder_failed(self, folder: Path, message: str) -> None:
        if folder != self._folder:
            return
        self.scan = None
        self.panel.show_folder([], "could not read the folder")
        self.panel.set_coverage(None, None)
        self.data_info.setText(f"{folder}: could not read the folder")
        self.errors.show_error(message)

    # --------------------------------------------------------- configuration
    def save_config(self) -> None:
        """Save the current configuration as TOML."""
        try:
            config = self.panel.config()
        except ConfigError as exc:
            self.errors.show_error(f"Fix the configuration before saving: {exc}")
            return
        name = ask_save_file(self, CONFIG, "Save configuration", "run.toml", "TOML (*.toml)")
        if name and write_file(self.errors, name, config.save, "the configuration"):
            self.statusBar().showMessage(f"Saved {name}", 5000)

    def load_config(self) -> None:
        """Load a TOML configuration into the panel."""
        path = ask_open_file(self, CONFIG, "Load configuration", "TOML (*.toml)")
        if path is not None:
            try:
                self.apply_config(BacktestConfig.load(path))
            except ConfigError as exc:
                self.errors.show_error(str(exc))

    def apply_config(self, config: BacktestConfig) -> None:
        """Show ``config`` in the panel and load its data folder."""
        self.panel.set_config(config)
        self.open_folder(config.data_dir)

    def export(self) -> None:
        """Write every table of the shown result into a folder (Ctrl+E)."""
        if self.result is None:
            self.statusBar().showMessage("Nothing to export yet: run a backtest first", 5000)
            return
        folder = ask_folder(self, EXPORT, "Export result into folder")
        result = self.result
        written: list[Path] = []
        if folder and write_folder(self.errors, folder,
                                   lambda into: written.extend(export_result(result, into)),
                                   "the result's tables"):
            self.statusBar().showMessage(f"Wrote {len(written)} files to {folder}", 10000)

    def save_png(self, path: Path | None = None) -> Path | None:
        """Save the current tab (chart or table) as a PNG image (asks where when ``path``
        is None). Returns the path, None if nothing was written."""
        if path is None:
            title = self.tabs.tabText(self.tabs.currentIndex()).lower()
            path = ask_save_file(self, IMAGE, "Save as PNG", f"{title}.png", "PNG (*.png)")
            if path is None:
                return None
        image = self.tabs.currentWidget().grab()

        def save(tmp: Path) -> None:
            if not image.save(str(tmp), "PNG"):
                raise OSError("Qt could not write the image")
        if not write_file(self.errors, path, save, "the tab as PNG"):
            return None
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return path

    # ------------------------------------------------------------- lifecycle
    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.value("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([380, 1020])
        text = self.settings.value("config")
        if text:
            # An old or hand-edited setting that no longer validates keeps the defaults.
            with contextlib.suppress(ConfigError):
                self.panel.set_config(BacktestConfig.from_toml(str(text)))
        folder = Path(self.panel.folder.text())
        if folder.is_dir():
            self.open_folder(folder.resolve())

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        self.worker.cancel()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        with contextlib.suppress(ConfigError):  # an invalid configuration is not remembered
            self.settings.setValue("config", self.panel.config().to_toml())
        self.sweep_view.shutdown()
        self.run_thread.quit()
        self.run_thread.wait(5000)
        super().closeEvent(event)
