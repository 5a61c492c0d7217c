"""Everything that differs between Windows, macOS and Linux, behind a few small functions.

The rest of the engine never asks which operating system it runs on: it opens files for
reading through ``open_binary``, fills buffers with ``read_into``, lowers a worker's
priority with ``lower_priority``, tunes the C allocator with ``tune_allocator``, caps
its worker processes with ``max_workers``, renames with ``replace``, asks whether a
folder takes new files with ``folder_accepts_files`` and whether a write met a closed
pipe with ``is_closed_pipe``.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import io
import os
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

#: Unix niceness of engine worker processes (Windows: the below-normal priority class):
#: the caller (a window that must keep drawing) gets the CPU it needs while every core
#: computes.
WORKER_NICENESS = 5
_BELOW_NORMAL_PRIORITY_CLASS = 0x4000

#: glibc's ``mallopt`` parameters (malloc.h), and the thresholds engine processes fix:
#: glibc's own ceiling for its mmap threshold (32 MiB on 64-bit) and twice that for the
#: trim threshold, the values its adaptive thresholds grow to.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

#: Windows errors of a file another program holds open (access denied, sharing and lock
#: violations): virus scanners, OneDrive and indexers let go of a file within moments;
#: Excel or WPS holds it until the user closes it.
SHARING_ERRORS = frozenset({5, 32, 33})
#: How long ``replace`` keeps retrying a rename that a sharing violation refused.
RENAME_RETRY_SECONDS = 1.0

#: Handles one ``multiprocessing.connection.wait`` accepts on Windows before Python 3.13
#: (WaitForMultipleObjects' 64, less one it keeps for itself).
_WINDOWS_WAIT_HANDLES = 63


def open_binary(path: str | os.PathLike[str]) -> int:
    """An OS-level descriptor for reading ``path``'s bytes as they are.

    Windows opens a descriptor from ``os.open`` in text mode unless ``O_BINARY`` is
    given: its reads stop at the first 0x1A byte and turn CR LF into LF."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))


def read_into(handle: int, view: memoryview) -> int:
    """Fill ``view`` from the descriptor's current position; returns the bytes read (less
    than ``len(view)`` only at the end of the file).

    One ``readv`` where the OS has it (a read straight into the buffer, no copy); else
    unbuffered ``readinto`` calls until the view is full or the file ends."""
    if sys.platform != "win32" and hasattr(os, "readv"):
        size = os.readv(handle, [view])
        if size == len(view) or size == 0:
            return size
    else:
        size = 0
    with io.FileIO(handle, "rb", closefd=False) as raw:
        while size < len(view):
            got = raw.readinto(view[size:])
            if not got:
                break
            size += got
    return size


def lower_priority() -> None:
    """Lower this process's scheduling priority (niceness ``WORKER_NICENESS`` on Unix,
    the below-normal priority class on Windows); does nothing where the OS refuses."""
    with suppress(OSError, AttributeError):
        if sys.platform == "win32":
            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(),
                                      _BELOW_NORMAL_PRIORITY_CLASS)
        else:
            os.nice(max(0, WORKER_NICENESS - os.nice(0)))


@functools.cache
def tune_allocator() -> bool:
    """Fix glibc's trim and mmap thresholds for this process (once; True if set).

    Loads free and allocate tens of thousands of blocks of 60 KiB to a few MiB, and every
    sweep combination the same few-MB arrays. With glibc's starting thresholds (or
    Dask's ``MALLOC_TRIM_THRESHOLD_=65536``, which turns its adaptive threshold off) each
    such block was memory the OS zeroed again: 190,000 page faults and 3 s of system time
    for a 5,000-file load, and ~45% more CPU in per-stock sweeps. Elsewhere (Windows,
    macOS, musl) the C library manages this itself and nothing is changed."""
    if sys.platform == "win32" or not hasattr(os, "confstr"):
        return False
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        libc = ctypes.CDLL(None)  # the process's own symbols: glibc's mallopt among them
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                    and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, ValueError, AttributeError):
        return False


def max_workers(handles_per_worker: int = 2) -> int | None:
    """The most worker processes a pool that waits on ``handles_per_worker`` handles per
    worker may start, or None where the OS sets no limit (Windows before Python 3.13
    waits on at most 63 handles at once)."""
    if sys.platform == "win32" and sys.version_info < (3, 13):
        return _WINDOWS_WAIT_HANDLES // handles_per_worker
    return None


def is_sharing_violation(exc: OSError) -> bool:
    """Whether ``exc`` is Windows refusing a file that another program holds open."""
    return getattr(exc, "winerror", None) in SHARING_ERRORS


def is_closed_pipe(exc: OSError) -> bool:
    """Whether ``exc`` is a write to a pipe whose reader has gone (``head`` closed it):
    ``BrokenPipeError``, or ``EINVAL`` on Windows."""
    return isinstance(exc, BrokenPipeError) or (
        sys.platform == "win32" and exc.errno == errno.EINVAL)


def replace(source: str | os.PathLike[str], target: str | os.PathLike[str],
            retry_seconds: float | None = None) -> None:
    """``os.replace``, retried for up to ``retry_seconds`` (``RENAME_RETRY_SECONDS``) while
    Windows reports a sharing violation (a scanner or sync client holding ``target`` for
    a moment); any other error, or one that outlasts the retries, is raised."""
    wait = RENAME_RETRY_SECONDS if retry_seconds is None else retry_seconds
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            os.replace(source, target)
            return
        except OSError as exc:
            if not is_sharing_violation(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def folder_accepts_files(folder: Path) -> bool:
    """Whether a new file can be created in ``folder``, by creating (and removing) one.

    ``os.access`` cannot tell: on Windows it reads only the read-only attribute, which a
    folder's permissions never set."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def make_console_safe() -> None:
    """Let standard output and error print any text: a character the console's encoding
    lacks (a GBK console, or output redirected to a file in the locale's encoding) is
    written as ``?`` instead of raising ``UnicodeEncodeError``."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            with suppress(ValueError, OSError):
                stream.reconfigure(errors="replace")
