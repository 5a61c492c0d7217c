"""A dismissible panel that shows an error (red) or a warning about a result (amber), with
expandable details."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

ERROR_COLOR = "#c0392b"
WARNING_COLOR = "#b9770e"


class ErrorPanel(QFrame):
    """Hidden until ``show_error``; the window stays usable while it is shown."""

    def __init__(self) -> None:
        super().__init__()
        #: "error" or "warning": what the panel shows now.
        self.kind = "error"
        self.setObjectName("errorPanel")
        self.setStyleSheet("#errorPanel { border: 1px solid #c0392b; border-radius: 4px; "
                           "background: palette(base); }")
        self.message = QLabel(wordWrap=True)
        self.message.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.clear)
        self.details = QPlainTextEdit(readOnly=True)
        self.details.hide()
        self.details.setMaximumHeight(160)
        self.details_button.toggled.connect(self.details.setVisible)
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        row.addWidget(self.details_button)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self.hide()

    def show_error(self, message: str, details: str = "") -> None:
        """Show ``message``; ``details`` (e.g. a traceback) only when the user asks."""
        self._show(message, details, ERROR_COLOR)

    def show_warning(self, message: str, details: str = "") -> None:
        """Show a warning about a result (e.g. unadjusted prices), in amber."""
        self._show(message, details, WARNING_COLOR)

    def _show(self, message: str, details: str, color: str) -> None:
        self.kind = "warning" if color == WARNING_COLOR else "error"
        self.setStyleSheet(f"#errorPanel {{ border: 1px solid {color}; border-radius: 4px; "
                           "background: palette(base); }")
        self.message.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.message.setText(message)
        self.details.setPlainText(details or message)
        self.details_button.setChecked(False)
        self.details_button.setVisible(bool(details))
        self.show()

    def clear(self) -> None:
        """Hide the panel."""
        self.hide()
        self.message.clear()
        self.details.clear()
