"""The window follows the data (issue 10): any layout opens by picking its folder, the run
window moves to the data's coverage, Run says inline why it cannot run, dates take
2011-01-04 or 20110104."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from engine.datagen.universe import generate_universe
from gui.main_window import MainWindow

FIRST, LAST = "2010-01-04", "2014-08-25"
pytestmark = pytest.mark.usefixtures("isolated_settings")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gui_layouts")
    for layout in ("tdx", "qlib", "long", "akshare"):
        generate_universe(root / layout, 6, FIRST, LAST, seed=5, layout=layout)
    return {layout: root / layout for layout in ("tdx", "qlib", "long", "akshare")}


def _pick(window: MainWindow, qtbot: QtBot, folder: Path) -> None:
    window.panel.set_folder(folder)
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) == 6, timeout=30_000)


@pytest.mark.parametrize(("layout", "title"), [
    ("tdx", "TongDaXin vipdoc"), ("qlib", "qlib provider folder"), ("long", "one long file"),
    ("akshare", "per-stock files")])
def test_each_layout_opens_by_folder_picking_and_the_dates_follow_the_data(
        window: MainWindow, qtbot: QtBot, folders: dict[str, Path], layout: str,
        title: str) -> None:
    assert window.panel.as_date("start") == dt.date(2023, 2, 4)  # the default window
    _pick(window, qtbot, folders[layout])
    assert window.panel.folder_info.text().startswith(f"{title}: 6 stocks, {FIRST} .. {LAST}")
    assert f"layout: {title}" in window.data_tab.info.text()
    assert window.panel.coverage_label.text() == f"data: {FIRST} .. {LAST}"
    config = window.panel.config()
    assert (str(config.start), str(config.end)) == (FIRST, LAST)
    assert window.run_box.run_button.isEnabled() and window.run_box.reason.text() == ""
    qtbot.mouseClick(window.run_box.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)
    assert window.run_box.progress.format() == "done", window.errors.message.text()
    assert window.result is not None and window.result.codes == tuple(window.panel.stocks.codes())


def test_run_disabled_inline_when_the_window_misses_the_data_and_one_click_fixes_it(
        window: MainWindow, qtbot: QtBot, folders: dict[str, Path]) -> None:
    _pick(window, qtbot, folders["tdx"])
    start = window.panel.fields["start"].widget
    start.line.setText("20230204")
    start.line.editingFinished.emit()
    window.panel.fields["end"].widget.line.setText("2026-02-04")
    window.panel.fields["end"].widget.line.editingFinished.emit()
    assert start.text() == "2023-02-04"  # 20230204 is read and shown as a date
    assert not window.run_box.run_button.isEnabled()
    assert ("the run window 2023-02-04 .. 2026-02-04 holds none of the data's days "
            f"({FIRST} .. {LAST})") in window.run_box.reason.text()
    assert window.panel.fields["start"].error.isVisibleTo(window.panel)
    assert window.panel.use_range.isVisibleTo(window.panel)
    qtbot.mouseClick(window.panel.use_range, Qt.MouseButton.LeftButton)
    assert window.run_box.run_button.isEnabled()
    assert str(window.panel.config().start) == FIRST


def test_dates_accept_typed_or_pasted_compact_and_iso(window: MainWindow) -> None:
    field = window.panel.fields["start"].widget
    for text in ("20110104", "2011-01-04"):
        field.line.setText(text)
        field.line.editingFinished.emit()
        assert window.panel.config().start == dt.date(2011, 1, 4)
        assert field.text() == "2011-01-04"
    field.line.setText("2011-13-04")
    field.line.editingFinished.emit()
    assert not window.run_box.run_button.isEnabled()
    assert "start '2011-13-04' is not a date" in window.run_box.reason.text()


def test_paste_box_takes_every_code_spelling(window: MainWindow, qtbot: QtBot,
                                            folders: dict[str, Path]) -> None:
    _pick(window, qtbot, folders["tdx"])
    codes = window.panel.stocks.codes()
    spelled = [f"{codes[0][7:].lower()}{codes[0][:6]}",           # sz000001
               f"{codes[1][7:].lower()}.{codes[1][:6]}",          # baostock
               codes[2][:6],                                      # bare
               codes[3].replace(".SH", ".XSHG").replace(".SZ", ".XSHE").replace(".BJ", ".BSE")]
    window.panel.stocks.select(spelled)
    assert window.panel.stocks.checked() == codes[:4]


def test_data_tab_names_the_layout_and_the_securities_left_out(
        window: MainWindow, qtbot: QtBot, folders: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "tdx"
    shutil.copytree(folders["tdx"], folder)
    lday = folder / "vipdoc" / "sh" / "lday"
    shutil.copy(next(lday.glob("sh6*.day")), lday / "sh000300.day")
    _pick(window, qtbot, folder)
    text = window.data_tab.info.text()
    assert "layout: TongDaXin vipdoc (tdx); 6 stocks" in text
    assert "warning: left out 1 security that is not an A-share (1 index): 000300.SH" in text


def test_the_window_offers_the_index_files_it_found_as_benchmarks(
        window: MainWindow, qtbot: QtBot, folders: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    import numpy as np
    import pandas as pd

    folder = tmp_path / "with_index"
    shutil.copytree(folders["akshare"], folder)
    days = pd.bdate_range(FIRST, LAST)
    closes = np.round(3000 + np.arange(len(days)) * 0.5, 2)
    pd.DataFrame({"date": days, "open": closes, "high": closes + 1, "low": closes - 1,
                  "close": closes, "volume": 1e8}).to_parquet(folder / "000300_SH.parquet")
    _pick(window, qtbot, folder)
    combo = window.panel.fields["benchmark"].widget
    items = [combo.itemText(i) for i in range(combo.count())]  # type: ignore[attr-defined]
    assert items == ["equal weight (the stocks)", "000300.SH  CSI 300 / 沪深300"]
    assert window.panel.config().benchmark is None
    combo.setCurrentText("000300.SH")  # type: ignore[attr-defined]
    assert window.panel.config().benchmark == "000300.SH"
    qtbot.mouseClick(window.run_box.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)
    assert window.run_box.progress.format() == "done", window.errors.message.text()
    assert window.result is not None and "000300.SH" not in window.result.codes
    first = days.get_indexer([window.result.equity["date"].iloc[0]])[0]
    assert window.result.equity["benchmark"].iloc[-1] == pytest.approx(
        1_000_000 * closes[-1] / closes[first])
