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

    results: list[T | DataError] = []
    # Arrow's decoders and file reads release the GIL, so threads up to the cores help;
    # loads run in an engine process, so they take no GIL time from the window.
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        futures = [pool.submit(guarded, code) for code in codes]
        for done, future in enumerate(futures, start=1):
            if cancel is not None and cancel.is_set():
                for f in futures:
                    f.cancel()
                raise Cancelled("loading was cancelled")
            results.append(future.result())
            if progress is not None and (done % 25 == 0 or done == len(codes)):
                progress(done, len(codes))
    return results
