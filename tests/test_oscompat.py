"""engine.util.oscompat: each operating system's branch, tested here by emulating it."""

from __future__ import annotations

import ctypes
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.execution.pool import worker_cap
from engine.util import oscompat
from tests.windows_emulation import sharing_violation


def test_binary_reads_ask_for_o_binary_where_the_os_has_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.day"
    path.write_bytes(b"\x1a\r\n")
    flags: list[int] = []
    real = os.open

    def spy(p: str, f: int, *args: object) -> int:
        flags.append(f)
        return real(p, f & ~(1 << 30))

    monkeypatch.setattr(os, "open", spy)
    os.close(oscompat.open_binary(path))
    monkeypatch.setattr(os, "O_BINARY", 1 << 30, raising=False)
    os.close(oscompat.open_binary(path))
    assert flags == [os.O_RDONLY, os.O_RDONLY | (1 << 30)]


@pytest.mark.parametrize("readv", [True, False], ids=["readv", "readinto"])
def test_read_into_fills_the_view_or_stops_at_the_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readv: bool) -> None:
    if not readv:
        monkeypatch.delattr(os, "readv", raising=False)
    data = bytes(range(256)) * 40
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    for size in (len(data), len(data) - 7, len(data) + 9):
        buffer = bytearray(size)
        handle = oscompat.open_binary(path)
        try:
            got = oscompat.read_into(handle, memoryview(buffer))
        finally:
            os.close(handle)
        assert got == min(size, len(data))
        assert bytes(buffer[:got]) == data[:got]


@pytest.mark.skipif(not hasattr(os, "nice"), reason="Unix niceness")
def test_worker_priority_on_unix_is_niceness_5_or_more() -> None:
    code = ("import os; from engine.util.oscompat import lower_priority; lower_priority(); "
            "print(os.nice(0))")
    niceness = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, encoding="utf-8").stdout
    assert int(niceness) >= min(19, os.nice(0) + oscompat.WORKER_NICENESS) or int(
        niceness) >= oscompat.WORKER_NICENESS


def test_worker_priority_on_windows_is_the_below_normal_class(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, tuple[object, ...]]] = []

    class Kernel32:
        def GetCurrentProcess(self) -> int:  # noqa: N802 (the Win32 name)
            return -1

        def SetPriorityClass(self, *args: object) -> int:  # noqa: N802
            calls.append(("SetPriorityClass", args))
            return 1

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", lambda *a, **k: Kernel32(), raising=False)
    monkeypatch.setattr(os, "nice", lambda n: pytest.fail("os.nice on Windows"), raising=False)
    oscompat.lower_priority()
    assert calls == [("SetPriorityClass", (-1, 0x4000))]


def test_the_allocator_is_tuned_on_glibc_only(monkeypatch: pytest.MonkeyPatch) -> None:
    glibc = hasattr(os, "confstr") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith(
        "glibc")
    oscompat.tune_allocator.cache_clear()
    assert oscompat.tune_allocator() is glibc
    assert oscompat.tune_allocator() is glibc  # once per process
    for platform in ("win32", "darwin"):
        oscompat.tune_allocator.cache_clear()
        monkeypatch.setattr(sys, "platform", platform)
        if platform == "darwin":
            monkeypatch.delattr(os, "confstr", raising=False)
        assert oscompat.tune_allocator() is False
    oscompat.tune_allocator.cache_clear()


@pytest.mark.parametrize(("platform", "version", "cap"), [
    ("win32", (3, 11), 31), ("win32", (3, 13), None), ("linux", (3, 11), None),
    ("darwin", (3, 12), None)])
def test_workers_are_capped_where_one_wait_takes_63_handles(
        monkeypatch: pytest.MonkeyPatch, platform: str, version: tuple[int, int],
        cap: int | None) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "version_info", version)
    assert oscompat.max_workers(2) == cap
    # The pool waits on a pipe and a process handle per worker: at most 31 of them.
    assert worker_cap(32) == (32 if cap is None else 31)
    assert worker_cap(4) == 4


def test_a_rename_retries_a_sharing_violation_then_succeeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    source.write_bytes(b"new")
    real, refusals = os.replace, []

    def held_twice(s: Path, t: Path) -> None:
        if len(refusals) < 2:
            refusals.append(t)
            raise sharing_violation(t)
        real(s, t)

    monkeypatch.setattr(os, "replace", held_twice)
    oscompat.replace(source, target)
    assert len(refusals) == 2 and target.read_bytes() == b"new"


def test_a_rename_gives_up_on_a_lasting_violation_and_never_retries_other_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[OSError] = []

    def refuse(error: OSError) -> None:
        def replace(s: Path, t: Path) -> None:
            tries.append(error)
            raise error
        monkeypatch.setattr(os, "replace", replace)

    refuse(sharing_violation(tmp_path / "b"))
    with pytest.raises(PermissionError):
        oscompat.replace(tmp_path / "a", tmp_path / "b", retry_seconds=0.05)
    assert len(tries) > 1
    tries.clear()
    refuse(PermissionError(13, "Permission denied"))  # a POSIX error: no winerror
    with pytest.raises(PermissionError):
        oscompat.replace(tmp_path / "a", tmp_path / "b")
    assert len(tries) == 1


def test_a_folder_accepts_files_only_where_one_can_be_created(tmp_path: Path) -> None:
    assert oscompat.folder_accepts_files(tmp_path)
    assert not oscompat.folder_accepts_files(tmp_path / "missing")
    (tmp_path / "file").write_bytes(b"")
    assert not oscompat.folder_accepts_files(tmp_path / "file")
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]  # the probe left nothing


def test_a_gbk_console_prints_any_text(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    console = io.TextIOWrapper(raw, encoding="gbk", errors="strict")
    monkeypatch.setattr(sys, "stdout", console)
    oscompat.make_console_safe()
    print("平安银行 \U0001f4c8 ok")
    console.flush()
    assert raw.getvalue().decode("gbk") == "平安银行 ? ok\n"


def test_a_closed_pipe_is_broken_pipe_everywhere_and_einval_on_windows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    einval = OSError(errno.EINVAL, "Invalid argument")
    assert oscompat.is_closed_pipe(BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert not oscompat.is_closed_pipe(einval)
    monkeypatch.setattr(sys, "platform", "win32")
    assert oscompat.is_closed_pipe(einval)
    assert not oscompat.is_closed_pipe(OSError(errno.ENOSPC, "No space left on device"))
