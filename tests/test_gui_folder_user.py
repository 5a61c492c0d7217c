"""Opening folders as a user does (issue 24, items 4, 5 and 9): the Browse button, the
benchmark and run window that follow the new folder, Run disabled with its reason when
there is no stock to run, and the paste box that tells an index from a stock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from engine.data.layouts.tdx import DAY_RECORD
from engine.datagen.universe import generate_universe
from gui.config_panel import EQUAL_WEIGHT_ITEM
from gui.date_field import DateField
from gui.main_window import MainWindow
from tests.conftest import SAMPLE

pytestmark = pytest.mark.usefixtures("isolated_settings", "isolated_cache")

FIRST, LAST = "2024-01-02", "2025-07-04"
CTRL = Qt.KeyboardModifier.ControlModifier


def _write_index(folder: Path, first: str = FIRST, last: str = LAST) -> Path:
    """``vipdoc/sh/lday/sh000300.day``: the CSI 300 as TongDaXin keeps it, on every
    weekday of [first, last] (32-byte records, prices in fen)."""
    days = pd.bdate_range(first, last)
    closes = np.round(3500 + np.arange(len(days)) * 0.5, 2)
    records = np.zeros(len(days), dtype=DAY_RECORD)
    records["date"] = days.strftime("%Y%m%d").astype(np.uint32)
    for name in ("open", "high", "low", "close"):
        records[name] = np.rint(closes * 100)
    records["volume"] = 100_000_000
    records["amount"] = closes * 1e8
    path = folder / "vipdoc" / "sh" / "lday" / "sh000300.day"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records.tobytes())
    return path


@pytest.fixture(scope="module")
def tdx_with_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tdx_index")
    generate_universe(folder, 6, FIRST, LAST, seed=7, layout="tdx")
    _write_index(folder)
    return folder


def _messages(window: MainWindow) -> list[str]:
    """Every message the status bar shows from now on."""
    shown: list[str] = []
    window.statusBar().messageChanged.connect(shown.append)
    return shown


def _button(parent: QWidget, text: str) -> QPushButton:
    return next(b for b in parent.findChildren(QPushButton) if b.text() == text)


def _browse(window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
            folder: Path) -> None:
    """Click Browse… and pick ``folder`` in the folder dialog; wait for its scan."""
    monkeypatch.setattr("gui.config_panel.ask_folder", lambda *a, **k: folder)
    with qtbot.waitSignal(window.folder_scanned, timeout=60_000,
                          check_params_cb=lambda scanned: Path(scanned) == folder):
        qtbot.mouseClick(_button(window.panel, "Browse…"), Qt.MouseButton.LeftButton)


def _type_date(qtbot: QtBot, field: QWidget, text: str) -> None:
    assert isinstance(field, DateField)
    qtbot.mouseClick(field.line, Qt.MouseButton.LeftButton)
    qtbot.keyClick(field.line, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(field.line, text)
    qtbot.keyClick(field.line, Qt.Key.Key_Return)


def _type_benchmark(window: MainWindow, qtbot: QtBot, text: str) -> QComboBox:
    combo = window.panel.fields["benchmark"].widget
    assert isinstance(combo, QComboBox)
    line = combo.lineEdit()
    qtbot.mouseClick(line, Qt.MouseButton.LeftButton)
    qtbot.keyClick(line, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    return combo


def _run(window: MainWindow, qtbot: QtBot) -> None:
    assert window.run_box.run_button.isEnabled(), window.run_box.reason.text()
    qtbot.mouseClick(window.run_box.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)
    assert window.run_box.progress.format() == "done", window.errors.message.text()


# ----------------------------------------------------------------- item 4: benchmark
def test_a_benchmark_index_the_new_folder_lacks_goes_back_to_equal_weight(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
        tdx_with_index: Path) -> None:
    shown = _messages(window)
    _browse(window, qtbot, monkeypatch, tdx_with_index)
    combo = _type_benchmark(window, qtbot, "000300.SH")
    assert window.panel.config().benchmark == "000300.SH"
    _browse(window, qtbot, monkeypatch, SAMPLE)  # the sample holds no 000300.SH
    assert combo.currentText() == EQUAL_WEIGHT_ITEM
    assert window.panel.config().benchmark is None
    assert ("the benchmark 000300.SH is not in this folder: back to the equal-weight "
            "benchmark") in shown
    _run(window, qtbot)
    assert window.result is not None and window.result.config.benchmark is None


def test_a_benchmark_the_new_folder_holds_or_a_file_of_closes_stays(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
        tdx_with_index: Path, tmp_path: Path) -> None:
    closes = tmp_path / "csi300.csv"
    days = pd.bdate_range("2022-01-03", "2026-03-31")
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"),
                  "close": np.round(4000 + np.arange(len(days)) * 0.1, 2)}).to_csv(
        closes, index=False)
    _browse(window, qtbot, monkeypatch, SAMPLE)
    combo = _type_benchmark(window, qtbot, str(closes))
    _browse(window, qtbot, monkeypatch, tdx_with_index)
    assert window.panel.config().benchmark == str(closes)
    _type_benchmark(window, qtbot, "000300.SH")
    _browse(window, qtbot, monkeypatch, tdx_with_index)  # opened again: still there
    assert combo.currentText() == "000300.SH  CSI 300 / 沪深300"
    assert window.panel.config().benchmark == "000300.SH"
    _run(window, qtbot)
    assert window.result is not None and window.result.config.benchmark == "000300.SH"


# --------------------------------------------------------------- item 5: run window
def test_the_run_window_is_clipped_to_the_data_when_the_ranges_overlap(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    folder = tmp_path / "short"
    generate_universe(folder, 4, FIRST, LAST, seed=11)
    start, end = window.panel.fields["start"].widget, window.panel.fields["end"].widget
    assert isinstance(start, DateField) and isinstance(end, DateField)
    assert (start.text(), end.text()) == ("2023-02-04", "2026-02-04")  # the default window
    _browse(window, qtbot, monkeypatch, folder)
    assert window.panel.coverage_label.text() == f"data: {FIRST} .. {LAST}"
    assert (start.text(), end.text()) == (FIRST, LAST)
    assert not window.panel.use_range.isVisibleTo(window.panel)
    _run(window, qtbot)
    assert window.result is not None
    assert (str(window.result.config.start), str(window.result.config.end)) == (FIRST, LAST)
    qtbot.waitUntil(lambda: window.runs_panel.table.model.rowCount() == 1, timeout=30_000)
    name = window.runs_panel.table.model.frame()["name"].iloc[0]
    assert name.endswith(f"{FIRST}..{LAST}"), name


def test_a_run_window_inside_the_data_stays_as_the_user_set_it(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    folder = tmp_path / "short"
    generate_universe(folder, 4, FIRST, LAST, seed=11)
    _browse(window, qtbot, monkeypatch, folder)
    _type_date(qtbot, window.panel.fields["start"].widget, "20240301")
    _type_date(qtbot, window.panel.fields["end"].widget, "2025-03-31")
    _browse(window, qtbot, monkeypatch, folder)
    _browse(window, qtbot, monkeypatch, SAMPLE)  # 2022-08-01 .. 2026-02-04 holds it too
    config = window.panel.config()
    assert (str(config.start), str(config.end)) == ("2024-03-01", "2025-03-31")
    # Only the end outside the data: the start stays, the end comes back to the data.
    _type_date(qtbot, window.panel.fields["end"].widget, "2026-12-31")
    _browse(window, qtbot, monkeypatch, folder)
    config = window.panel.config()
    assert (str(config.start), str(config.end)) == ("2024-03-01", LAST)


# ---------------------------------------------------------- item 9: no stock to run
def test_a_folder_without_a_usable_stock_disables_run_with_the_reason(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    only_index = tmp_path / "only_index"
    _write_index(only_index)
    _browse(window, qtbot, monkeypatch, only_index)
    assert not window.run_box.run_button.isEnabled()
    assert window.run_box.reason.isVisibleTo(window)
    assert "no usable stock" in window.run_box.reason.text()
    with qtbot.assertNotEmitted(window.run_requested, wait=200):
        qtbot.keyClick(window.panel.folder, Qt.Key.Key_R, CTRL)  # Ctrl+R refuses too
    _browse(window, qtbot, monkeypatch, SAMPLE)
    assert window.run_box.run_button.isEnabled() and window.run_box.reason.text() == ""


def test_no_stock_selected_disables_run_with_the_reason(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    _browse(window, qtbot, monkeypatch, SAMPLE)
    picker = window.panel.stocks
    qtbot.mouseClick(_button(picker, "None"), Qt.MouseButton.LeftButton)
    assert picker.count.text() == "0 of 50 stocks selected"
    assert not window.run_box.run_button.isEnabled()
    assert "no stock is selected" in window.run_box.reason.text()
    with qtbot.assertNotEmitted(window.run_requested, wait=200):
        qtbot.keyClick(picker.filter, Qt.Key.Key_R, CTRL)
    qtbot.mouseClick(_button(picker, "All"), Qt.MouseButton.LeftButton)
    assert window.run_box.run_button.isEnabled() and window.run_box.reason.text() == ""


def _fits(label: QLabel) -> bool:
    """Whether the label shows all of its text (nothing cut off at the right or bottom)."""
    room = label.contentsRect()
    if label.wordWrap():
        return label.heightForWidth(room.width()) <= room.height()
    metrics = label.fontMetrics()
    lines = label.text().splitlines()
    return (max(metrics.horizontalAdvance(line) for line in lines) <= room.width()
            and metrics.lineSpacing() * len(lines) <= room.height() + 1)


def _paste(qtbot: QtBot, picker: QWidget, *lines: str) -> list[tuple[str, bool]]:
    """Click Paste…, type ``lines`` into the box (Enter between them) and press OK; the
    dialog's texts, each with whether it is shown whole."""
    hints: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(20, fill)
            return
        try:
            hints.extend((label.text(), _fits(label)) for label in dialog.findChildren(QLabel)
                         if label.isVisible() and label.text())
            screen = dialog.screen().availableGeometry()
            hints.append((f"the dialog: {dialog.frameGeometry()} on {screen}",
                          dialog.frameGeometry().width() <= screen.width()))
            box = dialog.findChild(QPlainTextEdit)
            assert box is not None
            for number, line in enumerate(lines):
                if number:
                    qtbot.keyClick(box, Qt.Key.Key_Return)
                qtbot.keyClicks(box, line)
            buttons = dialog.findChild(QDialogButtonBox)
            assert buttons is not None
            ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
            qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        except BaseException as exc:  # never leave the modal dialog open
            errors.append(exc)
            dialog.reject()

    QTimer.singleShot(0, fill)
    qtbot.mouseClick(_button(picker, "Paste…"), Qt.MouseButton.LeftButton)
    if errors:
        raise errors[0]
    return hints


def test_pasting_an_index_says_it_is_an_index_and_the_hint_fits(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
        tdx_with_index: Path) -> None:
    _browse(window, qtbot, monkeypatch, tdx_with_index)
    shown = _messages(window)
    picker = window.panel.stocks
    # A large font on a small screen (the offscreen one is 800 px wide): the hint must
    # still show whole, the dialog inside the screen.
    font = QApplication.font()
    large = QFont(font)
    large.setPointSizeF(font.pointSizeF() * 1.75)
    QApplication.setFont(large)
    try:
        hints = _paste(qtbot, picker, "000300.SH")
    finally:
        QApplication.setFont(font)
    assert hints and all(whole for _, whole in hints), hints
    assert any("000300.SH is an index (usable as the benchmark), not a stock" in m
               for m in shown), shown
    assert not any("no file in the data folder" in m for m in shown), shown
    assert picker.selection() is None  # nothing in the paste was a stock: marks unchanged
    assert window.run_box.run_button.isEnabled()
    codes = picker.codes()
    _paste(qtbot, picker, codes[0], "000300.SH", "999999.SZ")
    assert picker.checked() == [codes[0]]
    assert any("000300.SH is an index" in m and "999999.SZ" in m for m in shown), shown
