"""The main window as a user drives it: configure, run, read results, cancel, bad input."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from pytestqt.qtbot import QtBot

from engine.backtest import run_backtest
from engine.config import BacktestConfig
from engine.report import format_value
from engine.results import BacktestResult
from gui.main_window import MainWindow
from tests.conftest import SAMPLE


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def _open(window: MainWindow, qtbot: QtBot, config: BacktestConfig) -> None:
    window.apply_config(config)
    qtbot.waitUntil(lambda: len(window.panel.stocks.codes()) > 0, timeout=15_000)


def _idle(window: MainWindow, qtbot: QtBot) -> None:
    """Wait until the window has handled the run's outcome (its slots run queued)."""
    qtbot.waitUntil(lambda: not window.running, timeout=60_000)


def _run(window: MainWindow, qtbot: QtBot) -> None:
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    assert window.running
    _idle(window, qtbot)
    assert window.progress.format() == "done", window.errors.message.text()


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
    assert window.trades_table.model.rowCount() == len(expected.trades)
    assert window.fills_table.model.rowCount() == len(expected.fills)
    assert window.rejections_table.model.rowCount() == len(expected.rejections)
    metrics = window.metrics_table.model.frame().set_index("metric")["value"]
    assert metrics["Total return"] == format_value(expected.metrics["total_return"], "pct")
    assert metrics["Sharpe"] == format_value(expected.metrics["sharpe"], "ratio")
    assert "last run" in window.total_label.text()
    assert window.progress.format() == "done"


def test_filter_fills_by_code(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    code = window.result.fills["code"].iloc[0]
    window.fills_table.filter.setText(code)
    shown = window.fills_table.model.frame()
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
    assert not window.run_button.isEnabled()
    assert "period" in window.reason.text() and "between 2 and 500" in window.reason.text()
    assert window.panel.fields["period"].error.isVisibleTo(window.panel)
    window.panel.fields["period"].widget.setValue(14)
    window.panel.fields["overbought"].widget.setValue(20.0)
    assert not window.run_button.isEnabled() and "overbought" in window.reason.text()
    window.panel.fields["overbought"].widget.setValue(70.0)
    assert window.run_button.isEnabled() and window.reason.text() == ""


def test_bad_folder_is_explained_and_the_window_stays_usable(window: MainWindow, qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    window.panel.set_folder(tmp_path / "missing")
    qtbot.waitUntil(lambda: window.errors.isVisible(), timeout=10_000)
    assert "does not exist" in window.errors.message.text()
    window.run()
    _idle(window, qtbot)
    assert "does not exist" in window.errors.message.text()
    assert window.run_button.isEnabled()
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    assert window.result is not None and not window.errors.isVisible()


def test_cancel_keeps_the_previous_result(window: MainWindow, qtbot: QtBot,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import gui.run_worker

    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    previous = window.result
    real_run = gui.run_worker.run_backtest

    def long_run(config: BacktestConfig, progress: Any = None,
                 cancel: threading.Event | None = None) -> BacktestResult:
        assert cancel is not None
        cancel.wait(10)  # a run that lasts until the user cancels (warm runs take ~30 ms)
        return real_run(config, progress=progress, cancel=cancel)

    monkeypatch.setattr(gui.run_worker, "run_backtest", long_run)
    window.run()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    _idle(window, qtbot)
    assert window.result is previous and window.progress.format() == "cancelled"
    assert window.run_button.isEnabled() and not window.cancel_button.isEnabled()


def test_drill_down_from_a_trade(window: MainWindow, qtbot: QtBot) -> None:
    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    code = window.result.trades["code"].iloc[0]
    window.show_stock(code)
    assert window.tabs.currentWidget() is window.stock_chart


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


@pytest.mark.slow
def test_event_loop_never_blocks_during_a_500_stock_run(window: MainWindow, qtbot: QtBot,
                                                        tmp_path: Path,
                                                        isolated_cache: Path) -> None:
    import shutil

    from engine.datagen import generate_universe

    folder = tmp_path / "u500"
    generate_universe(folder, 500, "2022-08-01", "2026-02-04", seed=7)
    _open(window, qtbot, BacktestConfig(data_dir=folder))
    shutil.rmtree(isolated_cache)  # the worst case: the run reads all 500 files again
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.run()
    _idle(window, qtbot)
    assert window.progress.format() == "done"
    qtbot.wait(50)
    timer.stop()
    gaps = np.diff(ticks)
    assert len(ticks) > 20
    assert gaps.max() < 0.1, f"event loop blocked for {gaps.max() * 1000:.0f} ms"


def test_data_argument_sets_the_folder_that_runs_use(qtbot: QtBot) -> None:
    from gui.app import build_window

    win = build_window(SAMPLE)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: len(win.panel.stocks.codes()) == 50, timeout=15_000)
    assert win.panel.config().data_dir == SAMPLE.resolve()
    assert win.panel.folder_info.text().startswith("50 stock files")
    win.close()


def test_a_slow_load_of_an_old_folder_does_not_overwrite_the_new_one(qtbot: QtBot,
                                                                     tmp_path: Path) -> None:
    from engine.datagen import generate_universe

    big = tmp_path / "big"
    generate_universe(big, 120, "2022-01-01", "2026-02-04", seed=3)
    win = MainWindow()
    qtbot.addWidget(win)
    win.panel.set_folder(big)  # slower to load ...
    win.panel.set_folder(SAMPLE)  # ... than the folder the user switched to
    qtbot.waitUntil(lambda: len(win.panel.stocks.codes()) == 50, timeout=15_000)
    qtbot.wait(1500)  # the big folder's load has finished by now, and must be ignored
    assert len(win.panel.stocks.codes()) == 50
    assert win.panel.config().data_dir == SAMPLE
    win.close()


def test_tables_and_charts_export(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    import pandas as pd

    _open(window, qtbot, BacktestConfig(data_dir=SAMPLE))
    _run(window, qtbot)
    code = window.result.fills["code"].iloc[0]
    window.fills_table.filter.setText(code)
    path = window.fills_table.export_csv(tmp_path / "fills.csv")
    back = pd.read_csv(path, encoding="utf-8-sig")
    shown = window.fills_table.model.frame()
    assert len(back) == len(shown) and (back["code"] == code).all()
    np.testing.assert_array_equal(back["price"], shown["price"])
    window.fills_table.copy_rows()
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
    np.testing.assert_array_equal(window.result.equity["equity"], first.equity["equity"])
    assert window.panel.config().period == 14
    window.compare_runs(ids)
    assert window.tabs.currentWidget() is window.compare_view


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
