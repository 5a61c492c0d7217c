"""The window opens a data folder in the background and shows what the engine loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from gui.app import NO_DISPLAY, has_display, main
from gui.main_window import MainWindow
from tests.conftest import WriteStock, bars

DATES = ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_folder_loads_into_table_and_summary(qtbot: QtBot, write_stock: WriteStock) -> None:
    write_stock("000001_SZ.parquet", bars(DATES))
    path = write_stock("300750_SZ.parquet", bars(DATES[1:]))
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_folder(path.parent)
    qtbot.waitUntil(lambda: window.data is not None, timeout=10_000)
    assert window.model.rowCount() == 2
    codes = [window.model.index(r, 0).data() for r in range(2)]
    assert codes == ["000001.SZ", "300750.SZ"]
    assert "2</b> stocks" in window.summary.text()
    assert "Loaded 2 stocks" in window.statusBar().currentMessage()


def test_bad_folder_shows_message_and_window_stays_usable(qtbot: QtBot, tmp_path: Path,
                                                          write_stock: WriteStock) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_folder(tmp_path / "missing")
    qtbot.waitUntil(lambda: "does not exist" in window.messages.toPlainText(), timeout=10_000)
    assert window.statusBar().currentMessage() == "Load failed"
    path = write_stock("000001_SZ.parquet", bars(DATES))
    window.open_folder(path.parent)
    qtbot.waitUntil(lambda: window.data is not None, timeout=10_000)


def test_no_display_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert not has_display()
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.strip() == NO_DISPLAY and "backtest" in err
