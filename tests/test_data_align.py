"""Alignment on the union calendar (SPEC §2): IPOs, delistings, suspensions, warm-up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import align, load_market_data
from engine.data.align import PLANES, day_positions
from engine.data.blocks import BLOCK
from tests.conftest import WriteStock, bars

DAYS = pd.bdate_range("2024-01-01", periods=10)


def test_ipo_delisting_suspension_and_warmup(write_stock: WriteStock) -> None:
    write_stock("000001_SZ.parquet", bars(DAYS, np.arange(10) + 10.0))  # every day
    write_stock("300750_SZ.parquet", bars(DAYS[4:], np.arange(6) + 20.0))  # IPO on day 4
    write_stock("600000_SH.parquet", bars(DAYS[:6], np.arange(6) + 30.0))  # delisted after 5
    susp = bars(DAYS[[0, 1, 2, 6, 7, 8, 9]], [40.0, 41, 42, 43, 44, 45, 46])  # 3..5 suspended
    path = write_stock("688001_SH.parquet", susp)
    data = load_market_data(path.parent, start=str(DAYS[3].date()), end=str(DAYS[8].date()))
    assert data.codes == ("000001.SZ", "300750.SZ", "600000.SH", "688001.SH")
    assert data.start_index == 3  # three warm-up days are kept before start
    assert data.dates.size == 9  # nothing after end
    assert [str(d) for d in data.run_dates] == [str(d.date()) for d in DAYS[3:9]]
    t = data.tradable
    assert t[:, 1].tolist() == [False] * 4 + [True] * 5
    assert t[:, 2].tolist() == [True] * 6 + [False] * 3
    assert t[:, 3].tolist() == [True] * 3 + [False] * 3 + [True] * 3
    assert np.isnan(data.close[3:6, 3]).all()
    # STAR, 20%, from the previous bar across the suspension: 42 * 1.2, 42 * 0.8.
    assert (data.up_limit[6, 3], data.down_limit[6, 3]) == (50.4, 33.6)
    assert np.isnan(data.up_limit[4, 1])  # first bar of an IPO has no limit
    assert (data.up_limit[4, 0], data.down_limit[4, 0]) == (14.3, 11.7)  # main, 13 * 1.1


def test_stock_without_bars_in_window_is_kept_with_a_warning(write_stock: WriteStock) -> None:
    write_stock("000001_SZ.parquet", bars(DAYS))
    path = write_stock("600000_SH.parquet", bars(DAYS[:3]))
    data = load_market_data(path.parent, start=str(DAYS[5].date()))
    assert data.codes == ("000001.SZ", "600000.SH")
    assert any("no bars in the run window: 600000.SH" in w for w in data.warnings)


def test_forward_adjustment_anchored_at_last_bar_up_to_end(write_stock: WriteStock) -> None:
    frame = bars(DAYS[:4], [10.0, 10.0, 5.0, 5.0], adj_factor=[1.0, 1.0, 2.0, 2.0])
    frame.loc[3, "adj_factor"] = 4.0
    path = write_stock("000001_SZ.parquet", frame)
    full = load_market_data(path.parent)
    np.testing.assert_array_equal(full.close[:, 0], [10 * 1 / 4, 10 * 1 / 4, 5 * 2 / 4, 5.0])
    cut = load_market_data(path.parent, end=str(DAYS[2].date()))
    np.testing.assert_array_equal(cut.close[:, 0], [10 * 1 / 2, 10 * 1 / 2, 5.0])
    raw = load_market_data(path.parent, adjust="none")
    np.testing.assert_array_equal(raw.close[:, 0], [10.0, 10.0, 5.0, 5.0])


def test_adjustment_uses_the_literal_formula(write_stock: WriteStock) -> None:
    price, factor, last = 12.34, 1.7, 3.1
    frame = bars(DAYS[:2], [price, 20.0], adj_factor=[factor, last])
    path = write_stock("000001_SZ.parquet", frame)
    assert load_market_data(path.parent).close[0, 0] == price * factor / last


@st.composite
def universes(draw: st.DrawFn) -> list[np.ndarray]:
    n = draw(st.integers(1, 6))
    return [np.array(sorted(draw(st.sets(st.integers(19000, 19060), max_size=25))), np.int64)
            for _ in range(n)]


@settings(max_examples=150, deadline=None)
@given(universes())
def test_every_bar_lands_once_and_tradable_iff_bar(days: list[np.ndarray]) -> None:
    sid = np.repeat(np.arange(len(days)), [d.size for d in days])
    dates = np.concatenate(days)
    close = np.arange(dates.size, dtype=float) + 1.0  # unique value per bar
    values = {k: close for k in ("open", "high", "low", "close", "volume")}
    values["up_limit"], values["down_limit"] = close + 0.5, close - 0.5
    out = align(dates, sid, values, len(days))
    assert out.calendar.tolist() == sorted(set(dates.tolist()))
    assert int(out.tradable.sum()) == dates.size
    assert (out.tradable == ~np.isnan(out.prices[3])).all()
    cells = out.prices[3][out.tradable]
    assert sorted(cells.tolist()) == close.tolist()  # each bar exactly once
    for j, d in enumerate(days):
        rows = np.searchsorted(out.calendar, d)
        assert out.tradable[:, j].sum() == d.size and out.tradable[rows, j].all()
        np.testing.assert_array_equal(out.prices[5][rows, j], out.prices[3][rows, j] + 0.5)
        np.testing.assert_array_equal(out.prices[6][rows, j], out.prices[3][rows, j] - 0.5)


def test_limit_planes_priced_block_by_block_equal_whole_columns() -> None:
    # More bars than one block (engine.data.blocks.BLOCK), so blocks meet inside a stock.
    days = np.arange(19000, 19000 + 60_000, dtype=np.int64)
    dates = np.concatenate([days, days[::3]])
    sid = np.repeat([0, 1], [days.size, days[::3].size])
    close = np.arange(dates.size, dtype=float) + 1.0
    values = {k: close for k in ("open", "high", "low", "close", "volume")}
    up, down = close * 1.1, close * 0.9
    whole = align(dates, sid, {**values, "up_limit": up, "down_limit": down}, 2)
    seen: list[slice] = []

    def limits(block: slice) -> tuple[np.ndarray, np.ndarray]:
        seen.append(block)
        return up[block], down[block]

    blocked = align(dates, sid, dict(values), 2, limits=limits)
    assert len(seen) > 1 and seen[0].start == 0 and seen[-1].stop == dates.size
    np.testing.assert_array_equal(blocked.prices, whole.prices)
    np.testing.assert_array_equal(blocked.tradable, whole.tradable)


def test_bars_picked_by_index_align_as_the_picked_columns_do() -> None:
    rng = np.random.default_rng(3)
    days = np.arange(19000, 19000 + 50_000, dtype=np.int64)
    rows = {"dates": np.concatenate([days, days]), "sid": np.repeat([0, 1], days.size)}
    values = {k: rng.random(2 * days.size) for k in ("open", "high", "low", "close", "volume",
                                                      "up_limit", "down_limit")}
    index = np.flatnonzero(rng.random(2 * days.size) < 0.7).astype(np.int32)
    picked = align(rows["dates"][index], rows["sid"][index],
                   {k: v[index] for k, v in values.items()}, 2)
    indexed = align(rows["dates"][index], rows["sid"][index], dict(values), 2, index=index)
    np.testing.assert_array_equal(indexed.prices, picked.prices)
    np.testing.assert_array_equal(indexed.tradable, picked.tradable)


@pytest.mark.parametrize("cores", [1, 2, 5])
def test_planes_and_day_positions_are_the_same_on_any_number_of_cores(
        monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    # Bars over many blocks (the planes, their NaN fill and the day positions are made
    # block by block on the cores), against a plain NumPy reference.
    monkeypatch.setattr("engine.data.blocks.os.cpu_count", lambda: cores)
    rng = np.random.default_rng(5)
    n_stocks, n_days = 300, 4000
    keep = rng.random((n_stocks, n_days)) < 0.9
    sid = np.repeat(np.arange(n_stocks, dtype=np.int32), keep.sum(axis=1))
    dates = (19000 + np.nonzero(keep)[1]).astype(np.int32)
    values = {k: rng.random(sid.size) for k in ("open", "high", "low", "close", "volume",
                                                 "up_limit", "down_limit")}
    calendar, positions = day_positions(dates)
    np.testing.assert_array_equal(calendar, np.unique(dates))
    np.testing.assert_array_equal(positions, np.searchsorted(calendar, dates))
    out = align(dates, sid, dict(values), n_stocks)
    assert sid.size > 16 * BLOCK  # threaded
    for k, name in enumerate(PLANES):
        expected = np.full((calendar.size, n_stocks), np.nan)
        expected[positions, sid] = values[name]
        np.testing.assert_array_equal(out.prices[k], expected)
    expected_tradable = np.zeros((calendar.size, n_stocks), dtype=bool)
    expected_tradable[positions, sid] = True
    np.testing.assert_array_equal(out.tradable, expected_tradable)
