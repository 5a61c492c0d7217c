"""The entry point says in one line when there is no display or which X11 libraries Qt
lacks, and after Qt's own lines when Qt cannot open a window."""

from __future__ import annotations

import ctypes
import gc
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.app import (
    NO_DISPLAY,
    NO_PLATFORM_PLUGIN,
    XCB_LIBRARIES,
    has_display,
    main,
    missing_system_library,
    missing_x11_packages,
)
from tests.conftest import ROOT

if sys.platform != "win32":
    import resource


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


def _on_x11(monkeypatch: pytest.MonkeyPatch, missing: set[str]) -> None:
    """Linux on X11 where the X11 libraries ``missing`` (find_library names) are absent."""
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    absent = {soname for name, soname, _ in XCB_LIBRARIES if name in missing}

    def load(soname: str, *args: object, **kwargs: object) -> object:
        if soname in absent:
            raise OSError(f"{soname}: cannot open shared object file")
        return object()

    monkeypatch.setattr("ctypes.CDLL", load)
    monkeypatch.setattr("ctypes.util.find_library",
                        lambda name: None if name in missing else f"lib{name}.so")


def test_missing_xcb_cursor_library_is_explained(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _on_x11(monkeypatch, {name for name, _, _ in XCB_LIBRARIES})
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "libxcb-cursor0" in err and "libxkbcommon-x11-0" in err


def test_the_missing_libraries_are_named_and_only_those(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24, 7: with xcb-cursor installed and xcb-icccm and xcb-keysyms missing, the
    line named libxcb-cursor0."""
    _on_x11(monkeypatch, {"xcb-icccm", "xcb-keysyms"})
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    assert "libxcb-icccm4, libxcb-keysyms1" in err
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1)" in err
    assert "cursor" not in err
    _on_x11(monkeypatch, {"xkbcommon-x11"})
    message = missing_system_library()
    assert message is not None and "library libxkbcommon-x11-0 " in message
    assert "apt-get install libxkbcommon-x11-0)" in message
    _on_x11(monkeypatch, set())
    assert missing_system_library() is None
    _on_x11(monkeypatch, {"xcb-icccm"})
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")  # Qt uses its Wayland plugin there
    assert missing_system_library() is None


def test_an_installed_library_that_cannot_load_is_not_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """libxcb-cursor0 is installed but cannot load for want of libxcb-render-util0: only
    the missing package is named."""
    _on_x11(monkeypatch, {"xcb-render-util"})
    real = ctypes.CDLL  # the patched loader

    def load(soname: str, *args: object, **kwargs: object) -> object:
        if soname == "libxcb-cursor.so.0":
            raise OSError("libxcb-render-util.so.0: cannot open shared object file")
        return real(soname)

    monkeypatch.setattr("ctypes.CDLL", load)
    assert missing_x11_packages() == ["libxcb-render-util0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's X11 plugin")
def test_when_qt_cannot_open_a_window_a_line_of_ours_says_what_to_check(
        tmp_path: Path) -> None:
    """Qt's platform plugin fails (here: no X server at the display) and Qt aborts the
    process: after Qt's own lines, which name xcb-cursor0 whatever the cause, ours."""
    if missing_x11_packages():
        pytest.skip("the check before Qt answers first here")
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}
    env["DISPLAY"] = ":4711"  # no X server there
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from gui.app import main; sys.exit(main([]))"],
        cwd=tmp_path, env=env, capture_output=True, encoding="utf-8", errors="replace",
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == NO_PLATFORM_PLUGIN.format(display=":4711"), done.stderr
    assert "platform plugin" in done.stderr  # Qt's own lines are still there, above
