"""Each bar's limit-up and limit-down price (SPEC §4), computed once per load over all bars.

The reference price, the board's width on the bar's date, ST days, listing exemptions and
a file's own limit columns are combined here with NumPy over whole columns; the result is
aligned like prices, so the kernels only compare a price with an array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.data.reader import FileTable
from engine.data.validate import ValidBars
from engine.market_rules import (
    BOARDS,
    board_indices,
    limit_prices,
    limit_widths,
    listing_bars,
)

LISTING_MODES = ("list_date", "first_bar")


def bar_limits(bars: ValidBars, files: Sequence[FileTable], codes: Sequence[str],
               listing: str = "list_date") -> tuple[np.ndarray, np.ndarray]:
    """(limit_up, limit_down) of every row of ``bars``; NaN where the bar has no limit.

    ``files[j]`` and ``codes[j]`` belong to stock ``j`` (``bars.sid``). Without limit
    columns, the reference is the day's ``pre_close`` if the file gives one, else the
    previous bar's close; a stock's first bar and its listing-exempt bars have no limit.
    A file with ``up_limit``/``down_limit`` columns gives every bar's limits itself.
    """
    sid, days, values = bars.sid, bars.dates, bars.values
    first = np.r_[True, sid[1:] != sid[:-1]][: sid.size]
    prev_close = np.r_[np.nan, values["close"][:-1]][: sid.size]
    pre_close = values["pre_close"]
    ref = np.where(np.isnan(pre_close), prev_close, pre_close)
    ref[first] = np.nan
    boards = board_indices(codes)
    width = limit_widths(boards[sid], days, values["is_st"] == 1.0)
    up, down = limit_prices(ref, width)
    exempt = _listing_exempt(sid, days, first, boards, files, listing)
    up[exempt] = np.nan
    down[exempt] = np.nan
    has_limits = np.array([f.has_limits for f in files], dtype=bool)
    if has_limits.any():
        own = has_limits[sid]
        up[own] = values["up_limit"][own]
        down[own] = values["down_limit"][own]
    return up, down


def _listing_exempt(sid: np.ndarray, days: np.ndarray, first: np.ndarray, boards: np.ndarray,
                    files: Sequence[FileTable], listing: str) -> np.ndarray:
    """True on the bars a new listing trades without limits.

    The listing bar is the bar on the file's ``list_date`` (none when the file has no
    bar that day) or, with ``listing="first_bar"``, the stock's first bar.
    """
    exempt = np.zeros(sid.size, dtype=bool)
    if listing != "first_bar" and all(f.list_day is None for f in files):
        return exempt  # the default with no list_date anywhere: no bar is a listing day
    starts = np.flatnonzero(first)
    stops = np.r_[starts[1:], sid.size].astype(np.int64)[: starts.size]
    for j, start, stop in zip(sid[starts].tolist(), starts.tolist(), stops.tolist(),
                              strict=True):
        if listing == "first_bar":
            at = start
        else:
            list_day = files[j].list_day
            if list_day is None:
                continue
            hits = np.flatnonzero(days[start:stop] == list_day)
            if hits.size == 0:
                continue
            at = start + int(hits[0])
        free = listing_bars(BOARDS[boards[j]], int(days[at]))
        exempt[at:min(at + free, stop)] = True
    return exempt
