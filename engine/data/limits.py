"""Each bar's limit-up and limit-down price (SPEC §4), computed once per load over all bars.

The reference price, the board's width on the bar's date, ST days, listing exemptions and
a file's own limit columns are combined here with NumPy over whole columns; the result is
aligned like prices, so the kernels only compare a price with an array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.data.align import day_positions
from engine.data.validate import ValidBars
from engine.rules.rulebook import (
    BOARDS,
    board_indices,
    limit_prices,
    limit_widths,
    listing_bars,
)

LISTING_MODES = ("list_date", "first_bar")


class BarLimits:
    """The limit-up and limit-down price (SPEC §4) of any block of rows of ``bars``, NaN
    where the bar has no limit; a block's prices depend on nothing but its rows.

    ``codes[j]``, ``has_limits[j]`` (the file has ``up_limit``/``down_limit`` columns) and
    ``list_days[j]`` (its ``list_date``, days since epoch, or None) belong to stock ``j``
    (``bars.sid``). Without limit columns, the reference is the day's ``pre_close`` if
    the file gives one, else the previous bar's close; a stock's first bar and its
    listing-exempt bars have no limit. A file with limit columns gives every bar's
    limits itself. ``positions`` is ``day_positions(bars.dates)`` when the caller has it.
    Priced block by block, the prices of millions of bars never exist at once: the
    aligned planes take each block's as it is made (``engine.data.align.align``).
    """

    def __init__(self, bars: ValidBars, codes: Sequence[str], has_limits: Sequence[bool],
                 list_days: Sequence[int | None], listing: str = "list_date",
                 positions: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        sid, days, values = bars.sid, bars.dates, bars.values
        self.sid, self.index = sid, bars.index
        self.first = np.r_[True, sid[1:] != sid[:-1]][: sid.size]
        self.boards = board_indices(codes)
        calendar, self.day_index = day_positions(days) if positions is None else positions
        self.lattice = _width_lattice(calendar)
        # Each stock's first cell in the flat lattice: its board's non-ST row.
        self.row_of = self.boards.astype(np.int64) * (2 * calendar.size)
        # Limits are decided in the file's own prices (SPEC §4): the reference is the
        # unadjusted close (or pre_close); a forward-adjusted stock's limits are then
        # scaled exactly as its prices were, so comparing adjusted prices with them
        # decides as the unadjusted prices would.
        self.adjustment = bars.adjustment
        self.close = values["close"] if bars.adjustment is None else bars.adjustment.raw_close
        self.pre_close = values.get("pre_close")
        self.is_st = values.get("is_st")
        self.exempt = _listing_exempt(sid, days, self.first, self.boards, list_days, listing)
        self.any_exempt = bool(self.exempt.any())
        own = np.asarray(has_limits, dtype=bool)
        self.own = own if own.any() else None
        self.up_limit, self.down_limit = values.get("up_limit"), values.get("down_limit")

    def __call__(self, block: slice) -> tuple[np.ndarray, np.ndarray]:
        """(limit_up, limit_down) of the rows ``block``."""
        start = block.start
        ref = self._rows(self.close, slice(max(start - 1, 0), block.stop - 1)).copy()
        if start == 0:
            ref = np.r_[np.nan, ref]
        if self.pre_close is not None:
            given = self._rows(self.pre_close, block)
            ref = np.where(np.isnan(given), ref, given)
        ref[self.first[block]] = np.nan
        # The lattice's flat cell: (board, ST, day) as one index, one 1-D take.
        cell = self.row_of[self.sid[block]]
        cell += self.day_index[block]
        if self.is_st is not None:
            cell[self._rows(self.is_st, block) == 1.0] += self.lattice.shape[2]
        up, down = limit_prices(ref, self.lattice.reshape(-1)[cell])
        if self.any_exempt:
            exempt = self.exempt[block]
            up[exempt] = np.nan
            down[exempt] = np.nan
        if self.adjustment is not None:
            last = self.adjustment.last[self.sid[block]]
            scaled = ~np.isnan(last)
            if scaled.any():
                factor = self._rows(self.adjustment.factor, block)[scaled]
                # The prices' own formula and order: (price * adj_factor) / last.
                up[scaled] = up[scaled] * factor / last[scaled]
                down[scaled] = down[scaled] * factor / last[scaled]
        if self.own is not None:
            rows = self.own[self.sid[block]]
            assert self.up_limit is not None and self.down_limit is not None
            up[rows] = self._rows(self.up_limit, block)[rows]
            down[rows] = self._rows(self.down_limit, block)[rows]
        return up, down

    def _rows(self, values: np.ndarray, bars: slice) -> np.ndarray:
        """``values`` (over the files' rows) of the bars ``bars``."""
        return values[bars] if self.index is None else values[self.index[bars]]


def _width_lattice(calendar: np.ndarray) -> np.ndarray:
    """The limit width of every (board, ST or not, day of ``calendar``): ``limit_widths``
    runs on a few thousand days instead of millions of bars."""
    shape = (len(BOARDS), 2, calendar.size)
    board, st, day = (np.broadcast_to(axis, shape).reshape(-1) for axis in (
        np.arange(len(BOARDS))[:, None, None], np.array([False, True])[None, :, None],
        calendar[None, None, :]))
    return limit_widths(board, day, st).reshape(shape)


def _listing_exempt(sid: np.ndarray, days: np.ndarray, first: np.ndarray, boards: np.ndarray,
                    list_days: Sequence[int | None], listing: str) -> np.ndarray:
    """True on the bars a new listing trades without limits.

    The listing bar is the bar on the file's ``list_date`` (none when the file has no
    bar that day) or, with ``listing="first_bar"``, the stock's first bar.
    """
    exempt = np.zeros(sid.size, dtype=bool)
    if listing != "first_bar" and all(day is None for day in list_days):
        return exempt  # the default with no list_date anywhere: no bar is a listing day
    starts = np.flatnonzero(first)
    stops = np.r_[starts[1:], sid.size].astype(np.int64)[: starts.size]
    for j, start, stop in zip(sid[starts].tolist(), starts.tolist(), stops.tolist(),
                              strict=True):
        if listing == "first_bar":
            at = start
        else:
            list_day = list_days[j]
            if list_day is None:
                continue
            hits = np.flatnonzero(days[start:stop] == list_day)
            if hits.size == 0:
                continue
            at = start + int(hits[0])
        free = listing_bars(BOARDS[boards[j]], int(days[at]))
        exempt[at:min(at + free, stop)] = True
    return exempt
