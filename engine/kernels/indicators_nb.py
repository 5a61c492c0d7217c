"""Jitted RSI kernels (SPEC §3), computed on each stock's own bar sequence.

Both kernels take aligned ``(n_days, n_stocks)`` arrays: ``close`` (float64) and
``tradable`` (bool, True where the stock has a bar). Days without a bar are skipped,
not zero-filled, and get NaN. The first ``period`` bars of each stock are NaN.
The arithmetic follows the SPEC formulas literally (sums accumulate in bar order)
so that an independent implementation reproduces the values bit for bit.
Parameters are validated at the boundary, not here (``2 <= period``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_from_averages_nb(avg_gain: float, avg_loss: float) -> float:
    """RSI from the average gain and loss, with the SPEC's edge rules (written without
    branches, so that a row of stocks runs on vectors; the quotient computed where
    ``avg_loss`` is 0 is never used)."""
    rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return rsi if avg_loss != 0.0 else (100.0 if avg_gain > 0.0 else 50.0)


#: What a stock's bar does to its Wilder averages: none (no bar, or its first), a
#: warm-up gain added, the last warm-up gain added and the sums divided, a Wilder step.
_NONE, _WARM, _FIRST, _STEP = 0, 1, 2, 3


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_wilder_nb(close: np.ndarray, tradable: np.ndarray, period: int) -> np.ndarray:
    """Wilder-smoothed RSI: the first average is the simple mean of the first
    ``period`` gains (losses), then ``avg = (avg_prev * (period - 1) + x) / period``.

    Each row is done in two passes: the bars' branches (which step each stock takes,
    its gain and loss), then the averages and the RSI without branches, which runs on
    vectors (the four divisions per bar bound a scalar loop). Every stock's value comes
    from the same operations in the same order as one branch per step would give."""
    n_days, n_stocks = close.shape
    out = np.empty((n_days, n_stocks))
    n_bars = np.zeros(n_stocks, dtype=np.int64)
    prev = np.full(n_stocks, np.nan)
    # Running sums during warm-up; the Wilder averages afterwards.
    avg_gain, avg_loss = np.zeros(n_stocks), np.zeros(n_stocks)
    gain, loss = np.zeros(n_stocks), np.zeros(n_stocks)
    step = np.zeros(n_stocks, dtype=np.int64)
    for t in range(n_days):
        for s in range(n_stocks):
            step[s] = _NONE
            if not tradable[t, s]:
                continue
            c = close[t, s]
            k = n_bars[s]  # 1-based number of this bar's price change
            n_bars[s] = k + 1
            if k == 0:
                prev[s] = c
                continue
            d = c - prev[s]
            prev[s] = c
            gain[s] = d if d > 0.0 else 0.0
            loss[s] = -d if d < 0.0 else 0.0
            step[s] = _WARM if k < period else (_FIRST if k == period else _STEP)
        for s in range(n_stocks):
            st, ag, al, g, lo = step[s], avg_gain[s], avg_loss[s], gain[s], loss[s]
            ag = ((ag * (period - 1) + g) / period if st == _STEP
                  else (ag + g) / period if st == _FIRST else ag + g if st == _WARM else ag)
            al = ((al * (period - 1) + lo) / period if st == _STEP
                  else (al + lo) / period if st == _FIRST else al + lo if st == _WARM else al)
            avg_gain[s], avg_loss[s] = ag, al
            rsi = rsi_from_averages_nb(ag, al)
            out[t, s] = rsi if st >= _FIRST else np.nan
    return out


@njit(cache=True, nogil=True)
def rsi_sma_nb(close: np.ndarray, tradable: np.ndarray, period: int) -> np.ndarray:
    """RSI from simple rolling means of the last ``period`` gains and losses.

    Each mean is recomputed as an in-order sum of the window divided by ``period``
    (no running sum, whose rounding would drift from a straightforward reference).
    """
    n_days, n_stocks = close.shape
    out = np.full((n_days, n_stocks), np.nan)
    n_bars = np.zeros(n_stocks, dtype=np.int64)
    prev = np.full(n_stocks, np.nan)
    gains = np.zeros((period, n_stocks))
    losses = np.zeros((period, n_stocks))
    for t in range(n_days):
        for s in range(n_stocks):
            if not tradable[t, s]:
                continue
            c = close[t, s]
            k = n_bars[s]
            n_bars[s] = k + 1
            if k == 0:
                prev[s] = c
                continue
            d = c - prev[s]
            prev[s] = c
            slot = (k - 1) % period  # ring buffer; the oldest value sits right after it
            gains[slot, s] = d if d > 0.0 else 0.0
            losses[slot, s] = -d if d < 0.0 else 0.0
            if k < period:
                continue
            sum_gain = 0.0
            sum_loss = 0.0
            j = slot
            for _ in range(period):
                j = j + 1 if j + 1 < period else 0
                sum_gain += gains[j, s]
                sum_loss += losses[j, s]
            out[t, s] = rsi_from_averages_nb(sum_gain / period, sum_loss / period)
    return out


@njit(cache=True, nogil=True)
def sma_nb(close: np.ndarray, tradable: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average of each stock's last ``window`` closes (its own bars; NaN
    for its first ``window - 1`` bars and on days without a bar). Each mean is the
    in-order sum of the window divided by ``window``, as a reference would write it."""
    n_days, n_stocks = close.shape
    out = np.full((n_days, n_stocks), np.nan)
    n_bars = np.zeros(n_stocks, dtype=np.int64)
    ring = np.zeros((window, n_stocks))
    for t in range(n_days):
        for s in range(n_stocks):
            if not tradable[t, s]:
                continue
            k = n_bars[s]
            n_bars[s] = k + 1
            ring[k % window, s] = close[t, s]
            if k + 1 < window:
                continue
            total = 0.0
            for j in range(k + 1 - window, k + 1):  # oldest first
                total += ring[j % window, s]
            out[t, s] = total / window
    return out


@njit(cache=True, nogil=True)
def channel_nb(high: np.ndarray, low: np.ndarray, tradable: np.ndarray,
               window: int) -> tuple[np.ndarray, np.ndarray]:
    """The highest high and the lowest low of each stock's ``window`` bars before each
    bar (that bar excluded; NaN until ``window`` bars precede it, and on days without a
    bar)."""
    n_days, n_stocks = high.shape
    highest = np.full((n_days, n_stocks), np.nan)
    lowest = np.full((n_days, n_stocks), np.nan)
    n_bars = np.zeros(n_stocks, dtype=np.int64)
    highs = np.zeros((window, n_stocks))
    lows = np.zeros((window, n_stocks))
    for t in range(n_days):
        for s in range(n_stocks):
            if not tradable[t, s]:
                continue
            k = n_bars[s]
            n_bars[s] = k + 1
            if k >= window:
                hi = -np.inf
                lo = np.inf
                for j in range(window):
                    hi = max(hi, highs[j, s])
                    lo = min(lo, lows[j, s])
                highest[t, s] = hi
                lowest[t, s] = lo
            highs[k % window, s] = high[t, s]
            lows[k % window, s] = low[t, s]
    return highest, lowest
