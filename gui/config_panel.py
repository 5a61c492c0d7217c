"""The left-hand panel: data folder, stocks, window, strategy, exits and trading rules,
validated inline."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.config import CHOICES, BacktestConfig
from engine.data.naming import parse_code
from engine.data.summary import window_problem
from engine.errors import ConfigError
from engine.strategies.catalog import RSI_FIELDS
from engine.util.words import display_name, index_title
from gui.date_field import DateField
from gui.dialog_folders import DATA, ask_folder
from gui.exit_fields import ExitFields
from gui.rule_field import RuleField
from gui.stock_picker import StockPicker
from gui.strategy_box import StrategyBox


def _spin(lo: float, hi: float, decimals: int = 0, step: float = 1.0) -> QSpinBox | QDoubleSpinBox:
    box: QSpinBox | QDoubleSpinBox
    if decimals == 0:
        box = QSpinBox()
        box.setRange(int(lo), int(hi))
        box.setSingleStep(int(step))
    else:
        box = QDoubleSpinBox(decimals=decimals)
        box.setRange(lo, hi)
        box.setSingleStep(step)
    box.setKeyboardTracking(False)
    return box


def _combo(name: str) -> QComboBox:
    """A choice of the config field ``name``: its values in their display names
    (``engine.util.words.DISPLAY_NAMES``), each item's data the value itself."""
    box = QComboBox()
    for value in CHOICES[name]:
        box.addItem(display_name(name, value), value)
    return box


def _choice_field(box: QComboBox) -> _Field:
    """A combo box's value: the chosen item's data (its text when it has none)."""
    def get() -> Any:
        data = box.currentData()
        return box.currentText() if data is None else data

    def put(value: Any) -> None:
        index = box.findData(value)
        if index >= 0:
            box.setCurrentIndex(index)
        else:
            box.setCurrentText(str(value))

    return _Field(box, get, put, box.currentIndexChanged)


class _Field:
    """A config field's editor, with how to read it, write it and signal a change."""

    def __init__(self, widget: QWidget, get: Callable[[], Any], put: Callable[[Any], None],
                 signal: Any) -> None:
        self.widget, self.get, self.put, self.signal = widget, get, put, signal
        self.error = QLabel(wordWrap=True)
        self.error.hide()
        self.error.setStyleSheet("color: #c0392b;")


def _rule(word: str, label: str, number: QSpinBox | QDoubleSpinBox,
          default: float) -> RuleField:
    if isinstance(number, QSpinBox):
        number.setValue(int(default))
    else:
        number.setValue(default)
    return RuleField(word, label, number)


EQUAL_WEIGHT_ITEM = "equal weight (the stocks)"


def _benchmark_combo() -> QComboBox:
    """An editable choice: the equal-weight benchmark, an index code, or a typed path."""
    box = QComboBox(editable=True)
    box.addItem(EQUAL_WEIGHT_ITEM)
    box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    return box


def _benchmark_field(box: QComboBox) -> _Field:
    """The benchmark: None for equal weight, an index's code (its item shows the code with
    the index's name) or what was typed (a code, a path)."""
    def get() -> str | None:
        text = box.currentText().strip()
        index = box.findText(text)
        if index >= 0 and box.itemData(index) is not None:
            return str(box.itemData(index))
        return None if text in ("", EQUAL_WEIGHT_ITEM) else text

    def put(value: str | None) -> None:
        index = box.findData(value) if value is not None else 0
        if index >= 0:
            box.setCurrentIndex(index)
        else:
            box.setCurrentText(value or EQUAL_WEIGHT_ITEM)

    return _Field(box, get, put, box.currentTextChanged)


def _field(widget: QWidget) -> _Field:
    if isinstance(widget, RuleField):
        return _Field(widget, widget.value, widget.set_value, widget.edited)
    if isinstance(widget, QSpinBox | QDoubleSpinBox):
        return _Field(widget, widget.value, widget.setValue, widget.valueChanged)
    if isinstance(widget, QComboBox):
        return _choice_field(widget)
    if isinstance(widget, QCheckBox):
        return _Field(widget, widget.isChecked, widget.setChecked, widget.toggled)
    if isinstance(widget, DateField):
        return _Field(widget, widget.text, widget.set_date, widget.edited)
    raise TypeError(widget)


class ConfigPanel(QWidget):
    """Edits a BacktestConfig. ``config()`` returns it or raises ConfigError.

    Signals: ``changed`` (any edit), ``folder_changed(Path)`` (also when the layout
    changes), ``validity_changed(bool, str)`` after each edit with the reason when invalid
    (including ``run_problem``'s: a run window that holds none of the opened data's days,
    a folder without a usable stock, no stock selected), ``message_posted(str)`` to say
    what opening a folder changed (a benchmark it lacks).
    """

    changed = Signal()
    folder_changed = Signal(Path)
    validity_changed = Signal(bool, str)
    message_posted = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, _Field] = {}
        #: Each field's form and row (``_add``).
        self.rows: dict[str, tuple[QFormLayout, QVBoxLayout]] = {}
        self.strategy_box = StrategyBox()
        self.exits = ExitFields()
        self.folder = QLineEdit(placeholderText="choose a data folder")
        self.folder.editingFinished.connect(self._folder_edited)
        self.folder_info = QLabel("no folder loaded", wordWrap=True)
        self.stocks = StockPicker()
        self.stocks.changed.connect(self._edited)
        self.coverage: tuple[dt.date, dt.date] | None = None
        #: The open folder was read and holds no usable stock (its scan failed or was empty).
        self.no_stock = False
        self.coverage_label = QLabel("", wordWrap=True)
        self.use_range = QPushButton("Use the data's range")
        self.use_range.setToolTip("set Start and End to the first and last day of the data")
        self.use_range.clicked.connect(self.use_data_range)
        self.use_range.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self._data_group())
        layout.addWidget(self._run_group())
        layout.addWidget(self.strategy_box)
        self._add_host(self.exits)
        layout.addWidget(self.exits)
        layout.addWidget(self._rules_group())
        self.strategy_box.set_rsi_rows([self.rows[name] for name in RSI_FIELDS])
        self._extra: dict[str, Any] = {}
        self.set_config(BacktestConfig())
        for f in self.fields.values():
            f.signal.connect(self._edited)
        self.fields["layout"].signal.connect(lambda _: self._folder_edited())

    def _add(self, form: QFormLayout, name: str, label: str, widget: QWidget,
             tip: str = "") -> None:
        field = self.fields[name] = (_benchmark_field(widget) if name == "benchmark"
                                     and isinstance(widget, QComboBox) else _field(widget))
        widget.setToolTip(tip or label)
        box = QVBoxLayout()
        box.setSpacing(0)
        box.addWidget(widget)
        box.addWidget(field.error)
        form.addRow(label, box)
        self.rows[name] = (form, box)

    def _add_host(self, host: StrategyBox | ExitFields) -> None:
        """Register the fields a group builds itself; it places their error labels."""
        for name, (widget, get, put, signal) in host.field_specs().items():
            field = self.fields[name] = _Field(widget, get, put, signal)
            host.place_error(name, field.error)

    def _data_group(self) -> QGroupBox:
        group = QGroupBox("Data")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self._add(form, "layout", "Layout", _combo("layout"),
                  "how the folder keeps its bars; auto detects it from the contents")
        self._add(form, "benchmark", "Benchmark", _benchmark_combo(),
                  "what the run is measured against: the equal-weight buy and hold of its "
                  "stocks, an index file found in the folder, or a typed path of a file of "
                  "daily closes")
        layout = QVBoxLayout(group)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(self.folder_info)
        layout.addWidget(self.stocks, 1)
        return group

    def _run_group(self) -> QGroupBox:
        group = QGroupBox("Run")
        form = QFormLayout(group)
        for name, label in (("start", "Start"), ("end", "End")):
            self._add(form, name, label, DateField(), f"{label.lower()} of the run window: "
                      "2011-01-04 or 20110104")
        form.addRow("", self.coverage_label)
        form.addRow("", self.use_range)
        self._add_host(self.strategy_box)
        rsi = self.strategy_box.form  # the RSI's own fields, under the strategy's choice
        self._add(rsi, "period", "RSI period", _spin(0, 1000), "RSI look-back in bars (2-500)")
        self._add(rsi, "oversold", "Oversold", _spin(0, 100, 2, 1.0),
                  "buy when RSI rises back above this level")
        self._add(rsi, "overbought", "Overbought", _spin(0, 100, 2, 1.0),
                  "sell when RSI falls back below this level")
        workers = QComboBox()
        workers.addItems(["auto", *[str(n) for n in range(1, (os.cpu_count() or 1) + 1)]])
        self._add(form, "workers", "Workers", workers,
                  "worker processes; auto runs small jobs in-process")
        return group

    def _rules_group(self) -> QWidget:
        toggle = QToolButton()
        toggle.setText("Trading rules (A-share defaults)")
        toggle.setCheckable(True)
        toggle.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        body = QWidget()
        body.hide()
        toggle.toggled.connect(body.setVisible)
        toggle.toggled.connect(lambda on: toggle.setArrowType(
            toggle.arrowType().DownArrow if on else toggle.arrowType().RightArrow))
        toggle.setArrowType(toggle.arrowType().RightArrow)
        toggle.setToolButtonStyle(toggle.toolButtonStyle().ToolButtonTextBesideIcon)
        form = QFormLayout(body)
        for name, label in (("rsi_method", "RSI method"), ("fill", "Fill"),
                            ("capital_mode", "Capital mode"), ("adjust", "Price adjustment"),
                            ("on_bad_stock", "Bad stock"), ("listing", "Listing day")):
            self._add(form, name, label, _combo(name))
        rows = (
            ("initial_capital", "Initial capital", _spin(0, 1e12, 2, 100_000)),
            ("position_pct", "Position size (of equity)", _spin(0, 10, 4, 0.01)),
            ("max_positions", "Max positions", _spin(0, 10_000)),
            ("commission_rate", "Commission rate", _spin(0, 1, 6, 0.0001)),
            ("min_commission", "Min commission", _spin(0, 1e6, 2, 1)),
            ("stamp_tax_rate", "Stamp tax",
             _rule("schedule", "schedule (by date)", _spin(0, 1, 6, 0.0001), 0.0005)),
            ("transfer_fee_rate", "Transfer fee",
             _rule("schedule", "schedule (by date)", _spin(0, 1, 6, 0.00001), 0.00001)),
            ("slippage", "Slippage", _spin(0, 1, 6, 0.0005)),
            ("lot_size", "Lot size (shares)",
             _rule("board", "by board", _spin(1, 1_000_000, 0, 100), 100)),
        )
        for name, label, widget in rows:
            self._add(form, name, label, widget)
        self._add(form, "price_limits", "Price limits", QCheckBox("reject orders at the limit"))
        wrapper = QWidget()
        layout = QVBoxLayout(wrapper)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(toggle)
        layout.addWidget(body)
        self.rules_toggle = toggle
        self.rules_body = body
        return wrapper

    def widest_row(self) -> int:
        """Width the panel needs with every group open (the rules group may be folded)."""
        layout = self.layout()
        assert layout is not None
        margins = layout.contentsMargins()
        return max(self.minimumSizeHint().width(),
                   self.rules_body.minimumSizeHint().width() + margins.left() + margins.right())

    def set_config(self, config: BacktestConfig) -> None:
        """Show ``config`` in the widgets (without emitting edits for each field)."""
        for name, f in self.fields.items():
            f.widget.blockSignals(True)
            value = getattr(config, name)
            f.put(str(value) if name == "workers" else value)
            f.widget.blockSignals(False)
        self.folder.setText(str(config.data_dir))
        self._extra = {"risk_free_rate": config.risk_free_rate, "cache_dir": config.cache_dir}
        self._pending_stocks = config.stocks
        if isinstance(config.stocks, tuple) and self.stocks.codes():
            self.stocks.select(config.stocks)
        self._edited()

    def values(self) -> dict[str, Any]:
        """The raw field values as typed (not yet validated), including a number still
        being typed: a shortcut (Ctrl+R, Ctrl+S) reads the form before editing ends."""
        for box in self.findChildren(QAbstractSpinBox):
            box.interpretText()
        out = {name: f.get() for name, f in self.fields.items()}
        out["workers"] = "auto" if out["workers"] == "auto" else int(out["workers"])
        out["data_dir"] = Path(self.folder.text().strip() or ".")
        out["stocks"] = self.stocks.selection() if self.stocks.codes() else self._pending_stocks
        return {**out, **self._extra}

    def config(self) -> BacktestConfig:
        """The edited configuration; raises ConfigError naming the bad field."""
        return BacktestConfig(**self.values())

    def _edited(self, *_: object) -> None:
        for f in self.fields.values():
            f.error.hide()
        try:
            config = self.config()
            problem = self._window_problem(config)
            if problem:
                raise ConfigError(problem, field="start")
            problem = self._stock_problem()
            if problem:
                raise ConfigError(problem, field="stocks")
            problem = self.strategy_box.problem()
            if problem:
                raise ConfigError(problem, field="strategy")
        except ConfigError as exc:
            field = self.fields.get(self.strategy_box.field_of(exc.field or ""))
            if field is not None:
                field.error.setText(str(exc))
                field.error.show()
                if self.rules_body.isAncestorOf(field.widget):
                    self.rules_toggle.setChecked(True)
            self.validity_changed.emit(False, str(exc))
        else:
            self.validity_changed.emit(True, "")
        self.changed.emit()

    def _browse(self) -> None:
        folder = ask_folder(self, DATA, "Open data folder")
        if folder is not None:
            self.set_folder(folder)

    def set_folder(self, folder: Path) -> None:
        """Use ``folder`` as the data folder and announce it (the window loads it)."""
        self.folder.setText(str(folder))
        self._folder_edited()

    def run_problem(self, config: BacktestConfig) -> str:
        """Why ``config`` (valid as a configuration) cannot run on the open folder ("" when
        it can): the run window misses the data, or there is no stock to run."""
        return (self._window_problem(config) or self._stock_problem()
                or self.strategy_box.problem())

    def _stock_problem(self) -> str:
        if self.no_stock:
            return ("the data folder holds no usable stock (the error panel says why); choose "
                    "a folder of stock files or another layout")
        if self.stocks.codes() and not self.stocks.checked():
            return "no stock is selected: check at least one in the list (All checks them all)"
        return ""

    def _folder_edited(self) -> None:
        self.no_stock = False
        self.folder_info.setText("loading…")
        self.folder_changed.emit(Path(self.folder.text().strip()))
        self._edited()

    def _window_problem(self, config: BacktestConfig) -> str:
        covered = self.coverage is not None and not window_problem(config.start, config.end,
                                                                   *self.coverage)
        self.use_range.setVisible(self.coverage is not None
                                  and (config.start, config.end) != self.coverage)
        if self.coverage is None or covered:
            return ""
        return window_problem(config.start, config.end, *self.coverage)

    def set_coverage(self, first: dt.date | None, last: dt.date | None) -> None:
        """Show the opened data's first and last day beside the dates (None: no data). A
        run window that holds none of its days moves to the data's range."""
        self.coverage = (first, last) if first is not None and last is not None else None
        self.coverage_label.setText(f"data: {first} .. {last}" if self.coverage else "")
        start, end = self.as_date("start"), self.as_date("end")
        if self.coverage and start and end and window_problem(start, end, *self.coverage):
            self.use_data_range()
        elif self.coverage and start and end:
            # Overlapping: a window reaching past the data is clipped to it, so the run
            # (and its saved name) says the days it trades; one inside stays as set.
            first, last = self.coverage
            self.fields["start"].put(max(start, first))
            self.fields["end"].put(min(end, last))
            self._edited()
        else:
            self._edited()

    def use_data_range(self) -> None:
        """Set Start and End to the opened data's first and last day."""
        if self.coverage is None:
            return
        for name, day in zip(("start", "end"), self.coverage, strict=True):
            self.fields[name].put(day)
        self._edited()

    def show_folder(self, codes: list[str], info: str, indices: Sequence[str] = (),
                    read: bool = True) -> None:
        """List the folder's stocks (keeping a pending selection), describe the folder, and
        offer its ``indices`` as benchmarks. ``read``: the folder exists and was read, so
        no ``codes`` means it holds no usable stock (Run is off until another opens). A
        benchmark code the folder holds neither as an index nor as a stock goes back to
        the equal-weight benchmark, said by ``message_posted``; a file of closes stays."""
        self.no_stock = read and not codes
        pending = self._pending_stocks
        self.stocks.set_indices(indices)
        self.stocks.set_codes(codes, pending if isinstance(pending, tuple) else None)
        self.folder_info.setText(info)
        combo = self.fields["benchmark"].widget
        assert isinstance(combo, QComboBox)
        chosen = self.fields["benchmark"].get()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(EQUAL_WEIGHT_ITEM)
        for code in indices:
            combo.addItem(index_title(code), code)
        self.fields["benchmark"].put(chosen)
        combo.blockSignals(False)
        benchmark = self.fields["benchmark"].get()
        if codes and benchmark is not None and _lacks(benchmark, codes, indices):
            self.fields["benchmark"].put(None)  # emits: the panel re-checks itself
            self.message_posted.emit(f"the benchmark {benchmark} is not in this folder: back "
                                     "to the equal-weight benchmark")

    def as_date(self, name: str) -> dt.date | None:
        """The date shown in the ``start`` or ``end`` editor, None while it is not a date."""
        widget = self.fields[name].widget
        assert isinstance(widget, DateField)
        return widget.date()


def _lacks(benchmark: str, codes: Sequence[str], indices: Sequence[str]) -> bool:
    """Whether ``benchmark`` names a code the folder holds neither as an index nor as a
    stock; never a path of an existing file of closes (nor text that is not a code)."""
    code = parse_code(benchmark)
    if code is None or Path(benchmark).expanduser().is_file():
        return False
    return code not in indices and code not in codes
