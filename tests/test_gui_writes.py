"""Errors in the window: every write from the GUI is atomic and reports a failure in an
error panel (``gui.file_writes``); uncaught exceptions show there too (``gui.excepthook``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pandas as pd
import pytest
from PySide6.QtCore import QEventLoop, QObject, QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QPushButton
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.results.store import RunStore
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from engine.studies.sweep import SweepResult, run_sweep
from gui.error_panel import ErrorPanel
from gui.excepthook import ExceptHook, install_excepthook
from gui.file_writes import error_panel_of, write_file
from gui.main_window import MainWindow
from gui.table_view import FrameTable
from tests.conftest import SAMPLE

BASE = BacktestConfig(data_dir=SAMPLE, workers=1)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(BASE)


@pytest.fixture(scope="module")
def sweep() -> SweepResult:
    return run_sweep(BASE, {"period": [10, 14]})


@pytest.fixture
def window(qtbot: QtBot, result: BacktestResult, sweep: SweepResult) -> MainWindow:
    """The window with something to write in every place that writes."""
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.panel.set_config(BASE)
    win.show_result(result)
    win.tabs.setCurrentWidget(win.result_tabs.fills_table)  # tabs may be filled when first shown
    qtbot.waitUntil(lambda: win.result_tabs.fills_table.model.rowCount() == len(result.fills))
    qtbot.waitUntil(win.runs_panel.idle, timeout=60_000)  # it has read the run history
    assert win.runs_panel.store is not None
    with RunStore(win.runs_panel.path) as store:
        run_id = store.save(result)
    win.compare_view.set_data({run_id: result}, {})
    win.sweep_view.set_result(sweep)
    # Closed (by qtbot) before its engine is ready, the window would start the sweep host
    # once it is, and abort when collected with that host's thread still running.
    qtbot.waitUntil(win.sweep_view.sweep_thread.isRunning, timeout=60_000)
    return win


def _choose(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Answer the window's file and folder dialogs with ``path``."""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(path))
    monkeypatch.setattr("gui.dialog_folders.get_export_folder", lambda *a, **k: str(path))


def _save_config(win: MainWindow, path: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    _choose(monkeypatch, path)
    win.save_config()
    return path.is_file()


def _export_result(win: MainWindow, path: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    _choose(monkeypatch, path)
    win.export()
    return (path / "fills.csv").is_file()


def _export_runs(win: MainWindow, path: Path, _: pytest.MonkeyPatch) -> bool:
    """Export every stored run from the runs panel, waiting for the job on the run host."""
    panel = win.runs_panel
    with RunStore(panel.path) as store:
        ids = [int(i) for i in store.list_runs()["id"]]
    loop, ended = QEventLoop(), []
    panel.job_finished.connect(lambda ok: (ended.append(ok), loop.quit()))
    if not panel.export_runs(ids, path):
        return False
    if not ended:
        loop.exec()
    return ended[0]


Writer = Callable[[MainWindow, Path, pytest.MonkeyPatch], bool]

#: Each GUI write: (does it, reporting success; the panel it reports in).
FILE_WRITES: dict[str, tuple[Writer, Callable[[MainWindow], ErrorPanel]]] = {
    "table CSV": (lambda w, p, _: w.result_tabs.fills_table.export_csv(p) == p, lambda w: w.errors),
    "PNG": (lambda w, p, _: w.save_png(p) == p, lambda w: w.errors),
    "configuration": (_save_config, lambda w: w.errors),
    "sweep CSV": (lambda w, p, _: w.sweep_view.export_csv(p) == p,
                  lambda w: w.sweep_view.errors),
    "comparison CSV": (lambda w, p, _: w.compare_view.export_csv(p) == p,
                       lambda w: w.compare_view.errors),
}
FOLDER_WRITES: dict[str, tuple[Writer, Callable[[MainWindow], ErrorPanel]]] = {
    "result export": (_export_result, lambda w: w.errors),
    "runs export": (_export_runs, lambda w: w.runs_panel.errors),
}
ALL_WRITES = {**FILE_WRITES, **FOLDER_WRITES}


@pytest.mark.parametrize("name", ALL_WRITES)
def test_a_write_into_a_folder_that_cannot_exist_shows_in_the_panel(
        window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    write, panel_of = ALL_WRITES[name]
    in_the_way = tmp_path / "afile"
    in_the_way.write_text("keep me", encoding="utf-8")
    target = in_the_way / "out.x"
    assert not write(window, target, monkeypatch)
    panel = panel_of(window)
    assert not panel.isHidden()  # shown, though its tab may be behind another
    assert panel.message.text() == (f"Could not write {target}: Not a directory; "
                                    "choose another folder")
    assert in_the_way.read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("name", FILE_WRITES)
def test_a_file_write_is_atomic(window: MainWindow, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    write, panel_of = FILE_WRITES[name]
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "written.x"
    target.write_text("old", encoding="utf-8")
    assert write(window, target, monkeypatch)
    assert panel_of(window).isHidden()
    assert [p.name for p in folder.iterdir()] == ["written.x"]  # no temporary file left
    assert target.read_bytes() != b"old"


@pytest.mark.parametrize("name", FOLDER_WRITES)
def test_a_folder_write_fills_the_folder(window: MainWindow, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    write, panel_of = FOLDER_WRITES[name]
    folder = tmp_path / "new" / "out"
    assert write(window, folder, monkeypatch)
    assert panel_of(window).isHidden()
    names = {p.name for p in folder.iterdir()}
    assert {"fills.csv", "metrics.json", "config.toml"} <= names
    assert not any(n.startswith(".") for n in names)  # no temporary file left


@pytest.mark.parametrize("name", FILE_WRITES)
def test_a_failed_rename_leaves_no_temporary_file(window: MainWindow, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  name: str) -> None:
    write, panel_of = FILE_WRITES[name]
    folder = tmp_path / "out"
    (folder / "a folder" / "inside").mkdir(parents=True)  # the target is a full folder
    assert not write(window, folder / "a folder", monkeypatch)
    assert panel_of(window).message.text().startswith(f"Could not write {folder / 'a folder'}: ")
    assert [p.name for p in folder.iterdir()] == ["a folder"]
    assert [p.name for p in (folder / "a folder").iterdir()] == ["inside"]


# ------------------------------------------------------------- the helper itself
def test_a_writer_failing_midway_leaves_the_old_file_intact(qtbot: QtBot,
                                                            tmp_path: Path) -> None:
    panel = ErrorPanel()
    qtbot.addWidget(panel)
    target = tmp_path / "table.csv"
    target.write_text("the old table", encoding="utf-8")

    def half_then_full_disk(tmp: Path) -> None:
        tmp.write_text("half a ta", encoding="utf-8")
        raise OSError(28, "No space left on device")

    assert not write_file(panel, target, half_then_full_disk, "a table")
    assert target.read_text(encoding="utf-8") == "the old table"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    assert panel.message.text() == (f"Could not write {target}: No space left on device; "
                                    "choose another folder")
    assert "a table" in panel.details.toPlainText()


def test_an_engine_error_keeps_its_own_advice(qtbot: QtBot, tmp_path: Path) -> None:
    panel = ErrorPanel()
    qtbot.addWidget(panel)

    def invalid(tmp: Path) -> None:
        raise ValueError("the period must be at least 2; raise it")

    assert not write_file(panel, tmp_path / "x.toml", invalid, "a configuration")
    assert panel.message.text() == (f"Could not write {tmp_path / 'x.toml'}: the period must "
                                    "be at least 2; raise it")


def test_a_bug_in_a_writer_is_not_hidden_as_a_write_failure(tmp_path: Path) -> None:
    def buggy(tmp: Path) -> None:
        raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        write_file(None, tmp_path / "x.csv", buggy, "a table")
    assert list(tmp_path.iterdir()) == []


def test_a_table_outside_any_panel_logs_the_failure(qtbot: QtBot, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    table = FrameTable()
    qtbot.addWidget(table)
    table.set_data(pd.DataFrame({"code": ["000001.SZ"]}))
    assert error_panel_of(table) is None
    (tmp_path / "afile").write_text("", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="gui.file_writes"):
        assert table.export_csv(tmp_path / "afile" / "t.csv") is None
    assert "Could not write" in caplog.text


# ------------------------------------------------------------------ excepthook
class Recorder:
    """Stands in for the hook that was there before (Python's, printing to stderr)."""

    def __init__(self) -> None:
        self.seen: list[BaseException] = []

    def __call__(self, kind: type[BaseException], exc: BaseException,
                 tb: TracebackType | None) -> None:
        self.seen.append(exc)


@pytest.fixture
def previous(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """sys.excepthook is a Recorder during the test and restored after it."""
    recorder = Recorder()
    monkeypatch.setattr(sys, "excepthook", recorder)
    return recorder


@pytest.fixture
def panel(qtbot: QtBot) -> ErrorPanel:
    widget = ErrorPanel()
    qtbot.addWidget(widget)
    return widget


def _boom() -> None:
    raise RuntimeError("boom")


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_button_slot_shows_in_the_panel(
        qtbot: QtBot, panel: ErrorPanel, previous: Recorder,
        caplog: pytest.LogCaptureFixture) -> None:
    install_excepthook(lambda: panel)
    button = QPushButton("go")
    qtbot.addWidget(button)
    button.clicked.connect(_boom)
    with caplog.at_level(logging.ERROR, logger="gui.excepthook"):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert panel.message.text() == "unexpected error: boom"
    details = panel.details.toPlainText()
    assert details.startswith("Traceback") and "_boom" in details
    assert "unexpected error: boom" in caplog.text
    assert previous.seen == []


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_timer_slot_shows_in_the_panel(qtbot: QtBot, panel: ErrorPanel,
                                                         previous: Recorder) -> None:
    install_excepthook(lambda: panel)
    QTimer.singleShot(0, _boom)
    qtbot.waitUntil(panel.isVisible)
    assert panel.message.text() == "unexpected error: boom"
    assert previous.seen == []


class _Thrower(QObject):
    go = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.go.connect(self.boom)

    def boom(self) -> None:
        raise RuntimeError("in a worker thread")


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_worker_thread_is_shown_by_the_gui_thread(
        qtbot: QtBot, panel: ErrorPanel, previous: Recorder) -> None:
    install_excepthook(lambda: panel)
    thread = QThread()
    thrower = _Thrower()
    thrower.moveToThread(thread)
    thread.started.connect(thrower.boom)
    thread.start()
    try:
        qtbot.waitUntil(panel.isVisible)
    finally:
        thread.quit()
        thread.wait(5000)
    assert panel.message.text() == "unexpected error: in a worker thread"


def test_without_a_window_the_previous_hook_takes_it(previous: Recorder) -> None:
    install_excepthook(lambda: None)
    error = RuntimeError("no window")
    sys.excepthook(RuntimeError, error, None)
    assert previous.seen == [error]


def test_a_panel_that_cannot_show_falls_back_without_recursing(
        qtbot: QtBot, previous: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(ErrorPanel):
        def show_error(self, message: str, details: str = "") -> None:
            raise RuntimeError("the panel is broken")

    broken = Broken()
    qtbot.addWidget(broken)
    install_excepthook(lambda: broken)
    error = ValueError("first")
    sys.excepthook(ValueError, error, None)
    assert previous.seen == [error]
    assert "could not show" in caplog.text


def test_an_error_raised_while_showing_goes_to_the_previous_hook(
        qtbot: QtBot, panel: ErrorPanel, previous: Recorder) -> None:
    second = RuntimeError("raised while showing")

    def panel_that_fails_again() -> ErrorPanel:
        sys.excepthook(RuntimeError, second, None)  # as a slot run by show() would
        return panel

    install_excepthook(panel_that_fails_again)
    sys.excepthook(ValueError, ValueError("first"), None)
    assert previous.seen == [second]
    assert panel.message.text() == "unexpected error: first"


def test_installing_again_replaces_and_uninstall_restores(panel: ErrorPanel,
                                                          previous: Recorder) -> None:
    first = install_excepthook(lambda: panel)
    second = install_excepthook(lambda: panel)
    assert sys.excepthook is second and second.previous is previous
    first.uninstall()  # no longer installed: changes nothing
    assert sys.excepthook is second
    second.uninstall()
    assert sys.excepthook is previous


@pytest.mark.qt_no_exception_capture
def test_the_built_window_shows_uncaught_exceptions(qtbot: QtBot, previous: Recorder) -> None:
    from gui.app import build_window

    win = build_window()
    qtbot.addWidget(win)
    win.show()
    assert isinstance(sys.excepthook, ExceptHook) and sys.excepthook.panel() is win.errors
    QTimer.singleShot(0, _boom)
    qtbot.waitUntil(win.errors.isVisible)
    assert win.errors.message.text() == "unexpected error: boom"
    win.close()
