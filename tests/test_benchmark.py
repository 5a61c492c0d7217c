"""The run's benchmark (SPEC §7): equal weight by default, or an index's closes from the
window's first day, with beta, alpha, tracking error and information ratio against it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import ConfigError, DataError
from engine.results.metrics import daily_returns, relative_stats
from engine.run.backtest import run_backtest
from engine.run.benchmark_curve import index_equity, read_closes
from tests.conftest import SAMPLE

BASE = BacktestConfig(data_dir=SAMPLE, workers=1)


def _index_file(folder: Path, start: str = "2022-06-01") -> tuple[Path, pd.DataFrame]:
    days = pd.bdate_range(start, "2026-02-27")
    closes = np.round(3000 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01,
                                                                               len(days)))), 2)
    frame = pd.DataFrame({"trade_date": days.strftime("%Y%m%d"), "close": closes})
    path = folder / "hs300.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_an_index_file_is_the_benchmark_from_the_windows_first_day(tmp_path: Path) -> None:
    path, frame = _index_file(tmp_path)
    result = run_backtest(BASE.replace(benchmark=str(path)))
    equity = result.equity
    closes = frame.set_index(pd.to_datetime(frame["trade_date"]))["close"]
    level = closes.reindex(pd.to_datetime(equity["date"]), method="ffill").to_numpy()
    np.testing.assert_allclose(equity["benchmark"], 1_000_000 * level / level[0], rtol=1e-15)
    assert equity["benchmark"].iloc[0] == 1_000_000.0
    assert result.metrics["benchmark_total_return"] == equity["benchmark"].iloc[-1] / 1e6 - 1
    expected = relative_stats(daily_returns(equity["equity"].to_numpy(), 1e6),
                              daily_returns(equity["benchmark"].to_numpy(), 1e6))
    assert {k: result.metrics[k] for k in expected} == expected
    plain = run_backtest(BASE)
    pd.testing.assert_series_equal(plain.equity["equity"], equity["equity"])  # trades same


def test_an_index_that_starts_after_the_window_is_a_clear_error(tmp_path: Path) -> None:
    path, _ = _index_file(tmp_path, start="2024-01-02")
    with pytest.raises(DataError, match=r"no close on or before the run's first day"):
        run_backtest(BASE.replace(benchmark=str(path)))


def test_an_unknown_benchmark_names_what_was_tried() -> None:
    with pytest.raises(DataError, match=r"'399999.SZ' is neither a file nor an index"):
        run_backtest(BASE.replace(benchmark="399999.SZ"))
    with pytest.raises(ConfigError, match="benchmark"):
        BASE.replace(benchmark="  ")


@pytest.mark.parametrize(("rows", "message"), [
    ("date,close\n2024-01-02,10\n2024-01-02,11\n", "appears more than once"),
    ("date,close\n2024-01-02,-1\n", "positive"),
    ("date,close\nsoon,10\n", "unreadable date"),
    ("day,close\n2024-01-02,10\n", "`date` is missing"),
])
def test_bad_closes_files_are_one_line_errors(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "closes.csv"
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_closes(path)


def test_index_equity_carries_the_last_close_over_a_missing_day() -> None:
    days = np.array([10, 11, 13])
    run = np.array([11, 12, 13])
    np.testing.assert_array_equal(index_equity(run, days, np.array([1.0, 2.0, 4.0]), 100.0),
                                  [100.0, 100.0, 200.0])
