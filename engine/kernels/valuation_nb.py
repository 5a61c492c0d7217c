"""Jitted valuation helpers for results and metrics: no (days, stocks) temporaries."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def benchmark_equity_nb(open_: np.ndarray, close: np.ndarray, tradable: np.ndarray,
                        start_index: int, initial_capital: float) -> np.ndarray:
    """Equal-weight buy-and-hold equity per run day (SPEC §7), summed in stock order.

    Each stock gets ``initial_capital / n_stocks`` at its first open in the window
    (fractional shares, no costs) and is then valued at its last known close; until its
    first bar its share is cash, and it stays cash if the stock never trades.
    """
    n_days, n_stocks = close.shape
    sleeve = initial_capital / n_stocks
    shares = np.full(n_stocks, np.nan)
    last = np.full(n_stocks, np.nan)
    out = np.empty(n_days - start_index)
    for d in range(n_days - start_index):
        t = start_index + d
        total = 0.0
        for s in range(n_stocks):
            if tradable[t, s]:
                last[s] = close[t, s]
                if np.isnan(shares[s]):
                    shares[s] = sleeve / open_[t, s]
            total += sleeve if np.isnan(shares[s]) else shares[s] * last[s]
        out[d] = total
    return out


@njit(cache=True, nogil=True)
def last_close_nb(close: np.ndarray, tradable: np.ndarray) -> np.ndarray:
    """Each stock's close on its last bar (NaN for a stock without bars)."""
    n_days, n_stocks = close.shape
    out = np.full(n_stocks, np.nan)
    for s in range(n_stocks):
        for t in range(n_days - 1, -1, -1):
            if tradable[t, s]:
                out[s] = close[t, s]
                break
    return out


@njit(cache=True, nogil=True)
def bars_between_nb(tradable: np.ndarray, stock: np.ndarray, first: np.ndarray,
                    last: np.ndarray) -> np.ndarray:
    """For each i, the bars of ``stock[i]`` in rows ``first[i]+1 .. last[i]``."""
    out = np.zeros(stock.size, dtype=np.int64)
    for i in range(stock.size):
        s = stock[i]
        for t in range(first[i] + 1, last[i] + 1):
            if tradable[t, s]:
                out[i] += 1
    return out
