"""Tests of the synthetic A-share universe generator (engine.datagen.universe)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.data import load_market_data
from engine.datagen.universe import generate_frames, generate_universe, trading_calendar
from tests.reference import rsi_of_bars

COLUMNS = ["ts_code", "date", "open", "high", "low", "close", "volume"]
BOARD_PATTERNS = {
    "main": r"(60[0135]\d{3}\.SH|00[012]\d{3}\.SZ)",
    "chinext": r"30[01]\d{3}\.SZ",
    "star": r"68[89]\d{3}\.SH",
    "bj": r"(43|83|87|92)\d{4}\.BJ",
}


@pytest.fixture(scope="module")
def universe() -> dict[str, pd.DataFrame]:
    """60 stocks over the predecessor's 3.5-year window."""
    return generate_frames(60, "2022-08-01", "2026-02-04", seed=7)


@pytest.fixture(scope="module")
def three_years() -> dict[str, pd.DataFrame]:
    """150 stocks over three years, enough for stable averages."""
    return generate_frames(150, "2023-02-06", "2026-02-04", seed=3)


def _board(code: str) -> str:
    matches = [name for name, pattern in BOARD_PATTERNS.items() if re.fullmatch(pattern, code)]
    assert len(matches) == 1, code
    return matches[0]


#: Limit widths from 2020-08-24 on (the windows of these tests), no ST.
WIDTHS = {"main": 0.10, "chinext": 0.20, "star": 0.20, "bj": 0.30}


def _limits(code: str, prev_close: float) -> tuple[float, float]:
    """Limit-down and limit-up of a bar, spelled as SPEC section 4 states them (half up)."""
    ratio = WIDTHS[_board(code)]
    return (math.floor(prev_close * (1 - ratio) * 100 + 0.500001) / 100,
            math.floor(prev_close * (1 + ratio) * 100 + 0.500001) / 100)


def test_same_seed_gives_identical_frames_and_another_seed_does_not() -> None:
    first = generate_frames(15, "2024-01-02", "2024-12-31", seed=11)
    again = generate_frames(15, "2024-01-02", "2024-12-31", seed=11)
    other = generate_frames(15, "2024-01-02", "2024-12-31", seed=12)
    assert list(first) == list(again)
    for code, frame in first.items():
        pd.testing.assert_frame_equal(frame, again[code])
    assert not first["000001.SZ"]["close"].equals(other["000001.SZ"]["close"])
    assert list(first) != list(other)


def test_codes_are_unique_canonical_and_mixed_over_boards() -> None:
    frames = generate_frames(1000, "2024-03-01", "2024-03-08", seed=1)
    codes = list(frames)
    assert codes[0] == "000001.SZ"
    assert codes == sorted(set(codes))
    share = pd.Series([_board(c) for c in codes]).value_counts(normalize=True)
    assert 0.50 <= share["main"] <= 0.65
    assert 0.17 <= share["chinext"] <= 0.23
    assert 0.12 <= share["star"] <= 0.18
    assert 0.05 <= share["bj"] <= 0.08
    assert all(frame["ts_code"].eq(code).all() for code, frame in frames.items())


def test_every_bar_stays_within_its_price_limits(universe: dict[str, pd.DataFrame]) -> None:
    for code, frame in universe.items():
        prices = frame[["open", "high", "low", "close"]].to_numpy().tolist()
        for row, (bar, prev_bar) in enumerate(zip(prices[1:], prices, strict=False), start=1):
            down, up = _limits(code, prev_bar[3])
            assert all(down <= p <= up for p in bar), (code, frame["date"].iloc[row], bar, down, up)


def test_prices_are_cents_and_bars_consistent(universe: dict[str, pd.DataFrame]) -> None:
    for code, frame in universe.items():
        assert list(frame.columns) == COLUMNS
        assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
        o, h, low, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
        for values in (o, h, low, c):
            assert values.dtype == np.float64
            assert not np.isnan(values).any(), code
            assert values.tolist() == [round(v, 2) for v in values.tolist()], code
        assert (h >= np.maximum(o, c)).all() and (low <= np.minimum(o, c)).all(), code
        assert low.min() >= 1.0, code
        assert (frame["volume"] > 0).all() and frame["volume"].dtype == np.int64, code


def test_daily_volatility_is_a_few_percent(three_years: dict[str, pd.DataFrame]) -> None:
    vols = [np.diff(np.log(f["close"].to_numpy())).std() for f in three_years.values()]
    assert 0.02 <= np.mean(vols) <= 0.03


def test_calendar_is_shared_weekdays_without_main_holidays(
    universe: dict[str, pd.DataFrame],
) -> None:
    calendar = trading_calendar("2022-08-01", "2026-02-04")
    union = pd.DatetimeIndex(sorted(set().union(*(f["date"] for f in universe.values()))))
    assert union.equals(pd.DatetimeIndex(calendar))
    assert (calendar.day_of_week < 5).all()
    assert not ((calendar.month == 10) & (calendar.day <= 7)).any()
    assert not ((calendar.month == 5) & (calendar.day <= 5)).any()
    assert not calendar.isin(pd.to_datetime(["2024-02-12", "2025-01-30"])).any()  # Spring Festival
    per_year = trading_calendar("2024-01-01", "2024-12-31").size
    assert 235 <= per_year <= 248


def test_ipos_delistings_and_suspensions_occur(three_years: dict[str, pd.DataFrame]) -> None:
    calendar = pd.DatetimeIndex(trading_calendar("2023-02-06", "2026-02-04"))
    n = len(three_years)
    ipo = delisted = suspended = 0
    for frame in three_years.values():
        position = calendar.get_indexer(frame["date"])
        assert (position >= 0).all()
        ipo += position[0] > 0
        delisted += position[-1] < calendar.size - 1
        gaps = np.diff(position) - 1
        suspended += (gaps > 0).any()
        assert gaps.max() <= 60  # at most three episodes of up to 20 bars each
    assert 0.04 <= ipo / n <= 0.18
    assert 0.01 <= delisted / n <= 0.10
    assert 0.10 <= suspended / n <= 0.32
    assert three_years["000001.SZ"]["date"].tolist() == calendar.tolist()  # never suspended


def test_some_bars_open_and_close_at_the_limit(three_years: dict[str, pd.DataFrame]) -> None:
    bars = up_open = down_open = up_close = down_close = 0
    for code, frame in three_years.items():
        rows = frame[["open", "close"]].to_numpy().tolist()
        for (open_, close), (_, prev_close) in zip(rows[1:], rows, strict=False):
            down, up = _limits(code, prev_close)
            bars += 1
            up_open += open_ == up
            down_open += open_ == down
            up_close += close == up
            down_close += close == down
    assert 0.003 <= up_open / bars <= 0.01
    assert 0.003 <= down_open / bars <= 0.01
    assert up_close > 0 and down_close > 0


def test_rsi_crosses_its_zones_often(three_years: dict[str, pd.DataFrame]) -> None:
    buys, sells = [], []
    for frame in three_years.values():
        rsi = np.array(rsi_of_bars(frame["close"].tolist(), 14, "wilder"))
        before, now = rsi[:-1], rsi[1:]
        buys.append(((before <= 30) & (now > 30)).sum())
        sells.append(((before >= 70) & (now < 70)).sum())
    assert np.mean(buys) >= 10
    assert np.mean(sells) >= 10


def test_generate_universe_writes_a_data_folder(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "demo"
    paths = generate_universe(out, 12, "2024-01-02", "2024-06-28", seed=4)
    frames = generate_frames(12, "2024-01-02", "2024-06-28", seed=4)
    assert [p.name for p in paths] == [c.replace(".", "_") + ".parquet" for c in frames]
    assert all(re.fullmatch(r"\d{6}_(SH|SZ|BJ)\.parquet", p.name) for p in paths)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in paths] + ["stock_list.txt"]
    )
    assert (out / "stock_list.txt").read_text("utf-8").splitlines() == list(frames)
    for path, (code, frame) in zip(paths, frames.items(), strict=True):
        table = pq.read_table(path)
        assert table.column_names == COLUMNS
        back = table.to_pandas()
        assert pd.api.types.is_datetime64_any_dtype(back["date"])
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)
        assert back["ts_code"].eq(code).all()


def test_short_window_has_every_stock_on_every_day() -> None:
    frames = generate_frames(40, "2024-01-02", "2024-03-01", seed=2)
    calendar = trading_calendar("2024-01-02", "2024-03-01")
    assert all(frame["date"].tolist() == calendar.tolist() for frame in frames.values())


def test_generated_folder_loads_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    generate_universe(out, 25, "2023-06-01", "2024-06-28", seed=6)
    data = load_market_data(out, out / "stock_list.txt", on_bad_stock="fail", use_cache=False)
    assert list(data.codes) == (out / "stock_list.txt").read_text("utf-8").split()
    assert len(data.excluded) == 0 and not data.warnings


@pytest.mark.parametrize(
    ("n_stocks", "start", "end"),
    [
        (0, "2024-01-02", "2024-02-01"),
        (5, "2024-02-01", "2024-01-02"),
        (5, "2024-10-01", "2024-10-07"),
    ],
)
def test_bad_arguments_are_rejected(n_stocks: int, start: str, end: str) -> None:
    with pytest.raises(ValueError):
        generate_frames(n_stocks, start, end)


def _wilder_rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Wilder's RSI with plain pandas: seeded by the first ``period`` moves' mean."""
    move = close.diff()
    averages = []
    for side in (move.clip(lower=0.0), (-move).clip(lower=0.0)):
        seed = pd.Series([side.iloc[1 : period + 1].mean()], index=[side.index[period]])
        averages.append(
            pd.concat([seed, side.iloc[period + 1 :]]).ewm(alpha=1 / period, adjust=False).mean()
        )
    gain, loss = averages
    return (100 - 100 / (1 + gain / loss)).reindex(close.index)


def test_returns_look_real_and_rsi_signals_are_no_money_machine() -> None:
    """Daily returns are nearly unpredictable, a few percent a day, fat-tailed and
    clustered; an RSI(14) buy crossing predicts little of the next 10 days."""
    frames = generate_frames(100, "2022-08-01", "2026-02-04", seed=5)
    returns = [np.diff(np.log(f["close"].to_numpy())) for f in frames.values()]

    autocorr = [
        np.mean([np.corrcoef(r[:-lag], r[lag:])[0, 1] for r in returns]) for lag in range(1, 21)
    ]
    assert np.abs(autocorr).max() < 0.15, np.round(autocorr, 3)
    assert 0.019 <= np.mean([r.std() for r in returns]) <= 0.032  # 30-50% a year
    pooled = pd.Series(np.concatenate(returns))
    assert pooled.kurt() > 3  # fat tails
    clustering = np.mean([np.corrcoef(np.abs(r[:-1]), np.abs(r[1:]))[0, 1] for r in returns])
    assert clustering > 0.05  # volatility comes in spells

    forward = []
    for frame in frames.values():
        close = frame["close"].reset_index(drop=True)
        rsi = _wilder_rsi(close)
        buy = (rsi.shift(1) <= 30) & (rsi > 30)
        forward.extend((close.shift(-10) / close - 1)[buy].dropna().tolist())
    assert len(forward) >= 10 * len(frames)
    assert abs(np.mean(forward)) < 0.015, np.mean(forward)
