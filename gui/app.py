"""Entry point of ``backtest-workbench``: checks for a display, then opens the main window."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path

NO_DISPLAY = ("no display found (DISPLAY/WAYLAND_DISPLAY unset): the workbench needs a desktop; "
              "use the CLI instead, e.g. `.venv/bin/backtest check data/demo`")


def has_display() -> bool:
    """Whether Qt can open a window here (always true off Linux or with a QPA override)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Open the workbench window, optionally on ``--data FOLDER``."""
    multiprocessing.freeze_support()  # worker processes of a frozen (bundled) app
    parser = argparse.ArgumentParser(prog="backtest-workbench")
    parser.add_argument("--data", type=Path, default=None, help="data folder to open")
    args = parser.parse_args(argv)
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Backtest Workbench")
    app.setOrganizationName("backtest-workbench")
    window = MainWindow()
    window.show()
    if args.data is not None:
        window.open_folder(args.data)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
