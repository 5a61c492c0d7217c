"""Alignment of stocks' bars onto the union calendar as dense (n_days, n_stocks) arrays."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.data.blocks import block_slices, map_blocks

#: Cells per plane from which the planes are filled on several threads.
_THREADED_CELLS = 1 << 20
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

    def fill(k: int) -> None:
        if k == len(PLANES):
            tradable.reshape(-1)[flat] = True
            return
        if limits is not None and k in _LIMIT_PLANES:
            _fill_limits(prices, flat, limits)
            return
        plane = prices[k].reshape(-1)
        plane.fill(np.nan)
        if index is None:
            plane[flat] = columns[k]
            return
        for block in block_slices(flat.size):  # small gathers, not a copy of the column
            plane[flat[block]] = columns[k][index[block]]

    # NumPy's fills and scatters release the GIL, and each plane is its own memory: the
    # planes are filled on all cores (the scatter's stride defeats the CPU cache, so
    # one core cannot use the memory's bandwidth). A column is dropped, and its memory
    # handed back to the OS, on this thread as soon as its plane is filled: Arrow's
    # allocator returns memory for the thread that asks, so the workers cannot.
    # The limits, the longest task, first: the others then share the cores beside it.
    tasks = [*(_LIMIT_PLANES[:1] if limits is not None else ()),
             *(k for k in range(len(PLANES) + 1) if limits is None or k not in _LIMIT_PLANES)]
    workers = min(len(tasks), os.cpu_count() or 1) if cells >= _THREADED_CELLS else 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="align") as pool:
        futures = {pool.submit(fill, k): k for k in tasks}
        for future in as_completed(futures):
            future.result()
            if columns.pop(futures[future], None) is not None and release:
                pa.default_memory_pool().release_unused()
    return AlignedArrays(calendar, prices, tradable)


def _fill_limits(prices: np.ndarray, flat: np.ndarray, limits: LimitsOf) -> None:
    """The limit planes, a block of bars at a time (the blocks' prices are small and
    reuse their memory, where whole columns would be memory touched once)."""
    up, down = (prices[k].reshape(-1) for k in _LIMIT_PLANES)
    up.fill(np.nan)
    down.fill(np.nan)
    for block in block_slices(flat.size):
        up[flat[block]], down[flat[block]] = limits(block)


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
