"""The window behaves natively: dialogs open in the user's folders, shortcuts read in the
platform's words, and the look stays light under a dark system theme."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from gui import dialog_folders
from gui.app import start_application
from gui.dialog_folders import EXPORT, ask_save_file, remember_folder, start_folder
from gui.main_window import MainWindow
from gui.native import shortcut_label
from gui.table_view import FrameTable
from tests.conftest import ROOT, SAMPLE

pytestmark = pytest.mark.usefixtures("isolated_settings")

NATIVE = QKeySequence.SequenceFormat.NativeText


@pytest.fixture
def documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Documents folder of the test's own, and a working folder (like System32) that
    no dialog may open in."""
    folder = tmp_path / "Documents"
    folder.mkdir()
    real = QStandardPaths.writableLocation

    def location(kind: QStandardPaths.StandardLocation) -> str:
        documents = QStandardPaths.StandardLocation.DocumentsLocation
        return str(folder) if kind == documents else real(kind)

    monkeypatch.setattr(QStandardPaths, "writableLocation", location)
    system32 = tmp_path / "System32"
    system32.mkdir()
    monkeypatch.chdir(system32)
    return folder


def _answer_saves(monkeypatch: pytest.MonkeyPatch, answer: Path) -> list[str]:
    """Answer save dialogs with ``answer``; returns the paths they proposed."""
    proposed: list[str] = []

    def save(_parent: object, _caption: str, start: str, _filter: str) -> tuple[str, str]:
        proposed.append(start)
        return str(answer), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save)
    return proposed


def test_dialogs_start_in_documents_when_nothing_is_remembered(documents: Path) -> None:
    for kind in (dialog_folders.DATA, dialog_folders.STOCK_LIST, dialog_folders.CONFIG,
                 EXPORT, dialog_folders.IMAGE):
        assert start_folder(kind) == documents
    assert start_folder(EXPORT) != Path.cwd()


def test_dialogs_start_in_the_folder_used_last(documents: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               qtbot: QtBot) -> None:
    table = FrameTable()
    qtbot.addWidget(table)
    target = tmp_path / "exports"
    target.mkdir()
    proposed = _answer_saves(monkeypatch, target / "mine.csv")
    assert table.export_csv() == target / "mine.csv"
    assert table.export_csv() == target / "mine.csv"
    # The proposed name stays; only the folder follows the user.
    assert proposed == [str(documents / "table.csv"), str(target / "table.csv")]
    assert start_folder(EXPORT) == target
    assert start_folder(dialog_folders.IMAGE) == documents  # each kind has its own


def test_the_remembered_folder_outlives_the_session(documents: Path, tmp_path: Path) -> None:
    remember_folder(dialog_folders.DATA, SAMPLE)
    QSettings().sync()
    written = [p for p in tmp_path.rglob("*.ini") if str(SAMPLE.resolve()) in
               p.read_text(encoding="utf-8").replace("\\\\", "\\")]
    assert written, "the folder was not written to the settings file"
    assert start_folder(dialog_folders.DATA) == SAMPLE.resolve()


def test_a_folder_that_is_gone_falls_back_to_documents(documents: Path,
                                                       tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    remember_folder(dialog_folders.CONFIG, gone / "run.toml")
    assert start_folder(dialog_folders.CONFIG) == gone
    gone.rmdir()
    assert start_folder(dialog_folders.CONFIG) == documents


def test_a_cancelled_dialog_remembers_nothing(documents: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: ("", ""))
    assert ask_save_file(None, EXPORT, "Export", "table.csv", "CSV (*.csv)") is None
    assert start_folder(EXPORT) == documents


def test_the_window_opens_data_folders_where_the_last_one_was(
        window: MainWindow, documents: Path, tmp_path: Path, qtbot: QtBot,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The window opened the sample folder at start; the user then picks another."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    started: list[str] = []

    def choose(_parent: object, _caption: str, start: str) -> str:
        started.append(start)
        return str(elsewhere)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    window._choose_folder()
    qtbot.waitUntil(lambda: "could not read" in window.data_tab.info.text(), timeout=15_000)
    window._choose_folder()
    assert started == [str(SAMPLE.resolve()), str(elsewhere)]


def test_every_file_dialog_goes_through_dialog_folders() -> None:
    """A QFileDialog called anywhere else would open in the working folder again."""
    for source in (ROOT / "gui").glob("*.py"):
        if source.name != "dialog_folders.py":
            assert "QFileDialog" not in source.read_text(encoding="utf-8"), source.name


@pytest.mark.parametrize("shortcut", ["Ctrl+R", "Ctrl+Shift+S", Qt.Key.Key_Escape,
                                      QKeySequence.StandardKey.Open])
def test_shortcut_labels_are_the_platforms_words(shortcut: object, qapp: QApplication) -> None:
    assert shortcut_label(shortcut) == QKeySequence(shortcut).toString(NATIVE)  # type: ignore[arg-type]


def test_the_run_buttons_name_their_shortcuts_natively(window: MainWindow) -> None:
    assert window.run_box.run_button.text() == f"Run  ({QKeySequence('Ctrl+R').toString(NATIVE)})"
    assert window.run_box.cancel_button.text() == (
        f"Cancel  ({QKeySequence(Qt.Key.Key_Escape).toString(NATIVE)})")


def test_no_shortcut_is_written_out_in_gui_text() -> None:
    """Shortcuts shown as text come from ``shortcut_label``: "Ctrl+R" in a label reads
    wrong on macOS. Key definitions given to Qt ("Ctrl+R" alone) and docstrings are fine."""
    for source in (ROOT / "gui").glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        docstrings = {id(node.value) for node in ast.walk(tree)
                      if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings):
                written_out = re.search(r"\b(Ctrl|Cmd|Meta)\+", node.value)
                assert not (written_out and re.search(r"\s", node.value)), (
                    f"{source.name}:{node.lineno}: {node.value!r}")


@pytest.fixture
def restored_app(qapp: QApplication) -> Iterator[QApplication]:
    """Put back the test application's style, palette and names afterwards."""
    style, palette = qapp.style().name(), qapp.palette()
    names = qapp.applicationName(), qapp.organizationName()
    yield qapp
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setApplicationName(names[0])
    qapp.setOrganizationName(names[1])
    if hasattr(qapp.styleHints(), "unsetColorScheme"):
        qapp.styleHints().unsetColorScheme()


def test_the_palette_is_light_under_a_dark_system_theme(restored_app: QApplication) -> None:
    dark = QPalette(QColor("#202020"))
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
        dark.setColor(role, QColor("#1e1e1e"))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
        dark.setColor(role, QColor("#f0f0f0"))
    restored_app.setPalette(dark)
    assert restored_app.palette().color(QPalette.ColorRole.Window).lightness() < 60

    app = start_application()
    assert app is restored_app
    assert app.style().name().lower() == "fusion"
    palette = app.palette()
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base,
                 QPalette.ColorRole.Button):
        assert palette.color(role).lightness() > 200, role
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        assert palette.color(role).lightness() < 60, role
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert 100 < disabled.lightness() < 230  # greyed out, still readable
