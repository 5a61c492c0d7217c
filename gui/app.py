"""Entry point of ``backtest-workbench``: checks for a display, then opens the main window."""

from __future__ import annotations

import argparse
import ctypes.util
import multiprocessing
import os
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.util.oscompat import make_console_safe

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

NO_DISPLAY = ("no display found (DISPLAY/WAYLAND_DISPLAY unset): the workbench needs a desktop; "
              "use the CLI instead, e.g. `.venv/bin/backtest run --data data/demo`")


def has_display() -> bool:
    """Whether Qt can open a window here (always true off Linux or with a QPA override)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


NO_XCB_CURSOR = ("Qt needs the system library libxcb-cursor0 to open windows on X11; install "
                 "it (Debian/Ubuntu: sudo apt-get install libxcb-cursor0) and start again")


def missing_system_library() -> str | None:
    """A one-line reason when Qt's X11 plugin would abort for want of a system library.

    Qt >= 6.5 needs libxcb-cursor on X11 and kills the process (no exception) without it.
    """
    on_x11 = (sys.platform.startswith("linux") and os.environ.get("DISPLAY")
              and not os.environ.get("WAYLAND_DISPLAY")
              and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb")
    if on_x11 and ctypes.util.find_library("xcb-cursor") is None:
        return NO_XCB_CURSOR
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Open the workbench window, optionally on ``--data FOLDER``."""
    multiprocessing.freeze_support()  # worker processes of a frozen (bundled) app
    make_console_safe()  # its log lines name Chinese stocks; a GBK console must not raise
    parser = argparse.ArgumentParser(prog="backtest-workbench")
    parser.add_argument("--data", type=Path, default=None, help="data folder to open")
    args = parser.parse_args(argv)
    problem = NO_DISPLAY if not has_display() else missing_system_library()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    app = start_application()
    window = build_window(args.data)
    window.show()
    return app.exec()


def start_application() -> QApplication:
    """The QApplication, named (where QSettings keep the window's state) and in the light
    Fusion look on every OS (``gui.native``)."""
    from PySide6.QtWidgets import QApplication

    from gui.native import use_light_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Backtest Workbench")
    app.setOrganizationName("backtest-workbench")
    use_light_theme(app)
    return app


def build_window(data: Path | None = None) -> MainWindow:
    """The main window, on the data folder ``data`` when given (else the last one used).
    Uncaught exceptions show in its error panel from then on (``gui.excepthook``)."""
    from gui.excepthook import install_excepthook
    from gui.main_window import MainWindow

    window = MainWindow()
    alive = weakref.ref(window)  # the hook must not keep a closed window alive
    install_excepthook(lambda: None if (shown := alive()) is None else shown.errors)
    if data is not None:
        window.panel.set_folder(data.resolve())
    return window


if __name__ == "__main__":
    sys.exit(main())
