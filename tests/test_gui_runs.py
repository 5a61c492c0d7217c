"""The run history panel and the comparison view, driven as a user would, on a real store.

The panel reads and edits the store through jobs on the run host, so each test waits for
a job's end (``job_finished``) before it looks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.results.compare import (
    best_per_metric,
    compare_table,
    config_differences,
    normalised_equity,
)
from engine.results.formatting import METRICS, format_value
from engine.results.store import RunStore
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from gui.compare_view import CompareView
from gui.runs_panel import RunsPanel
from tests.conftest import SAMPLE

#: Milliseconds a test waits for a job of the panel (the first one starts the run host).
JOB_WAIT_MS = 120_000
CHANGES: tuple[dict[str, object], ...] = (
    {}, {"period": 10, "oversold": 25.0}, {"period": 20, "overbought": 75.0, "fill": "close"})


@pytest.fixture(scope="module")
def results() -> list[BacktestResult]:
    base = BacktestConfig(data_dir=SAMPLE, workers=1)
    return [run_backtest(base.replace(**change)) for change in CHANGES]


@pytest.fixture
def store(tmp_path: Path, results: list[BacktestResult]) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs.sqlite") as opened:
        opened.save(results[0], name="baseline", notes="the spec's defaults")
        opened.save(results[1], tags=["fast"])
        opened.save(results[2], name="slow exit", tags=["slow", "close fill"])
        yield opened


def opened(qtbot: QtBot, path: Path | None = None) -> RunsPanel:
    """A panel on the store at ``path`` (default: the default store), once it has read
    its list."""
    widget = RunsPanel(path)
    qtbot.addWidget(widget)
    qtbot.waitUntil(widget.idle, timeout=JOB_WAIT_MS)
    return widget


@pytest.fixture
def panel(qtbot: QtBot, store: RunStore) -> RunsPanel:
    widget = opened(qtbot, store.path)
    widget.resize(1100, 400)
    return widget


def finished(qtbot: QtBot, panel: RunsPanel, start: Callable[[], object]) -> bool:
    """Call ``start`` (which starts a job of the panel), wait for the job's end; whether
    it did all it was asked."""
    with qtbot.waitSignal(panel.job_finished, timeout=JOB_WAIT_MS) as ended:
        start()
    assert panel.idle()
    return bool(ended.args[0])


def _column(panel: RunsPanel, name: str) -> list[str]:
    model = panel.table.model
    column = list(model.frame().columns).index(name)
    return [model.data(model.index(row, column)) for row in range(model.rowCount())]


def test_the_panel_lists_the_stored_runs_newest_first(panel: RunsPanel,
                                                     results: list[BacktestResult]) -> None:
    assert panel.run_ids() == [3, 2, 1]
    assert _column(panel, "name")[0] == "slow exit" and _column(panel, "name")[2] == "baseline"
    assert _column(panel, "total_return") == [format_value(r.metrics["total_return"], "pct")
                                              for r in reversed(results)]
    assert _column(panel, "sharpe")[2] == format_value(results[0].metrics["sharpe"], "ratio")
    assert _column(panel, "tags") == ["slow, close fill", "fast", ""]
    assert _column(panel, "period") == ["20", "10", "14"]
    assert not panel.errors.isVisible()


def test_rename_tags_and_notes_reach_the_store_and_the_list(panel: RunsPanel, store: RunStore,
                                                            qtbot: QtBot) -> None:
    assert finished(qtbot, panel, lambda: panel.rename_run(2, "oversold 25"))
    assert finished(qtbot, panel, lambda: panel.set_tags([1, 2], ["keep", "report"]))
    assert finished(qtbot, panel, lambda: panel.set_notes(1, "compare with run 3"))
    assert _column(panel, "name")[1] == "oversold 25"
    assert _column(panel, "tags")[1:] == ["keep, report", "keep, report"]
    info = store.run_info(1)
    assert info["tags"] == ["keep", "report"] and info["notes"] == "compare with run 3"
    assert panel.status.text() == "Saved the notes of run 1"


def test_the_dialogs_drive_the_same_changes(panel: RunsPanel, store: RunStore, qtbot: QtBot,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    panel.select([1])
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("renamed", True))
    assert finished(qtbot, panel, panel.actions_by_name["rename"].trigger)
    assert store.run_info(1)["name"] == "renamed"
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("a, b ,", True))
    assert finished(qtbot, panel, panel.ask_tags)
    assert store.run_info(1)["tags"] == ["a", "b"]
    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *a, **k: ("line\nline", True))
    assert finished(qtbot, panel, panel.ask_notes)
    assert store.run_info(1)["notes"] == "line\nline"
    assert panel.selected_ids() == [1]  # the selection survives the refreshes


def test_delete_asks_first(panel: RunsPanel, store: RunStore, qtbot: QtBot,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    panel.select([1, 3])
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.No)
    panel.ask_delete()
    assert panel.idle()  # no job was started
    assert panel.run_ids() == [3, 2, 1]
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert finished(qtbot, panel, panel.actions_by_name["delete"].trigger)
    assert panel.run_ids() == [2]
    assert panel.status.text() == "Deleted 2 runs"
    assert list(store.list_runs()["id"]) == [2]


def test_store_errors_show_inline_and_the_list_stays(panel: RunsPanel, qtbot: QtBot) -> None:
    assert not finished(qtbot, panel, lambda: panel.rename_run(1, "   "))
    assert panel.errors.isVisibleTo(panel)
    assert panel.errors.message.text().startswith("Could not rename run 1: ")
    assert "cannot be empty" in panel.errors.message.text()
    assert "\n" not in panel.errors.message.text()  # one line, no traceback
    assert _column(panel, "name")[2] == "baseline"
    assert not finished(qtbot, panel, lambda: panel.delete_runs([99]))
    assert "99" in panel.errors.message.text()
    assert panel.run_ids() == [3, 2, 1]
    # a delete that fails part-way shows what it did: run 1 went, 98 stopped it
    assert not finished(qtbot, panel, lambda: panel.delete_runs([1, 98]))
    assert panel.errors.message.text().startswith("Could not delete: ")
    assert panel.run_ids() == [3, 2]


def test_a_store_that_cannot_open_is_explained(qtbot: QtBot, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    in_the_way = tmp_path / "runs.sqlite"
    in_the_way.mkdir()  # a folder, not a database file
    monkeypatch.setenv("BACKTEST_STORE", str(in_the_way))
    failing = opened(qtbot)
    assert failing.store is None
    assert failing.errors.message.text().startswith("Could not open the run store: ")
    assert "is a folder" in failing.errors.message.text()
    assert not failing.actions_by_name["delete"].isEnabled()
    assert failing.actions_by_name["refresh"].isEnabled()  # to try again
    assert not failing.rename_run(1, "x")
    assert failing.idle()
    assert failing.errors.message.text() == "Could not rename run 1: no run store is open"
    assert not failing.export_runs([1], tmp_path / "out")
    # Refresh tries the store again: once it can be opened, it is listed.
    in_the_way.rmdir()
    assert finished(qtbot, failing, failing.refresh)
    assert failing.store is not None and failing.store.path == in_the_way
    assert failing.actions_by_name["refresh"].isEnabled()
    assert failing.run_ids() == [] and not failing.errors.isVisibleTo(failing)


def test_while_a_job_runs_the_panel_says_so_and_its_actions_wait(panel: RunsPanel,
                                                                 qtbot: QtBot) -> None:
    panel.select([2])
    with qtbot.waitSignal(panel.job_finished, timeout=JOB_WAIT_MS) as ended:
        assert panel.rename_run(2, "renamed")
        assert not panel.idle()
        assert panel.status.text() == "working… renaming run 2"
        assert not any(act.isEnabled() for act in panel.actions_by_name.values())
        assert not panel.set_notes(2, "meanwhile")  # one job at a time
        assert "busy" in panel.errors.message.text()
    assert ended.args == [True]
    assert panel.idle() and panel.status.text() == "Renamed run 2"
    assert panel.actions_by_name["rename"].isEnabled()
    assert panel.actions_by_name["refresh"].isEnabled()
    assert not panel.errors.isVisibleTo(panel)
    assert _column(panel, "notes")[1] == ""  # the refused edit never reached the store


def test_actions_follow_the_selection(panel: RunsPanel, qtbot: QtBot) -> None:
    enabled = {name: act.isEnabled for name, act in panel.actions_by_name.items()}
    assert not enabled["open"]() and not enabled["compare"]() and not enabled["delete"]()
    panel.select([2])
    assert enabled["open"]() and enabled["rename"]() and not enabled["compare"]()
    with qtbot.waitSignal(panel.open_requested) as opened:
        panel.open_selected()
    assert opened.args == [2]
    panel.select([1, 3])
    assert enabled["compare"]() and not enabled["rename"]() and enabled["tags"]()
    with qtbot.waitSignal(panel.compare_requested) as compared:
        panel.actions_by_name["compare"].trigger()
    assert compared.args == [[3, 1]]


def test_double_click_opens_the_run(panel: RunsPanel, qtbot: QtBot) -> None:
    panel.show()
    view = panel.table.view
    rect = view.visualRect(panel.table.model.index(1, 1))
    with qtbot.waitSignal(panel.open_requested) as opened:
        # a view reports a double-click only on the index the first click pressed
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [2]


def test_export_writes_each_selected_run(panel: RunsPanel, tmp_path: Path, qtbot: QtBot,
                                         results: list[BacktestResult]) -> None:
    assert finished(qtbot, panel, lambda: panel.export_runs([1], tmp_path / "one"))
    assert (tmp_path / "one" / "equity.csv").is_file()
    assert finished(qtbot, panel, lambda: panel.export_runs([1, 3], tmp_path / "two"))
    assert panel.status.text() == f"Exported 2 runs to {tmp_path / 'two'}"
    for run_id in (1, 3):
        trades = pd.read_csv(tmp_path / "two" / f"run_{run_id}" / "trades.csv")
        assert len(trades) == len(results[run_id - 1].trades)


def test_an_export_the_file_system_refuses_says_so(panel: RunsPanel, tmp_path: Path,
                                                   qtbot: QtBot) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    target = blocker / "out"
    assert not finished(qtbot, panel, lambda: panel.export_runs([1, 2], target))
    message = panel.errors.message.text()
    assert message.startswith(f"Could not write {target}: ")
    assert message.endswith("; choose another folder") and "\n" not in message
    assert not finished(qtbot, panel, lambda: panel.export_runs([42], tmp_path / "x"))
    assert "42" in panel.errors.message.text()
    assert not panel.errors.message.text().endswith("; choose another folder")


# ---------------------------------------------------------------- comparison
@pytest.fixture
def compare(qtbot: QtBot, store: RunStore) -> CompareView:
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1300, 850)
    view.set_data(*store.load_many([1, 2, 3]))
    return view


def test_compare_overlays_growth_of_one_curves(compare: CompareView,
                                               results: list[BacktestResult]) -> None:
    assert list(compare.curves) == [1, 2, 3]
    assert len(compare.legend.items) == 3
    for run_id, result in zip((1, 2, 3), results, strict=True):
        np.testing.assert_allclose(compare.curves[run_id].yData,
                                   normalised_equity(result)["value"])
    pens = {compare.curves[i].opts["pen"].color().name() for i in (1, 2, 3)}
    assert len(pens) == 3  # distinct colours
    assert compare.legend.items[0][1].text == "#1 baseline"


def test_compare_tables_mark_the_best_and_the_differences(
        compare: CompareView, results: list[BacktestResult]) -> None:
    by_id = dict(zip((1, 2, 3), results, strict=True))
    table = compare_table(by_id)
    labels = {key: label for key, label, _ in METRICS}
    assert compare.highlighted_cells() == {labels[k]: v for k, v in best_per_metric(table).items()}
    row = [key for key, _, _ in METRICS].index("total_return")
    assert compare.metrics_table.item(row, 1).text() == format_value(
        results[1].metrics["total_return"], "pct")
    differing = config_differences(by_id)
    assert set(differing) == {"period", "oversold", "overbought", "fill"}
    shown = {compare.config_table.verticalHeaderItem(r).text(): r
             for r in range(compare.config_table.rowCount())}
    assert compare.config_table.item(shown["period"], 2).font().bold()
    assert not compare.config_table.item(shown["data_dir"], 0).font().bold()
    compare.only_differences.setChecked(True)
    visible = [name for name, r in shown.items() if not compare.config_table.isRowHidden(r)]
    assert visible == differing


def test_compare_exports_its_table(compare: CompareView, tmp_path: Path) -> None:
    written = compare.export_csv(tmp_path / "comparison.csv")
    assert written is not None
    frame = pd.read_csv(written)
    assert list(frame["id"]) == [1, 2, 3]
    assert frame["name"].iloc[0] == "baseline"
    assert {"period", "total_return", "sharpe"} <= set(frame.columns)


def test_compare_clears(compare: CompareView) -> None:
    compare.clear_data()
    assert not compare.curves and compare.metrics_table.rowCount() == 0
    assert not compare.export_button.isEnabled()
    assert compare.export_csv() is None


def test_an_edit_while_another_process_writes_fails_fast_instead_of_freezing(
        qtbot: QtBot, store: RunStore) -> None:
    """Regression: the window's store waited up to a minute for another writer."""
    import sqlite3

    from gui.runs_panel import GUI_BUSY_TIMEOUT_S

    panel = opened(qtbot, store.path)
    writer = sqlite3.connect(store.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        assert not finished(qtbot, panel, lambda: panel.rename_run(1, "renamed while busy"))
        assert time.monotonic() - started < GUI_BUSY_TIMEOUT_S + 10
        assert "is busy" in panel.errors.message.text()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert finished(qtbot, panel, lambda: panel.rename_run(1, "renamed"))
    assert store.run_info(1)["name"] == "renamed"


def test_exporting_a_run_writes_the_tables_attached_to_it(panel: RunsPanel, store: RunStore,
                                                         results: list[BacktestResult],
                                                         tmp_path: Path, qtbot: QtBot) -> None:
    folds = pd.DataFrame({"train_start": ["2023-02-06"], "oos_sharpe": [0.5]})
    run_id = store.save(results[0], tags=["walkforward"], attachments={"folds": folds})
    assert finished(qtbot, panel, panel.refresh)
    assert panel.run_ids()[0] == run_id
    assert finished(qtbot, panel, lambda: panel.export_runs([run_id], tmp_path / "out"))
    written = pd.read_csv(tmp_path / "out" / "folds.csv", encoding="utf-8-sig")
    assert written["oos_sharpe"].tolist() == [0.5]
