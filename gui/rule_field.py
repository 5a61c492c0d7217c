"""An editor for a rule that is the exchange's by default and a number when overridden."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QSpinBox, QWidget


class RuleField(QWidget):
    """A "schedule (by date)" / "by board" check box with a number that overrides it.

    ``value()`` is the rule's word (``"schedule"``, ``"board"``) while the box is checked,
    else the number. Signal: ``edited`` after either part changes.
    """

    edited = Signal()

    def __init__(self, word: str, label: str, number: QSpinBox | QDoubleSpinBox) -> None:
        super().__init__()
        self.word = word
        self.rule = QCheckBox(label)
        self.rule.setChecked(True)
        self.number = number
        number.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.rule)
        layout.addWidget(number, 1)
        self.rule.toggled.connect(self._toggled)
        number.valueChanged.connect(self.edited)

    def _toggled(self, on: bool) -> None:
        self.number.setEnabled(not on)
        self.edited.emit()

    def value(self) -> Any:
        """The rule's word, or the overriding number."""
        return self.word if self.rule.isChecked() else self.number.value()

    def set_value(self, value: Any) -> None:
        """Show the rule's word (box checked) or a number (box cleared)."""
        by_rule = value == self.word
        self.rule.setChecked(by_rule)
        self.number.setEnabled(not by_rule)
        if not by_rule:
            self.number.setValue(value)
