"""The exchange's rulebook as dated tables (SPEC §4): boards, price limits, listing days,
stamp tax, transfer fee and lots, turned into per-day and per-stock arrays for the kernels.

Every rule is a row with the day it took effect and its source notice, so reading the
tables is enough to audit the engine against the exchanges. Days are int64 days since
1970-01-01, like the aligned calendar. The kernels receive the arrays made here and never
see a date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

MAIN, CHINEXT, STAR, BJ = "main", "ChiNext", "STAR", "BJ"
BOARDS = (MAIN, CHINEXT, STAR, BJ)
SCHEDULE = "schedule"
BOARD_LOTS = "board"


def day(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(iso, "D").astype(np.int64))


def board_of(code: str) -> str:
    """The board of a canonical code (``000001.SZ``): main, ChiNext, STAR or BJ."""
    if code.endswith(".BJ"):
        return BJ
    prefix = code[:3]
    if code.endswith(".SZ") and prefix in ("300", "301", "302"):
        return CHINEXT
    if code.endswith(".SH") and prefix in ("688", "689"):
        return STAR
    return MAIN


class LimitRule(NamedTuple):
    """A board's daily price-limit width from ``since`` on (normal days and ST days)."""

    board: str
    since: int
    width: float
    st_width: float
    source: str


#: Price-limit widths L by board and the bar's date. Limit = ref * (1 +/- L), half up.
LIMIT_RULES: tuple[LimitRule, ...] = (
    LimitRule(MAIN, day("1996-12-16"), 0.10, 0.05,
              "SSE/SZSE notice on price limits (1996-12-13); ST at 5% from 1998-04-22"),
    LimitRule(MAIN, day("2026-07-06"), 0.10, 0.10,
              "SSE/SZSE main-board rule revision: ST stocks at 10% from 2026-07-06"),
    LimitRule(CHINEXT, day("1996-12-16"), 0.10, 0.05,
              "SZSE ChiNext trading rules before the registration reform"),
    LimitRule(CHINEXT, day("2020-08-24"), 0.20, 0.20,
              "SZSE ChiNext special trading rules, registration reform (2020-08-24)"),
    LimitRule(STAR, day("2019-07-22"), 0.20, 0.20,
              "SSE STAR Market trading rules (market opened 2019-07-22)"),
    LimitRule(BJ, day("2021-11-15"), 0.30, 0.30,
              "BSE trading rules (exchange opened 2021-11-15; NEEQ select tier 30% before)"),
)


class ListingRule(NamedTuple):
    """New listings on ``board`` from ``since`` on trade without limits for ``bars`` bars."""

    board: str
    since: int
    bars: int
    source: str


LISTING_RULES: tuple[ListingRule, ...] = (
    ListingRule(STAR, day("2019-07-22"), 5, "SSE STAR Market trading rules, art. on new listings"),
    ListingRule(CHINEXT, day("2020-08-24"), 5, "SZSE ChiNext special trading rules (2020)"),
    ListingRule(MAIN, day("2023-04-10"), 5,
                "SSE/SZSE main-board registration reform, first listings 2023-04-10"),
    ListingRule(BJ, day("2021-11-15"), 1, "BSE trading rules: no limit on the first day"),
)


class CostRule(NamedTuple):
    """Stamp tax and transfer fee in force from ``since`` on (rates of the notional)."""

    since: int
    stamp_tax: float
    stamp_both_sides: bool
    transfer_fee: float
    source: str


#: The first row covers all earlier data.
COST_RULES: tuple[CostRule, ...] = (
    CostRule(day("1900-01-01"), 0.004, True, 0.0, "MoF: 0.4% each side from 1998-06-12"),
    CostRule(day("2001-11-16"), 0.002, True, 0.0, "MoF notice: 0.2% each side, 2001-11-16"),
    CostRule(day("2005-01-24"), 0.001, True, 0.0, "MoF notice: 0.1% each side, 2005-01-24"),
    CostRule(day("2007-05-30"), 0.003, True, 0.0, "MoF notice: 0.3% each side, 2007-05-30"),
    CostRule(day("2008-04-24"), 0.001, True, 0.0, "MoF notice: 0.1% each side, 2008-04-24"),
    CostRule(day("2008-09-19"), 0.001, False, 0.0, "MoF/SAT: sells only from 2008-09-19"),
    CostRule(day("2015-08-01"), 0.001, False, 0.00002,
             "CSDC: A-share transfer fee 0.02 per mille of turnover, both sides, 2015-08-01"),
    CostRule(day("2022-04-29"), 0.001, False, 0.00001,
             "CSDC: transfer fee cut to 0.01 per mille, 2022-04-29"),
    CostRule(day("2023-08-28"), 0.0005, False, 0.00001,
             "MoF/SAT announcement 2023 no. 39: stamp tax halved, 2023-08-28"),
)


class LotRule(NamedTuple):
    """A board's buy quantities: at least ``minimum`` shares, in steps of ``step``."""

    board: str
    minimum: int
    step: int
    source: str


LOT_RULES: dict[str, LotRule] = {
    MAIN: LotRule(MAIN, 100, 100, "SSE/SZSE trading rules: buys in board lots of 100"),
    CHINEXT: LotRule(CHINEXT, 100, 100, "SZSE ChiNext trading rules: lots of 100"),
    STAR: LotRule(STAR, 200, 1, "SSE STAR rules: at least 200 shares, then steps of 1"),
    BJ: LotRule(BJ, 100, 1, "BSE trading rules: at least 100 shares, then steps of 1"),
}


def limit_widths(board_index: np.ndarray, days: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Limit width L per bar, from each bar's board (index into ``BOARDS``), date and ST flag.

    A date before a board's first rule gets the first rule's width (the earliest data).
    Whole-column operations only: a gather of each board's first rule, then one masked
    assignment per later rule (millions of bars in well under a second).
    """
    rules = sorted(LIMIT_RULES, key=lambda r: r.since)
    first = {board: next(r for r in rules if r.board == board) for board in BOARDS}
    normal = np.array([first[b].width for b in BOARDS])[board_index]
    while_st = np.array([first[b].st_width for b in BOARDS])[board_index]
    for rule in rules:
        if rule is first[rule.board]:
            continue
        later = (board_index == BOARDS.index(rule.board)) & (days >= rule.since)
        normal[later] = rule.width
        while_st[later] = rule.st_width
    return np.where(st, while_st, normal)


def listing_bars(board: str, listing_day: int) -> int:
    """Bars from the listing day on that trade without limits (0 when no rule applies)."""
    rules = [r for r in LISTING_RULES if r.board == board and listing_day >= r.since]
    return max((r.bars for r in rules), default=0)


def limit_prices(ref: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Limit-up and limit-down, ``ref * (1 +/- L)`` rounded half up to the cent (SPEC §4).

    Computed exactly as the spec writes it, left to right, in doubles:
    ``floor(ref * (1 + L) * 100 + 0.500001) / 100``. NaN ``ref`` or ``L`` gives NaN (no limit).
    """
    return _rounded_limit(ref, np.add(1.0, width)), _rounded_limit(ref, np.subtract(1.0, width))


def _rounded_limit(ref: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``floor(ref * factor * 100 + 0.500001) / 100``, the same operations in the same
    order, written in place into one array (a load prices millions of bars)."""
    product = np.multiply(ref, factor)
    return half_up_cent(product, out=product if isinstance(product, np.ndarray) else None)


def half_up_cent(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``floor(x * 100 + 0.500001) / 100`` in doubles, SPEC §4's half-up rounding to the
    cent (1.125 is 1.13, where ``np.round`` gives 1.12; SPEC §1 applies it to float32
    prices too: a 7.58 close is 7.58, not 7.579999923706055). ``out`` (which may be
    ``values``) takes the result in place."""
    if not isinstance(values, np.ndarray):  # one price: the same operations, no buffer
        return np.floor(values * 100.0 + 0.500001) / 100.0
    out = np.multiply(values, 100.0, out=out)
    np.add(out, 0.500001, out=out)
    np.floor(out, out=out)
    return np.divide(out, 100.0, out=out)


class CostRates(NamedTuple):
    """Per-calendar-day rates: stamp tax on buys and on sells, transfer fee (both sides)."""

    stamp_buy: np.ndarray
    stamp_sell: np.ndarray
    transfer_fee: np.ndarray


def cost_rates(calendar: np.ndarray, stamp_tax: float | str,
               transfer_fee: float | str) -> CostRates:
    """The stamp tax and transfer fee of each calendar day.

    ``"schedule"`` takes each day's rate from ``COST_RULES``; a number replaces the
    schedule (an explicit stamp tax on sells only, an explicit transfer fee on both sides).
    """
    days = np.asarray(calendar, dtype=np.int64)
    k = np.maximum(np.searchsorted([r.since for r in COST_RULES], days, "right") - 1, 0)
    if stamp_tax == SCHEDULE:
        stamp_sell = np.array([r.stamp_tax for r in COST_RULES])[k]
        stamp_buy = np.where(np.array([r.stamp_both_sides for r in COST_RULES])[k],
                             stamp_sell, 0.0)
    else:
        stamp_sell = np.full(days.shape, float(stamp_tax))
        stamp_buy = np.zeros(days.shape)
    if transfer_fee == SCHEDULE:
        fee = np.array([r.transfer_fee for r in COST_RULES])[k]
    else:
        fee = np.full(days.shape, float(transfer_fee))
    return CostRates(stamp_buy, stamp_sell, fee)


def lot_rules(codes: Sequence[str], lot_size: int | str) -> tuple[np.ndarray, np.ndarray]:
    """Per-stock (minimum, step) of buy quantities: by board, or ``lot_size`` for all."""
    if lot_size == BOARD_LOTS:
        rules = [LOT_RULES[board_of(c)] for c in codes]
        return (np.array([r.minimum for r in rules], dtype=np.int64),
                np.array([r.step for r in rules], dtype=np.int64))
    n = np.full(len(codes), int(lot_size), dtype=np.int64)
    return n, n.copy()


def board_indices(codes: Sequence[str]) -> np.ndarray:
    """Index into ``BOARDS`` of each code's board."""
    return np.array([BOARDS.index(board_of(c)) for c in codes], dtype=np.int64)


__all__ = [
    "BJ", "BOARDS", "BOARD_LOTS", "CHINEXT", "COST_RULES", "LIMIT_RULES", "LISTING_RULES",
    "LOT_RULES", "MAIN", "SCHEDULE", "STAR", "CostRates", "CostRule", "LimitRule",
    "ListingRule", "LotRule", "board_indices", "board_of", "cost_rates", "day",
    "limit_prices", "limit_widths", "listing_bars", "lot_rules",
]
