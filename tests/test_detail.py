"""stock_detail: one stock's own bars in the run window, with the run's RSI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.errors import DataError
from engine.run.backtest import load
from engine.run.drill_down import DETAIL_COLUMNS, stock_detail
from engine.strategies.base import bars_of
from engine.strategies.builtin import STRATEGIES
from tests.conftest import SAMPLE, WriteStock, bars


def compute_rsi(data: MarketData, config: BacktestConfig) -> np.ndarray:
    """The RSI strategy's indicator over every stock, as a run computes it."""
    return STRATEGIES["rsi"].indicators(bars_of(data), config.strategy_params())[0]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestConfig, MarketData]:
    config = BacktestConfig(data_dir=SAMPLE, cache_dir=tmp_path_factory.mktemp("cache"))
    return config, load(config)


@pytest.mark.parametrize("method", ["wilder", "sma"])
def test_rsi_equals_the_runs_column_on_every_stock(sample: tuple[BacktestConfig, MarketData],
                                                   method: str) -> None:
    _, data = sample
    config = BacktestConfig(data_dir=SAMPLE, rsi_method=method, period=9)
    rsi = compute_rsi(data, config)
    for j, code in enumerate(data.codes):
        detail = stock_detail(data, code, config)
        rows = np.flatnonzero(data.tradable[:, j])
        rows = rows[rows >= data.start_index]
        assert list(detail.columns) == list(DETAIL_COLUMNS)
        np.testing.assert_array_equal(detail["rsi"].to_numpy(), rsi[rows, j])
        np.testing.assert_array_equal(detail["close"].to_numpy(), data.close[rows, j])
        np.testing.assert_array_equal(detail["date"].to_numpy(dtype="datetime64[D]"),
                                      data.dates[rows])


def test_warm_up_history_gives_rsi_from_the_first_day(
        sample: tuple[BacktestConfig, MarketData]) -> None:
    config, data = sample
    detail = stock_detail(data, data.codes[0], config)
    assert detail["date"].iloc[0] >= pd.Timestamp(config.start)
    assert detail["date"].iloc[-1] <= pd.Timestamp(config.end)
    assert detail["rsi"].notna().all()


def test_suspended_days_are_absent_and_window_is_cut(write_stock: WriteStock) -> None:
    days = pd.bdate_range("2024-01-01", periods=40)
    suspended = days[25:28]
    write_stock("000001_SZ.parquet", bars(days))
    path = write_stock("600000_SH.parquet", bars(days.delete([25, 26, 27]),
                                                  10 + np.sin(np.arange(37))))
    start = days[20]
    config = BacktestConfig(data_dir=path.parent, start=start.date(), end=days[-1].date(),
                            period=5)
    data = load(config)
    detail = stock_detail(data, "600000.SH", config)
    dates = pd.DatetimeIndex(detail["date"])
    assert dates[0] == start and dates[-1] == days[-1]
    assert not dates.isin(suspended).any()
    assert len(detail) == 20 - len(suspended)
    full = stock_detail(data, "000001.SZ", config)
    assert len(full) == 20 and pd.DatetimeIndex(full["date"]).isin(suspended).sum() == 3
    # Warm-up from the 20 bars before the window: no NaN RSI on the first day.
    assert detail["rsi"].notna().all()
    j = data.codes.index("600000.SH")
    rsi = compute_rsi(data, config)[:, j]
    np.testing.assert_array_equal(detail["rsi"].to_numpy(),
                                  rsi[data.start_index:][data.tradable[data.start_index:, j]])


def test_unknown_code_names_it(sample: tuple[BacktestConfig, MarketData]) -> None:
    config, data = sample
    with pytest.raises(DataError, match=r"'999999\.SZ' is not in the loaded universe") as info:
        stock_detail(data, "999999.SZ", config)
    assert info.value.code == "999999.SZ"
