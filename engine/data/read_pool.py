"""Reads each stock's bars on a small thread pool, reporting progress and honouring cancel."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from engine.data.folder import ProgressCallback
from engine.errors import Cancelled, DataError
from engine.progress import CancelToken

T = TypeVar("T")
#: Progress is reported about every this many stocks.
PROGRESS_EVERY = 25


def read_each(codes: Sequence[str], read_one: Callable[[str], T],
              progress: ProgressCallback | None, cancel: CancelToken | None
              ) -> list[T | DataError]:
    """``read_one(code)`` for every code, in code order; a DataError is returned in the
    stock's place (with its code set), not raised."""
    def guarded(code: str) -> T | DataError:
        try:
            return read_one(code)
        except DataError as exc:
            exc.code = exc.code or code
            return exc

    def read_run(run: Sequence[str]) -> list[T | DataError]:
        return [guarded(code) for code in run]

    results: list[T | DataError] = []
    # Arrow's decoders and file reads release the GIL, so threads up to the cores help;
    # loads run in an engine process, so they take no GIL time from the window. Each
    # task reads a run of stocks: a small file takes less time to read than a task to
    # schedule.
    workers = min(8, os.cpu_count() or 1)
    size = max(1, min(PROGRESS_EVERY, len(codes) // (4 * workers)))
    runs = [codes[i:i + size] for i in range(0, len(codes), size)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        futures = [pool.submit(read_run, run) for run in runs]
        for future in futures:
            if cancel is not None and cancel.is_set():
                for f in futures:
                    f.cancel()
                raise Cancelled("loading was cancelled")
            before = len(results)
            results.extend(future.result())
            if progress is not None and (len(results) // PROGRESS_EVERY > before // PROGRESS_EVERY
                                         or len(results) == len(codes)):
                progress(len(results), len(codes))
    return results
