"""A date editor that takes typed or pasted ``2011-01-04`` or ``20110104``, with a calendar."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCalendarWidget,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from engine.config import parse_date
from engine.errors import ConfigError


class DateField(QWidget):
    """Free-text date entry (any form ``engine.config.parse_date`` reads) plus a calendar
    pop-up. ``text()`` is what was typed; once it reads as a date it is shown as
    YYYY-MM-DD. Signals: ``edited`` after each finished edit or calendar pick."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.line = QLineEdit(placeholderText="YYYY-MM-DD or YYYYMMDD")
        self.line.editingFinished.connect(self._finished)
        self.calendar = QCalendarWidget()
        self.calendar.clicked.connect(self._picked)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(self.calendar)
        menu.addAction(action)
        self.button = QToolButton()
        self.button.setText("▾")
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setMenu(menu)
        self.button.setToolTip("pick a date")
        menu.aboutToShow.connect(self._show_calendar)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.line, 1)
        row.addWidget(self.button)

    def text(self) -> str:
        """The text as typed (validated by the configuration, not here)."""
        return self.line.text().strip()

    def set_date(self, value: dt.date | str) -> None:
        """Show ``value`` (a date, or text as the user might type it) without emitting."""
        self.line.setText(value.isoformat() if isinstance(value, dt.date) else str(value))

    def date(self) -> dt.date | None:
        """The date shown, or None while the text is not a date."""
        try:
            return parse_date(self.text())
        except ConfigError:
            return None

    def _finished(self) -> None:
        day = self.date()
        if day is not None and day.isoformat() != self.text():
            self.line.setText(day.isoformat())
        self.edited.emit()

    def _show_calendar(self) -> None:
        day = self.date()
        if day is not None:
            self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))

    def _picked(self, day: QDate) -> None:
        self.line.setText(day.toString("yyyy-MM-dd"))
        self.button.menu().close()
        self.edited.emit()
