"""The Data tab counts each stock's bars for the run window (issue 24, item 6): bars in
window are its bars on days start .. end, warm-up bars its bars before start; a changed
start or end date asks again."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from gui.main_window import MainWindow
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("isolated_settings", "isolated_cache")

CODE = "000001.SZ"


def _expected(start: dt.date, end: dt.date) -> tuple[int, int]:
    """Bars in [start, end] and bars before start, read straight from the stock's file."""
    days = pd.to_datetime(pd.read_parquet(SAMPLE / "000001_SZ.parquet")["date"]).dt.date
    return int(((days >= start) & (days <= end)).sum()), int((days < start).sum())


def _shown(window: MainWindow) -> tuple[str, str] | None:
    """The Data tab's bars in window and warm-up bars for CODE, as the table shows them."""
    model = window.data_tab.table.model
    heads = [str(model.headerData(c, Qt.Orientation.Horizontal))
             for c in range(model.columnCount())]
    if "bars in window" not in heads or "warmup bars" not in heads:
        return None
    for row in range(model.rowCount()):
        if model.data(model.index(row, heads.index("code"))) == CODE:
            return (model.data(model.index(row, heads.index("bars in window"))),
                    model.data(model.index(row, heads.index("warmup bars"))))
    return None


def _ready(window: MainWindow, qtbot: QtBot, start: str, end: str) -> None:
    window.apply_config(BacktestConfig(data_dir=SAMPLE, start=start, end=end, workers=1))
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) > 0, timeout=30_000)
    qtbot.waitUntil(lambda: window.run_box.run_button.isEnabled(), timeout=30_000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


def _wait_for_counts(window: MainWindow, qtbot: QtBot, start: dt.date, end: dt.date) -> None:
    in_window, warmup = _expected(start, end)
    assert warmup > 0 and in_window > 0
    qtbot.waitUntil(lambda: _shown(window) == (str(in_window), str(warmup)), timeout=30_000)
    assert f"run window {start} .. {end}" in window.data_tab.info.text()


def test_the_data_tab_counts_the_bars_of_the_run_window(window: MainWindow,
                                                        qtbot: QtBot) -> None:
    _ready(window, qtbot, "2024-01-02", "2024-12-31")
    _wait_for_counts(window, qtbot, dt.date(2024, 1, 2), dt.date(2024, 12, 31))

    # The user types a new start date and presses Enter: the counts follow.
    line = window.panel.fields["start"].widget.line
    qtbot.mouseClick(line, Qt.MouseButton.LeftButton)
    qtbot.keyClick(line, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(line, "20230601")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert window.panel.as_date("start") == dt.date(2023, 6, 1)
    _wait_for_counts(window, qtbot, dt.date(2023, 6, 1), dt.date(2024, 12, 31))

    # And a new end date too.
    window.apply_config(BacktestConfig(data_dir=SAMPLE, start="2023-06-01", end="2025-06-30",
                                       workers=1))
    _wait_for_counts(window, qtbot, dt.date(2023, 6, 1), dt.date(2025, 6, 30))
