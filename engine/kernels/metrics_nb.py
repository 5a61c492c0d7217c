"""Jitted metrics of SPEC §7 from a simulation's arrays and fill records, bit-identical to
the numpy path of ``engine.results.metrics`` and releasing the GIL (a sweep's
combinations run on several threads).

Every sum is numpy's: ``np.sum`` and ``np.mean`` of a contiguous float64 array add
pairwise (blocks of up to 128 elements summed with 8 accumulators, longer arrays split
in two at a multiple of 8), starting from 0.0; ``pairwise_sum_nb`` does the same
additions in the same order, and every other step is one IEEE operation as numpy's
elementwise ufuncs do it. ``run_figures_nb`` returns the reductions the metrics are
made from (``FIGURES`` names its slots); the formulas on them stay in
``engine.results.metrics``, shared with the numpy path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.records import Side

#: numpy's pairwise summation: blocks of at most this many elements are unrolled.
_BLOCK = 128

#: The slots of ``run_figures_nb``'s output, in order.
FIGURES = (
    "final", "mean_return", "std_return", "downside_mean_square",  # returns
    "trough", "peak", "max_drawdown", "longest_drawdown",  # drawdowns (indices as floats)
    "trades", "wins", "gross_profit", "gross_loss", "mean_trade_return",
    "mean_bars_held",  # closed trades
    "notional", "commission", "tax", "transfer_fee", "mean_equity", "exposure",  # costs
    "mean_excess", "mean_benchmark_excess", "covariance", "variance", "std_active",
    "mean_active",  # relative
)
# The slots as constants (a jitted function cannot read a dict global).
_FINAL = 0
_MEAN_RETURN = 1
_STD_RETURN = 2
_DOWNSIDE_MEAN_SQUARE = 3
_TROUGH = 4
_PEAK = 5
_MAX_DRAWDOWN = 6
_LONGEST_DRAWDOWN = 7
_TRADES = 8
_WINS = 9
_GROSS_PROFIT = 10
_GROSS_LOSS = 11
_MEAN_TRADE_RETURN = 12
_MEAN_BARS_HELD = 13
_NOTIONAL = 14
_COMMISSION = 15
_TAX = 16
_TRANSFER_FEE = 17
_MEAN_EQUITY = 18
_EXPOSURE = 19
_MEAN_EXCESS = 20
_MEAN_BENCHMARK_EXCESS = 21
_COVARIANCE = 22
_VARIANCE = 23
_STD_ACTIVE = 24
_MEAN_ACTIVE = 25


@njit(cache=True, nogil=True, error_model="numpy")
def _block_sum_nb(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's sum of a block of at most ``_BLOCK`` elements: one by one below 8, else
    8 accumulators added in a tree, then the rest one by one."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    stop = lo + n - n % 8
    i = lo + 8
    while i < stop:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        res += a[i]
        i += 1
    return res


@njit(cache=True, nogil=True, error_model="numpy")
def pairwise_sum_nb(a: np.ndarray, lo: int, n: int) -> float:
    """``a[lo:lo + n]``'s sum as numpy's pairwise summation adds it (without the 0.0
    that ``np.sum`` starts from): a longer stretch than ``_BLOCK`` is the sum of its first
    ``n // 2`` elements (rounded down to a multiple of 8) and the rest. Walked with an
    explicit stack: numba's cache cannot hold a recursive function."""
    if n <= _BLOCK:
        return _block_sum_nb(a, lo, n)
    starts, sizes = np.empty(64, np.int64), np.empty(64, np.int64)
    right_pending = np.zeros(64, np.bool_)
    left_sums = np.empty(64)
    top = 0
    starts[0], sizes[0] = lo, n
    while True:
        m = sizes[top]
        if m > _BLOCK:  # split: the left half first
            half = m // 2 - (m // 2) % 8
            right_pending[top] = True
            starts[top + 1], sizes[top + 1] = starts[top], half
            top += 1
            continue
        value = _block_sum_nb(a, starts[top], m)
        top -= 1
        while top >= 0:  # hand the value up until a right half is still to do
            if right_pending[top]:
                right_pending[top] = False
                left_sums[top] = value
                half = sizes[top] // 2 - (sizes[top] // 2) % 8
                starts[top + 1], sizes[top + 1] = starts[top] + half, sizes[top] - half
                top += 1
                break
            value = left_sums[top] + value
            top -= 1
        if top < 0:
            return value


@njit(cache=True, nogil=True, error_model="numpy")
def sum_nb(a: np.ndarray) -> float:
    """``np.sum(a)`` of a contiguous 1-D float64 array, bit for bit."""
    return 0.0 + pairwise_sum_nb(a, 0, a.size)


@njit(cache=True, nogil=True, error_model="numpy")
def mean_nb(a: np.ndarray) -> float:
    """``np.mean(a)`` (NaN when empty)."""
    return sum_nb(a) / a.size if a.size else np.nan


@njit(cache=True, nogil=True, error_model="numpy")
def std_nb(a: np.ndarray, ddof: int) -> float:
    """``np.std(a, ddof=ddof)``: the root of the pairwise sum of squared deviations from
    the mean over ``n - ddof``."""
    mean = sum_nb(a) / a.size
    dev = np.empty(a.size)
    for i in range(a.size):
        x = a[i] - mean
        dev[i] = x * x
    return np.sqrt(sum_nb(dev) / max(a.size - ddof, 0))


@njit(cache=True, nogil=True, error_model="numpy")
def daily_returns_nb(equity: np.ndarray, initial_capital: float) -> np.ndarray:
    """``engine.results.metrics.daily_returns``."""
    out = np.empty(equity.size)
    prev = initial_capital
    for i in range(equity.size):
        out[i] = equity[i] / prev - 1.0
        prev = equity[i]
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _drawdown_nb(equity: np.ndarray, fig: np.ndarray) -> None:
    """Trough (``np.argmin`` of the drawdown: its first minimum, or first NaN), the last
    day at the running high before it (-1: none), the drawdown there and the longest
    run of days below the running high."""
    n = equity.size
    dd = np.empty(n)
    high = equity[0]
    for i in range(n):
        x = equity[i]
        if x > high or np.isnan(x):  # np.maximum.accumulate: NaN propagates
            high = x
        dd[i] = x / high - 1.0
    trough, best = 0, dd[0]
    if not np.isnan(best):
        for i in range(1, n):
            if np.isnan(dd[i]):
                trough = i
                break
            if dd[i] < best:
                trough, best = i, dd[i]
    peak = -1
    for i in range(trough, -1, -1):
        if dd[i] == 0:
            peak = i
            break
    longest = run = 0
    for i in range(n):
        run = run + 1 if dd[i] < 0 else 0
        longest = max(longest, run)
    fig[_TROUGH], fig[_PEAK] = trough, peak
    fig[_MAX_DRAWDOWN], fig[_LONGEST_DRAWDOWN] = dd[trough], longest


@njit(cache=True, nogil=True, error_model="numpy")
def _closed_trades_nb(fills: np.ndarray, tradable: np.ndarray, fig: np.ndarray) -> None:
    """The closed round trips' statistics as ``results.tables.trade_arrays`` and
    ``trade_order`` make them: a buy is closed by the next fill of its stock when that is
    a sell; the trades are taken by entry day, then stock."""
    n_fills, n_stocks = fills.size, tradable.shape[1]
    following = np.full(n_stocks, -1, np.int64)
    exit_of = np.full(n_fills, -1, np.int64)
    for i in range(n_fills - 1, -1, -1):
        s = fills[i]["stock"]
        j = following[s]
        if fills[i]["side"] == Side.BUY and j >= 0 and fills[j]["side"] == Side.SELL:
            exit_of[i] = j
        following[s] = i
    entries = np.flatnonzero(exit_of >= 0)
    keys = np.empty(entries.size, np.int64)
    for k in range(entries.size):
        keys[k] = fills[entries[k]]["day"] * n_stocks + fills[entries[k]]["stock"]
    entries = entries[np.argsort(keys)]  # a stock is bought at most once a day
    n = entries.size
    pnl, ret = np.empty(n), np.empty(n)
    bars = 0
    for k in range(n):
        e, x = fills[entries[k]], fills[exit_of[entries[k]]]
        shares = float(e["shares"])
        cost = shares * e["price"] + e["commission"] + e["tax"] + e["transfer_fee"]
        exit_costs = x["commission"] + x["tax"] + x["transfer_fee"]
        pnl[k] = shares * x["price"] - exit_costs - cost
        ret[k] = pnl[k] / cost
        for t in range(e["day"] + 1, x["day"] + 1):
            bars += tradable[t, e["stock"]]
    fig[_TRADES] = n
    fig[_WINS] = (pnl > 0).sum()
    fig[_GROSS_PROFIT] = sum_nb(pnl[pnl > 0])
    fig[_GROSS_LOSS] = sum_nb(-pnl[pnl < 0])
    fig[_MEAN_TRADE_RETURN] = mean_nb(ret)
    fig[_MEAN_BARS_HELD] = float(bars) / n if n else np.nan  # whole numbers: exact


@njit(cache=True, nogil=True, error_model="numpy")
def _field_sum_nb(fills: np.ndarray, name_index: int) -> float:
    """``np.sum`` of a contiguous copy of the fills' commission (0), tax (1) or transfer
    fee (2)."""
    out = np.empty(fills.size)
    for i in range(fills.size):
        f = fills[i]
        out[i] = (f["commission"] if name_index == 0
                  else f["tax"] if name_index == 1 else f["transfer_fee"])
    return sum_nb(out)


@njit(cache=True, nogil=True, error_model="numpy")
def _costs_nb(fills: np.ndarray, equity: np.ndarray, value: np.ndarray,
              fig: np.ndarray) -> None:
    """Traded notional, the costs' totals, mean equity and exposure."""
    notional = np.empty(fills.size)
    for i in range(fills.size):
        notional[i] = fills[i]["shares"] * fills[i]["price"]
    fig[_NOTIONAL] = sum_nb(notional)
    fig[_COMMISSION] = _field_sum_nb(fills, 0)
    fig[_TAX] = _field_sum_nb(fills, 1)
    fig[_TRANSFER_FEE] = _field_sum_nb(fills, 2)
    fig[_MEAN_EQUITY] = mean_nb(equity)
    fig[_EXPOSURE] = mean_nb(value / equity)


@njit(cache=True, nogil=True, error_model="numpy")
def _relative_nb(raw_r: np.ndarray, raw_b: np.ndarray, daily_rf: float,
                 fig: np.ndarray) -> None:
    """``engine.results.metrics.relative_stats``'s reductions."""
    r, b = raw_r - daily_rf, raw_b - daily_rf
    mean_r, mean_b = mean_nb(r), mean_nb(b)
    spread = b - mean_b
    fig[_MEAN_EXCESS], fig[_MEAN_BENCHMARK_EXCESS] = mean_r, mean_b
    fig[_COVARIANCE] = sum_nb(spread * (r - mean_r))
    fig[_VARIANCE] = sum_nb(spread * spread)
    active = raw_r - raw_b
    fig[_STD_ACTIVE] = std_nb(active, 1) if r.size > 1 else np.nan
    fig[_MEAN_ACTIVE] = mean_nb(active)


@njit(cache=True, nogil=True, error_model="numpy")
def run_figures_nb(equity: np.ndarray, value: np.ndarray, fills: np.ndarray,
                   tradable: np.ndarray, benchmark: np.ndarray, initial_capital: float,
                   daily_rf: float, returns_out: np.ndarray) -> np.ndarray:
    """The reductions behind every metric (``FIGURES``' slots) of a simulation's equity,
    positions value and fill records against the benchmark's equity; the daily returns
    go to ``returns_out`` (float32 or float64, one per day)."""
    fig = np.full(len(FIGURES), np.nan)
    r = daily_returns_nb(equity, initial_capital)
    for i in range(r.size):
        returns_out[i] = r[i]
    n = r.size
    fig[_FINAL] = equity[n - 1]
    fig[_MEAN_RETURN] = mean_nb(r)
    fig[_STD_RETURN] = std_nb(r, 1) if n > 1 else np.nan
    down = np.empty(n)
    for i in range(n):
        x = r[i] - daily_rf
        x = x if x < 0.0 or np.isnan(x) else 0.0  # np.minimum(x, 0.0)
        down[i] = x * x
    fig[_DOWNSIDE_MEAN_SQUARE] = mean_nb(down)
    _drawdown_nb(equity, fig)
    _closed_trades_nb(fills, tradable, fig)
    _costs_nb(fills, equity, value, fig)
    _relative_nb(r, daily_returns_nb(benchmark, initial_capital), daily_rf, fig)
    return fig
