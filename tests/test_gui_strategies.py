"""The window with a user's strategy file (issue 25): chosen from a strategies folder, its
parameters as fields, run and named, swept into a heatmap, described again when it
changes on disk; a file that looks ahead or cannot be read is one line in the error panel."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox
from pytestqt.qtbot import QtBot

import gui.strategy_box
from engine.config import BacktestConfig
from gui.frame_model import FrameModel
from gui.main_window import MainWindow
from gui.strategy_box import ADD, StrategyBox
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("isolated_settings")

#: A causal strategy file of every kind of parameter: a moving-average cross.
CROSS = '''
import numpy as np

NAME = "Small cross"
PARAMS = {"fast": 3, "slow": 8, "ratio": 1.0, "strict": False, "mode": ("cross", "above")}


def _sma(close, n):
    out = np.full(close.shape, np.nan)
    csum = np.cumsum(np.nan_to_num(close), axis=0)
    out[n - 1:] = (csum[n - 1:] - np.vstack([np.zeros((1, close.shape[1])),
                                             csum[:-n]])) / n
    return out


def signals(bars, params):
    fast = _sma(bars.close, int(params["fast"]))
    slow = _sma(bars.close, int(params["slow"])) * float(params["ratio"])
    above = fast > slow
    before = np.vstack([np.zeros((1, above.shape[1]), dtype=bool), above[:-1]])
    return above & ~before, ~above & before
'''
#: The same, but its buy reads tomorrow's close.
PEEK = '''
import numpy as np

NAME = "Tomorrow's close"
PARAMS = {"gap": 0.01}


def signals(bars, params):
    ahead = np.roll(bars.close, -1, axis=0)
    return ahead > bars.close * (1 + params["gap"]), ahead < bars.close * (1 - params["gap"])
'''


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "my strategies"
    out.mkdir()
    _write(out, "cross.py", CROSS)
    _write(out, "peek.py", PEEK)
    return out


def _open(window: MainWindow, qtbot: QtBot, folder: Path) -> StrategyBox:
    window.apply_config(BacktestConfig(data_dir=SAMPLE))
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) > 0, timeout=15_000)
    box = window.panel.strategy_box
    box.set_folder(folder)
    return box


def _pick(box: StrategyBox, data: str) -> None:
    """Choose the chooser's item of ``data`` as a user does (an activated item)."""
    index = box.combo.findData(data)
    assert index >= 0, [box.combo.itemText(i) for i in range(box.combo.count())]
    box.combo.setCurrentIndex(index)
    box.combo.activated.emit(index)


def _run(window: MainWindow, qtbot: QtBot) -> None:
    assert window.run_box.run_button.isEnabled(), window.run_box.reason.text()
    qtbot.mouseClick(window.run_box.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=120_000)


def _column(model: FrameModel, name: str) -> list[str]:
    column = list(model.frame().columns).index(name)
    return [model.data(model.index(row, column)) for row in range(model.rowCount())]


def test_a_file_of_the_folder_runs_with_its_fields(window: MainWindow, qtbot: QtBot,
                                                   folder: Path) -> None:
    box = _open(window, qtbot, folder)
    path = str((folder / "cross.py").resolve())
    assert box.combo.itemText(box.combo.findData(path)) == "Small cross (cross.py)"
    _pick(box, path)
    editors = box.rows.editors
    assert list(editors) == ["fast", "slow", "ratio", "strict", "mode"]
    assert isinstance(editors["fast"], QSpinBox) and editors["fast"].value() == 3
    assert isinstance(editors["ratio"], QDoubleSpinBox) and editors["ratio"].value() == 1.0
    assert isinstance(editors["strict"], QCheckBox) and not editors["strict"].isChecked()
    assert isinstance(editors["mode"], QComboBox) and editors["mode"].currentText() == "cross"
    assert not window.panel.fields["period"].widget.isVisibleTo(window.panel)  # RSI's own
    assert window.panel.config().params == ()  # defaults are not named
    editors["slow"].setValue(12)  # type: ignore[attr-defined]
    window.panel.exits.percent["stop_loss"].setValue(5)
    _run(window, qtbot)
    assert window.run_box.progress.format() == "done", window.errors.message.text()
    result = window.result
    assert result is not None
    assert (result.config.strategy, result.config.params) == (path, (("slow", 12),))
    assert result.config.stop_loss == 0.05
    qtbot.waitUntil(lambda: window.runs_panel.table.model.rowCount() > 0, timeout=10_000)
    name = _column(window.runs_panel.table.model, "name")[0]
    assert "cross slow=12" in name and "stop 5%" in name
    trades = window.result_tabs.trades_table
    window.tabs.setCurrentWidget(trades)
    reasons = set(_column(trades.model, "exit_reason"))
    assert "stop loss" in reasons and "stop_loss" not in reasons, reasons


def test_a_file_that_looks_ahead_is_one_line_in_the_error_panel(
        window: MainWindow, qtbot: QtBot, folder: Path) -> None:
    box = _open(window, qtbot, folder)
    _pick(box, str((folder / "peek.py").resolve()))
    assert box.lookahead.isVisibleTo(box) and box.lookahead.isChecked()
    _run(window, qtbot)
    assert window.run_box.progress.format() == "failed"
    assert window.errors.isVisible()
    message = window.errors.message.text()
    assert "peek" in message and "looks ahead" in message, message
    assert "\n" not in message and "Traceback" not in message
    assert not window.errors.details_button.isVisibleTo(window.errors)
    assert window.result is None


def test_a_sweep_over_two_parameters_of_a_file_draws_a_heatmap(
        window: MainWindow, qtbot: QtBot, folder: Path) -> None:
    box = _open(window, qtbot, folder)
    _pick(box, str((folder / "cross.py").resolve()))
    sweep = window.sweep_view
    window.tabs.setCurrentWidget(sweep)
    assert list(sweep.form.axes.names) == ["fast", "slow", "ratio"]  # the numbers
    extra = [sweep.form.extra_field.itemText(i) for i in range(sweep.form.extra_field.count())]
    assert "period" not in extra and "stop_loss" in extra and "max_hold" in extra
    sweep.range_edits["fast"].setText("2:4:1")
    sweep.range_edits["slow"].setText("8,12")
    sweep.range_edits["ratio"].setText("")
    assert sweep.form.count.text() == "6 combinations", sweep.run_box.reason.text()
    qtbot.mouseClick(sweep.run_box.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not sweep.running, timeout=120_000)
    assert sweep.run_box.progress.format().startswith("done"), sweep.errors.message.text()
    assert sweep.result is not None and list(sweep.result.grid) == ["fast", "slow"]
    controls = sweep.heatmap_controls
    qtbot.waitUntil(lambda: sweep.heatmap.z is not None and sweep.heatmap.z.shape == (2, 3),
                    timeout=10_000)
    assert (controls.x_combo.currentText(), controls.y_combo.currentText()) == ("fast", "slow")
    assert list(sweep.heatmap.x_values) == [2, 3, 4]
    assert list(sweep.heatmap.y_values) == [8, 12]
    # back to RSI: its own ranges again
    window.panel.strategy_box.choose("rsi")
    assert list(sweep.form.axes.names) == ["period", "oversold", "overbought"]


def test_a_file_changed_on_disk_is_described_again(window: MainWindow, qtbot: QtBot,
                                                   folder: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    box = _open(window, qtbot, folder)
    path = folder / "cross.py"
    _pick(box, str(path.resolve()))
    box.rows.editors["fast"].setValue(4)  # type: ignore[attr-defined]
    _write(folder, "cross.py", CROSS.replace('"fast": 3,', '"fast": 3, "hold": 7,'))
    qtbot.waitUntil(lambda: "hold" in box.rows.editors, timeout=10_000)
    assert box.rows.editors["hold"].value() == 7  # type: ignore[attr-defined]
    assert box.rows.editors["fast"].value() == 4  # type: ignore[attr-defined]  # kept
    assert window.panel.config().params == (("fast", 4),)
    # a syntax error: one line in the error panel, Run off with the reason
    _write(folder, "cross.py", CROSS.replace("def signals(bars, params):", "def signals(:"))
    qtbot.waitUntil(window.errors.isVisible, timeout=10_000)
    assert "cross.py" in window.errors.message.text()
    assert "syntax error" in window.errors.message.text()
    assert not window.run_box.run_button.isEnabled()
    assert "cross.py" in window.run_box.reason.text()
    _write(folder, "cross.py", CROSS)
    qtbot.waitUntil(window.run_box.run_button.isEnabled, timeout=10_000)
    assert not window.errors.isVisible()
    assert "hold" not in box.rows.editors
    # a file from elsewhere, by Add…
    other = _write(tmp_path, "elsewhere.py", PEEK.replace("Tomorrow's close", "Elsewhere"))
    monkeypatch.setattr(gui.strategy_box, "ask_open_file", lambda *_: other)
    _pick(box, ADD)
    assert box.strategy() == str(other.resolve())
    assert box.combo.currentText() == "Elsewhere (elsewhere.py)"
    assert list(box.rows.editors) == ["gap"]
