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


#: The X11 libraries Qt's xcb platform plugin links (PySide6's libqxcb.so and
#: libQt6XcbQpa.so): the name ``find_library`` takes, the file the plugin loads, and the
#: Debian/Ubuntu package that installs it.
XCB_LIBRARIES = (
    ("xcb", "libxcb.so.1", "libxcb1"),
    ("X11-xcb", "libX11-xcb.so.1", "libx11-xcb1"),
    ("xcb-cursor", "libxcb-cursor.so.0", "libxcb-cursor0"),
    ("xcb-icccm", "libxcb-icccm.so.4", "libxcb-icccm4"),
    ("xcb-image", "libxcb-image.so.0", "libxcb-image0"),
    ("xcb-keysyms", "libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("xcb-randr", "libxcb-randr.so.0", "libxcb-randr0"),
    ("xcb-render", "libxcb-render.so.0", "libxcb-render0"),
    ("xcb-render-util", "libxcb-render-util.so.0", "libxcb-render-util0"),
    ("xcb-shape", "libxcb-shape.so.0", "libxcb-shape0"),
    ("xcb-shm", "libxcb-shm.so.0", "libxcb-shm0"),
    ("xcb-sync", "libxcb-sync.so.1", "libxcb-sync1"),
    ("xcb-util", "libxcb-util.so.1", "libxcb-util1"),
    ("xcb-xfixes", "libxcb-xfixes.so.0", "libxcb-xfixes0"),
    ("xcb-xkb", "libxcb-xkb.so.1", "libxcb-xkb1"),
    ("xkbcommon", "libxkbcommon.so.0", "libxkbcommon0"),
    ("xkbcommon-x11", "libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
)


def _installed(name: str, soname: str) -> bool:
    """Whether the loader can load ``soname`` (what the plugin will do), or the library is
    there but one of its own dependencies is not (that one is named on its own)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return ctypes.util.find_library(name) is not None
    return True


def missing_x11_packages() -> list[str]:
    """The Debian/Ubuntu packages of the X11 libraries Qt's xcb plugin needs and cannot load."""
    return [package for name, soname, package in XCB_LIBRARIES if not _installed(name, soname)]


def missing_system_library() -> str | None:
    """A one-line reason, naming every missing package, when Qt's X11 plugin would abort
    for want of a system library (it kills the process, no exception, and its own message
    names xcb-cursor0 whichever library is missing)."""
    on_x11 = (sys.platform.startswith("linux") and os.environ.get("DISPLAY")
              and not os.environ.get("WAYLAND_DISPLAY")
              and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb")
    missing = missing_x11_packages() if on_x11 else []
    if not missing:
        return None
    packages = " ".join(missing)
    return (f"Qt needs the system {'libraries' if len(missing) > 1 else 'library'} "
            f"{', '.join(missing)} to open windows on X11; install "
            f"{'them' if len(missing) > 1 else 'it'} (Debian/Ubuntu: sudo apt-get install "
            f"{packages}) and start again")


NO_PLATFORM_PLUGIN = (
    "backtest-workbench: Qt could not open a window here (its lines above; it names "
    "xcb-cursor0 whatever the cause). Check that the display ({display}) is running and "
    "reachable, or start with QT_DEBUG_PLUGINS=1 to see which library Qt lacks; the CLI "
    "needs no window: .venv/bin/backtest run --data data/demo")


def main(argv: Sequence[str] | None = None) -> int:
    """Open the workbench window, optionally on ``--data FOLDER``."""
    multiprocessing.freeze_support()  # worker processes of a frozen (bundled) app
    make_console_safe()  # its log lines name Chinese stocks; a GBK console must not raise
    parser = argparse.ArgumentParser(prog="backtest-workbench")
    parser.add_argument("--data", type=Path, default=None, help="data folder to open")
    parser.add_argument("--default-data", type=Path, default=None,
                        help="data folder to open when none was open last time")
    args = parser.parse_args(argv)
    problem = NO_DISPLAY if not has_display() else missing_system_library()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    app = start_application()
    window = build_window(args.data, args.default_data)
    window.show()
    return app.exec()


def start_application() -> QApplication:
    """The QApplication, named (where QSettings keep the window's state) and in the light
    Fusion look on every OS (``gui.native``)."""
    from PySide6.QtWidgets import QApplication

    from gui.native import use_light_theme

    app = QApplication.instance() or _new_application()
    assert isinstance(app, QApplication)
    app.setApplicationName("Backtest Workbench")
    app.setOrganizationName("backtest-workbench")
    use_light_theme(app)
    return app


def _new_application() -> QApplication:
    """A QApplication; should Qt's platform plugin fail to start (Qt then aborts the
    process), a line of ours follows Qt's messages to say what to check."""
    from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    def relay(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
        category = context.category
        print(f"{category}: {message}" if category and category != "default" else message,
              file=sys.stderr, flush=True)
        if kind == QtMsgType.QtFatalMsg and "platform plugin" in message:
            display = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY") or "none"
            print(NO_PLATFORM_PLUGIN.format(display=display), file=sys.stderr, flush=True)

    previous = qInstallMessageHandler(relay)
    try:
        return QApplication(sys.argv[:1])
    finally:
        qInstallMessageHandler(previous)


def build_window(data: Path | None = None, default_data: Path | None = None) -> MainWindow:
    """The main window, on the data folder ``data`` when given, else the last one used,
    else ``default_data``. Uncaught exceptions show in its error panel from then on
    (``gui.excepthook``)."""
    from engine.execution import jobs

    # The data host, which lists the folder's stocks, starts while the window imports and
    # builds itself; the run host starts once they are listed (``MainWindow._warm_up``).
    jobs.start_soon("data")
    from gui.excepthook import install_excepthook
    from gui.main_window import MainWindow

    # Only the folder the window will show is scanned: not the last one first when
    # another is given, nor the default configuration's before ``default_data``.
    window = MainWindow(open_folder=data is None and default_data is None)
    alive = weakref.ref(window)  # the hook must not keep a closed window alive
    install_excepthook(lambda: None if (shown := alive()) is None else shown.errors)
    if data is None and default_data is not None:
        data = Path(window.panel.folder.text()) if window.reopened else default_data
    if data is not None:
        window.panel.set_folder(data.resolve())
    return window


if __name__ == "__main__":
    sys.exit(main())
