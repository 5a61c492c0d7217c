"""Whole runs match the plain-Python reference fill for fill on generated universes that
cross the rule changes of SPEC §4, with every optional rule column: pre_close ex-dates,
ST flags and names, listing dates and a file's own limits."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.datagen.universe import generate_frames
from engine.run.backtest import run_backtest
from tests.reference import (
    Params,
    StockFile,
    limits_of_stock,
    rsi_reference,
    signals_reference,
    simulate_reference,
)

#: Windows that cross the stamp-tax, transfer-fee, ChiNext, registration and ST changes.
WINDOWS = {
    "2008": ("2008-03-03", "2008-12-31"),
    "2015": ("2015-05-04", "2015-10-30"),
    "2020": ("2020-06-01", "2020-11-30"),
    "2023": ("2022-12-01", "2023-10-31"),
    "2026": ("2026-04-01", "2026-08-31"),
}
PERIOD, OVERSOLD, OVERBOUGHT = 4, 35.0, 65.0


def _augment(frames: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Add the optional rule columns to some stocks, each stock a different mix."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (code, frame) in enumerate(frames.items()):
        frame = frame.copy()
        n = len(frame)
        prev = frame["close"].shift(1).to_numpy()
        # Opens at or next to the limits of every board and of ST days.
        jump = rng.random(n) < 0.08
        moved = np.round(prev * rng.choice([0.95, 1.05, 0.9, 1.1, 0.8, 1.2, 0.7, 1.3], n), 2)
        frame["open"] = np.where(jump & ~np.isnan(prev), moved, frame["open"])
        frame["high"] = np.maximum(frame["high"], frame["open"])
        frame["low"] = np.minimum(frame["low"], frame["open"])
        if i % 2 == 0:  # ex-dividend days: the exchange's reference is below the last close
            ex = rng.random(n) < 0.05
            frame["pre_close"] = np.where(ex, np.round(prev * 0.97, 2), prev)
        a, b = sorted(rng.integers(0, n, 2))
        if i % 3 == 1:
            frame["is_st"] = ((np.arange(n) >= a) & (np.arange(n) < b)).astype(int)
        elif i % 3 == 2:
            frame["name"] = np.where((np.arange(n) >= a) & (np.arange(n) < b), "*ST样本", "样本")
        if i % 4 == 0:
            frame["list_date"] = frame["date"].iloc[0].strftime("%Y%m%d")
        elif i % 4 == 2:  # listed mid-window: the file starts on its listing day
            frame = frame.iloc[n // 3:].reset_index(drop=True)
            frame["list_date"] = frame["date"].iloc[0]
        if i == len(frames) - 1:  # the file's own limits, with a day without any
            up = np.round(prev * 1.1, 2)
            down = np.round(prev * 0.9, 2)
            up[n // 2] = down[n // 2] = np.nan
            frame["up_limit"], frame["down_limit"] = up, down
        out[code] = frame
    return out


def _stock_file(code: str, frame: pd.DataFrame, end: dt.date) -> StockFile:
    rows = frame[(frame["date"].dt.date <= end) & (frame["volume"] > 0)]
    st = None
    if "is_st" in rows:
        st = [v == 1 for v in rows["is_st"]]
    elif "name" in rows:
        st = ["ST" in v for v in rows["name"]]
    list_date = None
    if "list_date" in rows:
        list_date = pd.Timestamp(str(rows["list_date"].iloc[0])).date()
    own = None
    if "up_limit" in rows:
        own = (rows["up_limit"].tolist(), rows["down_limit"].tolist())
    return StockFile(code, [d.date() for d in rows["date"]], rows["close"].tolist(),
                     rows["pre_close"].tolist() if "pre_close" in rows else None, st,
                     list_date, own)


def _reference(frames: dict[str, pd.DataFrame], start: dt.date, end: dt.date,
               p: Params) -> tuple[list[dt.date], list[str], object]:
    codes = sorted(frames)
    files = [_stock_file(c, frames[c], end) for c in codes]
    calendar = sorted({d for f in files for d in f.dates})
    row = {d: t for t, d in enumerate(calendar)}
    shape = (len(calendar), len(codes))
    open_, close = np.full(shape, np.nan), np.full(shape, np.nan)
    up, down = np.full(shape, np.nan), np.full(shape, np.nan)
    for s, (code, f) in enumerate(zip(codes, files, strict=True)):
        rows = frames[code][frames[code]["date"].dt.date <= end]
        rows = rows[rows["volume"] > 0]
        ups, downs = limits_of_stock(f)
        for i, d in enumerate(f.dates):
            open_[row[d], s] = rows["open"].iloc[i]
            close[row[d], s] = rows["close"].iloc[i]
            up[row[d], s], down[row[d], s] = ups[i], downs[i]
    tradable = ~np.isnan(close)
    start_index = next(t for t, d in enumerate(calendar) if d >= start)
    rsi = rsi_reference(close, tradable, PERIOD)
    buy, sell = signals_reference(rsi, tradable, start_index, OVERSOLD, OVERBOUGHT)
    m = {"open": open_, "close": close, "up_limit": up, "down_limit": down,
         "tradable": tradable, "rsi": rsi, "buy": buy, "sell": sell, "dates": calendar,
         "codes": codes}
    return calendar, codes, simulate_reference(m, start_index, p)


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("mode", ["shared", "per_stock"])
@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_runs_follow_the_dated_rules_exactly_like_the_reference(
        tmp_path: Path, window: str, mode: str, fill: str) -> None:
    first, last = WINDOWS[window]
    frames = _augment(generate_frames(14, first, last, seed=int(window)), seed=int(window))
    folder = tmp_path / "data"
    folder.mkdir()
    for code, frame in frames.items():
        frame.to_parquet(folder / f"{code.replace('.', '_')}.parquet", index=False)
    start = (pd.Timestamp(first) + pd.Timedelta(days=20)).date()
    end = pd.Timestamp(last).date()
    p = replace(Params(), mode=mode, fill=fill, position_pct=0.25, max_positions=4,
                stamp_tax_rate="schedule", transfer_fee_rate="schedule", lot_size="board")
    calendar, codes, expected = _reference(frames, start, end, p)
    result = run_backtest(BacktestConfig(
        data_dir=folder, start=start, end=end, period=PERIOD, oversold=OVERSOLD,
        overbought=OVERBOUGHT, capital_mode=mode, fill=fill, position_pct=0.25,
        max_positions=4, workers=1))
    row = {d: t for t, d in enumerate(calendar)}
    got = [(row[f.date.date()], codes.index(f.code), str(f.side), f.shares, f.price,
            f.commission, f.tax, f.cash_after, f.transfer_fee)
           for f in result.fills.itertuples()]
    assert len(got) >= 8
    assert got == expected.fills  # type: ignore[attr-defined]
    assert np.array_equal(result.equity["equity"].to_numpy(),
                          expected.equity)  # type: ignore[attr-defined]


def test_parity_universes_exercise_every_rule() -> None:
    """Guards the parity test against going vacuous: the augmented universes hold every
    optional column, and their runs meet both limits, odd STAR/BJ lots and every cost."""
    seen_columns: set[str] = set()
    reasons: set[str] = set()
    odd_lots = buy_tax = fees = 0
    for window, (first, last) in WINDOWS.items():
        frames = _augment(generate_frames(14, first, last, seed=int(window)), int(window))
        for frame in frames.values():
            seen_columns |= set(frame.columns)
        start = (pd.Timestamp(first) + pd.Timedelta(days=20)).date()
        p = replace(Params(), mode="per_stock", stamp_tax_rate="schedule",
                    transfer_fee_rate="schedule", lot_size="board")
        _, _, expected = _reference(frames, start, pd.Timestamp(last).date(), p)
        reasons |= {r[3] for r in expected.rejections}  # type: ignore[attr-defined]
        fills = expected.fills  # type: ignore[attr-defined]
        odd_lots += sum(f[3] % 100 != 0 for f in fills)
        buy_tax += sum(f[2] == "buy" and f[6] > 0 for f in fills)
        fees += sum(f[8] > 0 for f in fills)
    assert {"pre_close", "is_st", "name", "list_date", "up_limit", "down_limit"} <= seen_columns
    assert {"limit_up", "limit_down"} <= reasons
    assert odd_lots > 10 and buy_tax > 10 and fees > 10
