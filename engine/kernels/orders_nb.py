"""The order rules of the simulation (SPEC §3c, §4-5), jitted: costs, lot sizing, the
reasons an order is rejected and the exits' trigger levels. ``engine.kernels.simulate_nb``
applies them in its day loop (and re-exports them).

Check order of a buy: max_positions (shared mode, in the day loop) -> suspended ->
limit_up -> lot. Check order of a sell: suspended -> t+1 -> limit_down.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from engine.kernels.records import NO_EXIT, NO_REJECTION, ExitReason, Reason

#: Largest share count a buy may reach: every integer up to it is exact in a double.
MAX_SHARES = 2.0**53


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
def stop_levels_nb(entry: float, exits: Exits) -> tuple[float, float]:
    """(stop-loss level, take-profit level) of a position filled at ``entry``: a close at
    or below the first, or at or above the second, triggers that exit (-inf / +inf when
    the exit is off)."""
    stop = entry * (1.0 - exits.stop_loss) if exits.stop_loss > 0.0 else -np.inf
    take = entry * (1.0 + exits.take_profit) if exits.take_profit > 0.0 else np.inf
    return stop, take


@njit(cache=True, nogil=True)
def trail_level_nb(peak: float, exits: Exits) -> float:
    """Trailing-stop level under a highest close ``peak`` (-inf when the exit is off)."""
    return peak * (1.0 - exits.trailing_stop) if exits.trailing_stop > 0.0 else -np.inf


@njit(cache=True, nogil=True)
def exit_at_levels_nb(close: float, stop: float, take: float, trail: float, bars: int,
                      max_hold: int) -> int:
    """``exit_reason_nb`` from a position's levels (``stop_levels_nb``, ``trail_level_nb``),
    which the day loop keeps per position instead of recomputing them every bar."""
    if close <= stop:
        return ExitReason.STOP_LOSS
    if close >= take:
        return ExitReason.TAKE_PROFIT
    if close <= trail:
        return ExitReason.TRAILING_STOP
    if max_hold > 0 and bars >= max_hold:
        return ExitReason.MAX_HOLD
    return NO_EXIT


@njit(cache=True, nogil=True)
def exit_reason_nb(close: float, entry: float, peak: float, bars: int, exits: Exits) -> int:
    """The first exit of SPEC §3c's list that bar ``close`` triggers, or ``NO_EXIT``.

    ``entry`` is the fill price, ``peak`` the highest close since the entry bar (this
    bar's included), ``bars`` the stock's bars since the entry bar."""
    stop, take = stop_levels_nb(entry, exits)
    return exit_at_levels_nb(close, stop, take, trail_level_nb(peak, exits), bars,
                             exits.max_hold)
