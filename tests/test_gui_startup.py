"""Starting the window as a user meets it (issue 24, item 7): the stock list and Run come
while the engine still starts (on the very first start it compiles its kernels), a run
pressed then waits for it with the reason shown, and closing the window while a folder
still loads raises nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, Qt, QThreadPool
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from engine.execution import jobs
from gui.main_window import QUEUED, MainWindow
from tests.conftest import SAMPLE
from tests.host_gate import GATE_ENV, gated_start_host

pytestmark = pytest.mark.usefixtures("isolated_settings", "isolated_cache")

CTRL = Qt.KeyboardModifier.ControlModifier


def _open_by_typing(window: MainWindow, qtbot: QtBot, folder: Path) -> None:
    """Type ``folder`` into the data folder field and press Enter, as a user does."""
    field = window.panel.folder
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    field.selectAll()
    qtbot.keyClicks(field, str(folder))
    qtbot.keyClick(field, Qt.Key.Key_Return)


@pytest.fixture
def slow_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Fresh job hosts whose run host starts only once the returned gate file exists (the
    kernels compiling on a first start); the hosts are stopped again afterwards."""
    gate = tmp_path / "gate"
    jobs.shutdown_hosts()
    monkeypatch.setenv(GATE_ENV, str(gate))
    monkeypatch.setattr(jobs, "_start_host", gated_start_host)
    yield gate
    gate.touch()
    QThreadPool.globalInstance().waitForDone(60_000)  # jobs that waited for the gate
    jobs.shutdown_hosts()


def test_the_stock_list_and_run_come_before_the_engine_and_a_run_waits_for_it(
        qtbot: QtBot, slow_engine: Path) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.folder_scanned, timeout=60_000):
        _open_by_typing(window, qtbot, SAMPLE)
    assert len(window.panel.stocks.codes()) == 50
    assert window.run_box.run_button.isEnabled()
    assert not window.engine_ready
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.keyClick(window.panel.stocks.view, Qt.Key.Key_R, CTRL)
    assert window.running
    assert window.run_box.status()[0] == QUEUED
    qtbot.wait(300)
    assert window.running and window.result is None  # still waiting for the engine
    slow_engine.touch()
    qtbot.waitUntil(lambda: not window.running, timeout=120_000)
    assert window.engine_ready
    assert window.result is not None and window.run_box.status()[0] == "done"
    window.close()


def test_closing_the_window_while_its_folder_loads_raises_nothing(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    scan = jobs.scan_folder

    def slow_scan(*args: Any, **kwargs: Any) -> jobs.FolderScan:
        release.wait(30)
        return scan(*args, **kwargs)

    monkeypatch.setattr(jobs, "scan_folder", slow_scan)
    window = MainWindow()
    window.show()
    _open_by_typing(window, qtbot, SAMPLE)
    window.close()
    window.deleteLater()  # the tab that would hear the answer is gone
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    release.set()
    assert QThreadPool.globalInstance().waitForDone(60_000)
    qtbot.wait(50)  # pytest-qt fails the test on an exception in the job's thread
