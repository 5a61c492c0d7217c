"""Words a user reads in the window (issue 24, item 8), driven through keys and the
mouse: rule values, rejection and exit reasons in their display names, a yes/no column in
words, the benchmark list naming its indices, counts in their number with separators."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.datagen.universe import generate_universe
from gui.main_window import MainWindow
from gui.table_view import FrameTable
from tests.conftest import SAMPLE
from tests.test_gui_folder_user import FIRST, LAST, _browse, _write_index

pytestmark = pytest.mark.usefixtures("isolated_settings", "isolated_cache")

CTRL = Qt.KeyboardModifier.ControlModifier
ENGINE_WORDS = ("next_open", "per_stock", "list_date", "first_bar", "max_positions",
                "limit_up", "limit_down", "stop_loss", "True", "False")


def _shown(table: FrameTable, column: str) -> set[str]:
    """The texts the table shows in ``column``."""
    model = table.model
    index = list(model.frame().columns).index(column)
    return {str(model.data(model.index(row, index))) for row in range(model.rowCount())}


def _run(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    with qtbot.waitSignal(window.run_box.stopped, timeout=120_000):
        qtbot.keyClick(window.tabs, Qt.Key.Key_R, CTRL)
    assert window.result is not None and window.run_box.status()[0] == "done"


def _choose(qtbot: QtBot, combo: QComboBox, text: str) -> None:
    """Pick the item reading ``text`` with the keyboard, as a user does."""
    combo.setFocus()
    target = combo.findText(text)
    assert target >= 0, [combo.itemText(i) for i in range(combo.count())]
    key = Qt.Key.Key_Down if target > combo.currentIndex() else Qt.Key.Key_Up
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, key)


def test_rules_read_in_words_and_mean_the_engines_values(window: MainWindow,
                                                         qtbot: QtBot) -> None:
    fields = window.panel.fields
    texts = {name: [fields[name].widget.itemText(i)  # type: ignore[attr-defined]
                    for i in range(fields[name].widget.count())]  # type: ignore[attr-defined]
             for name in ("fill", "capital_mode", "listing", "rsi_method")}
    assert texts["fill"] == ["next open", "same close"]
    assert texts["capital_mode"] == ["shared pool", "per stock"]
    assert texts["listing"] == ["listing date", "first bar"]
    assert not {text for items in texts.values() for text in items} & set(ENGINE_WORDS)
    window.panel.rules_toggle.click()
    for name, text in (("fill", "same close"), ("capital_mode", "per stock"),
                       ("listing", "first bar")):
        combo = fields[name].widget
        assert isinstance(combo, QComboBox)
        _choose(qtbot, combo, text)
    config = window.panel.config()
    assert (config.fill, config.capital_mode, config.listing) == ("close", "per_stock",
                                                                 "first_bar")


def test_reasons_and_open_trades_read_in_words(window: MainWindow, qtbot: QtBot) -> None:
    window.apply_config(BacktestConfig(data_dir=SAMPLE, start=dt.date(2024, 1, 2),
                                       end=dt.date(2024, 12, 31), max_positions=1, workers=1))
    qtbot.waitUntil(lambda: window.run_box.run_button.isEnabled()
                    and len(window.panel.stocks.codes()) == 50, timeout=60_000)
    _run(window, qtbot)
    tabs = window.result_tabs
    window.tabs.setCurrentWidget(tabs.rejections_table)
    reasons = _shown(tabs.rejections_table, "reason")
    assert "max positions" in reasons and not reasons & set(ENGINE_WORDS)
    window.tabs.setCurrentWidget(tabs.trades_table)
    assert _shown(tabs.trades_table, "open") <= {"open", "closed"}
    exits = _shown(tabs.trades_table, "exit_reason")
    assert "signal" in exits and not exits & set(ENGINE_WORDS)
    assert window.result is not None
    counts = len(window.result.rejections)
    assert f"{counts:,} rejection" in window.statusBar().currentMessage()
    assert window.panel.stocks.count.text() == "50 of 50 stocks selected"


def test_the_benchmark_list_names_its_index(window: MainWindow, qtbot: QtBot,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    folder = tmp_path / "tdx"
    generate_universe(folder, 4, FIRST, LAST, seed=3, layout="tdx")
    _write_index(folder)
    _browse(window, qtbot, monkeypatch, folder)
    combo = window.panel.fields["benchmark"].widget
    assert isinstance(combo, QComboBox)
    assert combo.itemText(1) == "000300.SH  CSI 300 / 沪深300"
    _choose(qtbot, combo, "000300.SH  CSI 300 / 沪深300")
    assert window.panel.config().benchmark == "000300.SH"
    _run(window, qtbot)
    legend = window.equity_chart.legend.getLabel(window.equity_chart.benchmark).text
    assert "CSI 300 / 沪深300" in legend


def test_placeholders_wrap_instead_of_being_cut_off(window: MainWindow, qtbot: QtBot) -> None:
    from gui.sweep_view import WALK_MODE

    window.tabs.setCurrentWidget(window.sweep_view)
    window.sweep_view.mode.setCurrentText(WALK_MODE)
    label = window.sweep_view.walk_view.placeholder
    qtbot.waitUntil(label.isVisible, timeout=5_000)
    # One line of text the width of a screen forced the window wider than its 1,400 pixels
    # (1,417), so its end was cut off at the screen's edge.
    assert window.minimumSizeHint().width() <= 1_400
    window.resize(1_100, 800)
    qtbot.waitUntil(lambda: window.width() == 1_100, timeout=5_000)
    text = label.fontMetrics().boundingRect(
        label.contentsRect(), int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignCenter),
        label.text())
    assert label.contentsRect().contains(text), (label.contentsRect(), text)


def test_metric_columns_are_headed_by_the_metrics_labels(window: MainWindow,
                                                         qtbot: QtBot) -> None:
    window.apply_config(BacktestConfig(data_dir=SAMPLE, start=dt.date(2024, 1, 2),
                                       end=dt.date(2024, 12, 31), workers=1))
    qtbot.waitUntil(lambda: window.run_box.run_button.isEnabled()
                    and len(window.panel.stocks.codes()) == 50, timeout=60_000)
    _run(window, qtbot)
    qtbot.waitUntil(lambda: window.runs_panel.table.model.rowCount() == 1, timeout=10_000)
    model = window.runs_panel.table.model
    heads = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert {"Total return", "Sharpe", "Max drawdown", "Closed trades"} <= set(heads)
    assert "capital mode" in heads
    fills = _shown(window.runs_panel.table, "fill")
    assert fills == {"next open"}


def test_the_sweep_and_walk_forward_charts_get_most_of_the_height(
        window: MainWindow, qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QSplitter

    from gui.sweep_view import GRID_MODE, WALK_MODE

    window.resize(1_400, 880)
    window.tabs.setCurrentWidget(window.sweep_view)
    sweep = window.sweep_view
    for mode, chart in ((GRID_MODE, sweep.heatmap), (WALK_MODE, sweep.walk_view)):
        sweep.mode.setCurrentText(mode)
        qtbot.waitUntil(chart.isVisible, timeout=5_000)
        split = next(s for s in chart.findChildren(QSplitter) if s.isVisible()) \
            if mode == WALK_MODE else chart.parentWidget()
        assert isinstance(split, QSplitter)
        top, table = split.sizes()
        assert top > table > 0, (mode, top, table)
