"""A strategy's parameters as rows of a form: a spin box per whole number, a double spin box
per number, a check box per true/false, a choice per tuple of words, each at its default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from engine.strategies.catalog import ParamValue

#: The widest range a number field takes (a parameter declares no bounds of its own).
LIMIT = 1_000_000_000


def _decimals(value: float) -> int:
    """Decimals that show ``value`` exactly (2 to 10)."""
    text = f"{value:.10f}".rstrip("0")
    return max(2, len(text.split(".")[1]))


def _step(value: float) -> float:
    size = abs(value)
    return 1.0 if size >= 10 or size == 0 else 0.1 if size >= 1 else 10 ** -_decimals(size)


def make_editor(default: ParamValue, words: tuple[str, ...] = ()) -> QWidget:
    """The field of a parameter whose default is ``default`` (``words``: its allowed words)."""
    if words:
        combo = QComboBox()
        combo.addItems(list(words))
        return combo
    if isinstance(default, bool):
        return QCheckBox()
    if isinstance(default, int):
        spin = QSpinBox()
        spin.setRange(-LIMIT, LIMIT)
        spin.setKeyboardTracking(False)
        return spin
    if isinstance(default, float):
        double = QDoubleSpinBox(decimals=_decimals(default))
        double.setRange(-LIMIT, LIMIT)
        double.setSingleStep(_step(default))
        double.setKeyboardTracking(False)
        return double
    combo = QComboBox(editable=True)  # text without a list of words
    return combo


def editor_value(editor: QWidget) -> ParamValue:
    """What ``editor`` holds."""
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return editor.value()
    assert isinstance(editor, QComboBox)
    return editor.currentText()


def set_editor(editor: QWidget, value: Any) -> None:
    """Show ``value`` in ``editor`` (a value it cannot hold is left out)."""
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QSpinBox) and isinstance(value, int | float):
        editor.setValue(int(value))
    elif isinstance(editor, QDoubleSpinBox) and isinstance(value, int | float):
        editor.setValue(float(value))
    elif isinstance(editor, QComboBox):
        index = editor.findText(str(value))
        if index >= 0:
            editor.setCurrentIndex(index)
        elif editor.isEditable():
            editor.setCurrentText(str(value))


def _signal(editor: QWidget) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.toggled
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return editor.valueChanged
    assert isinstance(editor, QComboBox)
    return editor.currentTextChanged


class ParamRows(QObject):
    """The rows of a strategy's parameters in ``form``, placed just above the row of
    ``below`` (a widget of ``form``). ``values()`` holds every field's value,
    ``given()`` only those that differ from the defaults (what a configuration names).
    Signal: ``edited`` after a field changes."""

    edited = Signal()

    def __init__(self, form: QFormLayout, below: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.form, self.below = form, below
        self.defaults: dict[str, ParamValue] = {}
        self.choices: dict[str, tuple[str, ...]] = {}
        self.editors: dict[str, QWidget] = {}

    def set_params(self, defaults: Mapping[str, ParamValue],
                   choices: Mapping[str, tuple[str, ...]] | None = None,
                   keep: bool = False) -> None:
        """Show these parameters at their defaults. ``keep``: a field that stays (same
        name, same kind) keeps a value the user set (one not at its old default)."""
        choices = dict(choices or {})
        kept = {name: value for name, value in self.given().items()
                if name in defaults and _same_kind(self.defaults[name], defaults[name])
                and self.choices.get(name, ()) == choices.get(name, ())} if keep else {}
        for editor in self.editors.values():
            self.form.removeRow(editor)
        self.editors = {}
        self.defaults, self.choices = dict(defaults), choices
        row = row_of(self.form, self.below)
        for name, default in defaults.items():
            editor = make_editor(default, choices.get(name, ()))
            set_editor(editor, kept.get(name, default))
            words = choices.get(name)
            editor.setToolTip(f"{name}: one of {', '.join(words)}" if words else
                              f"{name}, default {_shown(default)}")
            _signal(editor).connect(self.edited)
            self.form.insertRow(row, name, editor)
            row += 1
            self.editors[name] = editor

    def values(self) -> dict[str, ParamValue]:
        """Every parameter's value as its field holds it."""
        return {name: editor_value(editor) for name, editor in self.editors.items()}

    def given(self) -> dict[str, ParamValue]:
        """The values that differ from the parameters' defaults."""
        return {name: value for name, value in self.values().items()
                if not _equal(value, self.defaults[name])}

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (a parameter not named: its default)."""
        for name, editor in self.editors.items():
            set_editor(editor, values.get(name, self.defaults[name]))


def row_of(form: QFormLayout, widget: QWidget) -> int:
    """The form row that holds ``widget``."""
    position: Any = form.getWidgetPosition(widget)  # PySide6 types it as object
    return int(position[0])


def _shown(value: ParamValue) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def _same_kind(a: ParamValue, b: ParamValue) -> bool:
    return type(a) is type(b)


def _equal(value: ParamValue, default: ParamValue) -> bool:
    return type(value) is type(default) and value == default
