"""The sweep's ranges: one field per numeric parameter of the strategy and one extra field,
checked as typed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit

from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.strategies.naming import strategy_label
from engine.studies.grid import expand_grid, parse_values
from engine.util.words import counted, display_name
from gui.plot_style import GUIDE_COLOR, error_label
from gui.sweep_axes import SweepAxes

NO_EXTRA = "(none)"


class SweepForm(QGroupBox):
    """The "Ranges" group: ``grid()`` is the grid its fields describe, ``check()`` shows
    what is wrong beside the field and says why a sweep cannot run, ``show_base`` names
    the configuration the ranges vary. ``edited`` after any change of a field."""

    edited = Signal()

    def __init__(self) -> None:
        super().__init__("Ranges")
        form = QFormLayout(self)
        self.range_edits: dict[str, QLineEdit] = {}
        self.range_errors: dict[str, QLabel] = {}
        self.extra_field = QComboBox()
        self.extra_field.addItem(NO_EXTRA)
        self.extra_field.currentTextChanged.connect(self.edited)
        form.addRow("extra field", self.extra_field)
        self.extra_values = QLineEdit(clearButtonEnabled=True)
        self.extra_values.setPlaceholderText("e.g. 0.05,0.1,0.2")
        self._add_range(form, "extra", "its values", self.extra_values)
        hint = QLabel("start:stop:step (inclusive) or a comma list; "
                      "empty = the base configuration's value", wordWrap=True)
        hint.setStyleSheet(f"color: {GUIDE_COLOR};")
        form.addRow(hint)
        self.count = QLabel(" ")
        self.base_label = QLabel(" ", wordWrap=True)
        self.base_label.setStyleSheet(f"color: {GUIDE_COLOR};")
        form.addRow(self.count)
        form.addRow(self.base_label)
        #: The range fields of the strategy's parameters, first in the form.
        self.axes = SweepAxes(form, self.range_edits, self.range_errors, self.extra_field,
                              self.edited)

    def _add_range(self, form: QFormLayout, key: str, label: str, edit: QLineEdit) -> None:
        error = error_label()
        error.hide()
        edit.textChanged.connect(self.edited)
        self.range_edits[key] = edit
        self.range_errors[key] = error
        form.addRow(label, edit)
        form.addRow(error)

    def show_base(self, config: BacktestConfig | None, reason: str) -> None:
        """Name the base configuration, or why there is none."""
        if config is None:
            self.base_label.setText(f"Base: {reason}")
            return
        self.axes.follow(config)
        stocks = ("all stocks" if config.stocks is None else
                  counted(len(config.stocks), "stock") if isinstance(config.stocks, tuple)
                  else Path(config.stocks).name)
        self.base_label.setText(
            f"Base: {config.data_dir.name}, {stocks}, {config.start}..{config.end}, "
            f"{strategy_label(config)}, fill at {display_name('fill', config.fill)}, "
            f"{display_name('capital_mode', config.capital_mode)}")

    def grid(self) -> dict[str, list[float]]:
        """The grid the fields describe; raises ``ConfigError`` naming the bad field."""
        grid: dict[str, list[float]] = {}
        for name in self.axes.names:
            text = self.range_edits[name].text().strip()
            if text:
                grid[name] = self._parse(name, text)
        extra = self.extra_field.currentText()
        if extra != NO_EXTRA:
            text = self.range_edits["extra"].text().strip()
            if not text:
                raise ConfigError(f"enter the values of {extra}", field="extra")
            grid[extra] = self._parse("extra", text)
        if not grid:
            raise ConfigError("enter at least one range")
        return grid

    @staticmethod
    def _parse(key: str, text: str) -> list[float]:
        try:
            return parse_values(text)
        except ConfigError as exc:
            raise ConfigError(str(exc), field=key) from exc

    def check(self) -> str:
        """Count the combinations, or show the problem beside its field; returns why the
        ranges cannot run ("" when they can)."""
        self.range_edits["extra"].setEnabled(self.extra_field.currentText() != NO_EXTRA)
        for error in self.range_errors.values():
            error.hide()
        try:
            _, combos = expand_grid(self.grid(), self.axes.names)
        except ConfigError as exc:
            self.count.setText(" ")
            if exc.field not in self.range_errors:
                return str(exc)
            self.range_errors[exc.field].setText(str(exc))  # the details go beside the field
            self.range_errors[exc.field].show()
            label = "extra field's values" if exc.field == "extra" else exc.field
            return f"the {label} range is not valid (see above)"
        self.count.setText(f"{len(combos):,} combinations")
        return ""
