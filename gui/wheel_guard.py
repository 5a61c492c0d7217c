"""Fields that take the mouse wheel only when they have focus: scrolling a panel over a
spin box or a combo box scrolls the panel instead of changing the setting."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QWidget


class _WheelGuard(QObject):
    """Hands a wheel event over an unfocused field to the field's parent (the panel that
    scrolls); a focused field handles it as usual."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget)
                and not watched.hasFocus()):
            parent = watched.parentWidget()
            if parent is not None:
                QApplication.sendEvent(parent, event)
            return True
        return False


def guard_wheel(root: QWidget) -> None:
    """Make every spin box and combo box under ``root`` (now) take the wheel only when it
    has focus, and take focus from a click or Tab, never from the wheel."""
    guard = root.findChild(_WheelGuard) or _WheelGuard(root)
    for field in (*root.findChildren(QAbstractSpinBox), *root.findChildren(QComboBox)):
        field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        field.installEventFilter(guard)
