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


@njit(cache=True, nogil=True)
def cross_signals_nb(
    fast: np.ndarray,
    slow: np.ndarray,
    tradable: np.ndarray,
    start_index: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moving-average cross signals (SPEC §3a ``ma_cross``) from row ``start_index`` on.

    Bar t is compared with the stock's previous bar: buy when ``fast_prev <= slow_prev``
    and ``fast_t > slow_t``, sell when ``fast_prev >= slow_prev`` and ``fast_t < slow_t``
    (NaN never signals). Returns ``(buy, sell, score)``, score ``-fast_t / slow_t``.
    """
    n_days, n_stocks = fast.shape
    buy = np.zeros((n_days, n_stocks), dtype=np.bool_)
    sell = np.zeros((n_days, n_stocks), dtype=np.bool_)
    score = np.full((n_days, n_stocks), np.nan)
    prev_fast = np.full(n_stocks, np.nan)
    prev_slow = np.full(n_stocks, np.nan)
    for t in range(n_days):
        for s in range(n_stocks):
            if not tradable[t, s]:
                continue
            f = fast[t, s]
            w = slow[t, s]
            pf = prev_fast[s]
            pw = prev_slow[s]
            prev_fast[s] = f
            prev_slow[s] = w
            if t < start_index:
                continue
            buy[t, s] = pf <= pw and f > w
            sell[t, s] = pf >= pw and f < w
            score[t, s] = -f / w
    return buy, sell, score


@njit(cache=True, nogil=True)
def breakout_signals_nb(
    close: np.ndarray,
    highest: np.ndarray,
    lowest: np.ndarray,
    tradable: np.ndarray,
    start_index: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel breakout signals (SPEC §3a ``breakout``) from row ``start_index`` on: buy
    when ``close_t`` is above the highest high of the previous window, sell when below
    the lowest low (NaN, before a full window, never signals). Returns ``(buy, sell,
    score)``, score ``-close_t / highest high``."""
    n_days, n_stocks = close.shape
    buy = np.zeros((n_days, n_stocks), dtype=np.bool_)
    sell = np.zeros((n_days, n_stocks), dtype=np.bool_)
    score = np.full((n_days, n_stocks), np.nan)
    for t in range(start_index, n_days):
        for s in range(n_stocks):
            if not tradable[t, s]:
                continue
            c = close[t, s]
            buy[t, s] = c > highest[t, s]
            sell[t, s] = c < lowest[t, s]
            score[t, s] = -c / highest[t, s]
    return buy, sell, score
