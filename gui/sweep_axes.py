"""The sweep form's range fields of the base strategy's numeric parameters (the RSI's
period and levels, a moving average's lengths, a strategy file's numbers), rebuilt when
the base configuration names another strategy."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit

from engine.config import BacktestConfig
from engine.studies.grid import GRID_FIELDS, RSI_FIELDS
from gui.plot_style import error_label
from gui.strategy_files import sweep_axes

#: The ranges an RSI sweep starts with.
RSI_RANGES = {"period": "10:20:2", "oversold": "20:35:5", "overbought": "65:80:5"}
#: How many of another strategy's parameters start with a range (a heatmap's two axes).
SUGGESTED = 2


def suggested_range(value: float) -> str:
    """A range around a parameter's value, half to one and a half times it in about five
    steps ("" for a value that is not positive)."""
    if isinstance(value, bool) or value <= 0:
        return ""
    if isinstance(value, int):
        low, high = max(1, round(value / 2)), max(2, round(value * 3 / 2))
        return f"{low}:{high}:{max(1, (high - low) // 4)}"
    return f"{value / 2:g}:{value * 3 / 2:g}:{value / 4:g}"


class SweepAxes:
    """Keeps ``range_edits`` / ``range_errors`` (shared with the form) holding one range
    field per numeric parameter of the base configuration's strategy, as the first rows of
    ``form``, and ``extra`` offering every other sweepable field (not the RSI's own fields
    for another strategy). A range typed for a strategy comes back when it is chosen again.
    ``edited`` (a signal) is emitted after a range field changes."""

    def __init__(self, form: QFormLayout, range_edits: dict[str, QLineEdit],
                 range_errors: dict[str, QLabel], extra: QComboBox,
                 edited: Any) -> None:
        self.form, self.range_edits, self.range_errors = form, range_edits, range_errors
        self.extra, self.edited = extra, edited
        self.names: tuple[str, ...] = ()
        self._key: tuple[str, tuple[str, ...]] | None = None
        self._typed: dict[tuple[str, str], str] = {}
        self.follow(BacktestConfig())

    def follow(self, config: BacktestConfig) -> None:
        """Offer the parameters of ``config``'s strategy (no change for the same ones)."""
        axes = sweep_axes(config)
        key = (config.strategy, tuple(axes))
        if key == self._key:
            return
        if self._key is not None:
            for name in self.names:
                self._typed[(self._key[0], name)] = self.range_edits[name].text()
        for name in self.names:
            self.form.removeRow(self.range_errors.pop(name))
            self.form.removeRow(self.range_edits.pop(name))
        self._key, self.names = key, tuple(axes)
        for row, name in enumerate(self.names):
            text = self._typed.get((config.strategy, name))
            if text is None:
                text = (RSI_RANGES.get(name, "") if config.strategy == "rsi" else
                        suggested_range(axes[name]) if row < SUGGESTED else "")
            edit = QLineEdit(text, clearButtonEnabled=True)
            edit.setPlaceholderText(f"base value ({axes[name]:g})")
            edit.textChanged.connect(self.edited)
            error = error_label()
            error.hide()
            self.form.insertRow(2 * row, name, edit)
            self.form.insertRow(2 * row + 1, error)
            self.range_edits[name], self.range_errors[name] = edit, error
        self._offer_extra(config.strategy == "rsi")

    def _offer_extra(self, rsi: bool) -> None:
        chosen = self.extra.currentText()
        fields = [name for name in GRID_FIELDS if name not in self.names
                  and (rsi or name not in RSI_FIELDS)]
        self.extra.blockSignals(True)
        while self.extra.count() > 1:  # the first item: no extra field
            self.extra.removeItem(1)
        self.extra.addItems(fields)
        index = self.extra.findText(chosen)
        self.extra.setCurrentIndex(max(index, 0))
        self.extra.blockSignals(False)
