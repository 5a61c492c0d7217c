"""The window driven through keys and the mouse wheel, as a user does (issue 24, 1-3):
a shortcut reads a field still being typed in, every menu shortcut works, and scrolling
the left panel over a field never changes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QSpinBox, QWidget
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from gui.main_window import MainWindow
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("isolated_settings", "isolated_cache")

CTRL = Qt.KeyboardModifier.ControlModifier


def _ready(window: MainWindow, qtbot: QtBot) -> None:
    window.apply_config(BacktestConfig(data_dir=SAMPLE, start="2024-01-02", end="2024-12-31",
                                       workers=1))
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) > 0, timeout=30_000)
    qtbot.waitUntil(lambda: window.run_box.run_button.isEnabled(), timeout=30_000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


def _type_into(qtbot: QtBot, box: QSpinBox, text: str) -> None:
    """Click into the field, select what it holds and type ``text``; editing goes on."""
    qtbot.mouseClick(box.lineEdit(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(box.lineEdit(), text)
    assert box.hasFocus()


def test_ctrl_r_runs_the_value_still_being_typed(window: MainWindow, qtbot: QtBot) -> None:
    _ready(window, qtbot)
    period = window.panel.fields["period"].widget
    assert isinstance(period, QSpinBox)
    _type_into(qtbot, period, "10")
    with qtbot.waitSignal(window.run_requested, timeout=10_000) as started:
        qtbot.keyClick(period.lineEdit(), Qt.Key.Key_R, CTRL)
    assert started.args is not None and started.args[0].period == 10
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)
    assert window.result is not None and window.result.config.period == 10


def test_ctrl_s_saves_the_value_still_being_typed(window: MainWindow, qtbot: QtBot,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _ready(window, qtbot)
    target = tmp_path / "run.toml"
    monkeypatch.setattr("gui.main_window.ask_save_file", lambda *a, **k: target)
    oversold = window.panel.fields["oversold"].widget
    assert isinstance(oversold, QSpinBox | QWidget)
    _type_into(qtbot, oversold, "25")  # type: ignore[arg-type]
    qtbot.keyClick(oversold, Qt.Key.Key_S, CTRL)
    qtbot.waitUntil(target.exists, timeout=5_000)
    assert BacktestConfig.load(target).oversold == 25


def test_ctrl_shift_s_saves_the_tab_as_png(window: MainWindow, qtbot: QtBot, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _ready(window, qtbot)
    target = tmp_path / "equity.png"
    monkeypatch.setattr("gui.main_window.ask_save_file", lambda *a, **k: target)
    qtbot.keyClick(window.tabs, Qt.Key.Key_S,
                   CTRL | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(target.exists, timeout=5_000)
    assert target.read_bytes().startswith(b"\x89PNG")
    assert not window.errors.isVisible()


def test_file_menu_save_chart_as_png_writes_the_image(
        window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # triggered(bool) reached save_png as its path ("'bool' object has no attribute
    # 'name'"); the menu item now asks for the path like the shortcut does.
    target = tmp_path / "menu.png"
    monkeypatch.setattr("gui.main_window.ask_save_file", lambda *a, **k: target)
    file_menu = window.menuBar().actions()[0].menu()
    item = next(a for a in file_menu.actions() if a.text().startswith("Save current chart"))
    item.trigger()
    qtbot.waitUntil(target.exists, timeout=5_000)
    assert not window.errors.isVisible()


def _wheel(widget: QWidget, steps: int = 1) -> None:
    """A real wheel event over the middle of ``widget`` (one notch is 120)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, -120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_scrolling_over_fields_scrolls_the_panel_and_changes_nothing(
        window: MainWindow, qtbot: QtBot) -> None:
    _ready(window, qtbot)
    window.resize(window.width(), 420)  # the left panel now scrolls
    method = window.panel.fields["rsi_method"].widget
    positions = window.panel.fields["max_positions"].widget
    assert isinstance(method, QComboBox) and isinstance(positions, QSpinBox)
    before = (method.currentText(), positions.value())
    window.run_box.run_button.setFocus()
    for field in (method, positions):
        _wheel(field, 3)
    QApplication.processEvents()
    assert (method.currentText(), positions.value()) == before
    # A field the user clicked into takes the wheel as usual.
    positions.setFocus()
    _wheel(positions)
    assert positions.value() == before[1] - 1
