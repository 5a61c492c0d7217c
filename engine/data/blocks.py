"""Work over a load's rows in fixed blocks, on all cores.

Validation and the price limits make a dozen NumPy passes over millions of rows. In
blocks of ``BLOCK`` rows their temporaries stay small and in the CPU cache, and NumPy
releases the GIL inside each pass, so blocks run on threads side by side. A block's
result depends on its rows only, and results come back in block order, so the outcome
never depends on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
#: Rows per block.
BLOCK = 1 << 16
#: Blocks per task: enough rows that a task outweighs scheduling it.
_PER_TASK = 8


def block_slices(size: int, block: int = BLOCK) -> list[slice]:
    """Consecutive slices of at most ``block`` rows covering ``range(size)``."""
    return [slice(start, min(start + block, size)) for start in range(0, size, block)]


def map_blocks(work: Callable[[slice], T], size: int, block: int = BLOCK) -> list[T]:
    """``work(rows)`` for each block of ``block_slices(size, block)``, in block order,
    on up to one thread per core (on the caller's alone when there are few blocks).
    ``work`` must only read shared arrays, or write rows of its own block."""
    slices = block_slices(size, block)
    workers = min(8, os.cpu_count() or 1, -(-len(slices) // _PER_TASK))
    if workers <= 1:
        return [work(rows) for rows in slices]
    tasks = [slices[i:i + _PER_TASK] for i in range(0, len(slices), _PER_TASK)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blocks") as pool:
        parts = list(pool.map(lambda task: [work(rows) for rows in task], tasks))
    return [result for part in parts for result in part]
