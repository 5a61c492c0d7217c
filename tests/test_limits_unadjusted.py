"""SPEC §4 (changed): price limits are decided in the file's own prices, before any
adjustment; adjustment only changes the prices that fill and value a position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.data import load_market_data
from engine.rules.rulebook import limit_prices
from tests.conftest import WriteStock, bars

DAYS = pd.bdate_range("2024-03-01", periods=6)


def _locked_up_stock() -> pd.DataFrame:
    """000001.SZ: closes at 6.89, then a day locked at limit-up (open = high = low =
    close = 7.58 = half_up(6.89 * 1.1)); a 3-for-1 factor change after it, so the
    forward-adjusted prices before it are a third of the file's."""
    close = np.array([6.80, 6.85, 6.89, 7.58, 2.60, 2.62])
    frame = bars(DAYS, close)
    frame.loc[3, ["open", "high", "low"]] = 7.58
    frame["adj_factor"] = [1.0, 1.0, 1.0, 1.0, 3.0, 3.0]
    return frame


def test_a_day_locked_at_limit_up_stays_locked_in_adjusted_prices(
        write_stock: WriteStock, tmp_path: Path) -> None:
    path = write_stock("000001_SZ.parquet", _locked_up_stock())
    data = load_market_data(path.parent, cache_dir=tmp_path / "cache")
    day = 3
    up = data.plane("up_limit")[day, 0]
    opened = data.plane("open")[day, 0]
    assert opened == 7.58 * 1.0 / 3.0  # the fill price: adjusted
    assert up == limit_prices(np.array([6.89]), np.array([0.10]))[0][0] * 1.0 / 3.0
    assert opened >= up  # locked: a buy is rejected (it filled at 2.5267 before)
    # Rounding the adjusted reference instead gave 2.53 > 2.5267: not locked.
    adjusted_ref = 6.89 * 1.0 / 3.0
    assert limit_prices(np.array([adjusted_ref]), np.array([0.10]))[0][0] > opened


def test_locked_days_are_the_same_adjusted_or_not(write_stock: WriteStock,
                                                  tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    days = pd.bdate_range("2023-01-02", periods=400)
    for k in range(6):
        close = np.round(8 * np.exp(np.cumsum(rng.normal(0, 0.04, days.size))), 2)
        frame = bars(days, close)
        # Some days open at the previous close's limits, as locked days do.
        prev = np.r_[close[0], close[:-1]]
        lock = rng.random(days.size) < 0.1
        up, down = limit_prices(prev, np.full(days.size, 0.10))
        frame.loc[lock, "open"] = np.where(rng.random(lock.sum()) < 0.5, up[lock], down[lock])
        frame["high"] = frame[["open", "high", "close"]].max(axis=1)
        frame["low"] = frame[["open", "low", "close"]].min(axis=1)
        frame["adj_factor"] = np.cumprod(np.where(rng.random(days.size) < 0.02,
                                                  rng.uniform(1.05, 2.0, days.size), 1.0))
        write_stock(f"00000{k + 1}_SZ.parquet", frame)
    folder = tmp_path / "data"
    adjusted = load_market_data(folder, adjust="forward", cache_dir=tmp_path / "a")
    raw = load_market_data(folder, adjust="none", cache_dir=tmp_path / "b")
    assert not np.array_equal(adjusted.plane("open"), raw.plane("open"), equal_nan=True)
    for price, limit, side in (("open", "up_limit", np.greater_equal),
                               ("open", "down_limit", np.less_equal),
                               ("close", "up_limit", np.greater_equal),
                               ("close", "down_limit", np.less_equal)):
        locked_adjusted = side(adjusted.plane(price), adjusted.plane(limit))
        locked_raw = side(raw.plane(price), raw.plane(limit))
        assert locked_raw.any()
        np.testing.assert_array_equal(locked_adjusted, locked_raw, err_msg=f"{price} {limit}")


def test_the_file_pre_close_is_the_unadjusted_reference(write_stock: WriteStock,
                                                        tmp_path: Path) -> None:
    frame = _locked_up_stock()
    frame["pre_close"] = [np.nan, 6.80, 6.85, 6.89, 3.79, 2.60]  # 3.79: an ex-rights day
    path = write_stock("000001_SZ.parquet", frame)
    data = load_market_data(path.parent, cache_dir=tmp_path / "cache")
    up = data.plane("up_limit")[:, 0]
    want = limit_prices(np.array([6.89, 3.79]), np.full(2, 0.10))[0]
    assert up[3] == want[0] * 1.0 / 3.0
    assert up[4] == want[1] * 3.0 / 3.0
