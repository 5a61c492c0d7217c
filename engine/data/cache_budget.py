"""The aligned cache's size budget: least recently used entries go once the cache is over it.

An entry's last use is its folder's modification time: ``mark_used`` sets it to now when
a load reads the entry, and publishing a new entry sets it too. ``enforce`` then keeps
the most recently used entries that fit the budget (``$BACKTEST_CACHE_BUDGET``, default
``DEFAULT_BUDGET``) and discards the rest, never the entry just used, even when it
alone is over the budget. Hidden folders (a writer's temporary entry, discarded ones)
are the cache's own to prune and are neither counted nor touched here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

BUDGET_ENV = "BACKTEST_CACHE_BUDGET"
DEFAULT_BUDGET = 2 * 1024**3
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size as a user writes it: ``2GB``, ``1.5 GiB``, ``500M``, ``1024``
    (units of 1,024); ValueError naming the text when it is none."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{BUDGET_ENV}={text!r} is not a size; write e.g. 2GB, 500MB or a "
                         "number of bytes")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def budget() -> int:
    """The cache's budget in bytes: ``$BACKTEST_CACHE_BUDGET`` if set (and a size, else
    a warning and the default), else ``DEFAULT_BUDGET``."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return DEFAULT_BUDGET
    try:
        return parse_size(text)
    except ValueError as exc:
        log.warning("%s; using %s bytes", exc, f"{DEFAULT_BUDGET:,}")
        return DEFAULT_BUDGET


def mark_used(entry: Path) -> None:
    """Record that ``entry`` was read now (a cache that cannot record it only forgets)."""
    with contextlib.suppress(OSError):
        os.utime(entry)


def entry_size(entry: Path) -> int:
    """Bytes of an entry's files (its folder is flat)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(entry) as files:
        for item in files:
            with contextlib.suppress(OSError):
                total += item.stat(follow_symlinks=False).st_size
    return total


def enforce(root: Path, keep: Path | None, discard: Callable[[Path], bool],
            limit: int | None = None) -> list[Path]:
    """Discard the least recently used entries of ``root`` until the rest fit ``limit``
    bytes (``budget()`` when None); ``keep`` (the entry just used) always stays.
    ``discard`` removes one entry (False when the OS refuses; it is tried again next
    time). Returns the entries discarded."""
    limit = budget() if limit is None else limit
    entries: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError), os.scandir(root) as found:
        for item in found:
            with contextlib.suppress(OSError):
                if not item.name.startswith(".") and item.is_dir(follow_symlinks=False):
                    entries.append((item.stat(follow_symlinks=False).st_mtime_ns,
                                    Path(item.path)))
    entries.sort(key=lambda used: used[0], reverse=True)  # the most recently used first
    total = entry_size(keep) if keep is not None else 0
    gone = []
    for _, path in entries:
        if path == keep:
            continue
        total += entry_size(path)
        if total > limit and discard(path):  # this one and every one used before it
            gone.append(path)
    if gone:
        log.info("aligned cache over its budget of %s bytes: removed %d least recently "
                 "used entries", f"{limit:,}", len(gone))
    return gone
