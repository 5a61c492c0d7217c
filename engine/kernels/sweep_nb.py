"""The sweep's portfolio simulation: the day loop of ``engine.kernels.simulate_nb``, visiting
only the held stocks and the day's buy signals instead of every stock every day.

A sweep runs the same market data under many parameter sets and needs each one's equity,
positions value and fills (its metrics), never its rejections. So the per-data work is
done once (``last_close_table_nb``: each row's last known close), a combination's buy
signals become per-row lists (``buy_lists_nb``, shared by every combination with the same
buy signals), and ``simulate_sparse_nb`` keeps the held stocks in a list sorted by stock
index. Every order is tried, filled or rejected exactly as ``simulate_nb`` does it, in the
same order and with the same arithmetic, so equity, positions value and fills are
bit-identical (tests/test_sweep.py compares them with single runs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.records import NO_EXIT, NO_REJECTION, ExitReason, Side, fill_dt
from engine.kernels.simulate_nb import (
    Positions,
    _record_fill_nb,
    _sort_orders_nb,
    buy_reason_nb,
    buy_shares_nb,
    commission_nb,
    exit_reason_nb,
    sell_costs_nb,
    sell_reason_nb,
)


@njit(cache=True, nogil=True)
def last_close_table_nb(close: np.ndarray, tradable: np.ndarray) -> np.ndarray:
    """``(n_days, n_stocks)``: each stock's close on its latest bar at or before the row
    (NaN before its first bar), the price ``simulate_nb`` values a held stock at."""
    n_days, n_stocks = close.shape
    out = np.empty((n_days, n_stocks))
    last = np.full(n_stocks, np.nan)
    for t in range(n_days):
        for s in range(n_stocks):
            if tradable[t, s]:
                last[s] = close[t, s]
            out[t, s] = last[s]
    return out


@njit(cache=True, nogil=True)
def buy_lists_nb(buy: np.ndarray, score: np.ndarray, start_index: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row ``t``'s buy signals as ``stock[ptr[t]:ptr[t + 1]]`` (ascending) with their
    ``key`` (the score on the signal bar); rows before ``start_index`` have none."""
    n_days, n_stocks = buy.shape
    n = 0
    for t in range(start_index, n_days):
        for s in range(n_stocks):
            n += buy[t, s]
    ptr = np.zeros(n_days + 1, dtype=np.int64)
    stock = np.empty(n, dtype=np.int64)
    key = np.empty(n)
    k = 0
    for t in range(n_days):
        ptr[t] = k
        if t < start_index:
            continue
        for s in range(n_stocks):
            if buy[t, s]:
                stock[k] = s
                key[k] = score[t, s]
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
    """``simulate_nb._queue_sells_nb`` over the held stocks only."""
    for i in range(n_held):
        s = held[i]
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


@njit(cache=True, nogil=True, inline="always")
def _run_sells_nb(t, market, costs, fill_close, price_limits, per_stock, pos, cash,
                  held, n_held, fills, counts):
    """``simulate_nb._run_sells_nb`` over the held stocks (ascending), without
    rejection records; sold stocks leave ``held``. Returns the new ``n_held``."""
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
                ci = s if per_stock else 0
                cash[ci] += notional - commission - tax - fee
                _record_fill_nb(fills, counts, t, s, Side.SELL, shares, price, commission,
                                tax, fee, cash[ci], pos.exit_reason[s])
                pos.shares[s] = 0
                pos.sell_pending[s] = False
                continue
        held[kept] = s
        kept += 1
    return kept


@njit(cache=True, nogil=True, inline="always")
def _collect_buys_nb(t, ptr, stock, key, pos, order_stock, order_key):
    """Row ``t``'s buy signals of stocks not held, in index order."""
    n = 0
    for k in range(ptr[t], ptr[t + 1]):
        s = stock[k]
        if pos.shares[s] == 0:
            order_stock[n] = s
            order_key[n] = key[k]
            n += 1
    return n


@njit(cache=True, nogil=True, inline="always")
def _run_buys_nb(t, n_orders, order_stock, order_key, market, costs, fill_close,
                 price_limits, per_stock, target, max_positions, pos, cash, held, n_held,
                 fills, counts):
    """``simulate_nb._run_buys_nb`` without rejection records; bought stocks join
    ``held``. Returns the new ``n_held`` (the open positions)."""
    if not per_stock:
        if n_held >= max_positions:
            return n_held  # every order would be rejected, and only rejections recorded
        _sort_orders_nb(order_stock, order_key, n_orders)
    for i in range(n_orders):
        s = order_stock[i]
        if not per_stock and n_held >= max_positions:
            continue
        bar_price = market.close[t, s] if fill_close else market.open_[t, s]
        if buy_reason_nb(market.tradable[t, s], bar_price, market.up_limit[t, s],
                         price_limits) != NO_REJECTION:
            continue
        ci = s if per_stock else 0
        price = bar_price * (1.0 + costs.slippage)
        order_target = cash[ci] if per_stock else target
        stamp_rate, fee_rate = costs.stamp_buy[t], costs.transfer_fee[t]
        shares = buy_shares_nb(price, order_target, cash[ci], costs.lot_min[s],
                               costs.lot_step[s], costs.commission_rate,
                               costs.min_commission, stamp_rate, fee_rate)
        if shares == 0:
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
        n_held = _insert_nb(held, n_held, s)
    return n_held


@njit(cache=True, nogil=True, inline="always")
def _value_nb(t, d, last_close, pos, cash, held, n_held, per_stock, equity, value):
    """Run day ``d``'s equity and positions value, summed as ``simulate_nb`` (and, per
    stock, ``sum_sleeves_nb``) sums them: in stock index order."""
    if not per_stock:
        pv = 0.0
        for i in range(n_held):
            s = held[i]
            pv += pos.shares[s] * last_close[t, s]
        equity[d] = cash[0] + pv
        value[d] = pv
        return
    acc_equity = 0.0
    acc_value = 0.0
    for s in range(cash.shape[0]):
        pv = pos.shares[s] * last_close[t, s] if pos.shares[s] > 0 else 0.0
        acc_equity += cash[s] + pv
        acc_value += pv
    equity[d] = acc_equity
    value[d] = acc_value


@njit(cache=True, nogil=True)
def simulate_sparse_nb(market, costs, last_close, ptr, stock, key, sell, start_index,
                       per_stock, fill_close, cash0, position_pct, max_positions,
                       price_limits, exits):
    """``(equity, positions_value, fills)`` of ``simulate_shared_nb`` (``per_stock``
    False) or of ``simulate_per_stock_nb`` over every stock with its sleeves summed
    (``cash0`` is then the sleeve capital), from the buy lists of ``buy_lists_nb``, the
    dense ``sell`` signals and the ``last_close_table_nb`` of the market."""
    n_days, n_stocks = market.close.shape
    n_run = n_days - start_index
    cash = np.full(n_stocks if per_stock else 1, cash0)
    equity = np.empty(n_run)
    value = np.empty(n_run)
    n_buys = ptr[n_days] - ptr[start_index]
    fills = np.empty(2 * n_buys, dtype=fill_dt)
    counts = np.zeros(2, dtype=np.int64)
    held = np.empty(n_stocks, dtype=np.int64)
    order_stock = np.empty(n_stocks, dtype=np.int64)
    order_key = np.empty(n_stocks)
    pos = Positions(np.zeros(n_stocks, dtype=np.int64), np.full(n_stocks, -1, dtype=np.int64),
                    np.zeros(n_stocks, dtype=np.bool_), np.full(n_stocks, -1, dtype=np.int64),
                    np.full(n_stocks, np.nan), np.full(n_stocks, np.nan),
                    np.full(n_stocks, np.nan), np.zeros(n_stocks, dtype=np.int64),
                    np.full(n_stocks, NO_EXIT, dtype=np.int8))
    n_held = 0
    n_orders = 0
    prev_equity = cash0
    for d in range(n_run):
        t = start_index + d
        if fill_close:
            _queue_sells_nb(t, t, market, sell, exits, pos, held, n_held)
        n_held = _run_sells_nb(t, market, costs, fill_close, price_limits, per_stock, pos,
                               cash, held, n_held, fills, counts)
        if fill_close:
            n_orders = _collect_buys_nb(t, ptr, stock, key, pos, order_stock, order_key)
        n_held = _run_buys_nb(t, n_orders, order_stock, order_key, market, costs,
                              fill_close, price_limits, per_stock,
                              position_pct * prev_equity, max_positions, pos, cash, held,
                              n_held, fills, counts)
        n_orders = 0
        if not fill_close and d + 1 < n_run:
            _queue_sells_nb(t, t + 1, market, sell, exits, pos, held, n_held)
            n_orders = _collect_buys_nb(t, ptr, stock, key, pos, order_stock, order_key)
        _value_nb(t, d, last_close, pos, cash, held, n_held, per_stock, equity, value)
        prev_equity = equity[d]
    return equity, value, fills[: counts[0]].copy()
