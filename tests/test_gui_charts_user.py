"""The charts and the sweep tab as a user sees them (issue 24, 10 and 11): a legend never
covers the curves or bars it names, and the sweep tab's status lines say what is true now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.execution.jobs import WalkForwardOutcome
from engine.results.formatting import format_frame, pack_text
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from engine.studies.folds import FoldSpec
from engine.studies.walkforward import run_walk_forward
from gui.compare_view import CompareView
from gui.equity_chart import EquityChart
from gui.main_window import MainWindow
from gui.sweep_view import GRID_MODE, WALK_MODE, SweepView
from gui.walkforward_view import WalkForwardView
from tests.conftest import SAMPLE

BASE = BacktestConfig(data_dir=SAMPLE, workers=1)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, BacktestResult]:
    cache = tmp_path_factory.mktemp("cache")
    return {1: run_backtest(BASE.replace(cache_dir=cache)),
            2: run_backtest(BASE.replace(cache_dir=cache, period=10, oversold=25.0))}


@pytest.fixture(scope="module")
def walk_forward() -> WalkForwardOutcome:
    result = run_walk_forward(BASE, {"period": [10, 14], "oversold": [25, 30]},
                              FoldSpec("12m", "6m"), "sharpe")
    return WalkForwardOutcome(result, None, "", None, pack_text(format_frame(result.folds)))


def _shown(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.addWidget(widget)
    widget.resize(1000, 640)
    widget.show()
    qtbot.waitExposed(widget)
    QApplication.processEvents()  # the layouts settle


def _data_rect(plot: pg.PlotItem) -> QRectF:
    """The scene rectangle of everything the plot shows (its data items' bounds)."""
    rect = QRectF()
    shapes = [item.curve for item in plot.listDataItems() if isinstance(item, pg.PlotDataItem)]
    shapes += [item for item in plot.items if isinstance(item, pg.BarGraphItem)]
    for item in shapes:
        bounds = item.mapRectToScene(item.boundingRect())
        rect = bounds if rect.isNull() else rect.united(bounds)
    return rect


def _assert_clear_of_data(legend: pg.LegendItem, plot: pg.PlotItem, names: list[str]) -> None:
    assert [label.text for _, label in legend.items] == names
    assert legend.isVisible()
    box = legend.sceneBoundingRect()
    assert box.width() > 20 and box.height() > 5
    data = _data_rect(plot)
    assert not data.isNull()
    assert not box.intersects(data), (box, data)
    assert not box.intersects(plot.vb.sceneBoundingRect()), "the legend is inside the plot"
    # and the user can see it: inside the canvas, not off its edge
    assert plot.scene().sceneRect().contains(box), (box, plot.scene().sceneRect())


def test_the_equity_legend_covers_no_curve(qtbot: QtBot,
                                           results: dict[int, BacktestResult]) -> None:
    chart = EquityChart()
    chart.set_data(results[1].equity)
    _shown(qtbot, chart)
    _assert_clear_of_data(chart.legend, chart.equity_plot,
                          ["portfolio", "equal-weight buy & hold"])
    chart.set_data(results[1].equity, "data/index/000300.SH.csv")  # a longer name
    QApplication.processEvents()
    _assert_clear_of_data(chart.legend, chart.equity_plot,
                          ["portfolio", "benchmark: 000300.SH.csv"])


def test_the_compare_legend_covers_no_curve(qtbot: QtBot,
                                            results: dict[int, BacktestResult]) -> None:
    view = CompareView()
    _shown(qtbot, view)
    view.set_data(results, {1: "baseline", 2: "period 10"})
    QApplication.processEvents()
    _assert_clear_of_data(view.legend, view.plot, ["#1 baseline", "#2 period 10"])
    many = {i: results[1 + i % 2] for i in range(1, 9)}  # eight runs: several legend rows
    view.set_data(many, {i: f"a longer run name {i}" for i in many})
    QApplication.processEvents()
    _assert_clear_of_data(view.legend, view.plot, [f"#{i} a longer run name {i}" for i in many])
    view.resize(560, 640)  # a narrow window: fewer runs to a legend line, none cut off
    QApplication.processEvents()
    _assert_clear_of_data(view.legend, view.plot, [f"#{i} a longer run name {i}" for i in many])
    view.clear_data()
    assert view.legend.items == []


def test_the_walk_forward_legends_cover_no_curve_or_bar(qtbot: QtBot,
                                                         walk_forward: WalkForwardOutcome) -> None:
    view = WalkForwardView()
    _shown(qtbot, view)
    view.set_result(walk_forward)
    QApplication.processEvents()
    _assert_clear_of_data(view.equity_plot.legend, view.equity_plot,
                          ["walk-forward (out of sample)", "hindsight: the whole window's best"])
    _assert_clear_of_data(view.folds_plot.legend, view.folds_plot,
                          ["in sample (train)", "out of sample (test)"])


# ------------------------------------------------------------------ the sweep tab (item 11)
RANGES = {"period": "10,14", "oversold": "25,30", "overbought": ""}


@pytest.fixture
def sweep(qtbot: QtBot) -> Iterator[SweepView]:
    view = SweepView()
    qtbot.addWidget(view)
    view.resize(1400, 880)
    view.show()
    view.set_base_config(BASE)
    for name, text in RANGES.items():
        view.range_edits[name].setText(text)
    view.walk_form.test_edit.setText("6m")
    yield view
    view.shutdown()


def _sweep_done(view: SweepView, qtbot: QtBot) -> str:
    """Press Run in the shown mode; the bar's text once the run has ended."""
    qtbot.mouseClick(view.run_box.run_button, Qt.MouseButton.LeftButton)
    assert view.running
    qtbot.waitUntil(lambda: not view.running, timeout=60_000)
    return view.run_box.progress.format()


def test_each_mode_shows_its_own_last_status(sweep: SweepView, qtbot: QtBot) -> None:
    bar = sweep.run_box.progress
    grid_done = _sweep_done(sweep, qtbot)
    assert grid_done.startswith("done: 4 combinations"), sweep.errors.message.text()
    sweep.mode.setCurrentText(WALK_MODE)
    assert bar.format() == "idle" and bar.value() == 0  # no walk-forward ran yet
    walk_done = _sweep_done(sweep, qtbot)
    assert walk_done.startswith("done: ") and "folds" in walk_done, sweep.errors.message.text()
    sweep.mode.setCurrentText(GRID_MODE)
    assert bar.format() == grid_done and bar.value() == bar.maximum()
    sweep.mode.setCurrentText(WALK_MODE)
    assert bar.format() == walk_done


def test_the_mode_stays_while_a_run_goes(sweep: SweepView, qtbot: QtBot) -> None:
    """The bar and Cancel belong to the running mode: the mode cannot change under them."""
    for name, text in {"period": "5:60:1", "oversold": "10:40:1"}.items():
        sweep.range_edits[name].setText(text)
    sweep.run()
    assert sweep.running and not sweep.mode.isEnabled()
    sweep.cancel()
    qtbot.waitUntil(lambda: not sweep.running, timeout=20_000)
    assert sweep.mode.isEnabled() and sweep.run_box.progress.format() == "cancelled"
    sweep.mode.setCurrentText(WALK_MODE)
    assert sweep.run_box.progress.format() == "idle"


def test_a_clicked_cells_running_line_goes_when_the_sweep_tab_runs_again(
        sweep: SweepView, qtbot: QtBot, tmp_path: Path) -> None:
    _sweep_done(sweep, qtbot)
    readout = sweep.heatmap.readout
    with qtbot.waitSignal(sweep.run_requested):
        sweep.heatmap.cell_clicked.emit(1, 1)  # oversold 30, period 14
    assert readout.text().startswith("running period = 14, oversold = 30")
    sweep.set_base_config(BASE.replace(data_dir=tmp_path / "missing"))
    assert _sweep_done(sweep, qtbot) == "failed"
    assert not readout.text().startswith("running"), readout.text()
    assert sweep.heatmap.z.size  # the last sweep's heatmap is still shown


@pytest.mark.usefixtures("isolated_settings")
def test_a_clicked_cells_running_line_goes_when_its_backtest_ends(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.apply_config(BASE.replace(start="2024-01-02", end="2024-12-31"))
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) > 0, timeout=30_000)
    view = window.sweep_view
    window.tabs.setCurrentWidget(view)
    for name, text in RANGES.items():
        view.range_edits[name].setText(text)
    qtbot.waitUntil(lambda: view.run_box.run_button.isEnabled(), timeout=30_000)
    _sweep_done(view, qtbot)
    view.heatmap.cell_clicked.emit(0, 1)  # oversold 25, period 14: the window runs it
    assert window.running and window.tabs.currentWidget() is window.equity_chart
    assert view.heatmap.readout.text().startswith("running period = 14, oversold = 25")
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)
    assert window.run_box.progress.format() == "done", window.errors.message.text()
    assert window.result.config.period == 14
    window.tabs.setCurrentWidget(view)  # the user looks back at the sweep
    assert not view.heatmap.readout.text().startswith("running"), view.heatmap.readout.text()
    window.close()
