"""Reads each stock's bars on a small thread pool, reporting progress and honouring cancel."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from engine.data.folder import ProgressCallback
from engine.errors import Cancelled, DataError
from engine.progress import CancelToken

T = TypeVar("T")
U = TypeVar("U")
#: Progress is reported about every this many stocks.
PROGRESS_EVERY = 25
#: Runs in flight per worker: enough that no worker waits, few enough that runs read
#: ahead of their consumer hold little memory.
AHEAD = 4


def read_each(codes: Sequence[str], read_one: Callable[[str], T],
              progress: ProgressCallback | None, cancel: CancelToken | None
              ) -> list[T | DataError]:
    """``read_one(code)`` for every code, in code order; a DataError is returned in the
    stock's place (with its code set), not raised."""
    def read_run(run: Sequence[str]) -> list[T | DataError]:
        return [guarded(read_one, code) for code in run]

    return [r for results in read_runs(codes, read_run, progress, cancel) for r in results]


def guarded(read_one: Callable[[str], T], code: str) -> T | DataError:
    """``read_one(code)``, or the DataError it raised (with its code set)."""
    try:
        return read_one(code)
    except DataError as exc:
        exc.code = exc.code or code
        return exc


def read_runs(codes: Sequence[str], read_run: Callable[[Sequence[str]], list[U]],
              progress: ProgressCallback | None, cancel: CancelToken | None
              ) -> Iterator[list[U]]:
    """``read_run`` of consecutive runs of ``codes`` on the pool, yielded in code order as
    each is done, so that the caller works on one run while the pool reads the next.

    A run's list has one result per code. Arrow's decoders and file reads release the
    GIL, so threads up to the cores help; loads run in an engine process, so they take
    no GIL time from the window. A run is many stocks: a small file takes less time to
    read than a task to schedule.
    """
    workers = min(8, os.cpu_count() or 1)
    size = max(1, min(PROGRESS_EVERY, len(codes) // (4 * workers)))
    runs = deque(codes[i:i + size] for i in range(0, len(codes), size))
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        pending: deque[Future[list[U]]] = deque()
        try:
            while runs or pending:
                while runs and len(pending) < AHEAD * workers:
                    pending.append(pool.submit(read_run, runs.popleft()))
                if cancel is not None and cancel.is_set():
                    raise Cancelled("loading was cancelled")
                results = pending.popleft().result()
                before, done = done, done + len(results)
                if progress is not None and (done // PROGRESS_EVERY > before // PROGRESS_EVERY
                                             or done == len(codes)):
                    progress(done, len(codes))
                yield results
        finally:
            for future in pending:
                future.cancel()
