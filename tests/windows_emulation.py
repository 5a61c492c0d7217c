"""Windows' file semantics on this machine, for tests: what the engine must not rely on.

Under ``emulate_windows_files``: ``os.readv``, ``os.nice`` and ``os.confstr`` do not
exist, ``os.O_BINARY`` does, and a descriptor that ``os.open`` gives for reading without
``O_BINARY`` is in text mode, as the C runtime makes it on Windows: its reads stop at the
first 0x1A byte (Ctrl-Z, the old end-of-file mark) and every CR LF reads as LF.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: The flag that stands for Windows' ``O_BINARY`` (a bit no POSIX ``open`` uses here); it
#: is taken off before the real ``open`` sees it.
FAKE_O_BINARY = 1 << 30


def sharing_violation(path: str | os.PathLike[str]) -> OSError:
    """The error Windows raises for a file another process holds open (Excel or WPS on
    an export, a worker mapping a cache entry): ``winerror`` 32."""
    exc = PermissionError(13, "The process cannot access the file because it is being used "
                              "by another process", os.fspath(path))
    exc.winerror = 32  # type: ignore[attr-defined]
    return exc


def text_mode(data: bytes) -> bytes:
    """What a Windows text-mode descriptor reads of ``data``."""
    end = data.find(b"\x1a")
    return (data if end < 0 else data[:end]).replace(b"\r\n", b"\n")


@contextmanager
def emulate_windows_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Emulate Windows' file calls in this process; yields the paths opened in text mode
    (the engine's own reads must never be among them)."""
    real_open = os.open
    text_opened: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="text-mode-"))

    def windows_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777,
                     *, dir_fd: int | None = None) -> int:
        binary = bool(flags & FAKE_O_BINARY)
        flags &= ~FAKE_O_BINARY
        if binary or flags & (os.O_WRONLY | os.O_RDWR) or dir_fd is not None:
            return real_open(path, flags, mode, dir_fd=dir_fd)
        text_opened.append(os.fspath(path))
        handle = real_open(path, flags, mode)
        try:
            with os.fdopen(os.dup(handle), "rb") as raw:
                data = raw.read()
        finally:
            os.close(handle)
        copy = scratch / f"{len(text_opened)}.txt"
        copy.write_bytes(text_mode(data))
        return real_open(copy, os.O_RDONLY)

    monkeypatch.setattr(os, "open", windows_open)
    monkeypatch.setattr(os, "O_BINARY", FAKE_O_BINARY, raising=False)
    for name in ("readv", "nice", "confstr"):
        monkeypatch.delattr(os, name, raising=False)
    try:
        yield text_opened
    finally:
        monkeypatch.undo()
        for path in scratch.iterdir():
            path.unlink()
        scratch.rmdir()
