"""The C allocator's thresholds for loads: freed memory is reused, not faulted in again.

glibc hands a freed block back to the OS once the free space at the top of a heap passes
its trim threshold (128 KiB at first, raised as large blocks come and go), and serves
blocks above its mmap threshold with fresh mappings. A load frees and allocates tens of
thousands of blocks of 60 KiB to a few MiB (file bytes, decoded columns, the temporaries
of each 65,536-row block) on several threads, so with those thresholds every block was
memory the OS zeroed again: 190,000 page faults and 3 s of system time for 5,000 files.
With the thresholds fixed at the sizes glibc itself would grow them to, the load faults
15,000 times and its peak memory is the same. Elsewhere (other C libraries) this does
nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os

#: ``mallopt`` parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: glibc's own ceiling for its mmap threshold (32 MiB on 64-bit), and twice that for the
#: trim threshold, as glibc sets them when it raises them itself.
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


@functools.cache
def keep_freed_memory() -> bool:
    """Fix glibc's trim and mmap thresholds for this process (once); False where the C
    library is not glibc or refuses."""
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        libc = ctypes.CDLL(None)  # the process's own symbols: glibc's mallopt among them
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                    and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, ValueError, AttributeError):
        return False
