"""The workbench window: configure on the left, run with progress, results in tabs."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
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
from engine.results.formatting import PackedText, trade_counts
from engine.results.tables import BacktestResult
from engine.strategies.naming import strategy_label
from engine.util.words import counted
from gui.compare_view import CompareView
from gui.config_panel import ConfigPanel
from gui.data_tab import DataTab
from gui.dialog_folders import (
    CONFIG,
    DATA,
    EXPORT,
    IMAGE,
    ask_folder,
    ask_open_file,
    ask_save_file,
    file_name,
    run_words,
)
from gui.error_panel import ErrorPanel
from gui.file_writes import write_file, write_folder
from gui.jobs_bridge import BackgroundJob
from gui.menus import add_menus
from gui.native import Shortcut, shortcut_label
from gui.result_tabs import ResultTabs
from gui.run_box import RunBox
from gui.run_worker import RunWorker
from gui.runs_panel import RunsPanel
from gui.stock_chart import StockChart
from gui.strategy_box import show_problems
from gui.sweep_view import SweepView
from gui.wheel_guard import guard_wheel

log = logging.getLogger(__name__)

#: Qt reads "Ctrl" as the Command key on macOS.
RUN_KEY: Shortcut = "Ctrl+R"
CANCEL_KEY: Shortcut = Qt.Key.Key_Escape
#: The status bar while the run host starts, and the progress bar of a run started then
#: (it waits in the run worker's queue until the engine is ready).
PREPARING = ("Preparing the engine in the background (the very first start compiles its "
             "kernels, up to a minute); a run started meanwhile waits for it")
QUEUED = "queued: waiting for the engine to start (the first start compiles its kernels)…"
#: Milliseconds the run host waits to start unless a folder's stocks are listed or Run is
#: pressed first: the window and the folder scan get the cores first.
WARM_UP_DELAY_MS = 1500


class MainWindow(QMainWindow):
    """Configure a run, start it (Ctrl+R), cancel it (Esc), inspect and export the result."""

    run_requested = Signal(object, object)
    warm_up_requested = Signal()
    #: A folder scan came back (``folder``), whether or not it is still the current folder.
    folder_scanned = Signal(object)

    def __init__(self, open_folder: bool = True) -> None:
        """``open_folder``: open the data folder of the last session (or, on the first,
        the default configuration's) at once; False when the caller opens another."""
        super().__init__()
        self.setWindowTitle("Backtest Workbench")
        self.settings = QSettings()
        self.outcome: jobs.RunOutcome | None = None  # of the last run started here
        #: The run-history id of the shown result (None: not saved, or none shown).
        self.shown_run: int | None = None
        #: Whether the run host has started (a run started before waits for it).
        self.engine_ready = False
        self._detail_code = ""
        self._closed = False
        self._build()
        guard_wheel(self)  # every field: scrolling over it never changes it
        self._start_worker()
        self._restore(open_folder)

    @property
    def result(self) -> BacktestResult | None:
        """The shown result (``ResultTabs.result``)."""
        return self.result_tabs.result

    @property
    def running(self) -> bool:
        """Whether a backtest is running."""
        return self.run_box.running

    @property
    def scan(self) -> jobs.FolderScan | None:
        """The open data folder's scan (``DataTab.scan``)."""
        return self.data_tab.scan

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.panel = ConfigPanel()
        self.errors = ErrorPanel()
        self.data_tab = DataTab(self.panel, self.errors)
        self.data_tab.folder_scanned.connect(self.folder_scanned)
        show_problems(self.panel.strategy_box, self.errors)
        self.panel.validity_changed.connect(self._validity)
        self.panel.folder_changed.connect(self.data_tab.open_folder)
        for messages in (self.panel.stocks.message_posted, self.panel.message_posted):
            messages.connect(lambda text: self.statusBar().showMessage(text, 10000))
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
        self.run_box = RunBox(f"Run  ({shortcut_label(RUN_KEY)})",
                              f"Cancel  ({shortcut_label(CANCEL_KEY)})", eta_decimals=1, margin=6)
        self.run_box.run_button.clicked.connect(self.run)
        self.run_box.cancel_button.clicked.connect(self.cancel)
        box.addWidget(self.run_box)
        self.tabs = QTabWidget()
        self.result_tabs = ResultTabs(self.tabs)
        self.equity_chart = self.result_tabs.equity_chart  # where a run's result opens
        self.stock_chart = StockChart()
        self.runs_panel = RunsPanel()
        self.compare_view = CompareView()
        self.sweep_view = SweepView(self.settings)
        for widget, title in ((self.stock_chart, "Stock"), (self.data_tab, "Data"),
                              (self.runs_panel, "Runs"), (self.compare_view, "Compare"),
                              (self.sweep_view, "Sweep")):
            self.tabs.addTab(widget, title)
        self.runs_panel.open_requested.connect(self.open_stored_run)
        self.runs_panel.compare_requested.connect(self.compare_runs)
        self.sweep_view.run_requested.connect(self._run_sweep_cell)
        self.sweep_view.walk_forward_saved.connect(self.runs_panel.show_runs)
        self.panel.changed.connect(self._sweep_base_changed)
        tabs = self.result_tabs
        for table in (tabs.trades_table, tabs.fills_table, tabs.rejections_table,
                      self.data_tab.table):
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

    def _menus(self) -> None:
        add_menus(self, {
            "&File": [("Open data folder…", QKeySequence.StandardKey.Open, self._choose_folder),
                      ("Load configuration…", None, self.load_config),
                      ("Save configuration…", QKeySequence.StandardKey.Save, self.save_config),
                      ("Export result…", "Ctrl+E", self.export),
                      ("Save current chart as PNG…", "Ctrl+Shift+S", self.save_png),
                      None,
                      ("Quit", QKeySequence.StandardKey.Quit, self.close)],
            "&Run": [("Run", RUN_KEY, self.run), ("Cancel", CANCEL_KEY, self.cancel)],
        })

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
        self.statusBar().showMessage(PREPARING)
        self.warm_up_requested.connect(self.worker.warm_up)
        self._warm_up_sent = False
        self.folder_scanned.connect(self._warm_up)
        QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up)

    def _warm_up(self) -> None:
        """Start the run host (once): after the first folder scan, a delay or Run."""
        if not self._warm_up_sent and not self._closed:
            self._warm_up_sent = True
            self.warm_up_requested.emit()

    def _engine_ready(self, seconds: float) -> None:
        if self._closed:
            return  # the window was closed while the engine started
        self.engine_ready = True
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
        self.panel.strategy_box.refresh()  # a file saved since: its parameters as they are now
        try:
            config = self.panel.config()
        except ConfigError as exc:
            self._validity(False, str(exc))
            return
        problem = self.panel.run_problem(config)
        if problem:  # Ctrl+R while Run is off for it: the reason is already shown
            self._validity(False, problem)
            return
        self.errors.clear()
        self._warm_up()  # the run waits behind it in the worker's queue
        self.run_box.start()
        if not self.engine_ready:
            self.run_box.show_status(QUEUED)
        self.worker.prepare()
        store = self.runs_panel.store
        self.run_requested.emit(config, store.path if store is not None else None)

    def cancel(self) -> None:
        """Ask the running backtest to stop."""
        if self.running:
            self.run_box.show_status("cancelling…")
            self.worker.cancel()

    def _progress(self, stage: str, done: int, total: int) -> None:
        if stage not in STAGES:
            return
        index = STAGES.index(stage)
        fraction = (index + (done / total if total and stage == "load" else 0)) / len(STAGES)
        self.run_box.show_progress(fraction, f"{stage} ({index + 1}/{len(STAGES)})")

    def _finished(self, outcome: jobs.RunOutcome) -> None:
        self.run_box.show_status("showing…", 1.0)
        self.show_result(outcome.result, then=lambda: self._shown(outcome), text=outcome.text)

    def _shown(self, outcome: jobs.RunOutcome) -> None:
        self.outcome = outcome
        self.run_box.set_running(False)
        self.run_box.show_status("done")
        if outcome.store_error:  # a failure costs history, not the run
            self.statusBar().showMessage(f"Run not saved to the history: "
                                         f"{outcome.store_error}", 10000)
        if outcome.runs is not None:
            self.runs_panel.show_runs(outcome.runs)
        self.shown_run = outcome.run_id
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
        job = BackgroundJob(tuple(run_ids), lambda: jobs.load_runs(path, run_ids),
                            "reading runs", self)
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
            self._show_stored(run_id, stored)
            self.tabs.setCurrentWidget(self.equity_chart)

        job = BackgroundJob(run_id, lambda: jobs.open_run(path, run_id), "reading the run",
                            self)
        job.start(show, self._job_failed)

    def _show_stored(self, run_id: int, stored: jobs.StoredRun) -> None:
        """Show a run from the history, its id beside the summary."""
        self.shown_run = run_id
        self.show_result(stored.result, text=stored.text, then=lambda: self.total_label.setText(
            f"{self.total_label.text()} · run {run_id} from the history"))

    def _show_last_run(self) -> None:
        """On start, show the result shown when the window last closed (read from the run
        history on the data host), unless a run has been shown or started since."""
        last = self.settings.value("last_run")
        store = self.runs_panel.store
        if last is None or store is None or not str(last).isdigit():
            return
        run_id, path = int(str(last)), store.path

        def show(_: object, stored: jobs.StoredRun) -> None:
            if self.result is None and not self.running and not self._closed:
                self._show_stored(run_id, stored)

        def gone(_: object, message: str) -> None:  # deleted since: nothing to show
            log.info("the last run shown, %d, could not be read: %s", run_id, message)

        BackgroundJob(run_id, lambda: jobs.open_run(path, run_id), "reading the last run",
                      self).start(show, gone)

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
            config = self.panel.config()
        except ConfigError as exc:
            self.sweep_view.set_base_config(None, str(exc))
        else:  # a strategy file that cannot be described cannot be swept either
            problem = self.panel.strategy_box.problem()
            self.sweep_view.set_base_config(None if problem else config, problem)

    def _run_sweep_cell(self, config: BacktestConfig) -> None:
        self.panel.set_config(config)
        self.tabs.setCurrentWidget(self.equity_chart)
        self.run()

    def _failed(self, message: str, details: str) -> None:
        self.run_box.set_running(False)
        self.run_box.show_status("failed")
        self.errors.show_error(message, details)
        self.statusBar().showMessage("Run failed; the previous result is still shown", 10000)

    def _cancelled(self) -> None:
        self.run_box.set_running(False)
        self.run_box.show_status("cancelled", 0.0)
        self.statusBar().showMessage("Run cancelled; the previous result is still shown", 10000)

    def _validity(self, ok: bool, reason: str) -> None:
        self.run_box.set_reason("" if ok else reason)

    # ---------------------------------------------------------------- results
    def show_result(self, result: BacktestResult, then: Callable[[], None] | None = None,
                    text: dict[str, list[PackedText]] | None = None) -> None:
        """Show ``result`` (``ResultTabs.show``), then the summary and ``then``, each in
        its own event-loop turn. ``text`` is the display text of its tables by name."""
        steps: list[Callable[[], object]] = [lambda: self._summarise(result)]
        if then is not None:
            steps.append(then)
        self.result_tabs.show(result, text or {}, steps)

    def _summarise(self, result: BacktestResult) -> None:
        total = result.timings.get("total", 0.0)
        self.total_label.setText(f"last run: {total:.2f} s, {counted(len(result.codes), 'stock')}")
        self.statusBar().showMessage(f"Done: {trade_counts(result)}")
        if len(result.excluded):
            # The run's warnings (e.g. unadjusted bars) stay in the details below the list.
            self.errors.show_error(f"{counted(len(result.excluded), 'stock')} excluded; see "
                                   "details",
                                   "\n".join([result.excluded.to_string(index=False),
                                              *(f"warning: {w}" for w in result.warnings)]))
        elif result.warnings:
            # Where the result is: e.g. unadjusted TongDaXin bars book each ex-rights gap
            # as a loss (the load's warning says how to give an adjustment source).
            more = len(result.warnings) - 1
            self.errors.show_warning(
                f"warning: {result.warnings[0]}"
                + (f" (and {counted(more, 'more warning')}; see details)" if more else ""),
                "\n".join(result.warnings) if more else "")

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
        job = BackgroundJob(code, lambda: jobs.stock_detail(config, code), f"loading {code}",
                            self)

        def loaded(key: object, detail: pd.DataFrame) -> None:
            if key != self._detail_code:
                return  # the user has asked for another stock since
            fills = (result.fills[result.fills["code"] == code]
                     if result is not None else pd.DataFrame())
            self.stock_chart.set_data(detail, fills, config.oversold, config.overbought,
                                      f"{code}  {strategy_label(config)}")

        job.start(loaded, self._job_failed)

    def _job_failed(self, _: object, message: str) -> None:
        self.errors.show_error(message)

    # ------------------------------------------------------------------ files
    def _choose_folder(self) -> None:
        folder = ask_folder(self, DATA, "Open data folder")
        if folder is not None:
            self.panel.set_folder(folder)

    def save_config(self) -> None:
        """Save the current configuration as TOML."""
        try:
            config = self.panel.config()
        except ConfigError as exc:
            self.errors.show_error(f"Fix the configuration before saving: {exc}")
            return
        name = ask_save_file(self, CONFIG, "Save configuration",
                             file_name(run_words(config), suffix=".toml"), "TOML (*.toml)")
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
        self.data_tab.open_folder(config.data_dir)

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
            self.statusBar().showMessage(f"Wrote {counted(len(written), 'file')} to {folder}",
                                         10000)

    def save_png(self, path: Path | None = None) -> Path | None:
        """Save the current tab (chart or table) as a PNG image (asks where when ``path``
        is None). Returns the path, None if nothing was written."""
        if path is None:
            title = self.tabs.tabText(self.tabs.currentIndex()).lower()
            shown = self.result if self.tabs.currentIndex() < self.result_tabs.count else None
            words = run_words(shown.config) if shown is not None else ""
            path = ask_save_file(self, IMAGE, "Save as PNG",
                                 file_name(title, words, suffix=".png"), "PNG (*.png)")
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
    def _restore(self, open_folder: bool) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.value("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([380, 1020])
        text = self.settings.value("config")
        restored = False
        if text:
            # An old or hand-edited setting that no longer validates keeps the defaults.
            with contextlib.suppress(ConfigError):
                self.panel.set_config(BacktestConfig.from_toml(str(text)))
                restored = True
        folder = Path(self.panel.folder.text())
        #: Whether the window last closed on a data folder that is still there (opened
        #: again unless ``open_folder`` was False).
        self.reopened = restored and folder.is_dir()
        if open_folder and folder.is_dir():
            self.data_tab.open_folder(folder.resolve())
        self._show_last_run()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        self.worker.cancel()
        self.worker.stop_waiting()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        with contextlib.suppress(ConfigError):  # an invalid configuration is not remembered
            self.settings.setValue("config", self.panel.config().to_toml())
        self.settings.setValue("last_run", "" if self.shown_run is None else self.shown_run)
        self.sweep_view.shutdown()
        self.run_thread.quit()
        self.run_thread.wait(5000)
        super().closeEvent(event)
