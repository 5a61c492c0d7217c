"""The tabs that show one backtest's result, each filled when it is first shown."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QTabWidget, QWidget

from engine.results.formatting import PackedText, metric_rows
from engine.results.tables import BacktestResult
from gui.dialog_folders import run_words
from gui.equity_chart import EquityChart
from gui.table_view import FrameTable
from gui.timing_chart import TimingChart


class ResultTabs:
    """The Equity, Metrics, Trades, Fills, Rejections and Timing tabs of ``tabs`` and the
    result they show (``result``). ``show`` fills the visible tab at once and every other
    one when the user first opens it, so a finished run never waits for tables nobody
    looks at."""

    def __init__(self, tabs: QTabWidget) -> None:
        self.tabs = tabs
        self.result: BacktestResult | None = None
        self._pending: dict[QWidget, Callable[[], object]] = {}
        self._steps: list[Callable[[], object]] = []
        self.equity_chart = EquityChart()
        self.metrics_table = FrameTable(filter_column=None)
        self.trades_table = FrameTable()
        self.fills_table = FrameTable()
        self.rejections_table = FrameTable()
        self.timing_chart = TimingChart()
        for widget, title in ((self.equity_chart, "Equity"), (self.metrics_table, "Metrics"),
                              (self.trades_table, "Trades"), (self.fills_table, "Fills"),
                              (self.rejections_table, "Rejections"),
                              (self.timing_chart, "Timing")):
            tabs.addTab(widget, title)
        tabs.currentChanged.connect(lambda _: self.fill_current_tab())
        #: The result tabs come first: tabs at an index below this show ``result``.
        self.count = tabs.count()

    def show(self, result: BacktestResult, text: dict[str, list[PackedText]],
             then: Sequence[Callable[[], object]] = ()) -> None:
        """Show ``result``: the visible tab now, every other tab when it is first shown;
        then each of ``then``, each in its own event-loop turn so no single turn does much
        (dropped if another result is shown meanwhile). ``text`` is the display text of its
        tables by name (``engine.execution.jobs.RunOutcome.text``); tables without it are
        formatted here."""
        self.result = result
        for table in (self.metrics_table, self.trades_table, self.fills_table,
                      self.rejections_table):
            title = self.tabs.tabText(self.tabs.indexOf(table)).lower()
            table.export_name = f"{title} {run_words(result.config)}"
        metrics = pd.DataFrame(metric_rows(result.metrics), columns=["metric", "value"])
        self._pending = {
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
        self._steps = [self.fill_current_tab, *then]

        def next_step() -> None:
            if self._steps and self.result is result:
                self._steps.pop(0)()
                QTimer.singleShot(0, next_step)

        next_step()

    def fill_current_tab(self) -> None:
        """Give the visible tab the shown result, if it has not got it yet."""
        fill = self._pending.pop(self.tabs.currentWidget(), None)
        if fill is not None:
            fill()

    def filled(self, widget: QWidget) -> bool:
        """Whether result tab ``widget`` shows the current result (tabs fill when shown)."""
        return self.result is not None and widget not in self._pending
