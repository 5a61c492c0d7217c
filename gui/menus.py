"""A window's menus from a table: each action's text, shortcut and slot."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from gui.native import Shortcut

#: text, shortcut (None: none), slot (called without arguments).
MenuItem = tuple[str, Shortcut | None, Callable[[], object]]


def add_menus(window: QMainWindow, menus: Mapping[str, Sequence[MenuItem | None]]) -> None:
    """Add each menu (title: items, None for a separator) to ``window``'s menu bar, in
    order. Each action is also the window's, so its shortcut works wherever the focus is."""
    for title, items in menus.items():
        menu = window.menuBar().addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
                continue
            text, shortcut, slot = item
            action = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            # triggered(bool) must not reach the slot: save_png took the bool as its path.
            action.triggered.connect(lambda _checked=False, run=slot: run())
            menu.addAction(action)
            window.addAction(action)
