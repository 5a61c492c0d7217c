"""Result tables of SPEC §6 from hand-made fill and rejection records on a tiny calendar."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.kernels.records import Reason, Side, fill_dt, rejection_dt
from engine.results.tables import (
    FILL_COLUMNS,
    REJECTION_COLUMNS,
    TRADE_COLUMNS,
    fills_table,
    rejections_table,
    trade_arrays,
    trades_table,
)

NAN = math.nan
BUY, SELL = int(Side.BUY), int(Side.SELL)

DATES = np.array(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08",
                  "2024-01-09"], dtype="datetime64[D]")
CODES = ("000001.SZ", "300750.SZ", "600000.SH")

#: Closes per calendar row (NaN = no bar). 300750.SZ is suspended on row 1;
#: 600000.SH lists on row 2 and is suspended on the last row.
CLOSE = np.array([
    # 000001  300750  600000
    [19.5, 10.2, NAN],
    [20.5, NAN, NAN],
    [19.0, 11.1, 49.0],
    [18.2, 12.1, 51.0],
    [19.2, 12.5, 52.5],
    [21.0, 13.2, NAN],
])
TRADABLE = ~np.isnan(CLOSE)


def _fills(rows: list[tuple]) -> np.ndarray:
    """Fill records from (day, stock, side, shares, price, commission, tax, cash_after)
    rows, with a transfer fee of 0 unless a row gives it last."""
    return np.array([(*r[:7], r[8] if len(r) > 8 else 0.0, r[7], -1 if r[2] == 0 else 0)
                     for r in rows], dtype=fill_dt)


def trades_frame(records: np.ndarray, dates: np.ndarray, codes: tuple[str, ...],
                 close: np.ndarray, tradable: np.ndarray) -> pd.DataFrame:
    """Round trips from fills (``trade_arrays``) as the trades table, a DataFrame."""
    return trades_table(trade_arrays(records, close, tradable), dates, codes).to_pandas()


def _day(i: int) -> pd.Timestamp:
    return pd.Timestamp(str(DATES[i]))


def _fill_records() -> np.ndarray:
    """Execution order, several stocks interleaved; sells before buys within a day."""
    return _fills([
        # day, stock, side, shares, price, commission, tax, cash_after
        (0, 1, BUY, 200, 10.0, 5.0, 0.0, 7995.0),
        (1, 0, BUY, 100, 20.0, 5.0, 0.0, 5990.0),
        (2, 1, SELL, 200, 11.0, 5.0, 1.1, 8183.9),
        (3, 0, SELL, 100, 18.0, 5.0, 0.9, 9978.0),
        (3, 1, BUY, 300, 12.0, 5.0, 0.0, 6373.0),
        (4, 2, BUY, 100, 50.0, 5.0, 0.0, 1368.0),   # recorded before 000001's buy
        (4, 0, BUY, 100, 19.0, 5.0, 0.0, -537.0),
        (5, 1, SELL, 300, 13.0, 5.0, 1.95, 3356.05),
    ])


# --------------------------------------------------------------- fills and rejections


def test_fills_frame_columns_and_values() -> None:
    frame = fills_table(_fill_records(), DATES, CODES).to_pandas()
    assert list(frame.columns) == list(FILL_COLUMNS)
    assert len(frame) == 8
    assert list(frame["date"]) == [_day(d) for d in (0, 1, 2, 3, 3, 4, 4, 5)]
    assert list(frame["code"]) == ["300750.SZ", "000001.SZ", "300750.SZ", "000001.SZ",
                                   "300750.SZ", "600000.SH", "000001.SZ", "300750.SZ"]
    assert [str(s) for s in frame["side"]] == ["buy", "buy", "sell", "sell", "buy", "buy",
                                               "buy", "sell"]
    assert list(frame["shares"]) == [200, 100, 200, 100, 300, 100, 100, 300]
    assert list(frame["price"]) == [10.0, 20.0, 11.0, 18.0, 12.0, 50.0, 19.0, 13.0]
    assert list(frame["commission"]) == [5.0] * 8
    assert list(frame["tax"]) == [0.0, 0.0, 1.1, 0.9, 0.0, 0.0, 0.0, 1.95]
    assert list(frame["cash_after"]) == [7995.0, 5990.0, 8183.9, 9978.0, 6373.0, 1368.0,
                                         -537.0, 3356.05]


def test_fills_frame_empty() -> None:
    frame = fills_table(np.zeros(0, dtype=fill_dt), DATES, CODES).to_pandas()
    assert list(frame.columns) == list(FILL_COLUMNS)
    assert len(frame) == 0


def test_rejections_frame_names_every_reason() -> None:
    records = np.array([
        (0, 0, BUY, int(Reason.LOT)),
        (1, 1, BUY, int(Reason.LIMIT_UP)),
        (2, 2, SELL, int(Reason.LIMIT_DOWN)),
        (3, 1, SELL, int(Reason.SUSPENDED)),
        (4, 0, SELL, int(Reason.T1)),
        (5, 2, BUY, int(Reason.MAX_POSITIONS)),
    ], dtype=rejection_dt)
    frame = rejections_table(records, DATES, CODES).to_pandas()
    assert list(frame.columns) == list(REJECTION_COLUMNS)
    assert list(frame["date"]) == [_day(d) for d in range(6)]
    assert list(frame["code"]) == ["000001.SZ", "300750.SZ", "600000.SH", "300750.SZ",
                                   "000001.SZ", "600000.SH"]
    assert [str(s) for s in frame["side"]] == ["buy", "buy", "sell", "sell", "sell", "buy"]
    assert [str(r) for r in frame["reason"]] == ["lot", "limit_up", "limit_down", "suspended",
                                                 "t+1", "max_positions"]


def test_rejections_frame_keeps_record_order_and_repeats() -> None:
    # a rejected sell retried on the stock's following bars: one row per attempt
    records = np.array([
        (3, 2, SELL, int(Reason.LIMIT_DOWN)),
        (4, 2, SELL, int(Reason.LIMIT_DOWN)),
        (4, 0, BUY, int(Reason.LOT)),
    ], dtype=rejection_dt)
    frame = rejections_table(records, DATES, CODES).to_pandas()
    assert list(frame["date"]) == [_day(3), _day(4), _day(4)]
    assert list(frame["code"]) == ["600000.SH", "600000.SH", "000001.SZ"]
    assert [str(r) for r in frame["reason"]] == ["limit_down", "limit_down", "lot"]


def test_rejections_frame_empty() -> None:
    frame = rejections_table(np.zeros(0, dtype=rejection_dt), DATES, CODES).to_pandas()
    assert list(frame.columns) == list(REJECTION_COLUMNS)
    assert len(frame) == 0


# --------------------------------------------------------------- trades


def test_trades_frame_pairs_round_trips_by_hand() -> None:
    frame = trades_frame(_fill_records(), DATES, CODES, CLOSE, TRADABLE)
    assert list(frame.columns) == list(TRADE_COLUMNS)
    # sorted by entry date, then code (600000.SH was recorded before 000001.SZ on row 4)
    assert list(frame["code"]) == ["300750.SZ", "000001.SZ", "300750.SZ", "000001.SZ",
                                   "600000.SH"]
    assert list(frame["entry_date"]) == [_day(0), _day(1), _day(3), _day(4), _day(4)]
    assert list(frame["entry_price"]) == [10.0, 20.0, 12.0, 19.0, 50.0]
    assert list(frame["exit_date"]) == [_day(2), _day(3), _day(5), _day(5), _day(5)]
    # open positions: 000001.SZ at its last close 21.0; 600000.SH (suspended on the
    # last day) at its last known close 52.5 from row 4
    assert list(frame["exit_price"]) == [11.0, 18.0, 13.0, 21.0, 52.5]
    assert list(frame["shares"]) == [200, 100, 300, 100, 100]
    assert list(frame["open"]) == [False, False, False, True, True]

    # pnl = exit notional - exit commission - exit tax - (entry notional + entry commission)
    pnl = [
        200 * 11.0 - 5.0 - 1.1 - (200 * 10.0 + 5.0),   # 2200 - 6.1 - 2005 = 188.9
        100 * 18.0 - 5.0 - 0.9 - (100 * 20.0 + 5.0),   # 1800 - 5.9 - 2005 = -210.9
        300 * 13.0 - 5.0 - 1.95 - (300 * 12.0 + 5.0),  # 3900 - 6.95 - 3605 = 288.05
        100 * 21.0 - (100 * 19.0 + 5.0),               # open, no exit costs: 195
        100 * 52.5 - (100 * 50.0 + 5.0),               # open, no exit costs: 245
    ]
    assert list(frame["pnl"]) == pytest.approx([188.9, -210.9, 288.05, 195.0, 245.0],
                                               rel=1e-12)
    assert list(frame["pnl"]) == pytest.approx(pnl, rel=1e-12)
    # return = pnl / entry cost (notional + commission)
    assert list(frame["return"]) == pytest.approx(
        [188.9 / 2005, -210.9 / 2005, 288.05 / 3605, 195 / 1905, 245 / 5005], rel=1e-12)
    # bars held: the stock's own bars after entry up to and including exit
    # 300750 rows 0 -> 2 with row 1 suspended: 1; 000001 rows 1 -> 3: 2;
    # 300750 rows 3 -> 5: 2; 000001 rows 4 -> 5: 1; 600000 rows 4 -> 5 (no bar on 5): 0
    assert list(frame["bars_held"]) == [1, 2, 2, 1, 0]


def test_trades_frame_several_round_trips_of_one_stock() -> None:
    close = np.array([[10.0], [11.0], [12.0], [13.0], [14.0], [15.0]])
    records = _fills([
        (0, 0, BUY, 100, 10.0, 5.0, 0.0, 0.0),
        (1, 0, SELL, 100, 11.0, 5.0, 0.55, 0.0),
        (2, 0, BUY, 200, 12.0, 5.0, 0.0, 0.0),
        (4, 0, SELL, 200, 14.0, 5.0, 1.4, 0.0),
        (5, 0, BUY, 100, 15.0, 5.0, 0.0, 0.0),
    ])
    frame = trades_frame(records, DATES, ("000001.SZ",), close, np.ones((6, 1), bool))
    assert list(frame["entry_date"]) == [_day(0), _day(2), _day(5)]
    assert list(frame["exit_date"]) == [_day(1), _day(4), _day(5)]
    assert list(frame["open"]) == [False, False, True]
    assert list(frame["bars_held"]) == [1, 2, 0]
    # 1100 - 5.55 - 1005 = 89.45; 2800 - 6.4 - 2405 = 388.6; open at 15: 1500 - 1505 = -5
    assert list(frame["pnl"]) == pytest.approx([89.45, 388.6, -5.0], rel=1e-12)
    assert list(frame["return"]) == pytest.approx([89.45 / 1005, 388.6 / 2405, -5 / 1505],
                                                  rel=1e-12)


def test_trades_frame_interleaved_stocks_pair_by_stock() -> None:
    # two stocks bought on the same day, sold in the opposite order on different days
    close = np.full((6, 2), 10.0)
    records = _fills([
        (0, 0, BUY, 100, 10.0, 5.0, 0.0, 0.0),
        (0, 1, BUY, 100, 20.0, 5.0, 0.0, 0.0),
        (2, 1, SELL, 100, 22.0, 5.0, 1.1, 0.0),
        (3, 1, BUY, 100, 21.0, 5.0, 0.0, 0.0),
        (4, 0, SELL, 100, 9.0, 5.0, 0.45, 0.0),
        (5, 1, SELL, 100, 25.0, 5.0, 1.25, 0.0),
    ])
    frame = trades_frame(records, DATES, ("000001.SZ", "000002.SZ"), close,
                         np.ones((6, 2), bool))
    rows = list(zip(frame["code"], frame["entry_date"], frame["exit_date"],
                    frame["exit_price"], frame["bars_held"], strict=True))
    assert rows == [
        ("000001.SZ", _day(0), _day(4), 9.0, 4),
        ("000002.SZ", _day(0), _day(2), 22.0, 2),
        ("000002.SZ", _day(3), _day(5), 25.0, 2),
    ]
    assert not frame["open"].any()
    # 900 - 5.45 - 1005 = -110.45; 2200 - 6.1 - 2005 = 188.9; 2500 - 6.25 - 2105 = 388.75
    assert list(frame["pnl"]) == pytest.approx([-110.45, 188.9, 388.75], rel=1e-12)


def test_trades_frame_open_position_suspended_for_several_days() -> None:
    # bought on row 1 at 10; last bar on row 2 (close 11); suspended rows 3-5
    close = np.array([[9.0], [10.0], [11.0], [NAN], [NAN], [NAN]])
    records = _fills([(1, 0, BUY, 300, 10.0, 5.0, 0.0, 0.0)])
    frame = trades_frame(records, DATES, ("688001.SH",), close, ~np.isnan(close))
    assert len(frame) == 1
    row = frame.iloc[0]
    assert bool(row["open"])
    assert row["exit_date"] == _day(5)
    assert row["exit_price"] == 11.0
    assert row["bars_held"] == 1
    # 300 * 11 - (300 * 10 + 5) = 295
    assert row["pnl"] == pytest.approx(295.0, rel=1e-12)
    assert row["return"] == pytest.approx(295 / 3005, rel=1e-12)


def test_trades_frame_empty() -> None:
    frame = trades_frame(np.zeros(0, dtype=fill_dt), DATES, CODES, CLOSE, TRADABLE)
    assert list(frame.columns) == list(TRADE_COLUMNS)
    assert len(frame) == 0
