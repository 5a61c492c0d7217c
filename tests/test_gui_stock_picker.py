"""The stock picker's selection follows every way a user changes the check marks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from gui.stock_picker import StockPicker

CODES = ["000001.SZ", "000002.SZ", "600000.SH", "600519.SH", "830799.BJ"]


def _picker(qtbot: QtBot) -> StockPicker:
    picker = StockPicker()
    qtbot.addWidget(picker)
    picker.set_codes(CODES)
    return picker


def test_all_checked_is_no_selection_and_a_click_unchecks_one(qtbot: QtBot) -> None:
    picker = _picker(qtbot)
    assert picker.selection() is None and picker.count.text() == "5 of 5 stocks selected"
    with qtbot.waitSignal(picker.changed):
        picker.model.item(2).setCheckState(Qt.CheckState.Unchecked)  # what a click does
    assert picker.checked() == ["000001.SZ", "000002.SZ", "600519.SH", "830799.BJ"]
    assert picker.selection() == ("000001.SZ", "000002.SZ", "600519.SH", "830799.BJ")
    assert picker.count.text() == "4 of 5 stocks selected"
    picker.model.item(2).setCheckState(Qt.CheckState.Checked)
    assert picker.selection() is None


def test_none_and_all_buttons_act_on_the_filtered_rows_only(qtbot: QtBot) -> None:
    picker = _picker(qtbot)
    picker.filter.setText("SH")
    picker._check_all(False)
    assert picker.checked() == ["000001.SZ", "000002.SZ", "830799.BJ"]
    picker.filter.setText("")
    picker._check_all(False)
    assert picker.checked() == [] and picker.count.text() == "0 of 5 stocks selected"
    picker.filter.setText("600")
    picker._check_all(True)
    assert picker.selection() == ("600000.SH", "600519.SH")


def test_new_codes_and_a_list_replace_the_marks(qtbot: QtBot) -> None:
    picker = _picker(qtbot)
    picker.select(["sh600519", "000001"])
    assert picker.selection() == ("000001.SZ", "600519.SH")
    picker.set_codes(CODES[:2], {"000002.SZ"})
    assert picker.codes() == CODES[:2] and picker.selection() == ("000002.SZ",)
    picker.set_codes([])
    assert picker.selection() is None and picker.count.text() == "no stocks listed yet"
