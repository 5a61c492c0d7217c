"""Portfolio simulation kernels: parity with the reference, one hand-computed scenario per
rule of SPEC §4-6, and property-based invariants."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernels.indicators_nb import rsi_wilder_nb
from engine.kernels.records import NO_REJECTION, REASON_NAMES, SIDE_NAMES, Reason, Side
from engine.kernels.signals_nb import signals_nb
from engine.kernels.simulate_nb import (
    Costs,
    Market,
    make_exits,
    sell_reason_nb,
    simulate_per_stock_nb,
    simulate_shared_nb,
    sum_sleeves_nb,
)
from engine.rules.rulebook import cost_rates, lot_rules
from tests.reference import (
    Params,
    RefResult,
    limits_from_prev_close,
    random_universe,
    simulate_reference,
)

NAN = math.nan


# ------------------------------------------------------------------------ helpers


def _records(fills: np.ndarray, rejections: np.ndarray) -> tuple[list[tuple], list[tuple]]:
    """Kernel records as the reference's tuples, with side and reason names."""
    fill_rows = [
        (d, s, SIDE_NAMES[Side(side)], n, price, commission, tax, cash, fee)
        for d, s, side, n, price, commission, tax, fee, cash, _exit in fills.tolist()
    ]
    rejection_rows = [
        (d, s, SIDE_NAMES[Side(side)], REASON_NAMES[Reason(reason)])
        for d, s, side, reason in rejections.tolist()
    ]
    return fill_rows, rejection_rows


def kernel_market(m: dict) -> Market:
    """The kernels' market tuple of a market dict."""
    return Market(m["open"], m["close"], m["up_limit"], m["down_limit"], m["tradable"])


def kernel_costs(m: dict, p: Params) -> Costs:
    """The kernels' costs: the engine's dated tables for "schedule" / "board" (the market
    dict then has ``dates`` and ``codes``), else flat rates."""
    n_days, n_stocks = m["close"].shape
    days = (np.array(m["dates"], dtype="datetime64[D]").astype(np.int64) if "dates" in m
            else np.zeros(n_days, dtype=np.int64))
    rates = cost_rates(days, p.stamp_tax_rate, p.transfer_fee_rate)
    codes = m.get("codes", [f"{600000 + s}.SH" for s in range(n_stocks)])
    lot_min, lot_step = lot_rules(codes, p.lot_size)
    return Costs(p.commission_rate, p.min_commission, rates.stamp_buy, rates.stamp_sell,
                 rates.transfer_fee, p.slippage, lot_min, lot_step)


def run_kernel(
    m: dict, start_index: int, p: Params, chunks: list[int] | None = None
) -> RefResult:
    """Run the kernel for ``p.mode``; per-stock runs are split at ``chunks`` boundaries."""
    market_, costs = kernel_market(m), kernel_costs(m, p)
    fill_close = p.fill == "close"
    if p.mode == "shared":
        equity, cash, value, fills, rejections = simulate_shared_nb(
            market_, costs, m["rsi"], m["buy"], m["sell"], start_index, fill_close,
            p.initial_capital, p.position_pct, p.max_positions, p.price_limits, make_exits(),
        )
        return RefResult(equity, cash, value, *_records(fills, rejections))
    n_stocks = m["close"].shape[1]
    bounds = [0, *(chunks or []), n_stocks]
    parts = [
        simulate_per_stock_nb(
            market_, costs, m["buy"], m["sell"], start_index, lo, hi, fill_close,
            p.initial_capital / n_stocks, p.price_limits, make_exits(),
        )
        for lo, hi in itertools.pairwise(bounds)
    ]
    equity, cash, value = (
        sum_sleeves_nb(np.concatenate([part[i] for part in parts], axis=1)) for i in range(3)
    )
    fills = np.concatenate([part[3] for part in parts])
    rejections = np.concatenate([part[4] for part in parts])
    # Merge chunks: by day, sells before buys, then stock.
    fills = fills[np.lexsort((fills["stock"], fills["side"] == Side.BUY, fills["day"]))]
    rejections = rejections[
        np.lexsort((rejections["stock"], rejections["side"] == Side.BUY, rejections["day"]))
    ]
    return RefResult(equity, cash, value, *_records(fills, rejections))


def market(
    closes: list[list[float]],
    opens: list[list[float]] | None = None,
    limit_pct: list[float] | None = None,
    buys: tuple = (),
    sells: tuple = (),
    rsi: dict | None = None,
) -> dict:
    """Hand-made market: rows are days, columns stocks, NaN = no bar. ``buys`` /
    ``sells`` list (day, stock) signal cells; ``rsi`` maps cells to signal-bar RSI."""
    close = np.array(closes, dtype=float)
    open_ = close.copy() if opens is None else np.array(opens, dtype=float)
    tradable = ~np.isnan(close)
    prev_close = np.full(close.shape, NAN)
    for s in range(close.shape[1]):
        bar_days = np.flatnonzero(tradable[:, s])
        prev_close[bar_days[1:], s] = close[bar_days[:-1], s]
    buy = np.zeros(close.shape, dtype=bool)
    sell = np.zeros(close.shape, dtype=bool)
    for t, s in buys:
        buy[t, s] = True
    for t, s in sells:
        sell[t, s] = True
    rsi_arr = np.full(close.shape, 20.0)
    for (t, s), value in (rsi or {}).items():
        rsi_arr[t, s] = value
    pct = np.full(close.shape[1], 0.10) if limit_pct is None else np.array(limit_pct, float)
    up, down = limits_from_prev_close(prev_close, pct)
    return {"open": open_, "close": close, "up_limit": up, "down_limit": down,
            "tradable": tradable, "rsi": rsi_arr, "buy": buy, "sell": sell}  # fmt: skip


def run(m: dict, **params) -> RefResult:
    """Kernel run from row 0 with SPEC defaults overridden by ``params``."""
    return run_kernel(m, 0, Params(**params))


def universe_market(seed: int, n_days: int = 120, n_stocks: int = 10) -> dict:
    u = random_universe(seed, n_days, n_stocks)
    rsi = rsi_wilder_nb(u.close, u.tradable, 4)
    buy, sell = signals_nb(rsi, u.tradable, 20, 35.0, 65.0)
    up, down = limits_from_prev_close(u.prev_close, u.limit_pct)
    return {"open": u.open_, "close": u.close, "up_limit": up, "down_limit": down,
            "tradable": u.tradable, "rsi": rsi, "buy": buy, "sell": sell}  # fmt: skip


# ------------------------------------------------------------------------- parity

PARITY_BASE = Params(initial_capital=200_000.0, position_pct=0.4, max_positions=3)


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("mode", ["shared", "per_stock"])
@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("slippage", [0.0, 0.001])
@pytest.mark.parametrize("price_limits", [True, False])
def test_kernel_matches_reference_exactly(
    seed: int, mode: str, fill: str, slippage: float, price_limits: bool
) -> None:
    m = universe_market(seed)
    p = replace(PARITY_BASE, mode=mode, fill=fill, slippage=slippage, price_limits=price_limits)
    got = run_kernel(m, 20, p, chunks=[3, 7] if mode == "per_stock" else None)
    expected = simulate_reference(m, 20, p)
    assert len(got.fills) > 10
    assert got.fills == expected.fills
    assert got.rejections == expected.rejections
    assert np.array_equal(got.equity, expected.equity)
    assert np.array_equal(got.cash, expected.cash)
    assert np.array_equal(got.positions_value, expected.positions_value)


def test_parity_universes_exercise_every_rejection_reason() -> None:
    """Guards the parity test against going vacuous (T+1 cannot occur, see below)."""
    seen = set()
    for seed in (11, 12, 13):
        m = universe_market(seed)
        for fill in ("next_open", "close"):
            p = replace(PARITY_BASE, fill=fill)
            seen |= {r[3] for r in run_kernel(m, 20, p).rejections}
    assert seen == {"lot", "limit_up", "limit_down", "suspended", "max_positions"}


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_per_stock_chunks_are_bit_identical_to_one_run(fill: str) -> None:
    m = universe_market(21)
    p = replace(PARITY_BASE, mode="per_stock", fill=fill)
    whole = run_kernel(m, 20, p)
    for chunks in ([5], [1, 2, 3, 9], list(range(1, 10))):
        split = run_kernel(m, 20, p, chunks=chunks)
        assert np.array_equal(split.equity, whole.equity)
        assert np.array_equal(split.cash, whole.cash)
        assert split.fills == whole.fills and split.rejections == whole.rejections


# -------------------------------------------------------------- hand-computed rules


def test_next_open_fills_at_the_next_days_open() -> None:
    m = market([[10.0], [10.5], [11.0]], opens=[[10.0], [10.2], [10.8]], buys=[(0, 0)])
    r = run(m)
    # target 100,000 / (10.2 * 100) = 98.04 -> 98 lots; notional 99,960; commission 29.988.
    (day, stock, side, shares, price, commission, tax, cash, _fee) = r.fills[0]
    assert (day, stock, side, shares, price, tax) == (1, 0, "buy", 9800, 10.2, 0.0)
    assert commission == pytest.approx(29.988)
    assert cash == pytest.approx(1_000_000 - 99_960 - 29.988)
    assert r.equity[0] == 1_000_000.0
    assert r.equity[1] == pytest.approx(900_010.012 + 9800 * 10.5)
    assert r.positions_value[2] == pytest.approx(9800 * 11.0)


def test_close_fill_uses_the_signal_bars_close() -> None:
    m = market([[10.0], [10.5]], opens=[[9.0], [10.2]], buys=[(0, 0)])
    r = run(m, fill="close")
    assert r.fills[0][:5] == (0, 0, "buy", 10_000, 10.0)
    assert r.cash[0] == pytest.approx(1_000_000 - 100_000 - 30)
    assert r.equity[0] == pytest.approx(999_970.0)


def test_signal_on_the_last_day_makes_no_order() -> None:
    m = market([[10.0], [10.5]], buys=[(1, 0)])
    r = run(m)
    assert r.fills == [] and r.rejections == []


def test_slippage_moves_buy_up_and_sell_down() -> None:
    m = market([[10.0], [10.0], [10.0], [10.0]], opens=[[10.0], [10.2], [10.0], [11.0]],
               buys=[(0, 0)], sells=[(2, 0)])  # fmt: skip
    r = run(m, slippage=0.001)
    buy, sell = r.fills
    # buy at 10.2 * 1.001 = 10.2102: 100,000 / 1021.02 -> 97 lots.
    assert buy[3] == 9700 and buy[4] == pytest.approx(10.2102)
    assert buy[5] == pytest.approx(0.0003 * 9700 * 10.2102)
    # sell at 11 * 0.999 = 10.989.
    assert sell[:4] == (3, 0, "sell", 9700) and sell[4] == pytest.approx(10.989)
    assert sell[6] == pytest.approx(0.0005 * 9700 * 10.989)


def test_commission_minimum_applies_to_small_orders() -> None:
    m = market([[10.0], [10.0], [10.0]], buys=[(0, 0)], sells=[(1, 0)])
    r = run(m, initial_capital=100_000.0)
    buy, sell = r.fills
    # 1,000 shares at 10 = 10,000: 0.03% is 3.00 -> minimum 5; tax 5.00 on the sell.
    assert buy[3:7] == (1000, 10.0, 5.0, 0.0)
    assert buy[7] == 100_000 - 10_000 - 5
    assert sell[3:7] == (1000, 10.0, 5.0, 5.0)
    assert sell[7] == 100_000 - 10_005 + 10_000 - 5 - 5


def test_stamp_tax_is_charged_on_sells_only() -> None:
    m = market([[10.0], [11.0]], buys=[(0, 0)], sells=[(1, 0)])
    r = run(m, fill="close")
    buy, sell = r.fills
    assert buy[6] == 0.0
    # sell 10,000 at 11: commission 33, tax 55.
    assert sell[:4] == (1, 0, "sell", 10_000)
    assert sell[5] == pytest.approx(33.0) and sell[6] == pytest.approx(55.0)
    assert r.cash[1] == pytest.approx(899_970 + 110_000 - 33 - 55)
    assert r.positions_value[1] == 0.0


def test_buys_round_down_to_whole_lots() -> None:
    m = market([[32.0], [33.0]], buys=[(0, 0)])
    r = run(m)
    assert r.fills[0][3] == 3000  # 100,000 / 3,300 = 30.3 lots -> 30 lots


def test_buy_below_one_lot_is_rejected_as_lot() -> None:
    m = market([[1400.0], [1500.0], [1500.0]], limit_pct=[0.2], buys=[(0, 0)])
    r = run(m)
    # 100 shares cost 150,000 > target 100,000.
    assert r.fills == [] and r.rejections == [(1, 0, "buy", "lot")]


def test_cash_limits_shares_including_the_minimum_commission() -> None:
    # One sleeve of exactly 10,000 at price 10: 10 lots would cost 10,005 -> 9 lots.
    m = market([[10.0, 10.0], [10.0, 10.0]], buys=[(0, 0)])
    r = run(m, mode="per_stock", initial_capital=20_000.0)
    assert r.fills[0][3:6] == (900, 10.0, 5.0)
    assert r.fills[0][7] == 10_000 - 9_000 - 5


def test_t_plus_1_rule() -> None:
    # Shares bought on row 5 cannot be sold on row 5, only from row 6 on.
    assert sell_reason_nb(5, True, 5, 10.0, 9.0, True) == Reason.T1
    assert sell_reason_nb(6, True, 5, 10.0, 9.0, True) == NO_REJECTION
    # The order flow never trips it: a sell signal on the buy's own day is honoured
    # the next day (next_open) ...
    m = market([[10.0], [10.0], [10.0]], buys=[(0, 0)], sells=[(1, 0)])
    assert [(f[0], f[2]) for f in run(m).fills] == [(1, "buy"), (2, "sell")]
    # ... and with fill="close" the day's sells run before its buys, so a sell signal
    # on the buy's bar finds nothing held and is ignored.
    m = market([[10.0], [10.0], [10.0]], buys=[(0, 0)], sells=[(0, 0), (1, 0)])
    assert [(f[0], f[2]) for f in run(m, fill="close").fills] == [(0, "buy"), (1, "sell")]


def test_limit_up_rejects_buys_per_board() -> None:
    # prev close 10.00 everywhere; limits 11.00 (10%), 12.00 (20%), 13.00 (30%).
    opens = [[10.0] * 5, [11.0, 11.0, 12.0, 13.0, 12.99]]
    m = market([[10.0] * 5, [10.0] * 5], opens=opens, limit_pct=[0.1, 0.2, 0.2, 0.3, 0.3],
               buys=[(0, s) for s in range(5)])  # fmt: skip
    r = run(m)
    assert [f[1] for f in r.fills] == [1, 4]
    assert r.rejections == [(1, 0, "buy", "limit_up"), (1, 2, "buy", "limit_up"),
                            (1, 3, "buy", "limit_up")]  # fmt: skip
    assert len(run(m, price_limits=False).fills) == 5


def test_limit_check_uses_the_price_before_slippage() -> None:
    m = market([[10.0], [10.0]], opens=[[10.0], [10.99]], buys=[(0, 0)])
    r = run(m, slippage=0.01)  # pays 11.0999, above the 11.00 limit, but opened at 10.99
    assert len(r.fills) == 1 and r.fills[0][4] == pytest.approx(11.0999)


def test_limit_up_at_the_close_in_close_mode() -> None:
    m = market([[10.0], [11.0]], buys=[(1, 0)])
    assert run(m, fill="close").rejections == [(1, 0, "buy", "limit_up")]


def test_limit_down_sell_is_retried_until_it_fills() -> None:
    closes = [[10.0], [10.0], [9.0], [8.1], [8.0]]
    opens = [[10.0], [10.0], [9.0], [8.1], [7.5]]
    m = market(closes, opens=opens, buys=[(0, 0)], sells=[(1, 0)])
    r = run(m)
    # row 2: open 9.00 <= limit-down 9.00; row 3: open 8.10 <= 8.10; row 4: 7.50 > 7.29.
    assert r.rejections == [(2, 0, "sell", "limit_down"), (3, 0, "sell", "limit_down")]
    assert r.fills[1][:5] == (4, 0, "sell", 10_000, 7.5)
    # In close mode the retry happens at each following close.
    m = market([[10.0], [9.0], [8.1], [8.0]], buys=[(0, 0)], sells=[(1, 0)])
    r = run(m, fill="close")
    assert r.rejections == [(1, 0, "sell", "limit_down"), (2, 0, "sell", "limit_down")]
    assert r.fills[1][:5] == (3, 0, "sell", 10_000, 8.0)


def test_suspended_buy_is_dropped() -> None:
    m = market([[10.0], [NAN], [10.0], [10.0]], buys=[(0, 0)])
    r = run(m)
    assert r.fills == [] and r.rejections == [(1, 0, "buy", "suspended")]


def test_suspended_sell_is_recorded_once_and_retried_on_the_next_bar() -> None:
    closes = [[10.0], [10.0], [10.0], [NAN], [NAN], [10.5]]
    opens = [[10.0], [10.0], [10.0], [NAN], [NAN], [10.4]]
    m = market(closes, opens=opens, buys=[(0, 0)], sells=[(2, 0)])
    r = run(m)
    assert r.rejections == [(3, 0, "sell", "suspended")]
    assert r.fills[1][:5] == (5, 0, "sell", 10_000, 10.4)


def test_suspended_stock_is_valued_at_its_last_close() -> None:
    m = market([[10.0], [10.0], [10.7], [NAN], [NAN], [10.9]], buys=[(0, 0)])
    r = run(m)
    assert r.positions_value[3] == r.positions_value[4] == 10_000 * 10.7
    assert r.equity[4] == r.cash[4] + 10_000 * 10.7


def test_no_pyramiding() -> None:
    # Held: a second buy signal is ignored, not rejected; also while a sell is pending.
    closes = [[10.0], [10.0], [10.0], [9.0], [9.0], [9.0]]
    m = market(closes, buys=[(0, 0), (1, 0), (3, 0)], sells=[(2, 0)])
    r = run(m)
    assert [(f[0], f[2]) for f in r.fills] == [(1, "buy"), (4, "sell")]
    assert r.rejections == [(3, 0, "sell", "limit_down")]


def test_sell_signal_for_a_stock_not_held_is_ignored() -> None:
    m = market([[10.0], [10.0], [10.0]], sells=[(0, 0)])
    r = run(m)
    assert r.fills == [] and r.rejections == []


def test_buys_go_lowest_rsi_first_then_by_code() -> None:
    m = market([[10.0] * 3, [10.0] * 3], buys=[(0, 0), (0, 1), (0, 2)],
               rsi={(0, 0): 25.0, (0, 1): 20.0, (0, 2): 20.0})  # fmt: skip
    r = run(m, max_positions=2)
    assert [f[1] for f in r.fills] == [1, 2]
    assert r.rejections == [(1, 0, "buy", "max_positions")]


def test_cash_left_limits_the_last_buy() -> None:
    m = market([[10.0] * 3, [10.0] * 3], buys=[(0, 0), (0, 1), (0, 2)],
               rsi={(0, 0): 21.0, (0, 1): 22.0, (0, 2): 23.0})  # fmt: skip
    r = run(m, position_pct=0.6)
    first, second = r.fills
    # First: 60,000 shares (600,000 + 180 commission). Cash left 399,820: k lots need
    # 1,000.3 k <= 399,820 -> 399 lots, commission 119.7, cash 700.30.
    assert first[3] == 60_000 and second[3] == 39_900
    assert second[7] == pytest.approx(700.3)
    assert r.rejections == [(1, 2, "buy", "lot")]


def test_max_positions_counts_positions_after_the_days_sells() -> None:
    m = market([[10.0] * 3] * 4, buys=[(0, 0), (0, 1), (1, 2)], sells=[(1, 0)],
               rsi={(0, 0): 21.0, (0, 1): 22.0})  # fmt: skip
    r = run(m, max_positions=2)
    # Row 2: stock 0 is sold first, so stock 2's buy is the second open position.
    assert [(f[0], f[1], f[2]) for f in r.fills] == [(1, 0, "buy"), (1, 1, "buy"),
                                                    (2, 0, "sell"), (2, 2, "buy")]  # fmt: skip
    assert r.rejections == []


def test_sells_fund_the_same_days_buys() -> None:
    closes = [[10.0, 5.0]] * 4
    m = market(closes, buys=[(0, 0), (2, 1)], sells=[(2, 0)])
    r = run(m, initial_capital=100_000.0, position_pct=1.0)
    buy_a, sell_a, buy_b = r.fills
    # A: 100 lots would cost 100,030 > 100,000 -> 9,900 shares, cash 970.30.
    assert buy_a[3] == 9_900 and buy_a[7] == pytest.approx(970.3)
    # Row 3: selling A returns 99,000 - 29.70 - 49.50 -> cash 99,891.10, then B targets
    # the row-2 equity 99,970.30: 199 lots at 5 = 99,500 + 29.85 commission.
    assert sell_a[7] == pytest.approx(99_891.1)
    assert buy_b[:4] == (3, 1, "buy", 19_900)
    assert buy_b[7] == pytest.approx(99_891.1 - 99_529.85)


def test_target_is_position_pct_of_the_previous_close_equity() -> None:
    closes = [[10.0, 10.0], [13.0, 10.0], [20.0, 10.0]]
    m = market(closes, opens=[[10.0, 10.0]] * 3, limit_pct=[0.3, 0.1], buys=[(0, 0), (1, 1)])
    r = run(m)
    # Stock 0 is bought at the row-1 open of 10. Row 1 equity: 899,970 cash + 10,000 * 13
    # = 1,029,970 -> row 2 target 102,997 -> 102 lots of stock 1 at 10 (not the 100 lots
    # the initial capital would give).
    assert r.equity[1] == pytest.approx(1_029_970.0)
    assert r.fills[1][:4] == (2, 1, "buy", 10_200)


def test_per_stock_sleeves_are_independent() -> None:
    closes = [[10.0, 5.0], [10.0, 5.0], [8.0, 5.0], [8.0, 5.5], [8.0, 5.5]]
    m = market(closes, buys=[(0, 0), (0, 1), (3, 1)], sells=[(1, 0), (2, 1)],
               limit_pct=[0.3, 0.1])  # fmt: skip
    r = run(m, mode="per_stock", initial_capital=200_000.0)
    # Sleeve 0: 9,900 at 10 (cash 970.30), sold at 8 on row 2.
    # Sleeve 1: 199 lots at 5 = 99,500 + 29.85 (cash 470.15); sold on row 3 at 5.5 for
    # 109,450 - 32.835 - 54.725; rebought on row 4 from its own cash only.
    sleeve_0_cash = 970.3 + 79_200 - 23.76 - 39.6
    sleeve_1_cash = 470.15 + 109_450 - 32.835 - 54.725
    rebuy = [f for f in r.fills if f[0] == 4]
    assert rebuy[0][3] == 100 * math.floor(sleeve_1_cash / 550)
    assert r.cash[3] == pytest.approx(sleeve_0_cash + sleeve_1_cash)
    assert r.equity[0] == 200_000.0
    assert r.equity[1] == pytest.approx(970.3 + 9_900 * 10 + 470.15 + 19_900 * 5)


# --------------------------------------------------------------------- invariants


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    mode=st.sampled_from(["shared", "per_stock"]),
    fill=st.sampled_from(["next_open", "close"]),
    slippage=st.sampled_from([0.0, 0.002]),
    position_pct=st.sampled_from([0.1, 0.5, 1.0]),
)
def test_invariants_on_random_universes(
    seed: int, mode: str, fill: str, slippage: float, position_pct: float
) -> None:
    m = universe_market(seed, n_days=60, n_stocks=6)
    p = Params(mode=mode, fill=fill, slippage=slippage, position_pct=position_pct,
               initial_capital=300_000.0, max_positions=3)  # fmt: skip
    r = run_kernel(m, 20, p)
    assert (r.cash >= 0).all()
    shares: dict[int, int] = {}
    fills_by_day: dict[int, list[tuple]] = {}
    for f in r.fills:
        fills_by_day.setdefault(f[0], []).append(f)
    last_close = np.full(6, NAN)
    for d, t in enumerate(range(20, 60)):
        for _day, s, side, n, price, *_ in fills_by_day.get(t, []):
            assert m["tradable"][t, s]  # never a fill without a bar
            bar = m["close"][t, s] if fill == "close" else m["open"][t, s]
            factor = 1 + slippage if side == "buy" else 1 - slippage
            assert price == bar * factor
            if fill == "next_open" and side == "buy":
                assert t - 1 >= 20 and m["buy"][t - 1, s]  # signalled on the row before
            if fill == "next_open" and side == "sell":
                assert m["sell"][20:t, s].any()
            shares[s] = n if side == "buy" else 0
        last_close = np.where(m["tradable"][t], m["close"][t], last_close)
        value = 0.0
        for s in sorted(shares):
            if shares[s]:
                value += shares[s] * last_close[s]
        assert r.positions_value[d] == value
        if mode == "shared":
            assert r.equity[d] == r.cash[d] + value
        else:
            assert r.equity[d] == pytest.approx(r.cash[d] + value, rel=1e-12)
