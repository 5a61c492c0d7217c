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
The rules themselves (costs, lot sizing, rejection reasons, exit levels) are in
``engine.kernels.orders_nb``; their public names are importable from here too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from engine.kernels.orders_nb import MAX_SHARES as MAX_SHARES  # re-exported
from engine.kernels.orders_nb import (
    Costs,
    Exits,
    buy_reason_nb,
    buy_shares_nb,
    commission_nb,
    exit_at_levels_nb,
    sell_costs_nb,
    sell_reason_nb,
    stop_levels_nb,
    trail_level_nb,
)
from engine.kernels.orders_nb import buy_cost_nb as buy_cost_nb  # re-exported
from engine.kernels.orders_nb import exit_reason_nb as exit_reason_nb  # re-exported
from engine.kernels.orders_nb import make_exits as make_exits  # re-exported
from engine.kernels.records import (
    NO_EXIT,
    NO_REJECTION,
    ExitReason,
    Reason,
    Side,
    fill_dt,
    rejection_dt,
)


class Market(NamedTuple):
    """Aligned market data, ``(n_days, n_stocks)``; limits are NaN where a bar has none."""

    open_: np.ndarray
    close: np.ndarray
    up_limit: np.ndarray
    down_limit: np.ndarray
    tradable: np.ndarray


class Positions(NamedTuple):
    """Per-stock state, indexed by the global stock index, mutated in place; the exit
    levels are set at the buy (and the trailing one as the peak moves) when exits are on."""

    shares: np.ndarray  # int64, 0 when flat
    entry_day: np.ndarray  # int64, row of the last buy
    sell_pending: np.ndarray  # bool, a sell order is waiting to fill
    sell_day: np.ndarray  # int64, row the pending sell order was placed for
    last_close: np.ndarray  # float64, close of the stock's latest bar while held
    peak: np.ndarray  # float64, highest close from the entry bar on
    bars: np.ndarray  # int64, the stock's bars since the entry bar (which is bar 0)
    exit_reason: np.ndarray  # int8, the pending sell's ``ExitReason``
    stop: np.ndarray  # float64, stop-loss level (``stop_levels_nb``)
    take: np.ndarray  # float64, take-profit level
    trail: np.ndarray  # float64, trailing-stop level (``trail_level_nb`` of the peak)


@njit(cache=True, nogil=True)
def _new_positions_nb(n_stocks: int) -> Positions:
    return Positions(
        np.zeros(n_stocks, dtype=np.int64), np.full(n_stocks, -1, dtype=np.int64),
        np.zeros(n_stocks, dtype=np.bool_), np.full(n_stocks, -1, dtype=np.int64),
        np.full(n_stocks, np.nan), np.full(n_stocks, np.nan),
        np.zeros(n_stocks, dtype=np.int64), np.full(n_stocks, NO_EXIT, dtype=np.int8),
        np.full(n_stocks, -np.inf), np.full(n_stocks, np.inf), np.full(n_stocks, -np.inf),
    )


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
def _allocate_records_nb(ptr, tradable, start_index, col_start, col_stop, record_rejections):
    """Record buffers sized by an upper bound, so no growth is needed.

    Every buy signal makes at most one order and every order at most one fill; every
    sell closes a position a buy of the run opened (a signal or an exit), so there are
    at most as many sell orders as buy fills. A buy order is rejected at most once; a
    sell order at most once as suspended plus once per later bar of its stock.
    """
    n_buys = ptr[ptr.size - 1] - ptr[start_index]
    fills = np.empty(2 * n_buys, dtype=fill_dt)
    if not record_rejections:
        return fills, np.empty(0, dtype=rejection_dt)
    n_bars = 0
    for t in range(start_index, tradable.shape[0]):
        for s in range(col_start, col_stop):
            n_bars += tradable[t, s]
    return fills, np.empty(2 * n_buys + n_bars, dtype=rejection_dt)


@njit(cache=True, nogil=True)
def buy_lists_nb(buy: np.ndarray, score: np.ndarray, start_index: int, col_start: int,
                 col_stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row ``t``'s buy signals in columns ``col_start:col_stop`` as
    ``stock[ptr[t]:ptr[t + 1]]`` (ascending) with their ``key`` (the score on the signal
    bar); rows before ``start_index`` have none. Combinations with the same buy signals
    share them."""
    n_days = buy.shape[0]
    # Bytes summed row by row and rows indexed as 1-d arrays: the count runs on vectors
    # and the scan reads two row pointers (0.44 -> 0.25 ms on the headline universe).
    flags = buy.view(np.uint8)
    n = 0
    for t in range(start_index, n_days):
        row = flags[t, col_start:col_stop]
        in_row = np.uint32(0)
        for s in range(row.size):
            in_row += row[s]
        n += int(in_row)
    ptr = np.zeros(n_days + 1, dtype=np.int64)
    stock = np.empty(n, dtype=np.int64)
    key = np.empty(n)
    k = 0
    for t in range(n_days):
        ptr[t] = k
        if t < start_index:
            continue
        row, row_score = flags[t], score[t]
        for s in range(col_start, col_stop):
            if row[s]:
                stock[k] = s
                key[k] = row_score[s]
                k += 1
    ptr[n_days] = k
    return ptr, stock, key


@njit(cache=True, nogil=True, inline="always")
def _insert_nb(held, n_held, s):
    """Insert stock ``s`` into the ascending ``held[:n_held]``; return the new length."""
    j = n_held
    while j > 0 and held[j - 1] > s:
        held[j] = held[j - 1]
        j -= 1
    held[j] = s
    return n_held + 1


@njit(cache=True, nogil=True, inline="always")
def _queue_sells_nb(t, order_day, market, sell, exits, pos, held, n_held):
    """Turn row ``t``'s sell signals and exits of the held stocks into orders for
    ``order_day``. With exits on, a held stock's bar first moves its peak (and trailing
    level) and bar count (not on the entry bar itself, which the buy set)."""
    for i in range(n_held):
        s = held[i]
        has_bar = market.tradable[t, s]
        if exits.active and has_bar and t > pos.entry_day[s]:
            pos.bars[s] += 1
            close = market.close[t, s]
            if close > pos.peak[s]:
                pos.peak[s] = close
                pos.trail[s] = trail_level_nb(close, exits)
        if pos.sell_pending[s]:
            continue
        reason = NO_EXIT
        if sell[t, s]:
            reason = ExitReason.SIGNAL
        elif exits.active and has_bar:
            reason = exit_at_levels_nb(market.close[t, s], pos.stop[s], pos.take[s],
                                       pos.trail[s], pos.bars[s], exits.max_hold)
        if reason != NO_EXIT:
            pos.sell_pending[s] = True
            pos.sell_day[s] = order_day
            pos.exit_reason[s] = reason


@njit(cache=True, nogil=True, inline="always")
def _collect_buys_nb(t, ptr, stock, key, pos, order_stock, order_key):
    """Row ``t``'s buy signals of stocks not held (incl. pending sells), in index order."""
    n = 0
    for k in range(ptr[t], ptr[t + 1]):
        s = stock[k]
        if pos.shares[s] == 0:
            order_stock[n] = s
            order_key[n] = key[k]
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


@njit(cache=True, nogil=True, inline="always")
def _run_sells_nb(t, market, costs, fill_close, price_limits, col_start, per_stock, pos,
                  cash, held, n_held, fills, rejections, counts, record_rejections):
    """Attempt every pending sell on row ``t`` (held stocks in index order); sold stocks
    leave ``held``. Returns the new number of held stocks."""
    kept = 0
    for i in range(n_held):
        s = held[i]
        if pos.sell_pending[s]:
            bar_price = market.close[t, s] if fill_close else market.open_[t, s]
            reason = sell_reason_nb(t, market.tradable[t, s], pos.entry_day[s], bar_price,
                                    market.down_limit[t, s], price_limits)
            if reason == NO_REJECTION:
                shares = pos.shares[s]
                price = bar_price * (1.0 - costs.slippage)
                notional = shares * price
                commission, tax, fee = sell_costs_nb(notional, costs.commission_rate,
                                                     costs.min_commission, costs.stamp_sell[t],
                                                     costs.transfer_fee[t])
                ci = s - col_start if per_stock else 0
                cash[ci] += notional - commission - tax - fee
                _record_fill_nb(fills, counts, t, s, Side.SELL, shares, price, commission,
                                tax, fee, cash[ci], pos.exit_reason[s])
                pos.shares[s] = 0
                pos.sell_pending[s] = False
                continue
            if record_rejections and (reason != Reason.SUSPENDED or t == pos.sell_day[s]):
                _record_rejection_nb(rejections, counts, t, s, Side.SELL, reason)
        held[kept] = s
        kept += 1
    return kept


@njit(cache=True, nogil=True, inline="always")
def _open_nb(t, s, shares, price, market, exits, pos):
    """Position state of a buy of ``shares`` at ``price`` on row ``t``."""
    pos.shares[s] = shares
    pos.entry_day[s] = t
    pos.peak[s] = market.close[t, s]
    pos.bars[s] = 0
    if exits.active:
        pos.stop[s], pos.take[s] = stop_levels_nb(price, exits)
        pos.trail[s] = trail_level_nb(pos.peak[s], exits)


@njit(cache=True, nogil=True, inline="always")
def _run_buys_nb(t, n_orders, order_stock, order_key, market, costs, exits, fill_close,
                 price_limits, col_start, per_stock, target, max_positions, pos, cash,
                 held, n_held, fills, rejections, counts, record_rejections):
    """Attempt the buy orders of row ``t``; bought stocks join ``held``. Returns the new
    number of held stocks (the open positions).

    Shared mode: orders go lowest key (score) first and each targets ``target``; once
    ``max_positions`` are open the rest are rejected. Per-stock mode: each order
    targets its sleeve's whole cash and ``max_positions`` does not apply.
    """
    if not per_stock:
        if n_held >= max_positions and not record_rejections:
            return n_held  # every order would be rejected
        _sort_orders_nb(order_stock, order_key, n_orders)
    for i in range(n_orders):
        s = order_stock[i]
        if not per_stock and n_held >= max_positions:
            if record_rejections:
                _record_rejection_nb(rejections, counts, t, s, Side.BUY, Reason.MAX_POSITIONS)
            continue
        bar_price = market.close[t, s] if fill_close else market.open_[t, s]
        reason = buy_reason_nb(market.tradable[t, s], bar_price, market.up_limit[t, s],
                               price_limits)
        if reason != NO_REJECTION:
            if record_rejections:
                _record_rejection_nb(rejections, counts, t, s, Side.BUY, reason)
            continue
        ci = s - col_start if per_stock else 0
        price = bar_price * (1.0 + costs.slippage)
        stamp_rate, fee_rate = costs.stamp_buy[t], costs.transfer_fee[t]
        shares = buy_shares_nb(price, cash[ci] if per_stock else target, cash[ci],
                               costs.lot_min[s], costs.lot_step[s], costs.commission_rate,
                               costs.min_commission, stamp_rate, fee_rate)
        if shares == 0:
            if record_rejections:
                _record_rejection_nb(rejections, counts, t, s, Side.BUY, Reason.LOT)
            continue
        notional = shares * price
        commission = commission_nb(notional, costs.commission_rate, costs.min_commission)
        tax = stamp_rate * notional
        fee = fee_rate * notional
        cash[ci] -= notional + commission + tax + fee
        _record_fill_nb(fills, counts, t, s, Side.BUY, shares, price, commission, tax, fee,
                        cash[ci], NO_EXIT)
        _open_nb(t, s, shares, price, market, exits, pos)
        n_held = _insert_nb(held, n_held, s)
    return n_held


@njit(cache=True, nogil=True, inline="always")
def _value_nb(t, d, tradable, close, last_close, shares, cash, held, n_held, col_start,
              per_stock, out, cash_hist, pv_hist, histories):
    """Row ``t``'s valuation at the last known close, stored in run day ``d`` of ``out``
    (equity, cash, positions value; per stock: the sleeves summed in column order, as
    ``sum_sleeves_nb`` adds them) and, with ``histories``, of the sleeves' histories.

    A held stock was bought on one of its bars, so its last close is kept up to date
    from its bars while held."""
    for i in range(n_held):
        s = held[i]
        if tradable[t, s]:
            last_close[s] = close[t, s]
    equity, cash_out, value = out
    if not per_stock:
        pv = 0.0
        for i in range(n_held):
            s = held[i]
            pv += shares[s] * last_close[s]
        equity[d] = cash[0] + pv
        cash_out[d] = cash[0]
        value[d] = pv
        return
    acc_equity = 0.0
    acc_cash = 0.0
    acc_value = 0.0
    for ci in range(cash.shape[0]):
        s = col_start + ci
        pv = shares[s] * last_close[s] if shares[s] > 0 else 0.0
        if histories:
            cash_hist[d, ci] = cash[ci]
            pv_hist[d, ci] = pv
        acc_equity += cash[ci] + pv
        acc_cash += cash[ci]
        acc_value += pv
    equity[d] = acc_equity
    cash_out[d] = acc_cash
    value[d] = acc_value


@njit(cache=True, nogil=True)
def _simulate_nb(market, costs, lists, sell, start_index, col_start, col_stop, per_stock,
                 fill_close, cash0, position_pct, max_positions, price_limits, exits,
                 record_rejections, histories):
    """The day loop of both modes (see the module docstring) over columns
    ``col_start:col_stop``, from the buy lists ``lists`` (``buy_lists_nb``) and the dense
    ``sell`` signals. It visits only the held stocks (kept in index order) and each day's
    buy signals; rejections are recorded only with ``record_rejections``, the sleeves'
    histories only with ``histories`` (per stock).

    Returns ``(equity, cash, positions_value, cash_hist, pv_hist, fills, rejections)``:
    the first three ``(n_run,)`` (per stock: the sleeves summed in column order), the
    histories ``(n_run, col_stop - col_start)`` (``(0, 0)`` without ``histories``).
    """
    ptr, stock, key = lists
    n_days, n_stocks = market.close.shape
    n_run = n_days - start_index
    n_cash = col_stop - col_start if per_stock else 1
    cash = np.full(n_cash, cash0)
    out = (np.empty(n_run), np.empty(n_run), np.empty(n_run))
    n_hist = n_cash if per_stock and histories else 0
    cash_hist = np.empty((n_run if n_hist else 0, n_hist))
    pv_hist = np.empty((n_run if n_hist else 0, n_hist))
    pos = _new_positions_nb(n_stocks)
    fills, rejections = _allocate_records_nb(ptr, market.tradable, start_index, col_start,
                                             col_stop, record_rejections)
    counts = np.zeros(2, dtype=np.int64)
    held = np.empty(n_stocks, dtype=np.int64)
    order_stock = np.empty(n_stocks, dtype=np.int64)
    order_key = np.empty(n_stocks)
    n_held = 0
    n_orders = 0
    prev_equity = cash0
    for d in range(n_run):
        t = start_index + d
        # Each step is skipped when it has nothing to do (no held stock, no buy signal,
        # no order): handing the position and market tuples to a step costs the day loop
        # more than the step itself on most days.
        if fill_close and n_held > 0:
            _queue_sells_nb(t, t, market, sell, exits, pos, held, n_held)
        if n_held > 0:
            n_held = _run_sells_nb(t, market, costs, fill_close, price_limits, col_start,
                                   per_stock, pos, cash, held, n_held, fills, rejections,
                                   counts, record_rejections)
        if fill_close and ptr[t + 1] > ptr[t]:
            n_orders = _collect_buys_nb(t, ptr, stock, key, pos, order_stock, order_key)
        if n_orders > 0:
            n_held = _run_buys_nb(t, n_orders, order_stock, order_key, market, costs, exits,
                                  fill_close, price_limits, col_start, per_stock,
                                  position_pct * prev_equity, max_positions, pos, cash, held,
                                  n_held, fills, rejections, counts, record_rejections)
        n_orders = 0
        if not fill_close and d + 1 < n_run:
            if n_held > 0:
                _queue_sells_nb(t, t + 1, market, sell, exits, pos, held, n_held)
            if ptr[t + 1] > ptr[t]:
                n_orders = _collect_buys_nb(t, ptr, stock, key, pos, order_stock, order_key)
        _value_nb(t, d, market.tradable, market.close, pos.last_close, pos.shares, cash, held,
                  n_held, col_start, per_stock, out, cash_hist, pv_hist, histories)
        prev_equity = out[0][d]
    return (out[0], out[1], out[2], cash_hist, pv_hist, fills[: counts[0]].copy(),
            rejections[: counts[1]].copy())


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
    n_stocks = market.close.shape[1]
    lists = buy_lists_nb(buy, score, start_index, 0, n_stocks)
    equity, cash, value, _, _, fills, rejections = _simulate_nb(
        market, costs, lists, sell, start_index, 0, n_stocks, False, fill_close,
        initial_capital, position_pct, max_positions, price_limits, exits, True, False,
    )
    return equity, cash, value, fills, rejections


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
    lists = buy_lists_nb(buy, market.close, start_index, col_start, col_stop)
    _, _, _, cash_hist, pv_hist, fills, rejections = _simulate_nb(
        market, costs, lists, sell, start_index, col_start, col_stop, True, fill_close,
        sleeve_capital, 0.0, 0, price_limits, exits, True, True,
    )
    return cash_hist + pv_hist, cash_hist, pv_hist, fills, rejections


@njit(cache=True, nogil=True)
def simulate_lists_nb(
    market: Market,
    costs: Costs,
    lists: tuple[np.ndarray, np.ndarray, np.ndarray],
    sell: np.ndarray,
    start_index: int,
    per_stock: bool,
    fill_close: bool,
    cash0: float,
    position_pct: float,
    max_positions: int,
    price_limits: bool,
    exits: Exits,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a sweep needs of a run, ``(equity, positions_value, fills)``, from buy lists
    ``lists`` (``buy_lists_nb`` over all columns, shared by combinations with the same
    buy signals): ``simulate_shared_nb``'s (``per_stock`` False), or
    ``simulate_per_stock_nb``'s over every stock with its sleeves summed by
    ``sum_sleeves_nb`` (``cash0`` is then the sleeve capital), bit for bit. No rejection
    records."""
    equity, _, value, _, _, fills, _ = _simulate_nb(
        market, costs, lists, sell, start_index, 0, market.close.shape[1], per_stock,
        fill_close, cash0, position_pct, max_positions, price_limits, exits, False, False,
    )
    return equity, value, fills


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
