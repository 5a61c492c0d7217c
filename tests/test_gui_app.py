"""The entry point says in one line when there is no display."""

from __future__ import annotations

import gc
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.app import NO_DISPLAY, has_display, main


def test_no_display_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert not has_display()
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.strip() == NO_DISPLAY and "backtest" in err


def test_pyside_repaints_do_not_leak_none_references(qtbot: QtBot) -> None:
    """PySide6 6.12.0 drops a reference to None on each repaint, so a long session dies
    with "none_dealloc"; pyproject.toml excludes it and this pins that."""
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.show()
    curve = plot.plot()

    def repaint() -> None:
        curve.setData(np.arange(500.0), np.sin(np.arange(500.0) / 7))
        QApplication.processEvents()

    repaint()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(20):
        repaint()
    gc.collect()
    assert sys.getrefcount(None) - before > -50


def test_missing_xcb_cursor_library_is_explained(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr("ctypes.util.find_library", lambda name: None)
    assert main([]) == 1
    assert "libxcb-cursor0" in capsys.readouterr().err
