"""Files and memory of the user's work (issue 24, item 12), driven through keys and the
mouse: export dialogs propose what they hold and take a folder that does not exist yet,
the window reopens the last folder and shows the last result, and running the same
configuration again keeps one entry in the history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

import dev
from engine.config import BacktestConfig
from gui.app import build_window
from gui.dialog_folders import EXPORT, start_folder
from gui.main_window import MainWindow
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("isolated_settings", "isolated_cache")

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CONFIG = BacktestConfig(data_dir=SAMPLE, start=dt.date(2024, 1, 2), end=dt.date(2024, 12, 31),
                        workers=1)
#: How the files of a run of ``CONFIG`` are named.
WORDS = "RSI 14 30-70 2024-01-02..2024-12-31"


def _focus(window: MainWindow, qtbot: QtBot) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)


def _run(window: MainWindow, qtbot: QtBot) -> None:
    """Press Ctrl+R and wait until the run is shown."""
    _focus(window, qtbot)
    with qtbot.waitSignal(window.run_box.stopped, timeout=120_000):
        qtbot.keyClick(window.tabs, Qt.Key.Key_R, CTRL)
    assert window.result is not None and window.run_box.status()[0] == "done"


def _ready(window: MainWindow, qtbot: QtBot) -> None:
    window.apply_config(CONFIG)
    qtbot.waitUntil(lambda: window.run_box.run_button.isEnabled()
                    and len(window.panel.stocks.codes()) == 50, timeout=60_000)


def _proposals(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Answer every save dialog with Cancel; returns the paths they proposed."""
    proposed: list[Path] = []

    def save(_parent: object, _caption: str, start: str, _filter: str) -> tuple[str, str]:
        proposed.append(Path(start))
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    return proposed


def _in_dialog(act: Callable[[QFileDialog], None]) -> list[QFileDialog]:
    """Once a folder dialog is open, ``act`` on it; should Qt then refuse with a message
    box, close that and the dialog (a test must never hang on one). Returns the list the
    dialog is put in once acted on."""
    seen: list[QFileDialog] = []

    def step() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(100, step)  # not open yet
            return
        QTimer.singleShot(2_000, lambda: _close_refusal(dialog))
        act(dialog)
        seen.append(dialog)

    QTimer.singleShot(100, step)
    return seen


def _close_refusal(dialog: QFileDialog) -> None:
    box = QApplication.activeModalWidget()
    if isinstance(box, QMessageBox):
        box.close()
    if shiboken6.isValid(dialog) and dialog.isVisible():  # not closed and deleted yet
        dialog.reject()


def _type_folder(qtbot: QtBot, folder: Path) -> Callable[[QFileDialog], None]:
    def act(dialog: QFileDialog) -> None:
        name = dialog.findChild(QLineEdit, "fileNameEdit")
        assert name is not None
        name.clear()
        qtbot.keyClicks(name, str(folder))
        qtbot.keyClick(name, Qt.Key.Key_Return)

    return act


def test_an_export_into_a_folder_that_does_not_exist_yet_creates_it(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    _ready(window, qtbot)
    _run(window, qtbot)
    target = tmp_path / "exports" / "first look"
    typed = _in_dialog(_type_folder(qtbot, target))
    qtbot.keyClick(window.tabs, Qt.Key.Key_E, CTRL)
    assert typed
    assert (target / "equity.csv").is_file() and (target / "trades.csv").is_file()
    # The next export dialog opens where the last one wrote.
    opened: list[Path] = []

    def look(dialog: QFileDialog) -> None:
        opened.append(Path(dialog.directory().absolutePath()))
        dialog.reject()

    _focus(window, qtbot)
    shown = _in_dialog(look)
    qtbot.keyClick(window.tabs, Qt.Key.Key_E, CTRL)
    assert shown and opened == [target.resolve()] and start_folder(EXPORT) == target.resolve()


def test_save_dialogs_propose_what_they_hold(window: MainWindow, qtbot: QtBot,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    proposed = _proposals(monkeypatch)
    _ready(window, qtbot)
    _run(window, qtbot)
    window.tabs.setCurrentWidget(window.equity_chart)
    qtbot.keyClick(window.tabs, Qt.Key.Key_S, CTRL | SHIFT)
    qtbot.keyClick(window.tabs, Qt.Key.Key_S, CTRL)
    trades = window.result_tabs.trades_table
    window.tabs.setCurrentWidget(trades)
    viewport = trades.view.viewport()

    def choose_export() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        qtbot.keyClick(menu, Qt.Key.Key_Down)
        qtbot.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(300, choose_export)
    qtbot.mouseClick(viewport, Qt.MouseButton.RightButton, pos=QPoint(20, 10))
    trades.view.customContextMenuRequested.emit(QPoint(20, 10))  # offscreen: no menu event
    qtbot.waitUntil(lambda: len(proposed) == 3, timeout=5_000)
    assert [path.name for path in proposed] == [
        f"equity {WORDS}.png", f"{WORDS}.toml", f"trades {WORDS}.csv"]


def test_the_window_reopens_the_last_folder_and_shows_the_last_result(
        qtbot: QtBot, tmp_path: Path) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    _ready(first, qtbot)
    _run(first, qtbot)
    shown = first.shown_run
    assert shown is not None
    first.close()
    demo = tmp_path / "demo"  # what dev.py start opens when nothing was open before
    demo.mkdir()
    again = build_window(None, demo)
    qtbot.addWidget(again)
    again.show()
    assert Path(again.panel.folder.text()) == SAMPLE
    qtbot.waitUntil(lambda: again.result is not None, timeout=60_000)
    assert first.result is not None and again.result is not None
    assert again.result.config == first.result.config
    qtbot.waitUntil(lambda: "from the history" in again.total_label.text(), timeout=10_000)
    assert f"run {shown} from the history" in again.total_label.text()
    assert again.total_label.text() != "no run yet"
    again.close()


def test_the_first_start_opens_the_default_folder(qtbot: QtBot, tmp_path: Path) -> None:
    window = build_window(None, SAMPLE)
    qtbot.addWidget(window)
    assert Path(window.panel.folder.text()) == SAMPLE
    window.close()


def test_dev_start_leaves_the_folder_to_the_window() -> None:
    command = dev.workbench_command()
    assert "--data" not in command
    assert command[-2:] == ["--default-data", str(dev.DEMO)]


def test_running_the_same_configuration_twice_keeps_one_history_entry(
        window: MainWindow, qtbot: QtBot) -> None:
    _ready(window, qtbot)
    _run(window, qtbot)
    first = window.shown_run
    _run(window, qtbot)
    assert window.shown_run is not None and window.shown_run != first
    qtbot.waitUntil(lambda: window.runs_panel.idle(), timeout=10_000)
    listed = window.runs_panel.table.model.frame()
    assert list(listed["id"]) == [window.shown_run]
