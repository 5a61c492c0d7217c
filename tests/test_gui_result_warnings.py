"""A run's warnings are shown where its result is (issue 23): a run of unadjusted
TongDaXin bars says, over the result, that its ex-rights gaps book as losses and how to
give an adjustment source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.config import BacktestConfig
from engine.data.layouts.tdx import DAY_RECORD
from engine.datagen.universe import generate_universe
from engine.run.backtest import run_backtest


def _unadjusted_tdx(folder: Path) -> Path:
    """A TongDaXin folder whose third stock halves (a 10-for-10 bonus, no table)."""
    generate_universe(folder, 8, "2021-01-01", "2021-12-31", seed=5, layout="tdx")
    day = sorted(folder.glob("vipdoc/*/lday/*.day"))[2]
    records = np.fromfile(day, dtype=DAY_RECORD)
    cut = len(records) // 2
    for name in ("open", "high", "low", "close"):
        records[name][cut:] = np.maximum(records[name][cut:] // 2, 1)
    records.tofile(day)
    return folder


def test_a_runs_gap_warning_shows_over_its_result(window: Any, qtbot: Any,
                                                  tmp_path: Path) -> None:
    folder = _unadjusted_tdx(tmp_path / "tdx")
    result = run_backtest(BacktestConfig(data_dir=folder, start="2021-01-01",
                                         end="2021-12-31", cache_dir=tmp_path / "cache"))
    gaps = [w for w in result.warnings if "beyond the price limit" in w]
    assert len(gaps) == 1
    window.show_result(result)
    panel = window.errors
    qtbot.waitUntil(panel.isVisible)  # the summary comes in its own event-loop turn
    assert panel.kind == "warning"
    assert "beyond the price limit" in panel.message.text()
    assert "gbbq" in panel.message.text()


def test_a_clean_result_shows_no_warning(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = tmp_path / "tdx"
    generate_universe(folder, 8, "2021-01-01", "2021-12-31", seed=5, layout="tdx")
    result = run_backtest(BacktestConfig(data_dir=folder, start="2021-01-01",
                                         end="2021-12-31", cache_dir=tmp_path / "cache"))
    window.show_result(result)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Done"))
    assert not window.errors.isVisible()


def test_with_excluded_stocks_the_warning_stays_in_the_details(window: Any, qtbot: Any,
                                                               tmp_path: Path) -> None:
    folder = _unadjusted_tdx(tmp_path / "tdx")
    broken = sorted(folder.glob("vipdoc/*/lday/*.day"))[0]
    broken.write_bytes(broken.read_bytes()[:-5])  # not whole records: excluded with skip
    result = run_backtest(BacktestConfig(data_dir=folder, start="2021-01-01",
                                         end="2021-12-31", on_bad_stock="skip",
                                         cache_dir=tmp_path / "cache"))
    assert len(result.excluded) == 1 and result.warnings
    window.show_result(result)
    panel = window.errors
    qtbot.waitUntil(panel.isVisible)
    assert panel.kind == "error" and "1 stock excluded" in panel.message.text()
    assert "beyond the price limit" in panel.details.toPlainText()
