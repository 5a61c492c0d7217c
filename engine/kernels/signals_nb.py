"""Jitted RSI threshold-crossing signals (SPEC §3)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def signals_nb(
    rsi: np.ndarray,
    tradable: np.ndarray,
    start_index: int,
    oversold: float,
    overbought: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Buy/sell signals on each stock's bars from row ``start_index`` on.

    Bar t is compared with the same stock's previous bar, which may lie in the
    warm-up before ``start_index``: buy when ``rsi_prev <= oversold < rsi_t``
    (RSI leaves the oversold zone), sell when ``rsi_prev >= overbought > rsi_t``.
    Any comparison with NaN is false, so bars without an RSI never signal.
    Returns ``(buy, sell)`` bool arrays shaped like ``rsi``.
    """
    n_days, n_stocks = rsi.shape
    buy = np.zeros((n_days, n_stocks), dtype=np.bool_)
    sell = np.zeros((n_days, n_stocks), dtype=np.bool_)
    prev = np.full(n_stocks, np.nan)
    for t in range(n_days):
        for s in range(n_stocks):
            if not tradable[t, s]:
                continue
            r = rsi[t, s]
            p = prev[s]
            prev[s] = r
            if t < start_index:
                continue
            buy[t, s] = p <= oversold and r > oversold
            sell[t, s] = p >= overbought and r < overbought
    return buy, sell
