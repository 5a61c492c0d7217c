"""The sweep tab's walk-forward mode: the fold settings, and the results (the stitched
out-of-sample equity against the hindsight best, the per-fold table, and each fold's
in-sample against out-of-sample metric)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ConfigError
from engine.execution.jobs import WalkForwardOutcome
from engine.results.formatting import EXTRA_METRICS, METRICS, format_value
from engine.results.metric_registry import metric_goal
from engine.studies.folds import FoldSpec, Window
from engine.util.words import counted
from gui.metric_table import MetricTable
from gui.plot_style import (
    BENCHMARK,
    PORTFOLIO,
    DateAxis,
    error_label,
    legend_above,
    make_plot_widget,
    placeholder_stack,
    posix_seconds,
    series_color,
    style_plot,
)

KINDS = {key: kind for key, _, kind in (*METRICS, *EXTRA_METRICS)}
LABELS = {key: label for key, label, _ in (*METRICS, *EXTRA_METRICS)}
DEFAULT_METRIC = "sharpe"


class WalkForwardForm(QGroupBox):
    """The "Walk-forward folds" group: ``spec()`` is the folds its fields describe,
    ``chosen_metric()`` what each train window's best is chosen by, ``check()`` shows what is
    wrong and says why a walk-forward cannot run. ``edited`` after a window is typed."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__("Walk-forward folds")
        form = QFormLayout(self)
        self.train_edit = QLineEdit("12m")
        self.test_edit = QLineEdit("3m")
        for edit, tip in ((self.train_edit, "train window: months (12m) or trading days "
                           "(250d)"), (self.test_edit, "test window: 3m or 60d")):
            edit.setToolTip(tip)
            edit.textChanged.connect(self.edited)
        self.anchored = QCheckBox("anchored (train from the start)")
        self.anchored.setToolTip("every train window starts at the run's start; otherwise "
                                 "each trains on the window just before its test window")
        self.metric_combo = QComboBox()
        for key, label, kind in METRICS:
            if kind != "text" and metric_goal(key) is not None:
                self.metric_combo.addItem(label, key)
        self.metric_combo.setCurrentIndex(self.metric_combo.findData(DEFAULT_METRIC))
        self.error = error_label()
        self.error.hide()
        form.addRow("train", self.train_edit)
        form.addRow("test", self.test_edit)
        form.addRow(self.anchored)
        form.addRow("best by", self.metric_combo)
        form.addRow(self.error)

    def spec(self) -> FoldSpec:
        """The fold settings; raises ``ConfigError`` naming the bad window."""
        train = str(Window.parse(self.train_edit.text(), "train"))
        test = str(Window.parse(self.test_edit.text(), "test"))
        return FoldSpec(train, test, self.anchored.isChecked())

    def chosen_metric(self) -> str:
        """The metric each train window's best combination is chosen by."""
        return str(self.metric_combo.currentData())

    def check(self) -> str:
        """Show a bad window's problem; returns why the folds cannot run ("" if fine)."""
        try:
            self.spec()
        except ConfigError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return f"the {exc.field} window is not valid (see above)"
        self.error.hide()
        return ""


class WalkForwardView(QWidget):
    """Shows a ``WalkForwardOutcome``; computes nothing (every figure comes from the
    engine's result: the curves, the fold table and its metrics)."""

    def __init__(self) -> None:
        super().__init__()
        self.summary = QLabel(" ", wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.canvas = make_plot_widget()
        self.equity_plot = self.canvas.addPlot(row=1, col=0,
                                               axisItems={"bottom": DateAxis()})
        self.folds_plot = self.canvas.addPlot(row=3, col=0)
        # each legend in a row above its plot: inside, it covered the curves and bars
        self.equity_legend = legend_above(self.canvas, self.equity_plot, row=0)
        self.folds_legend = legend_above(self.canvas, self.folds_plot, row=2)
        self.canvas.ci.layout.setRowStretchFactor(1, 3)
        self.canvas.ci.layout.setRowStretchFactor(3, 2)
        for plot in (self.equity_plot, self.folds_plot):
            style_plot(plot)
        self.equity_plot.setLabel("left", "equity", units="¥")
        self.oos = self.equity_plot.plot(pen=pg.mkPen(PORTFOLIO, width=1),
                                         name="walk-forward (out of sample)")
        self.hindsight = self.equity_plot.plot(
            pen=pg.mkPen(BENCHMARK, width=1, style=Qt.PenStyle.DashLine),
            name="hindsight: the whole window's best")
        self.is_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=series_color(1),
                                       name="in sample (train)")
        self.oos_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=series_color(0),
                                        name="out of sample (test)")
        for bars in (self.is_bars, self.oos_bars):
            self.folds_plot.addItem(bars)
        self.folds_plot.setLabel("bottom", "fold")
        self.table = MetricTable()
        self.table.export_name = "walk-forward folds"
        self.placeholder, self._stack = placeholder_stack(
            self.canvas, "Run a walk-forward to see each fold's choice and the stitched "
            "out-of-sample result.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self._stack)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([3000, 2000])  # 3:2 from the start, whatever the size hints say
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.outcome: WalkForwardOutcome | None = None

    def set_result(self, outcome: WalkForwardOutcome) -> None:
        """Show a finished walk-forward."""
        self.outcome = outcome
        wf = outcome.result
        self.summary.setText(self.summary_text(outcome))
        self.oos.setData(posix_seconds(wf.equity["date"]), wf.equity["equity"].to_numpy())
        self.hindsight.setData(posix_seconds(wf.in_sample_equity["date"]),
                               wf.in_sample_equity["equity"].to_numpy())
        folds = np.arange(1, len(wf.folds) + 1, dtype=float)
        metric = wf.metric
        self.is_bars.setOpts(x=folds - 0.2, height=wf.folds[f"is_{metric}"].to_numpy(float))
        self.oos_bars.setOpts(x=folds + 0.2, height=wf.folds[f"oos_{metric}"].to_numpy(float))
        self.folds_plot.setLabel("left", LABELS.get(metric, metric))
        self.folds_plot.getAxis("bottom").setTicks([[(k, str(int(k))) for k in folds]])
        self.folds_plot.autoRange()
        self.equity_plot.autoRange()
        self.table.set_data(wf.folds, outcome.folds_text)
        self._stack.setCurrentWidget(self.canvas)

    @staticmethod
    def summary_text(outcome: WalkForwardOutcome) -> str:
        """The headline: folds, the out-of-sample result, efficiency and diagnostics."""
        wf = outcome.result
        spec = wf.spec
        kind = "anchored" if spec.anchored else "rolling"
        m = wf.metrics

        def show(key: str, value: object) -> str:
            return f"{LABELS[key]} {format_value(value, KINDS[key])}"

        saved = (f" · saved as run {outcome.run_id}" if outcome.run_id is not None
                 else f" · not saved: {outcome.store_error}" if outcome.store_error else "")
        folds = counted(len(wf.folds), f"{kind} fold")
        return (f"{folds} (train {spec.train}, test {spec.test}), best "
                f"by {LABELS.get(wf.metric, wf.metric)} on each train window{saved}\n"
                f"Out of sample: {show('total_return', m['total_return'])} · "
                f"{show('sharpe', m['sharpe'])} · {show('max_drawdown', m['max_drawdown'])}"
                f" · {show('wf_efficiency', wf.wf_efficiency)} (out-of-sample CAGR over the "
                "mean in-sample CAGR; near 1: the choice carries over)\n"
                f"{show('deflated_sharpe', wf.diagnostics.get('deflated_sharpe'))} · "
                f"{show('pbo', wf.diagnostics.get('pbo'))} (of the grid over the whole window)")

    def clear_data(self) -> None:
        """Show the placeholder."""
        self.outcome = None
        self.summary.setText(" ")
        self.oos.setData([], [])
        self.hindsight.setData([], [])
        self.table.clear_data()
        self._stack.setCurrentWidget(self.placeholder)
