"""Jitted daily price limits with Python's exact ``round(x, 2)`` semantics (SPEC §4).

Python's ``round(x, 2)`` rounds the *exact binary value* of ``x`` to two decimals,
half to even, and returns the double nearest that decimal. ``x * 100`` in floating
point loses the information needed to decide ties and near-ties (``10.05 * 1.1``),
so ``round2_nb`` recovers the rounding error of the product exactly with Dekker's
TwoProduct (Veltkamp splitting, no reliance on fused multiply-add).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_VELTKAMP = 134217729.0  # 2**27 + 1: splits a double into two 26-bit halves
#: Above this magnitude ``x * 100`` may reach 2**52 and the fast path no longer holds.
ROUND2_MAX = 4.5e13


@njit(cache=True, nogil=True)
def two_product_nb(a: float, b: float) -> tuple[float, float]:
    """``(p, e)`` with ``p = fl(a * b)`` and ``a * b == p + e`` exactly (Dekker)."""
    p = a * b
    c = _VELTKAMP * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _VELTKAMP * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


@njit(cache=True, nogil=True)
def round2_nb(x: float) -> float:
    """Exactly Python's ``round(x, 2)`` for ``|x| < ROUND2_MAX``; NaN/inf pass through.

    Values at or above ``ROUND2_MAX`` are returned unchanged (prices never get there).
    """
    ax = abs(x)
    if not ax < ROUND2_MAX:
        return x
    p, e = two_product_nb(ax, 100.0)  # ax * 100 == p + e exactly
    k = math.floor(p)
    if k == p:
        # |e| <= ulp(p) / 2 < 0.5, so the nearest integer of p + e is p itself.
        n = p
    else:
        # floor(p + e) == k; d is exact, and the fraction p + e - k is d + e + 0.5.
        d = (p - k) - 0.5
        if d > -e:
            n = k + 1.0
        elif d < -e:
            n = k
        else:
            n = k if k % 2.0 == 0.0 else k + 1.0
    return math.copysign(n / 100.0, x)


@njit(cache=True, nogil=True)
def limit_up_nb(prev_close: float, limit_pct: float) -> float:
    """Limit-up price ``round(prev_close * (1 + L), 2)``; NaN when ``prev_close`` is NaN."""
    return round2_nb(prev_close * (1.0 + limit_pct))


@njit(cache=True, nogil=True)
def limit_down_nb(prev_close: float, limit_pct: float) -> float:
    """Limit-down price ``round(prev_close * (1 - L), 2)``; NaN when ``prev_close`` is NaN."""
    return round2_nb(prev_close * (1.0 - limit_pct))


@njit(cache=True, nogil=True)
def round2_array_nb(x: np.ndarray) -> np.ndarray:
    """``round2_nb`` applied to every element of a 1-D array."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = round2_nb(x[i])
    return out
