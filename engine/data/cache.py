"""On-disk cache of aligned arrays, memory-mapped on load and keyed by the input files' stats."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from engine.data.align import AlignedArrays

log = logging.getLogger(__name__)

CACHE_ENV = "BACKTEST_CACHE_DIR"
FORMAT_VERSION = 3  # 2: metadata records every bad stock's error; 3: limit planes
KEEP_ENTRIES = 16


def default_cache_dir() -> Path:
    """The cache root: ``$BACKTEST_CACHE_DIR`` if set, else the user's cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir("backtest-workbench", appauthor=False))


def cache_key(sources: dict[str, Sequence[Path]], missing: list[str],
              params: dict[str, Any]) -> str:
    """Key of an aligned dataset: the path, size and mtime of every file each code's bars
    are read from (a per-stock file, a ``.day`` file, a qlib calendar and its ``.bin``
    files, a long file) plus the load parameters.

    Touching or replacing any file changes its stat, so a changed file is never served
    from the cache.
    """
    stats: dict[Path, list[object]] = {}
    folders: dict[Path, Path] = {}  # resolving each folder once, not each file, keeps a
    listing = []                    # 5,000-file key cheap
    for code, paths in sorted(sources.items()):
        for path in paths:
            if path not in stats:
                st = path.stat()
                folder = folders.get(path.parent) or folders.setdefault(path.parent,
                                                                        path.parent.resolve())
                stats[path] = [str(folder / path.name), st.st_size, st.st_mtime_ns]
        listing.append([code, *(stats[path] for path in paths)])
    blob = json.dumps({"v": FORMAT_VERSION, "files": listing, "missing": missing, **params},
                      sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=20).hexdigest()


def load(root: Path, key: str) -> tuple[AlignedArrays, dict[str, Any]] | None:
    """Memory-map a cached entry, or None when absent or unreadable."""
    entry = root / key
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        arrays = AlignedArrays(
            np.load(entry / "calendar.npy"),
            np.load(entry / "prices.npy", mmap_mode="r"),
            np.load(entry / "tradable.npy", mmap_mode="r"),
        )
    except (OSError, ValueError) as exc:
        if (entry / "meta.json").exists():
            log.warning("aligned cache entry %s is unreadable (%s); rebuilding it", entry, exc)
        return None
    return arrays, meta


def store(root: Path, key: str, arrays: AlignedArrays, meta: dict[str, Any]) -> Path | None:
    """Write an entry atomically (a temporary folder renamed into place); None on failure.

    A cache that cannot be written only costs speed, so failures are logged, not raised.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        np.save(tmp / "calendar.npy", arrays.calendar)
        np.save(tmp / "prices.npy", np.ascontiguousarray(arrays.prices))
        np.save(tmp / "tradable.npy", np.ascontiguousarray(arrays.tradable))
        (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
        try:
            os.replace(tmp, root / key)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (root / key / "meta.json").exists():
                raise
        _prune(root)
        return root / key
    except OSError as exc:
        log.warning("could not write the aligned cache in %s (%s); continuing without it",
                    root, exc)
        return None


def _prune(root: Path) -> None:
    """Keep only the most recently written entries."""
    entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    entries.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEEP_ENTRIES:]:
        shutil.rmtree(stale, ignore_errors=True)
