"""Output to a closed pipe never stops a command (``backtest sweep ... | head -3``).

Once the reader of standard output (or error) has gone, what a command prints is
dropped and the command finishes its work: it still writes its files and saves to the
run store. As Python's documentation recommends (``signal``, "Note on SIGPIPE"), the
stream's descriptor is then pointed at the null device, so the interpreter's final
flush of what was left in its buffer does not fail either.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from engine.util.oscompat import is_closed_pipe


class ClosedPipeSafe:
    """A text stream that stops writing, without a word, once its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except OSError as exc:
                if not is_closed_pipe(exc):
                    raise
                self._drop()
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except OSError as exc:
                if not is_closed_pipe(exc):
                    raise
                self._drop()

    def _drop(self) -> None:
        """From now on write nothing; the descriptor goes to the null device, so the
        buffered text's flush at exit goes there too."""
        self.reader_gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            fd = self._stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def survive_closed_pipes() -> Iterator[None]:
    """Standard output and error as ``ClosedPipeSafe`` streams while the block runs
    (flushed at its end, so a closed pipe is met here, not at exit); the streams are
    put back afterwards."""
    saved = sys.stdout, sys.stderr  # None where there is no console (pythonw)
    out = ClosedPipeSafe(saved[0]) if saved[0] is not None else None
    err = ClosedPipeSafe(saved[1]) if saved[1] is not None else None
    if out is not None:
        sys.stdout = out
    if err is not None:
        sys.stderr = err
    try:
        yield
    finally:
        for stream in (out, err):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
        if out is not None and sys.stdout is out:
            sys.stdout = saved[0]
        if err is not None and sys.stderr is err:
            sys.stderr = saved[1]
