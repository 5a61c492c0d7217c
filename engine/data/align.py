"""Alignment of stocks' bars onto the union calendar as dense (n_days, n_stocks) arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.data.blocks import BLOCK, map_blocks

# Order of the planes of ``AlignedArrays.prices``.
PLANES = ("open", "high", "low", "close", "volume", "up_limit", "down_limit")


@dataclass(frozen=True)
class AlignedArrays:
    """Dense market arrays: ``prices[k]`` is the plane named ``PLANES[k]``.

    ``calendar`` holds int64 days since epoch (every date any stock has a bar, up to
    ``end``); a stock without a bar on a day has NaN prices and ``tradable`` False.
    ``up_limit``/``down_limit`` are the bar's price limits (NaN: no limit that day).
    """

    calendar: np.ndarray
    prices: np.ndarray
    tradable: np.ndarray

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled copies (data scattered to cluster workers) stay read-only like the
        # cache's maps, so workers load the kernels' read-only signatures, never compile.
        return _read_only, (self.calendar, self.prices, self.tradable)


def _read_only(calendar: np.ndarray, prices: np.ndarray, tradable: np.ndarray) -> AlignedArrays:
    for array in (prices, tradable):
        array.flags.writeable = False
    return AlignedArrays(calendar, prices, tradable)


#: The prices of a block of bars' limit planes (up_limit, down_limit).
LimitsOf = Callable[[slice], tuple[np.ndarray, np.ndarray]]
_LIMIT_PLANES = (PLANES.index("up_limit"), PLANES.index("down_limit"))


def align(dates: np.ndarray, sid: np.ndarray, values: dict[str, np.ndarray],
          n_stocks: int, release: bool = False,
          positions: tuple[np.ndarray, np.ndarray] | None = None,
          limits: LimitsOf | None = None, index: np.ndarray | None = None) -> AlignedArrays:
    """Scatter bars into dense arrays on the union of their dates.

    Row ``i`` is the bar of stock ``sid[i]`` on day ``dates[i]`` (days since epoch);
    rows are grouped by stock and sorted by date within a stock, and no (stock, date)
    pair repeats. Every bar lands in exactly one cell. ``positions`` is
    ``day_positions(dates)`` when the caller has it. With ``release``, each column is
    removed from ``values`` once its plane is filled, so the bars' memory is given back
    while the planes take theirs (a load then never holds both in full). ``limits``
    gives the limit planes block by block (``engine.data.limits.BarLimits``) instead of
    ``values``' ``up_limit`` and ``down_limit`` columns. ``index`` says which rows of
    ``values`` the bars are (``ValidBars.index``; None: all, in order).
    """
    calendar, day_index = day_positions(dates) if positions is None else positions
    # A flat index per bar scatters each plane with one 1-D put (much faster than 2-D).
    cells = calendar.size * n_stocks
    flat: np.ndarray = day_index.astype(np.int32 if cells < 2**31 else np.int64)
    np.multiply(flat, n_stocks, out=flat)
    np.add(flat, sid, out=flat)
    prices = np.empty((len(PLANES), calendar.size, n_stocks))
    tradable = np.zeros((calendar.size, n_stocks), dtype=bool)
    columns = {k: values.pop(name) if release else values[name] for k, name in enumerate(PLANES)
               if limits is None or k not in _LIMIT_PLANES}

    def scatter(k: int) -> Callable[[slice], None]:
        plane, column = prices[k].reshape(-1), columns[k]
        if index is None:
            return lambda rows: plane.__setitem__(flat[rows], column[rows])
        return lambda rows: plane.__setitem__(flat[rows], column[index[rows]])

    # One plane at a time, on all cores (NumPy's fills and scatters release the GIL, and
    # a scatter's stride defeats the CPU cache, so one core cannot use the memory's
    # bandwidth); each column is dropped, and its memory handed back, before the next
    # plane is touched, so the OS gives that plane the pages just freed instead of
    # fresh ones (which a virtual machine's host must back first, at several times
    # the cost). Columns are dropped on this thread: Arrow's allocator returns memory
    # for the thread that asks. The close goes last of the prices: the limits read it.
    order = [k for k in range(len(PLANES)) if k in columns and PLANES[k] != "close"]
    for k in [*order, *(k for k in columns if PLANES[k] == "close")]:
        _nan_fill(prices[k])
        map_blocks(scatter(k), flat.size)
        if limits is not None and k in _LIMIT_PLANES:
            continue
        del columns[k]
        if release:
            pa.default_memory_pool().release_unused()
    if limits is not None:
        _fill_limits(prices, flat, limits)
    map_blocks(lambda rows: tradable.reshape(-1).__setitem__(flat[rows], True), flat.size)
    return AlignedArrays(calendar, prices, tradable)


def _fill_limits(prices: np.ndarray, flat: np.ndarray, limits: LimitsOf) -> None:
    """The limit planes, a block of bars at a time (the blocks' prices are small and
    reuse their memory, where whole columns would be memory touched once)."""
    up, down = (prices[k].reshape(-1) for k in _LIMIT_PLANES)
    _nan_fill(prices[_LIMIT_PLANES[0]])
    _nan_fill(prices[_LIMIT_PLANES[1]])

    def fill(rows: slice) -> None:
        up[flat[rows]], down[flat[rows]] = limits(rows)

    map_blocks(fill, flat.size)


def _nan_fill(plane: np.ndarray) -> None:
    """Every cell of ``plane`` NaN, blocks of cells on all cores."""
    cells = plane.reshape(-1)
    map_blocks(lambda part: cells[part].fill(np.nan), cells.size, 16 * BLOCK)


def day_positions(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct days (int64) and each bar's position among them (int32), in
    linear time: days are integers over a few thousand values, so a presence table
    replaces sorting all bars (``np.unique``) and searching them (``np.searchsorted``).
    Blocks of bars run on all cores (``map_blocks``); only whole days are shared, so
    the result never depends on the number of threads."""
    if dates.size == 0:
        return dates.astype(np.int64), np.empty(0, dtype=np.int64)
    bounds = map_blocks(lambda rows: (int(dates[rows].min()), int(dates[rows].max())),
                        dates.size)
    first = min(low for low, _ in bounds)
    present = np.zeros(max(high for _, high in bounds) - first + 1, dtype=bool)

    def mark(rows: slice) -> None:  # every thread writes only True: no write is lost
        present[dates[rows] - first] = True

    map_blocks(mark, dates.size)
    position = np.cumsum(present, dtype=np.int32) - 1
    index = np.empty(dates.size, dtype=np.int32)
    map_blocks(lambda rows: np.take(position, dates[rows] - first, out=index[rows]),
               dates.size)
    return np.flatnonzero(present).astype(np.int64) + first, index
