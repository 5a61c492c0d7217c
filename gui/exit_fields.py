"""The config panel's Exits group: stop loss, take profit and trailing stop in percent and
the longest hold in bars (SPEC §3c), each 0 for off."""

from __future__ import annotations

from functools import partial

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout

from gui.strategy_box import FieldSpec

#: (field, label, what it does) of the exits in percent.
PERCENT_EXITS = (
    ("stop_loss", "Stop loss", "sell when the close falls this far below the entry price"),
    ("take_profit", "Take profit", "sell when the close rises this far above the entry price"),
    ("trailing_stop", "Trailing stop",
     "sell when the close falls this far below its highest close since the entry"),
)


def _fraction(spin: QDoubleSpinBox) -> float:
    return round(spin.value() / 100, 6)


def _set_percent(spin: QDoubleSpinBox, fraction: float) -> None:
    spin.setValue(fraction * 100)


class ExitFields(QGroupBox):
    """The exits of any strategy; ``field_specs`` gives the panel their fields (fractions
    of the configuration shown as percent)."""

    def __init__(self) -> None:
        super().__init__("Exits (0 = off)")
        self.form = QFormLayout(self)
        self.boxes: dict[str, QVBoxLayout] = {}
        self.percent: dict[str, QDoubleSpinBox] = {}
        for name, label, tip in PERCENT_EXITS:
            spin = QDoubleSpinBox(decimals=2, suffix=" %")
            spin.setRange(0, 99.99)
            spin.setSingleStep(1.0)
            spin.setSpecialValueText("off")
            spin.setKeyboardTracking(False)
            spin.setToolTip(f"{tip}; off at 0 (field {name})")
            self.percent[name] = spin
            self._row(name, label, spin)
        self.max_hold = QSpinBox(suffix=" bars")
        self.max_hold.setRange(0, 100_000)
        self.max_hold.setSpecialValueText("off")
        self.max_hold.setKeyboardTracking(False)
        self.max_hold.setToolTip("sell once the position has been held this many of the "
                                 "stock's bars (the entry bar is bar 0); off at 0")
        self._row("max_hold", "Max hold", self.max_hold)

    def _row(self, name: str, label: str, spin: QDoubleSpinBox | QSpinBox) -> None:
        box = self.boxes[name] = QVBoxLayout()
        box.setSpacing(0)
        box.addWidget(spin)
        self.form.addRow(label, box)

    def field_specs(self) -> dict[str, FieldSpec]:
        """``stop_loss``, ``take_profit``, ``trailing_stop`` (fractions) and ``max_hold``."""
        specs: dict[str, FieldSpec] = {}
        for name, spin in self.percent.items():
            specs[name] = (spin, partial(_fraction, spin), partial(_set_percent, spin),
                           spin.valueChanged)
        specs["max_hold"] = (self.max_hold, self.max_hold.value, self.max_hold.setValue,
                             self.max_hold.valueChanged)
        return specs

    def place_error(self, name: str, label: QLabel) -> None:
        """Put the error label of field ``name`` under its field."""
        self.boxes[name].addWidget(label)
