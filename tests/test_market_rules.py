"""The exchange's rules by date (SPEC §4): one test per rule and per date boundary, on the
rule tables, on loaded files and through whole runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.data import load_market_data
from engine.kernels.simulate_nb import buy_shares_nb
from engine.rules.rulebook import (
    BJ,
    CHINEXT,
    MAIN,
    STAR,
    board_indices,
    board_of,
    cost_rates,
    day,
    limit_prices,
    limit_widths,
    lot_rules,
)
from engine.run.backtest import run_backtest
from tests.conftest import WriteStock, bars

# ------------------------------------------------------------------ rounding


@pytest.mark.parametrize("width", [0.05, 0.10, 0.20, 0.30])
def test_half_up_limits_equal_decimal_arithmetic_for_every_price_to_5000(width: float) -> None:
    cents = np.arange(1, 500_001, dtype=np.int64)  # 0.01 .. 5,000.00
    ref = cents / 100.0
    up, down = limit_prices(ref, np.full(ref.shape, width))
    w = round(width * 100)
    # Decimal half up, in integers: ref * (1 +/- L) in cents is cents * (100 +/- w) / 100.
    exact_up = (cents * (100 + w) + 50) // 100
    exact_down = (cents * (100 - w) + 50) // 100
    assert np.array_equal(up, exact_up / 100.0)
    assert np.array_equal(down, exact_down / 100.0)


def test_half_up_ties_go_up() -> None:
    # 14.35 * 1.1 = 15.785 and 0.45 * 1.1 = 0.495 exactly in decimal: ties round up.
    up, _ = limit_prices(np.array([14.35, 0.45]), np.array([0.10, 0.10]))
    assert up.tolist() == [15.79, 0.50]
    assert [float(v) for v in limit_prices(14.35, 0.10)] == [15.79, 12.92]  # one price


def test_no_reference_price_means_no_limit() -> None:
    up, down = limit_prices(np.array([np.nan]), np.array([0.1]))
    assert np.isnan(up[0]) and np.isnan(down[0])


# --------------------------------------------------------------- boards and widths


@pytest.mark.parametrize(("code", "board"), [
    ("600000.SH", MAIN), ("601318.SH", MAIN), ("603288.SH", MAIN), ("605499.SH", MAIN),
    ("000001.SZ", MAIN), ("001979.SZ", MAIN), ("002594.SZ", MAIN), ("003816.SZ", MAIN),
    ("300750.SZ", CHINEXT), ("301001.SZ", CHINEXT), ("302132.SZ", CHINEXT),
    ("688981.SH", STAR), ("689009.SH", STAR), ("430047.BJ", BJ), ("830799.BJ", BJ),
    ("920001.BJ", BJ),
])
def test_board_by_code(code: str, board: str) -> None:
    assert board_of(code) == board


def _width(code: str, iso: str, st: bool = False) -> float:
    return float(limit_widths(board_indices([code]), np.array([day(iso)]), np.array([st]))[0])


@pytest.mark.parametrize(("code", "iso", "st", "width"), [
    ("600000.SH", "2015-06-01", False, 0.10),
    ("600000.SH", "2026-07-03", True, 0.05),   # the last trading day before the change
    ("600000.SH", "2026-07-06", True, 0.10),   # main-board ST at 10% from 2026-07-06
    ("000001.SZ", "2026-07-06", False, 0.10),
    ("300750.SZ", "2020-08-21", False, 0.10),  # ChiNext at 10% until 2020-08-21
    ("300750.SZ", "2020-08-24", False, 0.20),  # ... and 20% from 2020-08-24
    ("300750.SZ", "2020-08-21", True, 0.05),
    ("300750.SZ", "2020-08-24", True, 0.20),
    ("300074.SZ", "2014-01-27", False, 0.10),
    ("688981.SH", "2021-03-01", False, 0.20),
    ("688981.SH", "2021-03-01", True, 0.20),
    ("830799.BJ", "2022-03-01", False, 0.30),
    ("830799.BJ", "2022-03-01", True, 0.30),
])
def test_limit_width_by_board_date_and_st(code: str, iso: str, st: bool, width: float) -> None:
    assert _width(code, iso, st) == width


# ------------------------------------------------------------------------ costs


def _rates(iso: str, stamp: float | str = "schedule",
           fee: float | str = "schedule") -> tuple[float, float, float]:
    r = cost_rates(np.array([day(iso)]), stamp, fee)
    return float(r.stamp_buy[0]), float(r.stamp_sell[0]), float(r.transfer_fee[0])


@pytest.mark.parametrize(("iso", "buy", "sell", "fee"), [
    ("2000-06-01", 0.004, 0.004, 0.0),
    ("2001-11-15", 0.004, 0.004, 0.0), ("2001-11-16", 0.002, 0.002, 0.0),
    ("2005-01-21", 0.002, 0.002, 0.0), ("2005-01-24", 0.001, 0.001, 0.0),
    ("2007-05-29", 0.001, 0.001, 0.0), ("2007-05-30", 0.003, 0.003, 0.0),
    ("2008-04-23", 0.003, 0.003, 0.0), ("2008-04-24", 0.001, 0.001, 0.0),
    ("2008-09-18", 0.001, 0.001, 0.0), ("2008-09-19", 0.0, 0.001, 0.0),
    ("2011-05-03", 0.0, 0.001, 0.0),
    ("2015-07-31", 0.0, 0.001, 0.0), ("2015-08-03", 0.0, 0.001, 0.00002),
    ("2022-04-28", 0.0, 0.001, 0.00002), ("2022-04-29", 0.0, 0.001, 0.00001),
    ("2023-08-25", 0.0, 0.001, 0.00001), ("2023-08-28", 0.0, 0.0005, 0.00001),
])
def test_stamp_tax_and_transfer_fee_schedule(iso: str, buy: float, sell: float,
                                             fee: float) -> None:
    assert _rates(iso) == (buy, sell, fee)


def test_explicit_stamp_tax_is_on_sells_and_explicit_transfer_fee_on_both_sides() -> None:
    assert _rates("2005-06-01", stamp=0.002, fee=0.00003) == (0.0, 0.002, 0.00003)


# ------------------------------------------------------------------------- lots


def test_lot_rules_by_board_and_uniform() -> None:
    codes = ["600000.SH", "300750.SZ", "688981.SH", "830799.BJ"]
    lot_min, step = lot_rules(codes, "board")
    assert lot_min.tolist() == [100, 100, 200, 100]
    assert step.tolist() == [100, 100, 1, 1]
    lot_min, step = lot_rules(codes, 50)
    assert lot_min.tolist() == step.tolist() == [50, 50, 50, 50]


def _shares(target: float, lot_min: int, step: int, price: float = 10.0) -> int:
    return buy_shares_nb(price, target, 1e9, lot_min, step, 0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(("shares", "bought"), [(199, 0), (200, 200), (201, 201)])
def test_star_buys_at_least_200_then_any_whole_number(shares: int, bought: int) -> None:
    assert _shares(shares * 10.0, 200, 1) == bought


@pytest.mark.parametrize(("shares", "bought"), [(99, 0), (100, 100), (101, 101)])
def test_bj_buys_at_least_100_then_any_whole_number(shares: int, bought: int) -> None:
    assert _shares(shares * 10.0, 100, 1) == bought


def test_main_board_buys_whole_lots_of_100() -> None:
    assert _shares(1990.0, 100, 100) == 100
    assert _shares(990.0, 100, 100) == 0


def test_sizing_counts_every_buy_side_cost() -> None:
    # 1,000 shares at 10 cost 10,000 + 5 commission + 10 stamp (both sides, 2008) + 0.2 fee.
    args = (10.0, 1e9, 0.0, 0.0001, 5.0, 0.001, 0.00002)
    assert buy_shares_nb(args[0], args[1], 10_015.2, 100, 100, *args[3:]) == 1000
    assert buy_shares_nb(args[0], args[1], 10_015.19, 100, 100, *args[3:]) == 900


def test_huge_capital_never_overflows_the_share_count() -> None:
    assert buy_shares_nb(10.0, 1e30, 1e30, 100, 100, 0.0003, 5.0, 0.0, 0.0) > 0


# --------------------------------------------------------------- loaded limits

SESSION = pd.bdate_range("2024-03-04", periods=8)


def _load(path_parent: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    data = load_market_data(path_parent, **kwargs)  # type: ignore[arg-type]
    return np.asarray(data.up_limit[:, 0]), np.asarray(data.down_limit[:, 0])


def test_st_days_from_an_is_st_column(write_stock: WriteStock) -> None:
    close = [10.0] * 8
    path = write_stock("600001_SH.parquet", bars(SESSION, close, is_st=[0, 0, 1, 1, 0, 0, 0, 0]))
    up, down = _load(path.parent)
    assert np.isnan(up[0])  # the first bar has no limit
    assert up.tolist()[1:5] == [11.0, 10.5, 10.5, 11.0]
    assert down.tolist()[1:5] == [9.0, 9.5, 9.5, 9.0]


def test_st_days_from_baostock_isst_text(write_stock: WriteStock) -> None:
    frame = bars(SESSION, [10.0] * 8)
    frame["isST"] = ["0", "1", "1", "0", "0", "0", "0", "0"]
    up, _ = _load(write_stock("600001_SH.csv", frame).parent)
    assert up.tolist()[1:4] == [10.5, 10.5, 11.0]


def test_st_days_from_a_name_column(write_stock: WriteStock) -> None:
    frame = bars(SESSION, [10.0] * 8)
    frame["name"] = ["平安", "平安", "*ST平安", "ST平安", "平安", "平安", "平安", "平安"]
    up, _ = _load(write_stock("600001_SH.parquet", frame).parent)
    assert up.tolist()[1:5] == [11.0, 10.5, 10.5, 11.0]


def test_pre_close_is_the_reference_on_an_ex_dividend_day(write_stock: WriteStock) -> None:
    # Day 3 goes ex-dividend: the exchange's reference is 9.50, not the last close 10.00.
    pre_close = [np.nan, 10.0, 10.0, 9.5, 9.6, 9.6, 9.6, 9.6]
    close = [10.0, 10.0, 10.0, 9.6, 9.6, 9.6, 9.6, 9.6]
    path = write_stock("600001_SH.parquet", bars(SESSION, close, pre_close=pre_close))
    up, down = _load(path.parent)
    assert (up[3], down[3]) == (10.45, 8.55)
    assert (up[2], down[2]) == (11.0, 9.0)


def test_pre_close_is_adjusted_like_the_days_prices(write_stock: WriteStock) -> None:
    frame = bars(SESSION[:3], [20.0, 20.0, 10.0], pre_close=[np.nan, 20.0, 10.0],
                 adj_factor=[1.0, 1.0, 2.0])
    up, _ = _load(write_stock("600001_SH.parquet", frame).parent)
    assert up[1] == math.floor(20.0 * 1.0 / 2.0 * 1.1 * 100 + 0.500001) / 100  # 11.00
    assert up[2] == 11.0


def test_limit_columns_are_used_verbatim_and_nan_means_no_limit(
        write_stock: WriteStock) -> None:
    frame = bars(SESSION[:4], [10.0] * 4, up_limit=[11.0, 11.11, np.nan, 11.0],
                 down_limit=[9.0, 9.09, np.nan, 9.0])
    up, down = _load(write_stock("600001_SH.parquet", frame).parent)
    assert up[0] == 11.0 and up[1] == 11.11 and down[1] == 9.09  # the first bar too
    assert np.isnan(up[2]) and np.isnan(down[2])


def test_one_limit_column_without_the_other_is_an_error(write_stock: WriteStock) -> None:
    from engine.errors import DataError

    path = write_stock("600001_SH.parquet", bars(SESSION[:3], up_limit=[11.0] * 3))
    with pytest.raises(DataError, match=r"up_limit.*no `down_limit`"):
        load_market_data(path.parent)


LISTED = pd.bdate_range("2023-05-04", periods=8)


@pytest.mark.parametrize(("code", "free"), [
    ("688123.SH", 5), ("301234.SZ", 5), ("603123.SH", 5), ("830799.BJ", 1)])
def test_new_listing_trades_without_limits_for_its_first_bars(
        write_stock: WriteStock, code: str, free: int) -> None:
    frame = bars(LISTED, [10.0] * 8, list_date=["20230504"] * 8)
    up, _ = _load(write_stock(code.replace(".", "_") + ".parquet", frame).parent)
    assert np.isnan(up[:free]).all()
    assert not np.isnan(up[free])  # the first bar after the exemption has a limit


def test_main_board_listing_before_2023_04_10_has_only_the_first_bar_free(
        write_stock: WriteStock) -> None:
    days = pd.bdate_range("2023-04-03", periods=4)
    frame = bars(days, [10.0] * 4, list_date=[pd.Timestamp("2023-04-03")] * 4)
    up, _ = _load(write_stock("603123_SH.parquet", frame).parent)
    assert np.isnan(up[0]) and up[1:].tolist() == [11.0] * 3


def test_listing_needs_a_bar_on_the_list_date_or_first_bar_mode(
        write_stock: WriteStock) -> None:
    frame = bars(LISTED, [10.0] * 8, list_date=["20230503"] * 8)  # no bar that day
    path = write_stock("688123_SH.parquet", frame)
    up, _ = _load(path.parent)
    assert np.isnan(up[0]) and not np.isnan(up[1:]).any()
    up, _ = _load(path.parent, listing="first_bar")
    assert np.isnan(up[:5]).all() and not np.isnan(up[5])


def test_no_list_date_means_no_listing_exemption(write_stock: WriteStock) -> None:
    up, _ = _load(write_stock("688123_SH.parquet", bars(LISTED, [10.0] * 8)).parent)
    assert np.isnan(up[0]) and not np.isnan(up[1:]).any()


# ------------------------------------------------------------------ whole runs


def _run(folder: object, start: str, end: str, **config: object) -> object:
    return run_backtest(BacktestConfig(data_dir=folder, start=start, end=end, period=2,  # type: ignore[arg-type]
                                       oversold=30.0, overbought=70.0, workers=1, **config))


def _falling_then_rising(days: pd.DatetimeIndex, closes: list[float],
                         opens: list[float]) -> pd.DataFrame:
    frame = bars(days, closes)
    frame["open"] = opens
    frame["high"] = np.maximum(frame["open"], frame["close"]) + 0.01
    frame["low"] = np.minimum(frame["open"], frame["close"]) - 0.01
    return frame


def test_chinext_sell_at_its_10pct_limit_down_in_2014_is_rejected(
        write_stock: WriteStock) -> None:
    # 300074.SZ, 2014-01-27: a sell at the 10% limit-down 24.28 (ref 26.98) must not fill;
    # at 20% (the post-2020 rule) it would have.
    days = pd.bdate_range("2014-01-13", "2014-01-28")
    # RSI(2) leaves oversold on 01-16 (bought 01-17) and overbought on 01-24: the sell
    # order meets the 01-27 open at the limit-down and is retried on 01-28.
    closes = [30.0, 29.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 26.98, 25.0, 25.5]
    opens = [30.0, 29.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 28.0, 24.28, 25.5]
    path = write_stock("300074_SZ.parquet", _falling_then_rising(days, closes, opens))
    result = _run(path.parent, "2014-01-13", "2014-01-28", position_pct=0.5)
    rejected = result.rejections  # type: ignore[attr-defined]
    row = rejected[rejected["date"] == pd.Timestamp("2014-01-27")]
    assert row["reason"].astype(str).tolist() == ["limit_down"]
    sells = result.fills[result.fills["side"].astype(str) == "sell"]  # type: ignore[attr-defined]
    assert sells["date"].tolist() == [pd.Timestamp("2014-01-28")]


def test_2011_sell_pays_0_1pct_stamp_tax_and_no_transfer_fee(write_stock: WriteStock) -> None:
    days = pd.bdate_range("2011-03-01", periods=12)
    closes = [10.0, 9.5, 9.0, 9.5, 10.0, 10.5, 11.0, 10.5, 10.0, 9.5, 9.5, 9.5]
    path = write_stock("600001_SH.parquet", _falling_then_rising(days, closes, closes))
    fills = _run(path.parent, "2011-03-01", "2011-03-16").fills  # type: ignore[attr-defined]
    sell = fills[fills["side"].astype(str) == "sell"].iloc[0]
    assert sell["tax"] == 0.001 * sell["shares"] * sell["price"]
    assert (fills["transfer_fee"] == 0.0).all()


def test_transfer_fee_on_both_sides_and_in_the_metrics(write_stock: WriteStock) -> None:
    days = pd.bdate_range("2024-03-01", periods=12)
    closes = [10.0, 9.5, 9.0, 9.5, 10.0, 10.5, 11.0, 10.5, 10.0, 9.5, 9.5, 9.5]
    path = write_stock("600001_SH.parquet", _falling_then_rising(days, closes, closes))
    result = _run(path.parent, "2024-03-01", "2024-03-18")
    fills = result.fills  # type: ignore[attr-defined]
    assert len(fills) == 2
    notional = fills["shares"] * fills["price"]
    assert (fills["transfer_fee"] == 0.00001 * notional).all()
    buy, sell = fills.iloc[0], fills.iloc[1]
    assert buy["tax"] == 0.0 and sell["tax"] == 0.0005 * notional.iloc[1]
    assert buy["cash_after"] == (1_000_000 - (notional.iloc[0] + buy["commission"]
                                              + buy["tax"] + buy["transfer_fee"]))
    assert result.metrics["total_transfer_fee"] == fills["transfer_fee"].sum()  # type: ignore[attr-defined]
    trade = result.trades.iloc[0]  # type: ignore[attr-defined]
    costs = fills["commission"].sum() + fills["tax"].sum() + fills["transfer_fee"].sum()
    assert trade["pnl"] == pytest.approx(notional.iloc[1] - notional.iloc[0] - costs,
                                         abs=1e-9)


def test_star_buys_odd_share_counts_by_default_and_lots_with_lot_size(
        write_stock: WriteStock) -> None:
    days = pd.bdate_range("2024-03-01", periods=8)
    closes = [33.0, 31.0, 29.0, 31.0, 33.0, 33.0, 33.0, 33.0]
    path = write_stock("688001_SH.parquet", _falling_then_rising(days, closes, closes))
    board = _run(path.parent, "2024-03-01", "2024-03-12").fills  # type: ignore[attr-defined]
    # target 100,000 at the next open 33.00 -> 3,030 shares (not 3,000)
    assert board["shares"].iloc[0] == 3030
    uniform = _run(path.parent, "2024-03-01", "2024-03-12", lot_size=100).fills  # type: ignore[attr-defined]
    assert uniform["shares"].iloc[0] == 3000
