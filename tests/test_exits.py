"""Exits for any strategy (SPEC §3c), hand-computed: stop-loss, take-profit, trailing
stop and maximum holding bars inside the simulation kernels, their order when several
apply, both fills and both capital modes, and ``exit_reason`` in fills and trades."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.kernels.records import EXIT_NAMES, NO_EXIT, ExitReason, Side
from engine.kernels.simulate_nb import (
    Exits,
    exit_reason_nb,
    make_exits,
    simulate_per_stock_nb,
    simulate_shared_nb,
)
from engine.run.backtest import load, run_backtest
from tests.conftest import SAMPLE
from tests.reference import Params
from tests.test_simulate import kernel_costs, kernel_market, market

NAN = math.nan


def _fills(m: dict, exits: Exits, fill: str = "next_open", mode: str = "shared",
           slippage: float = 0.0) -> list[tuple[int, str, float, str]]:
    """(day, side, price, exit reason) of each fill of a kernel run from row 0."""
    p = Params(fill=fill, slippage=slippage, position_pct=0.5)
    market_, costs = kernel_market(m), kernel_costs(m, p)
    if mode == "shared":
        out = simulate_shared_nb(market_, costs, m["rsi"], m["buy"], m["sell"], 0,
                                 fill == "close", 1e6, 0.5, 10, True, exits)
    else:
        out = simulate_per_stock_nb(market_, costs, m["buy"], m["sell"], 0, 0,
                                    m["close"].shape[1], fill == "close", 1e6, True, exits)
    return [(int(f["day"]), "buy" if f["side"] == Side.BUY else "sell", float(f["price"]),
             "" if f["exit_reason"] == NO_EXIT else EXIT_NAMES[ExitReason(f["exit_reason"])])
            for f in out[3]]


def _one_stock(closes: list[float], buy_day: int = 0, sells: tuple = ()) -> dict:
    return market([[c] for c in closes], buys=((buy_day, 0),), sells=sells)


@pytest.mark.parametrize("mode", ["shared", "per_stock"])
def test_stop_loss_sells_on_the_open_after_the_close_that_breaks_it(mode: str) -> None:
    # Bought at day 1's open of 10; 10 * (1 - 0.08) = 9.2000...01: 9.5 holds, 9.1 breaks.
    m = _one_stock([10.0, 10.0, 9.5, 9.1, 9.0, 9.3])
    assert _fills(m, make_exits(stop_loss=0.08), mode=mode) == [
        (1, "buy", 10.0, ""), (4, "sell", 9.0, "stop_loss")]
    assert _fills(m, make_exits(), mode=mode) == [(1, "buy", 10.0, "")]


def test_take_profit_triggers_at_exactly_its_level() -> None:
    # 10 * 1.25 = 12.5 exactly: close >= 12.5 on day 3.
    m = _one_stock([10.0, 10.0, 12.4, 12.5, 12.6, 12.6])
    assert _fills(m, make_exits(take_profit=0.25)) == [
        (1, "buy", 10.0, ""), (4, "sell", 12.6, "take_profit")]


def test_trailing_stop_follows_the_highest_close_since_the_entry_bar() -> None:
    # Peak 12 (day 2); 12 * 0.75 = 9.0: day 4's 9.0 triggers. A fixed stop at 25% of the
    # entry (7.5) would not.
    m = _one_stock([10.0, 10.0, 12.0, 11.0, 10.0, 9.0, 9.5])
    assert _fills(m, make_exits(trailing_stop=0.25)) == [
        (1, "buy", 10.0, ""), (6, "sell", 9.5, "trailing_stop")]
    assert _fills(m, make_exits(stop_loss=0.25)) == [(1, "buy", 10.0, "")]


def test_the_entry_bars_close_counts_for_the_trailing_peak() -> None:
    # Bought at day 1's open of 10, day 1 closes at 12: the peak is 12 from the entry bar.
    m = market([[10.0], [12.0], [9.0], [9.0]], opens=[[10.0], [10.0], [9.0], [9.0]],
               buys=((0, 0),))
    assert _fills(m, make_exits(trailing_stop=0.25)) == [
        (1, "buy", 10.0, ""), (3, "sell", 9.0, "trailing_stop")]


def test_max_hold_counts_the_stocks_own_bars_from_the_entry_bar() -> None:
    closes = [10.0, 10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6]
    # Entry bar day 1 (bar 0); bar 3 is day 4: sell order for day 5.
    assert _fills(_one_stock(closes), make_exits(max_hold=3)) == [
        (1, "buy", 10.0, ""), (5, "sell", 10.4, "max_hold")]
    # Suspended on day 3: bar 3 is day 5, the sell fills on day 6.
    suspended = closes.copy()
    suspended[3] = NAN
    assert _fills(_one_stock(suspended), make_exits(max_hold=3)) == [
        (1, "buy", 10.0, ""), (6, "sell", 10.5, "max_hold")]


def test_when_several_apply_the_first_in_the_specs_list_names_the_exit() -> None:
    # Day 3: 8 is below the stop (9.2) and 3 bars have passed; the strategy's own sell
    # signal on that bar comes first of all.
    closes = [10.0, 10.0, 10.0, 10.0, 8.0, 8.0]
    m = _one_stock(closes)
    both = make_exits(stop_loss=0.08, max_hold=3)
    assert _fills(m, both)[-1] == (5, "sell", 8.0, "stop_loss")
    m = _one_stock(closes, sells=((4, 0),))
    assert _fills(m, both)[-1] == (5, "sell", 8.0, "signal")
    # (close, entry, peak, bars held): every exit given applies; the first one named wins.
    assert exit_reason_nb(5.0, 10.0, 20.0, 5, make_exits(
        stop_loss=0.1, trailing_stop=0.1, max_hold=1)) == ExitReason.STOP_LOSS
    assert exit_reason_nb(12.0, 10.0, 20.0, 5, make_exits(
        take_profit=0.1, trailing_stop=0.1, max_hold=1)) == ExitReason.TAKE_PROFIT
    assert exit_reason_nb(12.0, 10.0, 20.0, 5, make_exits(
        trailing_stop=0.1, max_hold=1)) == ExitReason.TRAILING_STOP
    assert exit_reason_nb(12.0, 10.0, 12.0, 5, make_exits(
        trailing_stop=0.1, max_hold=5)) == ExitReason.MAX_HOLD
    assert exit_reason_nb(12.0, 10.0, 12.0, 4, make_exits(
        stop_loss=0.1, take_profit=0.3, trailing_stop=0.1, max_hold=5)) == NO_EXIT


def test_entry_is_the_fill_price_after_slippage() -> None:
    # Slippage 1%: entry 10.1, stop 5% at 9.595 (9.594999...): 9.6 holds, 9.59 breaks.
    m = _one_stock([10.0, 10.0, 9.6, 9.59, 9.5])
    fills = _fills(m, make_exits(stop_loss=0.05), slippage=0.01)
    assert fills[0][:3] == (1, "buy", 10.0 * 1.01)
    assert fills[1][0] == 4 and fills[1][3] == "stop_loss"


def test_close_fill_exits_at_the_close_of_the_bar_that_breaks_it() -> None:
    # fill="close": bought at day 0's close (10); day 2's close 9.1 breaks the stop and
    # fills at that close.
    m = _one_stock([10.0, 9.5, 9.1, 9.0])
    assert _fills(m, make_exits(stop_loss=0.08), fill="close") == [
        (0, "buy", 10.0, ""), (2, "sell", 9.1, "stop_loss")]


def test_an_exit_sell_rejected_at_limit_down_is_retried_and_keeps_its_reason() -> None:
    # Day 3 breaks the stop; day 4 opens locked at limit-down (9.1 * 0.9 = 8.19), day 5
    # fills the retry.
    m = market([[10.0], [10.0], [9.5], [9.1], [8.19], [8.5]],
               opens=[[10.0], [10.0], [9.5], [9.1], [8.19], [8.5]], buys=((0, 0),))
    assert _fills(m, make_exits(stop_loss=0.08)) == [
        (1, "buy", 10.0, ""), (5, "sell", 8.5, "stop_loss")]


def test_config_checks_the_exit_levels() -> None:
    for name, value in [("stop_loss", 1.0), ("take_profit", -0.1), ("trailing_stop", 2.0)]:
        with pytest.raises(ConfigError, match=name) as info:
            BacktestConfig(**{name: value})
        assert info.value.field == name
    with pytest.raises(ConfigError, match="max_hold"):
        BacktestConfig(max_hold=-1)


@pytest.fixture(scope="module")
def exit_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    cache = tmp_path_factory.mktemp("cache")
    base = BacktestConfig(data_dir=SAMPLE, cache_dir=cache, capital_mode="per_stock",
                          stop_loss=0.05, take_profit=0.15, trailing_stop=0.1, max_hold=40)
    return {"one": run_backtest(base.replace(workers=1)),
            "two": run_backtest(base.replace(workers=2)), "config": base}


def test_exits_in_a_run_name_each_trade_and_agree_with_the_prices(
        exit_runs: dict[str, object]) -> None:
    result = exit_runs["one"]
    config = exit_runs["config"]
    trades = result.frame("trades")  # type: ignore[attr-defined]
    reasons = set(trades["exit_reason"].astype(str))
    assert {"stop_loss", "take_profit", "trailing_stop"} <= reasons
    assert set(trades.loc[trades["open"], "exit_reason"].astype(str)) <= {"end"}
    fills = result.frame("fills")  # type: ignore[attr-defined]
    assert set(fills.loc[fills["side"] == "buy", "exit_reason"].astype(str)) == {""}
    # Every stop-loss exit: the first close of the holding that broke the stop made the
    # order, which filled on the stock's next bar unless that bar rejected it (and then
    # on a retry).
    data = load(config)  # type: ignore[arg-type]
    dates = pd.DatetimeIndex(data.dates)
    stops = trades[trades["exit_reason"] == "stop_loss"]
    assert len(stops) > 3
    level = 1 - config.stop_loss  # type: ignore[attr-defined]
    rejected = result.frame("rejections")  # type: ignore[attr-defined]
    for _, trade in stops.iterrows():
        j = data.codes.index(trade["code"])
        rows = np.flatnonzero(data.tradable[:, j])
        held = rows[(dates[rows] >= trade["entry_date"]) & (dates[rows] < trade["exit_date"])]
        broke = held[data.close[held, j] <= trade["entry_price"] * level]
        assert broke.size
        order_day = rows[rows > broke[0]][0]
        if dates[order_day] != trade["exit_date"]:
            assert ((rejected["code"] == trade["code"]) & (rejected["side"] == "sell")
                    & (rejected["date"] == dates[order_day])).any()


def test_exits_are_bit_identical_for_any_worker_count(exit_runs: dict[str, object]) -> None:
    one, two = exit_runs["one"], exit_runs["two"]
    for name in ("equity", "fills", "trades"):
        pd.testing.assert_frame_equal(one.frame(name), two.frame(name),  # type: ignore[attr-defined]
                                      check_exact=True)
    assert one.metrics == two.metrics  # type: ignore[attr-defined]


def test_no_exit_leaves_every_number_as_without_exits() -> None:
    base = BacktestConfig(data_dir=SAMPLE)
    off = run_backtest(base)
    far = run_backtest(base.replace(stop_loss=0.99, take_profit=0.99, max_hold=10**6))
    for name in ("equity", "fills", "rejections"):
        pd.testing.assert_frame_equal(off.frame(name), far.frame(name), check_exact=True)
    assert np.array_equal(off.frame("trades")["pnl"], far.frame("trades")["pnl"])
