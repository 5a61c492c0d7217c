"""Result tables show engine.results.formatting's text, computed once: sorting and filtering move
the
text with its row and never format again."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

import gui.frame_model
from engine.results.formatting import format_frame, format_value
from gui.frame_model import FrameModel
from gui.metric_table import MetricTable
from gui.table_view import FrameTable

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _fills() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]),
        "code": ["600519.SH", "510300.SH", "000001.SZ", "159915.SZ"],
        "shares": [100, 12000, 2500, 300],
        "price": [1735.12, 3.4567, 10.5, np.nan],
        "commission": [5.0, 12.345, 7.5, 5.0],
    })


def _shown(model: FrameModel) -> list[list[str]]:
    return [[model.data(model.index(row, column)) for column in range(model.columnCount())]
            for row in range(model.rowCount())]


@pytest.fixture
def table(qtbot: QtBot) -> FrameTable:
    widget = FrameTable()
    qtbot.addWidget(widget)
    widget.set_data(_fills())
    return widget


def test_a_price_reads_with_two_decimals_and_a_fund_with_three(table: FrameTable) -> None:
    rows = _shown(table.model)
    assert rows[0] == ["2024-01-02", "600519.SH", "100", "1,735.12", "5.00"]
    assert rows[1][3] == "3.457" and rows[3][3] == "—"
    price = table.model.index(0, 3)
    assert table.model.data(price, Qt.ItemDataRole.TextAlignmentRole) == RIGHT
    assert table.model.data(table.model.index(0, 1), Qt.ItemDataRole.TextAlignmentRole) is None


def test_sorting_and_filtering_keep_each_text_with_its_row(
        table: FrameTable, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {row[1]: row for row in _shown(table.model)}  # code -> its row's text
    calls: list[int] = []

    def counted(frame: pd.DataFrame) -> list[np.ndarray]:
        calls.append(len(frame))
        return format_frame(frame)

    monkeypatch.setattr(gui.frame_model, "format_frame", counted)
    table.view.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # by price, NaN last
    shown = _shown(table.model)
    assert [row[3] for row in shown] == ["1,735.12", "10.50", "3.457", "—"]
    assert all(row == before[row[1]] for row in shown)
    frame = table.model.frame()
    assert [format_value(v, "price", c) for v, c in zip(frame["price"], frame["code"],
                                                        strict=True)] == [r[3] for r in shown]
    table.filter.setText("SH")
    assert [row[1] for row in _shown(table.model)] == ["600519.SH", "510300.SH"]
    table.view.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    assert _shown(table.model) == [before["600519.SH"], before["510300.SH"]]
    assert calls == []  # no cell was formatted again


def test_a_new_table_shows_its_own_order_without_a_sort_arrow(table: FrameTable) -> None:
    header = table.view.horizontalHeader()
    assert header.sortIndicatorSection() == -1  # no arrow over "date" or any column
    assert [row[1] for row in _shown(table.model)] == list(_fills()["code"])
    table.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert header.sortIndicatorSection() == 1
    assert [row[1] for row in _shown(table.model)] == sorted(_fills()["code"])
    table.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # back to the table's order
    assert [row[1] for row in _shown(table.model)] == list(_fills()["code"])


def test_precomputed_text_is_shown_and_sorted_with_its_rows(qtbot: QtBot) -> None:
    frame = pd.DataFrame({"code": ["b", "a", "c"], "value": [2.0, 1.0, 3.0]})
    model = FrameModel()
    model.set_frame(frame, [np.array(["B", "A", "C"], dtype=object),
                            np.array(["two", "one", "three"], dtype=object)])
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert _shown(model) == [["A", "one"], ["B", "two"], ["C", "three"]]
    assert [t.tolist() for t in model.text()] == [["A", "B", "C"], ["one", "two", "three"]]
    with pytest.raises(ValueError, match="does not fit"):
        model.set_frame(frame, [np.array(["B", "A"], dtype=object)])


def test_extra_formats_are_applied_once_not_per_paint(qtbot: QtBot) -> None:
    calls: list[Any] = []

    def tags(value: Any) -> str:
        calls.append(value)
        return ", ".join(str(value).split(","))

    table = MetricTable(extra_formats={"tags": tags})
    qtbot.addWidget(table)
    table.set_data(pd.DataFrame({"id": [2, 1], "tags": ["a,b", ""],
                                 "total_return": [0.12345, -0.5], "sharpe": [1.234, np.nan]}))
    assert _shown(table.model) == [["2", "a, b", "12.35%", "1.23"], ["1", "", "-50.00%", "—"]]
    table.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert _shown(table.model) == [["1", "", "-50.00%", "—"], ["2", "a, b", "12.35%", "1.23"]]
    assert calls == ["a,b", ""]
