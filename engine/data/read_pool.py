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
#: Progress is reported about every this many stocks.
PROGRESS_EVERY = 25
#: Runs in flight per worker: enough to keep the workers busy, few enough to bound memory.
AHEAD = 4


def read_each(codes: Sequence[str], read_one: Callable[[str], T],
              progress: ProgressCallback | None, cancel: CancelToken | None
              ) -> list[T | DataError]:
    """``read_one(code)`` for every code, in code order; a DataError is returned in the
    stock's place (with its code set), not raised."""
    return list(iter_each(codes, read_one, progress, cancel))


def iter_each(codes: Sequence[str], read_one: Callable[[str], T],
              progress: ProgressCallback | None, cancel: CancelToken | None
              ) -> Iterator[T | DataError]:
    """``read_each`` as a stream: each result as soon as it and those before it are read.
    The pool reads a bounded way ahead, so a consumer that frees what it took keeps the
    load's memory to what is in flight."""
    def guarded(code: str) -> T | DataError:
        try:
            return read_one(code)
        except DataError as exc:
            exc.code = exc.code or code
            return exc

    def read_run(run: Sequence[str]) -> list[T | DataError]:
        return [guarded(code) for code in run]

    # Arrow's decoders and file reads release the GIL, so threads up to the cores help;
    # loads run in an engine process, so they take no GIL time from the window. Each
    # task reads a run of stocks: a small file takes less time to read than a task to
    # schedule.
    workers = min(8, os.cpu_count() or 1)
    size = max(1, min(PROGRESS_EVERY, len(codes) // (4 * workers)))
    runs = deque(codes[i:i + size] for i in range(0, len(codes), size))
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        ahead: deque[Future[list[T | DataError]]] = deque()
        while runs or ahead:
            while runs and len(ahead) < AHEAD * workers:
                ahead.append(pool.submit(read_run, runs.popleft()))
            if cancel is not None and cancel.is_set():
                for future in ahead:
                    future.cancel()
                raise Cancelled("loading was cancelled")
            results = ahead.popleft().result()
            before, done = done, done + len(results)
            yield from results
            if progress is not None and (done // PROGRESS_EVERY > before // PROGRESS_EVERY
                                         or done == len(codes)):
                progress(done, len(codes))
