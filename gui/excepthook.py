"""Shows uncaught exceptions (PySide6 sends those raised in slots here too) in the window's
error panel instead of on stderr."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Signal

from gui.error_panel import ErrorPanel

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Hook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


class ExceptHook(QObject):
    """The ``sys.excepthook`` that ``install_excepthook`` sets; ``uninstall`` restores the
    hook it replaced, which also takes what the panel cannot show."""

    # An exception caught in a worker thread is shown by the GUI thread (a queued signal).
    caught = Signal(object)

    def __init__(self, panel: Callable[[], ErrorPanel | None], previous: Hook) -> None:
        super().__init__()
        self.panel = panel
        self.previous = previous
        self._showing = False
        self.caught.connect(self._show)

    def __call__(self, kind: type[BaseException], exc: BaseException,
                 tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt) or self._showing:
            self.previous(kind, exc, tb)
            return
        try:
            self.caught.emit((kind, exc, tb))
        except RuntimeError:  # the Qt side is gone (the application has quit)
            self.previous(kind, exc, tb)

    def _show(self, info: ExcInfo) -> None:
        # Lets nothing out: an exception leaving a slot would come straight back here. One
        # raised while showing (in a slot the panel triggers) goes to the previous hook.
        kind, exc, tb = info
        self._showing = True
        try:
            panel = self.panel()
            if panel is not None:
                log.error("unexpected error: %s", exc, exc_info=info)
                panel.show_error(f"unexpected error: {exc}",
                                 "".join(traceback.format_exception(kind, exc, tb)))
                return
        except Exception:  # the panel is gone or broken: stderr, as without this hook
            log.exception("could not show an unexpected error in the window")
        finally:
            self._showing = False
        with contextlib.suppress(Exception):
            self.previous(kind, exc, tb)

    def uninstall(self) -> None:
        """Put back the hook this one replaced (if this one is still installed)."""
        if sys.excepthook is self:
            sys.excepthook = self.previous


def install_excepthook(panel: Callable[[], ErrorPanel | None]) -> ExceptHook:
    """Set ``sys.excepthook`` so an uncaught exception shows as "unexpected error: ..."
    with its traceback as details in the panel that ``panel()`` returns, and is logged.

    With no panel (``panel()`` returns None, no window) or when showing fails, the
    previous hook handles it. Installing again replaces an earlier ``ExceptHook`` rather
    than stacking on it. Call from the GUI thread; returns the hook (see ``uninstall``).
    """
    current = sys.excepthook
    previous = current.previous if isinstance(current, ExceptHook) else current
    hook = ExceptHook(panel, previous)
    sys.excepthook = hook
    return hook
