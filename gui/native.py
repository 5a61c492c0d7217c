"""The window alike on every OS: one light Fusion look, and shortcuts in the platform's words."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

Shortcut = QKeySequence | QKeySequence.StandardKey | str | Qt.Key

Role = QPalette.ColorRole

#: Fusion's light colours. The charts and labels use colours picked for a light background,
#: which a dark system palette (Windows 11, macOS dark mode) would make unreadable.
LIGHT = {
    Role.Window: "#efefef", Role.WindowText: "#000000", Role.Base: "#ffffff",
    Role.AlternateBase: "#f7f7f7", Role.ToolTipBase: "#ffffdc", Role.ToolTipText: "#000000",
    Role.PlaceholderText: "#808080", Role.Text: "#000000", Role.Button: "#efefef",
    Role.ButtonText: "#000000", Role.BrightText: "#ffffff", Role.Light: "#ffffff",
    Role.Midlight: "#cacaca", Role.Mid: "#b8b8b8", Role.Dark: "#9f9f9f", Role.Shadow: "#767676",
    Role.Highlight: "#308cc6", Role.HighlightedText: "#ffffff", Role.Link: "#0000ff",
    Role.LinkVisited: "#ff00ff",
}
#: Greyed-out text of disabled widgets.
DISABLED = {Role.WindowText: "#bebebe", Role.Text: "#bebebe", Role.ButtonText: "#bebebe",
            Role.Highlight: "#919191", Role.Base: "#efefef"}


def light_palette() -> QPalette:
    """The light palette the window always uses, whatever the system's colour scheme."""
    palette = QPalette()
    for role, color in LIGHT.items():
        palette.setColor(role, QColor(color))
    if hasattr(Role, "Accent"):  # Qt >= 6.6 takes it from the system otherwise
        palette.setColor(Role.Accent, QColor(LIGHT[Role.Highlight]))
    for role, color in DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
    return palette


def use_light_theme(app: QApplication) -> None:
    """Give ``app`` the Fusion style and the light palette (also over a dark one set before)."""
    if hasattr(app.styleHints(), "setColorScheme"):  # Qt >= 6.8: light title bars, dialogs
        app.styleHints().setColorScheme(Qt.ColorScheme.Light)
    app.setStyle("Fusion")
    app.setPalette(light_palette())


def shortcut_label(shortcut: Shortcut) -> str:
    """``shortcut`` as the platform writes it: "Ctrl+R" on Windows and Linux, "⌘R" on macOS."""
    return QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
