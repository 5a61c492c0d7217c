"""On-disk cache of aligned arrays: checksummed, published atomically, memory-mapped on load.

An entry is a folder named by its key holding ``calendar.npy``, ``prices.npy``,
``tradable.npy``, ``meta.json`` and ``checksums.json`` (the xxh3-64 digest of each of the
other files). It is written under a temporary name and renamed into place, so a reader
never sees half an entry and a crashed writer leaves only a hidden temporary folder that
no load trusts (pruned later). Every load verifies every digest: a damaged or truncated
entry is discarded with a warning naming it and rebuilt from the data files, so damage
can cost time but never change a result.

Windows refuses to rename or delete a file that any process has memory-mapped (a worker
still computing on an entry). So a key's entry has generations: ``<key>``, then
``<key>~1``, ``<key>~2``, ... A load reads only the newest generation of its key; an
entry that must be replaced but cannot be removed stays where it is and the rebuilt one
is published under the next generation's name, so the old one is never read (or warned
about) again. Every store prunes the older generations of each key, the entries
beyond ``KEEP_ENTRIES`` and the least recently used ones over the cache's size budget
(``engine.data.cache_budget``); a removal the OS refuses is tried again at the next prune. On
POSIX a mapped entry can be removed, so a key never has more than its one entry there.
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

from engine.data import cache_budget
from engine.data.align import AlignedArrays

log = logging.getLogger(__name__)

CACHE_ENV = "BACKTEST_CACHE_DIR"
FORMAT_VERSION = 7  # 2: every bad stock's error; 3: limit planes; 4: checksums.json;
#                    5: xxh3-128 file digests in the fingerprint; 6: inode and ctime in
#                    each file's identity; 7: limits decided in unadjusted prices
KEEP_ENTRIES = 16  # keys: all generations of a key count as one entry
#: Separates a key from its generation in an entry's name (``<key>~<generation>``).
GENERATION_MARK = "~"
#: Generations ``_publish`` tries past the newest before it gives up (each a name taken
#: by an entry that is damaged and cannot be removed).
PUBLISH_TRIES = 8
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
    """Key of an aligned dataset: the path, size, mtime, inode and ctime of every file
    each code's bars are read from (a per-stock file, a ``.day`` file, a qlib calendar,
    instrument lists and ``.bin`` files, a long file) plus the load parameters.

    Touching or replacing any file changes its stat, so a changed file is never served
    from the cache: a file corrected in place with its size and mtime kept (``cp -p``,
    ``rsync -t``, ``tar x``) still has a new ctime (any write or ``utime`` sets it) or,
    when replaced, a new inode.
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


def file_identity(path: Path) -> list[str | int]:
    """A file's part of a key, as ``cache_key`` takes each stock file's: its real path and
    ``edit_stamp``. For an input read beside the stocks' files (a TongDaXin ex-rights
    table), which goes into the key's parameters. OSError when it cannot be stat'ed."""
    return _identity(os.fspath(path), {})


def edit_stamp(st: os.stat_result) -> list[int]:
    """What an edit of a file cannot keep: its size, mtime, inode (a file replaced by
    another; on Windows the file index) and ctime (any write changes it, even one that
    puts the mtime back: ``cp -p``, ``rsync -t``, ``tar x``)."""
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _identity(path: str, folders: dict[str, str]) -> list[str | int]:
    """A file's real path and ``edit_stamp``. The folder's real path is resolved once
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
    return [real, *edit_stamp(st)]


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


def entry_name(key: str, generation: int) -> str:
    """The folder name of ``key``'s entry of ``generation`` (0: the key itself)."""
    return f"{key}{GENERATION_MARK}{generation}" if generation else key


def split_name(name: str) -> tuple[str, int]:
    """(key, generation) of an entry's folder name; a name that is no generation of a
    key is a key of its own (generation 0)."""
    key, mark, generation = name.partition(GENERATION_MARK)
    if mark and generation.isascii() and generation.isdigit() and generation[0] != "0":
        return key, int(generation)
    return name, 0


def generations(root: Path, key: str) -> list[tuple[int, Path]]:
    """(generation, path) of every name ``key``'s entries hold in ``root``, oldest first
    (empty when ``root`` cannot be listed)."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith(key):
            owner, generation = split_name(name)
            if owner == key:
                found.append((generation, root / name))
    return sorted(found)


def load(root: Path, key: str
         ) -> tuple[tuple[AlignedArrays, dict[str, Any], Path] | None, str | None]:
    """(the verified newest entry of ``key``: its arrays, metadata and folder, or None
    when absent or damaged; a one-line warning naming a damaged entry, else None).

    A damaged entry is discarded; where the OS refuses (Windows, a process still maps
    it) it stays, and the rebuilt entry ``store`` publishes under a newer generation
    hides it from every later load."""
    for _ in range(2):  # once more if the newest vanished (a newer one replaced it)
        found = generations(root, key)
        if not found or not found[-1][1].is_dir():
            return None, None
        entry = found[-1][1]
        try:
            arrays, meta = open_entry(entry)
            cache_budget.mark_used(entry)
            return (arrays, meta, entry), None
        except DamagedEntryError as exc:
            if os.path.lexists(entry):
                warning = (f"aligned cache entry {entry} was damaged ({exc}); rebuilt it "
                           "from the data files")
                log.warning(warning)
                _discard(entry)
                return None, warning
    return None, None


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
            entry = _publish(tmp, root / key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already when it was published
        _prune(root)
        cache_budget.enforce(root, entry, _discard)
        return entry
    except OSError as exc:
        log.warning("could not write the aligned cache in %s (%s); continuing without it",
                    root, exc)
        return None


def _publish(tmp: Path, entry: Path) -> Path:
    """Rename ``tmp`` to the newest generation of ``entry``'s key (``entry`` itself when
    the key has none) and return where it went.

    When that name is taken, another process filled it at the same time (same key, same
    files, so the same bytes): a verified one is kept and returned, a damaged one is
    replaced. One the OS will not remove (Windows: a process maps it) stays, and ``tmp``
    goes to the next generation's name instead."""
    root, key = entry.parent, entry.name
    found = generations(root, key)
    generation = found[-1][0] if found else 0
    for _ in range(PUBLISH_TRIES):
        target = root / entry_name(key, generation)
        if _rename_to_free_name(tmp, target):
            return target
        try:
            verify_entry(target)
            return target
        except DamagedEntryError:
            pass
        if _discard(target) and _rename_to_free_name(tmp, target):
            return target
        generation += 1
    raise OSError(f"no free name for the aligned cache entry {key} in {root}")


def _rename_to_free_name(tmp: Path, target: Path) -> bool:
    """Rename ``tmp`` to ``target``; False when ``target`` is taken (an error otherwise)."""
    try:
        os.replace(tmp, target)
        return True
    except OSError:
        if not os.path.lexists(target):
            raise
        return False


def _discard(entry: Path) -> bool:
    """Remove an entry: first renamed aside (atomic), so no reader opens it half deleted.

    False when it is still there: the OS refused (Windows, a process maps it); the next
    prune tries again. Files a refused removal leaves in the renamed folder are pruned
    later too."""
    aside = entry.with_name(f".discarded-{entry.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.replace(entry, aside)
    except OSError:
        return not os.path.lexists(entry)  # gone: another process discarded or replaced it
    if aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            aside.unlink(missing_ok=True)  # a stray file where an entry belongs
    return True


def _prune(root: Path) -> None:
    """Keep only the newest generation of the most recently written keys; remove
    discarded entries and stale hidden debris. What the OS refuses to remove (Windows:
    a process maps it) is left for the next prune, without a word."""
    now = time.time()
    keys: dict[str, list[tuple[int, Path]]] = {}
    written: dict[str, int] = {}
    for path in root.iterdir():
        with contextlib.suppress(OSError):
            if not path.is_dir():
                continue
            if not path.name.startswith("."):
                key, generation = split_name(path.name)
                keys.setdefault(key, []).append((generation, path))
                written[key] = max(written.get(key, 0), path.stat().st_mtime_ns)
            elif (path.name.startswith(".discarded-")
                  or now - path.stat().st_mtime > STALE_SECONDS):
                shutil.rmtree(path, ignore_errors=True)
    recent = sorted(keys, key=lambda key: (written[key], key), reverse=True)
    for rank, key in enumerate(recent):
        found = sorted(keys[key])
        for _, old in (found[:-1] if rank < KEEP_ENTRIES else found):
            _discard(old)
