"""The charts and the sweep tab as a user sees them (issue 24, 10 and 11): a legend never
covers the curves or bars it names, and the sweep tab's status lines say what is true now."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
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
