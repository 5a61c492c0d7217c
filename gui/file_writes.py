"""The one way the window writes files: atomically, with any failure shown in an error panel."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QWidget

from engine.errors import BacktestError
from engine.util.atomic import write_through
from gui.error_panel import ErrorPanel

log = logging.getLogger(__name__)

#: What a failed write can raise; anything else is a bug and goes to ``sys.excepthook``.
WRITE_ERRORS = (OSError, BacktestError, ValueError)


def failure_message(path: Path, exc: BaseException) -> str:
    """One line naming ``path``, why the write failed and what to do about it."""
    if isinstance(exc, OSError):  # the file system said no: somewhere else may work
        return f"Could not write {path}: {exc.strerror or exc}; choose another folder"
    return f"Could not write {path}: {exc}"  # the engine's message says what to fix


def _reported(errors: ErrorPanel | None, path: Path, what: str,
              write: Callable[[], object]) -> bool:
    """Run ``write``; on a write error show (else log) its one-line message, return False."""
    try:
        write()
    except WRITE_ERRORS as exc:
        message = failure_message(path, exc)
        log.warning("%s (%s): %s", message, what, exc)
        if errors is not None:
            errors.show_error(message, f"Writing {what} to {path}\n{type(exc).__name__}: {exc}")
        return False
    log.info("wrote %s to %s", what, path)
    return True


def write_file(errors: ErrorPanel | None, path: Path, write: Callable[[Path], object],
               what: str) -> bool:
    """Write one file: ``write(tmp)`` fills a temporary file beside ``path`` (in its
    folder, created when missing) that then replaces ``path``. A failure (no permission,
    disk full, an engine error) shows in ``errors`` (logged when None) and leaves an
    existing ``path`` as it was. ``what`` names the content for the details and the log.
    Returns success."""
    def write_into_folder() -> None:
        _make_folder(path.parent)
        write_through(path, write)

    return _reported(errors, path, what, write_into_folder)


def write_folder(errors: ErrorPanel | None, folder: Path, write: Callable[[Path], object],
                 what: str) -> bool:
    """Write several files into ``folder`` (created when missing) with ``write(folder)``,
    which writes each one atomically itself (``engine.results.export.write_atomic``);
    failures as in ``write_file``."""
    def write_all() -> None:
        _make_folder(folder)
        write(folder)

    return _reported(errors, folder, what, write_all)


def _make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents when missing (a folder the user typed that does
    not exist yet); a failure is left to the write itself, whose error says why."""
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)


def error_panel_of(widget: QWidget) -> ErrorPanel | None:
    """The ``errors`` panel of ``widget`` or of its nearest ancestor that has one (the
    window, a tab with its own panel), so a nested widget reports where the user looks."""
    current: QWidget | None = widget
    while current is not None:
        panel = getattr(current, "errors", None)
        if isinstance(panel, ErrorPanel):
            return panel
        current = current.parentWidget()
    return None
