"""Jitted portfolio simulation (SPEC §4-6): one shared cash pool, or one sleeve per stock.

Inputs are the aligned ``(n_days, n_stocks)`` arrays of the data layer (C-contiguous
float64 prices and per-bar limit prices, NaN = no limit; bool ``tradable`` = "the stock
has a bar that day"), the per-day cost rates and per-stock lot rules of
``engine.rules.rulebook``, plus a strategy's signal arrays and buy score (``engine.strategies``)
and the exits of SPEC §3c (``Exits``); ``start_index`` is the
first row of the run, so the run has ``n_run = n_days - start_index`` days. Outputs are
plain arrays and record arrays (``engine.kernels.records.fill_dt`` / ``rejection_dt``, ``day`` =
calendar row index).

One day of the run, in order:

1. ``fill="close"`` only: that day's sell signals and exits of held stocks become sell
   orders.
2. Pending sells (new orders and retries) are attempted in stock index order, at the
   bar's open (``next_open``) or close (``close``). A rejected sell stays pending and is
   retried on every following bar of the stock; each failed attempt is recorded, except
   that a stock without a bar is recorded as suspended only on the order's own day.
3. ``fill="close"`` only: that day's buy signals of stocks not held become buy orders.
4. Buy orders are attempted (shared mode: lowest signal-bar score first, ties by stock
   index; per-stock mode: index order). Rejected buys are dropped.
5. ``fill="next_open"`` only, and not on the last run day: that day's signals and exits
   become orders for the next calendar row (sells of held stocks without a pending sell,
   buys of stocks not held, i.e. no pyramiding).
6. Valuation at the close: ``shares * last known close`` summed in stock index order.

Check order of a buy: max_positions (shared mode) -> suspended -> limit_up -> lot.
Check order of a sell: suspended -> t+1 -> limit_down.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from engine.kernels.records import (
    NO_EXIT,
    NO_REJECTION,
    ExitReason,
    Reason,
    Side,
    fill_dt,
    rejection_dt,
)

#: Largest share count a buy may reach: every integer up to it is exact in a double.
MAX_SHARES = 2.0**53


class Market(NamedTuple):
    """Aligned market data, ``(n_days, n_stocks)``; limits are NaN where a bar has none."""

    open_: np.ndarray
    close: np.ndarray
    up_limit: np.ndarray
    down_limit: np.ndarray
    tradable: np.ndarray


class Costs(NamedTuple):
    """Trading costs (SPEC §4): rates per calendar row ``(n_days,)``, lots per stock."""

    commission_rate: float
    min_commission: float
    stamp_buy: np.ndarray
    stamp_sell: np.ndarray
    transfer_fee: np.ndarray
    slippage: float
    lot_min: np.ndarray
    lot_step: np.ndarray


class Exits(NamedTuple):
    """The exits of SPEC §3c; 0 turns each off. ``active``: any of them is on."""

    stop_loss: float
    take_profit: float
    trailing_stop: float
    max_hold: int
    active: bool


def make_exits(stop_loss: float = 0.0, take_profit: float = 0.0, trailing_stop: float = 0.0,
               max_hold: int = 0) -> Exits:
    """``Exits`` of the given levels (0: off)."""
    return Exits(float(stop_loss), float(take_profit), float(trailing_stop), int(max_hold),
                 bool(stop_loss or take_profit or trailing_stop or max_hold))


class Positions(NamedTuple):
    """Per-stock state, indexed by the global stock index, mutated in place."""

    shares: np.ndarray  # int64, 0 when flat
    entry_day: np.ndarray  # int64, row of the last buy
    sell_pending: np.ndarray  # bool, a sell order is waiting to fill
    sell_day: np.ndarray  # int64, row the pending sell order was placed for
    last_close: np.ndarray  # float64, close of the stock's latest bar
    entry_price: np.ndarray  # float64, the last buy's fill price (after slippage)
    peak: np.ndarray  # float64, highest close from the entry bar on
    bars: np.ndarray  # int64, the stock's bars since the entry bar (which is bar 0)
    exit_reason: np.ndarray  # int8, the pending sell's ``ExitReason``


@njit(cache=True, nogil=True)
def commission_nb(notional: float, commission_rate: float, min_commission: float) -> float:
    """Commission of one order: ``max(rate * notional, minimum)``, never rounded."""
    return max(commission_rate * notional, min_commission)


@njit(cache=True, nogil=True)
def sell_costs_nb(
    notional: float, commission_rate: float, min_commission: float, stamp_rate: float,
    fee_rate: float,
) -> tuple[float, float, float]:
    """(commission, stamp tax, transfer fee) of a sell of ``notional``: the sale brings
    ``notional`` less all three."""
    commission = commission_nb(notional, commission_rate, min_commission)
    return commission, stamp_rate * notional, fee_rate * notional


@njit(cache=True, nogil=True)
def buy_cost_nb(
    notional: float, commission_rate: float, min_commission: float, stamp_rate: float,
    fee_rate: float,
) -> float:
    """Cash a buy of ``notional`` takes: notional + commission + stamp tax + transfer fee."""
    commission = commission_nb(notional, commission_rate, min_commission)
    return notional + commission + stamp_rate * notional + fee_rate * notional


@njit(cache=True, nogil=True)
def buy_shares_nb(
    price: float,
    target: float,
    cash: float,
    lot_min: int,
    lot_step: int,
    commission_rate: float,
    min_commission: float,
    stamp_rate: float,
    fee_rate: float,
) -> int:
    """Largest quantity allowed by the lot rule (a multiple of ``lot_step``, at least
    ``lot_min``) whose notional ``shares * price`` is <= ``target`` and whose cost
    (``buy_cost_nb``) is <= ``cash``; 0 when not even ``lot_min`` shares fit.

    The search starts at ``floor(target / price)`` shares rounded down to the step and
    steps down. Every cost is at least ``notional * (1 + rates)``, so no quantity more
    than a step above ``cash / (price * (1 + rates))`` fits: the search starts no higher
    than that either (same answer, a few steps at most). Quantities stay below
    ``MAX_SHARES``, so the count never overflows.
    """
    rates = 1.0 + commission_rate + stamp_rate + fee_rate
    bound = min(np.floor(target / price), np.floor(cash / (price * rates)) + lot_step,
                MAX_SHARES)
    if not bound >= 0:  # NaN price or target
        return 0
    q = int(bound) // lot_step * lot_step
    while q >= lot_min:
        notional = q * price
        if notional <= target and buy_cost_nb(
            notional, commission_rate, min_commission, stamp_rate, fee_rate
        ) <= cash:
            return q
        q -= lot_step
    return 0


@njit(cache=True, nogil=True)
def buy_reason_nb(has_bar: bool, bar_price: float, up_limit: float, price_limits: bool) -> int:
    """``NO_REJECTION`` or the ``Reason`` a buy at ``bar_price`` (before slippage) fails.

    A NaN ``up_limit`` (no limit that day) never rejects.
    """
    if not has_bar:
        return Reason.SUSPENDED
    if price_limits and bar_price >= up_limit:
        return Reason.LIMIT_UP
    return NO_REJECTION


@njit(cache=True, nogil=True)
def sell_reason_nb(
    t: int,
    has_bar: bool,
    entry_day: int,
    bar_price: float,
    down_limit: float,
    price_limits: bool,
) -> int:
    """``NO_REJECTION`` or the ``Reason`` a sell on row ``t`` fails.

    T+1: shares bought on row ``entry_day`` cannot be sold before the next row. (The
    order flow never produces such a sell; the check guards the rule regardless.)
    """
    if not has_bar:
        return Reason.SUSPENDED
    if t <= entry_day:
        return Reason.T1
    if price_limits and bar_price <= down_limit:
        return Reason.LIMIT_DOWN
    return NO_REJECTION


@njit(cache=True, nogil=True)
def _record_fill_nb(fills, counts, t, s, side, shares, price, commission, tax, fee,
                    cash_after, exit_reason):
    rec = fills[counts[0]]
    rec["day"] = t
    rec["stock"] = s
    rec["side"] = side
    rec["shares"] = shares
    rec["price"] = price
    rec["commission"] = commission
    rec["tax"] = tax
    rec["transfer_fee"] = fee
    rec["cash_after"] = cash_after
    rec["exit_reason"] = exit_reason
    counts[0] += 1


@njit(cache=True, nogil=True)
def _record_rejection_nb(rejections, counts, t, s, side, reason):
    rec = rejections[counts[1]]
    rec["day"] = t
    rec["stock"] = s
    rec["side"] = side
    rec["reason"] = reason
    counts[1] += 1


@njit(cache=True, nogil=True)
def _allocate_records_nb(buy, sell, tradable, start_index, col_start, col_stop):
    """Record buffers sized by an upper bound, so no growth is needed.

    Every buy signal makes at most one order and every order at most one fill; every
    sell closes a position a buy of the run opened (a signal or an exit), so there are
    at most as many sell orders as buy fills. A buy order is rejected at most once; a
    sell order at most once as suspended plus once per later bar of its stock.
    """
    n_buys = 0
    n_bars = 0
    for t in range(start_index, buy.shape[0]):
        for s in range(col_start, col_stop):
            n_buys += buy[t, s]
            n_bars += tradable[t, s]
    return np.empty(2 * n_buys, dtype=fill_dt), np.empty(2 * n_buys + n_bars, dtype=rejection_dt)


@njit(cache=True, nogil=True)
def _bar_price_nb(market: Market, t: int, s: int, fill_close: bool) -> float:
    return market.close[t, s] if fill_close else market.open_[t, s]


@njit(cache=True, nogil=True)
def exit_reason_nb(close: float, entry: float, peak: float, bars: int, exits: Exits) -> int:
    """The first exit of SPEC §3c's list that bar ``close`` triggers, or ``NO_EXIT``.

    ``entry`` is the fill price, ``peak`` the highest close since the entry bar (this
    bar's included), ``bars`` the stock's bars since the entry bar."""
    if exits.stop_loss > 0.0 and close <= entry * (1.0 - exits.stop_loss):
        return ExitReason.STOP_LOSS
    if exits.take_profit > 0.0 and close >= entry * (1.0 + exits.take_profit):
        return ExitReason.TAKE_PROFIT
    if exits.trailing_stop > 0.0 and close <= peak * (1.0 - exits.trailing_stop):
        return ExitReason.TRAILING_STOP
    if exits.max_hold > 0 and bars >= exits.max_hold:
        return ExitReason.MAX_HOLD
    return NO_EXIT


@njit(cache=True, nogil=True)
def _queue_sells_nb(t, order_day, market, sell, exits, pos, col_start, col_stop):
    """Turn row ``t``'s sell signals and exits of held stocks into orders for
    ``order_day``. With exits on, a held stock's bar first moves its peak and bar count
    (not on the entry bar itself, which the buy set)."""
    for s in range(col_start, col_stop):
        if pos.shares[s] == 0:
            continue
        has_bar = market.tradable[t, s]
        if exits.active and has_bar and t > pos.entry_day[s]:
            pos.bars[s] += 1
            pos.peak[s] = max(pos.peak[s], market.close[t, s])
        if pos.sell_pending[s]:
            continue
        reason = NO_EXIT
        if sell[t, s]:
            reason = ExitReason.SIGNAL
        elif exits.active and has_bar:
            reason = exit_reason_nb(market.close[t, s], pos.entry_price[s], pos.peak[s],
                                    pos.bars[s], exits)
        if reason != NO_EXIT:
            pos.sell_pending[s] = True
            pos.sell_day[s] = order_day
            pos.exit_reason[s] = reason


@njit(cache=True, nogil=True)
def _collect_buys_nb(t, buy, score, pos, col_start, col_stop, order_stock, order_key):
    """Row ``t``'s buy signals of stocks not held (incl. pending sells), in index order."""
    n = 0
    for s in range(col_start, col_stop):
        if buy[t, s] and pos.shares[s] == 0:
            order_stock[n] = s
            order_key[n] = score[t, s]
            n += 1
    return n


@njit(cache=True, nogil=True)
def _sort_orders_nb(order_stock, order_key, n):
    """Stable insertion sort by key: equal keys keep their (index) order."""
    for i in range(1, n):
        s = order_stock[i]
        key = order_key[i]
        j = i
        while j > 0 and order_key[j - 1] > key:
            order_stock[j] = order_stock[j - 1]
            order_key[j] = order_key[j - 1]
            j -= 1
        order_stock[j] = s
        order_key[j] = key


@njit(cache=True, nogil=True)
def _run_sells_nb(
    t, market, costs, fill_close, price_limits, col_start, col_stop, per_stock,
    pos, cash, fills, rejections, counts,
):
    """Attempt every pending sell on row ``t``; return the number of positions closed."""
    n_closed = 0
    for s in range(col_start, col_stop):
        if not pos.sell_pending[s]:
            continue
        bar_price = _bar_price_nb(market, t, s, fill_close)
        reason = sell_reason_nb(
            t, market.tradable[t, s], pos.entry_day[s], bar_price, market.down_limit[t, s],
            price_limits,
        )
        if reason != NO_REJECTION:
            if reason != Reason.SUSPENDED or t == pos.sell_day[s]:
                _record_rejection_nb(rejections, counts, t, s, Side.SELL, reason)
            continue
        shares = pos.shares[s]
        price = bar_price * (1.0 - costs.slippage)
        notional = shares * price
        commission, tax, fee = sell_costs_nb(notional, costs.commission_rate,
                                             costs.min_commission, costs.stamp_sell[t],
                                             costs.transfer_fee[t])
        ci = s - col_start if per_stock else 0
        cash[ci] += notional - commission - tax - fee
        _record_fill_nb(fills, counts, t, s, Side.SELL, shares, price, commission, tax, fee,
                        cash[ci], pos.exit_reason[s])
        pos.shares[s] = 0
        pos.sell_pending[s] = False
        n_closed += 1
    return n_closed


@njit(cache=True, nogil=True)
def _run_buys_nb(
    t, n_orders, order_stock, order_key, market, costs, fill_close, price_limits,
    col_start, per_stock, target, max_positions, n_open, pos, cash, fills, rejections, counts,
):
    """Attempt the buy orders of row ``t``; return the number of open positions after.

    Shared mode: orders go lowest key (score) first and each targets ``target``; once
    ``max_positions`` are open the rest are rejected. Per-stock mode: each order
    targets its sleeve's whole cash and ``max_positions`` does not apply.
    """
    if not per_stock:
        _sort_orders_nb(order_stock, order_key, n_orders)
    for i in range(n_orders):
        s = order_stock[i]
        if not per_stock and n_open >= max_positions:
            _record_rejection_nb(rejections, counts, t, s, Side.BUY, Reason.MAX_POSITIONS)
            continue
        bar_price = _bar_price_nb(market, t, s, fill_close)
        reason = buy_reason_nb(market.tradable[t, s], bar_price, market.up_limit[t, s],
                               price_limits)
        if reason != NO_REJECTION:
            _record_rejection_nb(rejections, counts, t, s, Side.BUY, reason)
            continue
        ci = s - col_start if per_stock else 0
        price = bar_price * (1.0 + costs.slippage)
        order_target = cash[ci] if per_stock else target
        stamp_rate, fee_rate = costs.stamp_buy[t], costs.transfer_fee[t]
        shares = buy_shares_nb(
            price, order_target, cash[ci], costs.lot_min[s], costs.lot_step[s],
            costs.commission_rate, costs.min_commission, stamp_rate, fee_rate,
        )
        if shares == 0:
            _record_rejection_nb(rejections, counts, t, s, Side.BUY, Reason.LOT)
            continue
        notional = shares * price
        commission = commission_nb(notional, costs.commission_rate, costs.min_commission)
        tax = stamp_rate * notional
        fee = fee_rate * notional
        cash[ci] -= notional + commission + tax + fee
        _record_fill_nb(fills, counts, t, s, Side.BUY, shares, price, commission, tax, fee,
                        cash[ci], NO_EXIT)
        pos.shares[s] = shares
        pos.entry_day[s] = t
        pos.entry_price[s] = price
        pos.peak[s] = market.close[t, s]
        pos.bars[s] = 0
        n_open += 1
    return n_open


@njit(cache=True, nogil=True)
def _value_nb(t, d, market, pos, cash, col_start, col_stop, per_stock, cash_hist, pv_hist):
    """Store row ``t``'s cash and positions value (last known close) in run day ``d``."""
    for s in range(col_start, col_stop):
        if market.tradable[t, s]:
            pos.last_close[s] = market.close[t, s]
    for ci in range(cash.shape[0]):
        cash_hist[d, ci] = cash[ci]
        pv_hist[d, ci] = 0.0
    for s in range(col_start, col_stop):
        if pos.shares[s] > 0:
            ci = s - col_start if per_stock else 0
            pv_hist[d, ci] += pos.shares[s] * pos.last_close[s]


@njit(cache=True, nogil=True)
def _simulate_nb(
    market, score, buy, sell, start_index, col_start, col_stop, per_stock, fill_close,
    cash0, position_pct, max_positions, costs, price_limits, exits,
):
    """Day loop shared by both modes (see the module docstring).

    Returns ``(cash_hist, pv_hist, fills, rejections)``; the histories are
    ``(n_run, 1)`` in shared mode and ``(n_run, col_stop - col_start)`` per stock.
    """
    n_days, n_stocks = market.close.shape
    n_run = n_days - start_index
    n_cash = col_stop - col_start if per_stock else 1
    cash = np.full(n_cash, cash0)
    cash_hist = np.empty((n_run, n_cash))
    pv_hist = np.empty((n_run, n_cash))
    pos = Positions(
        np.zeros(n_stocks, dtype=np.int64),
        np.full(n_stocks, -1, dtype=np.int64),
        np.zeros(n_stocks, dtype=np.bool_),
        np.full(n_stocks, -1, dtype=np.int64),
        np.full(n_stocks, np.nan),
        np.full(n_stocks, np.nan),
        np.full(n_stocks, np.nan),
        np.zeros(n_stocks, dtype=np.int64),
        np.full(n_stocks, NO_EXIT, dtype=np.int8),
    )
    fills, rejections = _allocate_records_nb(
        buy, sell, market.tradable, start_index, col_start, col_stop
    )
    counts = np.zeros(2, dtype=np.int64)
    order_stock = np.empty(n_stocks, dtype=np.int64)
    order_key = np.empty(n_stocks)
    n_orders = 0
    n_open = 0
    prev_equity = cash0
    for d in range(n_run):
        t = start_index + d
        if fill_close:
            _queue_sells_nb(t, t, market, sell, exits, pos, col_start, col_stop)
        n_open -= _run_sells_nb(
            t, market, costs, fill_close, price_limits, col_start, col_stop, per_stock,
            pos, cash, fills, rejections, counts,
        )
        if fill_close:
            n_orders = _collect_buys_nb(t, buy, score, pos, col_start, col_stop,
                                        order_stock, order_key)
        n_open = _run_buys_nb(
            t, n_orders, order_stock, order_key, market, costs, fill_close,
            price_limits, col_start, per_stock, position_pct * prev_equity, max_positions,
            n_open, pos, cash, fills, rejections, counts,
        )
        n_orders = 0
        if not fill_close and d + 1 < n_run:
            _queue_sells_nb(t, t + 1, market, sell, exits, pos, col_start, col_stop)
            n_orders = _collect_buys_nb(t, buy, score, pos, col_start, col_stop,
                                        order_stock, order_key)
        _value_nb(t, d, market, pos, cash, col_start, col_stop, per_stock, cash_hist, pv_hist)
        prev_equity = cash_hist[d, 0] + pv_hist[d, 0]
    return cash_hist, pv_hist, fills[: counts[0]].copy(), rejections[: counts[1]].copy()


@njit(cache=True, nogil=True)
def simulate_shared_nb(
    market: Market,
    costs: Costs,
    score: np.ndarray,
    buy: np.ndarray,
    sell: np.ndarray,
    start_index: int,
    fill_close: bool,
    initial_capital: float,
    position_pct: float,
    max_positions: int,
    price_limits: bool,
    exits: Exits,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared-cash-pool simulation (``capital_mode="shared"``, SPEC §5).

    ``fill_close`` False means ``fill="next_open"``. A day's buys go lowest ``score`` on
    the signal bar first (SPEC §5), ties by stock index. Each buy targets
    ``position_pct * equity`` of the previous run day's close (``initial_capital`` on
    the first day). Returns ``(equity, cash, positions_value, fills, rejections)``;
    the first three have length ``n_run``, ``equity = cash + positions_value``.
    """
    cash_hist, pv_hist, fills, rejections = _simulate_nb(
        market, score, buy, sell, start_index, 0, market.close.shape[1], False, fill_close,
        initial_capital, position_pct, max_positions, costs, price_limits, exits,
    )
    cash = cash_hist[:, 0].copy()
    positions_value = pv_hist[:, 0].copy()
    return cash + positions_value, cash, positions_value, fills, rejections


@njit(cache=True, nogil=True)
def simulate_per_stock_nb(
    market: Market,
    costs: Costs,
    buy: np.ndarray,
    sell: np.ndarray,
    start_index: int,
    col_start: int,
    col_stop: int,
    fill_close: bool,
    sleeve_capital: float,
    price_limits: bool,
    exits: Exits,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-stock sleeves (``capital_mode="per_stock"``, SPEC §5) for stock columns
    ``col_start:col_stop`` of the full arrays.

    ``sleeve_capital`` is ``initial_capital / n_stocks`` of the whole universe. Sleeves
    never interact, so any split of the columns into chunks gives the same per-sleeve
    numbers. Returns ``(sleeve_equity, sleeve_cash, sleeve_positions_value, fills,
    rejections)``, the first three ``(n_run, col_stop - col_start)``; reduce them with
    ``sum_sleeves_nb`` after joining the chunks in column order. Records carry global
    stock indices; within a row, sells come before buys and each side is in index
    order, so chunk records merge by a stable sort on (day, sells first, stock).
    """
    # Sleeves never compete, so the buy priority key is unused: pass close as a stand-in.
    cash_hist, pv_hist, fills, rejections = _simulate_nb(
        market, market.close, buy, sell, start_index, col_start, col_stop, True, fill_close,
        sleeve_capital, 0.0, 0, costs, price_limits, exits,
    )
    return cash_hist + pv_hist, cash_hist, pv_hist, fills, rejections


@njit(cache=True, nogil=True)
def sum_sleeves_nb(values: np.ndarray) -> np.ndarray:
    """Row sums of ``(n_run, n_sleeves)`` values, added strictly in column order.

    Sequential (not pairwise) so the result depends only on the column order, never on
    how the columns were split across worker processes.
    """
    n_run, n_sleeves = values.shape
    out = np.zeros(n_run)
    for d in range(n_run):
        acc = 0.0
        for j in range(n_sleeves):
            acc += values[d, j]
        out[d] = acc
    return out
