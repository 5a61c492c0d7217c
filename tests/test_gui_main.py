"""The main window as a user drives it: configure, run, read results, cancel, bad input."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from engine.config import BacktestConfig
from engine.results.formatting import format_value
from engine.run.backtest import run_backtest
from gui.main_window import MainWindow
from tests.conftest import SAMPLE
from tests.faults import inject_fault

pytestmark = pytest.mark.usefixtures("isolated_settings")


def _open(window: MainWindow, qtbot: QtBot, config: BacktestConfig) -> None:
    window.apply_config(config)
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) > 0, timeout=15_000)


def _idle(window: MainWindow, qtbot: QtBot) -> None:
    """Wait until the window has handled the run's outcome (its slots run queued)."""
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)


def _run(window: MainWindow, qtbot: QtBot) -> None:
    qtbot.mouseClick(window.run_box.run_button, Qt.MouseButton.LeftButton)
    assert window.running
    _idle(window, qtbot)
    assert window.run_box.progress.format() == "done", window.errors.message.text()


def _show(window: MainWindow, widget: QWidget) -> None:
    """Click a result tab, as a user does to look at it (tabs fill when shown)."""
    window.tabs.setCurrentWidget(widget)
    assert window.result_tabs.filled(widget)


def test_run_shows_the_engines_numbers(window: MainWindow, qtbot: QtBot) -> None:
    config = BacktestConfig(data_dir=SAMPLE)
    _open(window, qtbot, config)
    assert window.panel.stocks.count.text() == "50 of 50 stocks selected"
    _run(window, qtbot)
    expected = run_backtest(config)
    result = window.result
    assert result is not None
    np.testing.assert_array_equal(result.equity["equity"], expected.equity["equity"])
    assert window.equity_chart.point_count() == len(expected.equity)
    for table, frame in ((window.result_tabs.trades_table, expected.trades),
                         (window.result_tabs.fills_table, expected.fills),
                         (window.result_tabs.rejections_table, expected.rejections)):
        _show(window, table)
        assert table.model.rowCount() == len(frame)
    _show(window, window.result_tabs.metrics_table)
    metrics = window.result_tabs.metrics_table.model.frame().set_index("metric")["value"]
    assert metrics["Total return"] == format_value(expected.metrics["total_return"], "pct")
    assert metrics["Sharpe"] == format_value(expected.metrics["sharpe"], "ratio")
    assert "last run" in window.total_label.text()
    assert window.run_box.progress.format() == "done"


def test_filter_fills_by_code(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    _show(window, window.result_tabs.fills_table)
    code = window.result.fills["code"].iloc[0]
    window.result_tabs.fills_table.filter.setText(code)
    shown = window.result_tabs.fills_table.model.frame()
    assert len(shown) == (window.result.fills["code"] == code).sum() and len(shown) > 0


def test_subset_of_stocks_and_ctrl_r(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    codes = window.panel.stocks.codes()[:5]
    window.panel.stocks.select(codes)
    assert window.panel.stocks.count.text() == "5 of 50 stocks selected"
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    _idle(window, qtbot)
    assert window.result.codes == tuple(codes)


def test_invalid_parameters_disable_run_with_the_reason(window: MainWindow) -> None:
    window.panel.fields["period"].widget.setValue(1)
    assert not window.run_box.run_button.isEnabled()
    reason = window.run_box.reason
    assert "period" in reason.text() and "between 2 and 500" in reason.text()
    assert window.panel.fields["period"].error.isVisibleTo(window.panel)
    window.panel.fields["period"].widget.setValue(14)
    window.panel.fields["overbought"].widget.setValue(20.0)
    assert not window.run_box.run_button.isEnabled() and "overbought" in reason.text()
    window.panel.fields["overbought"].widget.setValue(70.0)
    assert window.run_box.run_button.isEnabled() and reason.text() == ""


def test_bad_folder_is_explained_and_the_window_stays_usable(window: MainWindow, qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    window.panel.set_folder(tmp_path / "missing")
    qtbot.waitUntil(lambda: window.errors.isVisible(), timeout=10_000)
    assert "does not exist" in window.errors.message.text()
    window.run()
    _idle(window, qtbot)
    assert "does not exist" in window.errors.message.text()
    assert window.run_box.run_button.isEnabled()
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    assert window.result is not None and not window.errors.isVisible()


def test_cancel_keeps_the_previous_result(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    previous = window.result
    with inject_fault("hang", "job"):  # a run that lasts until the user cancels
        window.run()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    _idle(window, qtbot)
    assert window.result is previous and window.run_box.progress.format() == "cancelled"
    assert window.run_box.run_button.isEnabled() and not window.run_box.cancel_button.isEnabled()
    _run(window, qtbot)  # the run host was not lost
    np.testing.assert_array_equal(window.result.equity["equity"], previous.equity["equity"])


def test_drill_down_from_a_trade(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    code = window.result.trades["code"].iloc[0]
    window.show_stock(code)
    assert window.tabs.currentWidget() is window.stock_chart
    qtbot.waitUntil(lambda: window.stock_chart.candles_count() > 0, timeout=30_000)
    assert window.stock_chart.title.text().startswith(code)
    window.show_stock("999999.SH")  # not in the universe: said in the panel, no crash
    qtbot.waitUntil(lambda: window.errors.isVisible(), timeout=30_000)
    assert "999999.SH" in window.errors.message.text()


def test_configuration_is_restored_at_start(qtbot: QtBot) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.apply_config(BacktestConfig(data_dir=SAMPLE, period=9, fill="close"))
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    config = second.panel.config()
    assert config.period == 9 and config.fill == "close" and config.data_dir == SAMPLE
    second.close()


#: Engine entry points that must never run on the GUI thread (they run on job hosts).
ENGINE_CALLS = ("engine.run.backtest.run_backtest", "engine.studies.sweep.run_sweep",
                "engine.data.loader.load_market_data", "engine.run.drill_down.stock_detail",
                "engine.results.store.RunStore.save", "engine.results.store.RunStore.load")


def _record_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Wrap every ``ENGINE_CALLS`` entry so each call in this process records its thread."""
    import importlib

    calls: list[tuple[str, str]] = []
    for dotted in ENGINE_CALLS:
        module_name, _, attr = dotted.rpartition(".")
        owner: Any
        try:
            owner = importlib.import_module(module_name)
        except ModuleNotFoundError:  # a method: module.Class.name
            module_name, _, cls = module_name.rpartition(".")
            owner = getattr(importlib.import_module(module_name), cls)
        real = getattr(owner, attr)

        def wrapper(*args: Any, _real: Callable[..., Any] = real, _name: str = dotted,
                    **kwargs: Any) -> Any:
            calls.append((_name, threading.current_thread().name))
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, attr, wrapper)
    return calls


def test_engine_store_and_loader_never_run_on_the_gui_thread(
        window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_threads(monkeypatch)
    main = threading.current_thread().name
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    assert window.outcome is not None and window.outcome.host_pid != os.getpid()
    assert window.outcome.run_id is not None  # saved before the window heard of it
    window.show_stock(window.result.trades["code"].iloc[0])
    qtbot.waitUntil(lambda: window.stock_chart.candles_count() > 0, timeout=30_000)
    window.open_stored_run(window.outcome.run_id)
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.equity_chart,
                    timeout=30_000)
    sweep = window.sweep_view
    sweep.range_edits["period"].setText("10,14")
    sweep.run()
    qtbot.waitUntil(lambda: not sweep.running, timeout=60_000)
    assert sweep.result is not None and len(sweep.result.table) > 0
    assert [call for call in calls if call[1] == main] == []


def test_result_tabs_are_filled_when_first_shown(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    assert window.result_tabs.filled(window.equity_chart)  # the visible tab
    assert not window.result_tabs.filled(window.result_tabs.trades_table)
    assert window.result_tabs.trades_table.model.rowCount() == 0
    _show(window, window.result_tabs.trades_table)
    assert window.result_tabs.trades_table.model.rowCount() == len(window.result.trades)


def test_data_argument_sets_the_folder_that_runs_use(qtbot: QtBot) -> None:
    from gui.app import build_window

    win = build_window(SAMPLE)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: len(win.panel.stocks.codes()) == 50, timeout=15_000)
    assert win.panel.config().data_dir == SAMPLE.resolve()
    assert win.panel.folder_info.text().startswith("per-stock files: 50 stocks")
    win.close()


def test_a_slow_load_of_an_old_folder_does_not_overwrite_the_new_one(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.datagen.universe import generate_universe
    from engine.execution import jobs

    big = tmp_path / "big"
    generate_universe(big, 20, "2022-01-01", "2026-02-04", seed=3)
    release = threading.Event()
    real_scan = jobs.scan_folder

    def scan(folder: Path, *args: Any, **kwargs: Any) -> jobs.FolderScan:
        value = real_scan(folder, *args, **kwargs)
        if folder == big:  # the old folder's load ends only after the new one is shown
            assert release.wait(30)
        return value

    monkeypatch.setattr(jobs, "scan_folder", scan)
    win = MainWindow()
    qtbot.addWidget(win)
    win.panel.set_folder(big)
    win.panel.set_folder(SAMPLE)  # the user switched folders while the first one loads
    qtbot.waitUntil(lambda: len(win.panel.stocks.codes()) == 50, timeout=30_000)
    with qtbot.waitSignal(win.folder_scanned, timeout=30_000,
                          check_params_cb=lambda folder: folder == big):
        release.set()
    assert len(win.panel.stocks.codes()) == 50
    assert win.panel.config().data_dir == SAMPLE
    win.close()


def test_tables_and_charts_export(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    import pandas as pd

    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    _show(window, window.result_tabs.fills_table)
    code = window.result.fills["code"].iloc[0]
    window.result_tabs.fills_table.filter.setText(code)
    path = window.result_tabs.fills_table.export_csv(tmp_path / "fills.csv")
    back = pd.read_csv(path, encoding="utf-8-sig")
    shown = window.result_tabs.fills_table.model.frame()
    assert len(back) == len(shown) and (back["code"] == code).all()
    np.testing.assert_array_equal(back["price"], shown["price"])
    window.result_tabs.fills_table.copy_rows()
    from PySide6.QtWidgets import QApplication

    assert QApplication.clipboard().text().startswith("date\tcode\tside")
    png = window.save_png(tmp_path / "equity.png")
    assert png is not None and png.stat().st_size > 1000


def test_runs_are_saved_reopened_and_compared(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    first = window.result
    window.panel.fields["period"].widget.setValue(10)
    _run(window, qtbot)
    ids = window.runs_panel.run_ids()
    assert len(ids) == 2 and "saved as run" in window.total_label.text()
    window.open_stored_run(min(ids))
    qtbot.waitUntil(lambda: window.result is not None and window.result.config.period == 14,
                    timeout=30_000)
    np.testing.assert_array_equal(window.result.equity["equity"], first.equity["equity"])
    assert window.panel.config().period == 14
    window.compare_runs(ids)
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.compare_view,
                    timeout=30_000)


def test_sweep_cell_click_runs_that_configuration(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    config = BacktestConfig(data_dir=SAMPLE, period=9, oversold=25.0)
    window.sweep_view.run_requested.emit(config)
    _idle(window, qtbot)
    assert window.result.config.period == 9 and window.result.config.oversold == 25.0


def test_first_run_reuses_the_folder_scans_aligned_cache(window: MainWindow,
                                                          qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    assert "load.read" not in window.result.timings  # no file was read again
