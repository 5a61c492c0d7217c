"""On-disk cache of aligned arrays: checksummed, published atomically, memory-mapped on load.

An entry is a folder named by its key holding ``calendar.npy``, ``prices.npy``,
``tradable.npy``, ``meta.json`` and ``checksums.json`` (the xxh3-64 digest of each of the
other files). It is written under a temporary name and renamed into place, so a reader
never sees half an entry and a crashed writer leaves only a hidden temporary folder that
no load trusts (pruned later). Every load verifies every digest: a damaged or truncated
entry is discarded with a warning naming it and rebuilt from the data files, so damage
can cost time but never change a result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import xxhash

from engine.data.align import AlignedArrays

log = logging.getLogger(__name__)

CACHE_ENV = "BACKTEST_CACHE_DIR"
FORMAT_VERSION = 5  # 2: every bad stock's error; 3: limit planes; 4: checksums.json;
#                    5: xxh3-128 file digests in the fingerprint
KEEP_ENTRIES = 16
ARRAY_FILES = ("calendar.npy", "prices.npy", "tradable.npy")
META_FILE = "meta.json"
CHECKSUM_FILE = "checksums.json"
#: Hidden folders (a writer's temporary entry, a discarded one) older than this are
#: debris of a crashed process and are removed; a live writer takes seconds.
STALE_SECONDS = 3600.0


class DamagedEntryError(Exception):
    """A cache entry's files are missing, truncated or fail their checksums."""


def default_cache_dir() -> Path:
    """The cache root: ``$BACKTEST_CACHE_DIR`` if set, else the user's cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir("backtest-workbench", appauthor=False))


def cache_key(sources: dict[str, Sequence[Path]], missing: list[str],
              params: dict[str, Any]) -> str:
    """Key of an aligned dataset: the path, size and mtime of every file each code's bars
    are read from (a per-stock file, a ``.day`` file, a qlib calendar, instrument lists
    and ``.bin`` files, a long file) plus the load parameters.

    Touching or replacing any file changes its stat, so a changed file is never served
    from the cache.
    """
    folders: dict[str, str] = {}
    seen: dict[str, list[str | int]] = {}  # a long file or qlib calendar is stat'ed once
    stats = []
    for code, paths in sorted(sources.items()):
        row: list[Any] = [code]
        for path in map(os.fspath, paths):  # str keys: a Path hashes ~10x slower
            known = seen.get(path)
            row.append(known if known is not None else seen.setdefault(
                path, _identity(path, folders)))
        stats.append(row)
    blob = json.dumps({"v": FORMAT_VERSION, "files": stats, "missing": missing, **params},
                      sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=20).hexdigest()


def _identity(path: str, folders: dict[str, str]) -> list[str | int]:
    """A file's real path, size and mtime. The folder's real path is resolved once
    (``folders`` remembers it), a symlinked file on its own: a warm load stats 500 files
    in a few milliseconds instead of resolving every path component of each."""
    text = path
    st = os.lstat(text)
    if stat.S_ISLNK(st.st_mode):
        real = os.path.realpath(text)
        st = os.stat(real)
    else:
        parent, name = os.path.split(text)
        if parent not in folders:
            folders[parent] = os.path.realpath(parent or ".")
        real = os.path.join(folders[parent], name)
    return [real, st.st_size, st.st_mtime_ns]


def file_digest(path: Path) -> str:
    """xxh3-64 of a file's bytes (hex), read through a memory map (no copy)."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return xxhash.xxh3_64_hexdigest(b"")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return xxhash.xxh3_64_hexdigest(view)


def verify_entry(entry: Path) -> None:
    """Raise ``DamagedEntryError`` unless every file of ``entry`` matches its checksum."""
    try:
        expected = json.loads((entry / CHECKSUM_FILE).read_text(encoding="utf-8"))
        if not isinstance(expected, dict) or set(expected) != {*ARRAY_FILES, META_FILE}:
            raise DamagedEntryError(f"{CHECKSUM_FILE} is not an entry's checksum list")
        for name, digest in sorted(expected.items()):
            if file_digest(entry / name) != digest:
                raise DamagedEntryError(f"{name} fails its checksum")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DamagedEntryError(f"{type(exc).__name__}: {exc}") from exc


def open_entry(entry: Path) -> tuple[AlignedArrays, dict[str, Any]]:
    """Verify an entry and memory-map its arrays; ``DamagedEntryError`` if it fails.

    Worker processes open the entry their parent loaded through this too, so no process
    computes on bytes that were not verified.
    """
    verify_entry(entry)
    try:
        meta = json.loads((entry / META_FILE).read_text(encoding="utf-8"))
        arrays = AlignedArrays(
            np.load(entry / "calendar.npy"),
            np.load(entry / "prices.npy", mmap_mode="r"),
            np.load(entry / "tradable.npy", mmap_mode="r"),
        )
    except (OSError, ValueError) as exc:  # changed between the check and the read
        raise DamagedEntryError(f"{type(exc).__name__}: {exc}") from exc
    return arrays, meta


def load(root: Path, key: str) -> tuple[tuple[AlignedArrays, dict[str, Any]] | None, str | None]:
    """(the verified entry's arrays and metadata, or None when absent or damaged; a
    one-line warning naming a damaged entry, which is discarded, else None)."""
    entry = root / key
    if not entry.is_dir():
        return None, None
    try:
        return open_entry(entry), None
    except DamagedEntryError as exc:
        warning = (f"aligned cache entry {entry} was damaged ({exc}); rebuilt it from the "
                   "data files")
        log.warning(warning)
        _discard(entry)
        return None, warning


def store(root: Path, key: str, arrays: AlignedArrays, meta: dict[str, Any]) -> Path | None:
    """Write an entry under a temporary name, checksum it and rename it into place.

    Returns the entry folder (another process's identical entry when it published first),
    or None on failure: a cache that cannot be written only costs speed, so failures are
    logged, not raised.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        try:
            np.save(tmp / "calendar.npy", arrays.calendar)
            np.save(tmp / "prices.npy", np.ascontiguousarray(arrays.prices))
            np.save(tmp / "tradable.npy", np.ascontiguousarray(arrays.tradable))
            (tmp / META_FILE).write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
            digests = {name: file_digest(tmp / name) for name in (*ARRAY_FILES, META_FILE)}
            (tmp / CHECKSUM_FILE).write_text(json.dumps(digests, sort_keys=True),
                                             encoding="utf-8")
            _publish(tmp, root / key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already when it was published
        _prune(root)
        return root / key
    except OSError as exc:
        log.warning("could not write the aligned cache in %s (%s); continuing without it",
                    root, exc)
        return None


def _publish(tmp: Path, entry: Path) -> None:
    """Rename ``tmp`` to ``entry``. When ``entry`` exists, another process filled it at the
    same time (same key, same files, so the same bytes): a verified one is kept, a
    damaged one is replaced."""
    try:
        os.replace(tmp, entry)
        return
    except OSError:
        if not entry.exists():
            raise
    try:
        verify_entry(entry)
        return
    except DamagedEntryError:
        _discard(entry)
    os.replace(tmp, entry)


def _discard(entry: Path) -> None:
    """Remove an entry: first renamed aside (atomic), so no reader opens it half deleted."""
    aside = entry.with_name(f".discarded-{entry.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.replace(entry, aside)
    except OSError:
        return  # already gone (another process discarded or replaced it)
    if aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)  # a stray file where an entry belongs


def _prune(root: Path) -> None:
    """Keep only the most recently written entries; remove stale hidden debris."""
    now = time.time()
    entries = []
    for path in root.iterdir():
        with contextlib.suppress(OSError):
            if not path.is_dir():
                continue
            if not path.name.startswith("."):
                entries.append((path.stat().st_mtime_ns, path))
            elif now - path.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
    entries.sort(reverse=True)
    for _, stale in entries[KEEP_ENTRIES:]:
        _discard(stale)
