"""Writes that are whole or untouched: one file through a temporary sibling, a set of
files through a staging folder that replaces the earlier set all together or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.errors import BacktestError
from engine.util.oscompat import is_sharing_violation, replace

#: A staging or backup folder older than this was left by a killed export and is removed.
STALE_STAGING_SECONDS = 3600.0
_STAGING_PREFIX = ".partial-"
_BACKUP_PREFIX = ".previous-"


def _new_file_beside(path: Path) -> Path:
    """Create an empty, uniquely named hidden file beside ``path`` with the mode the
    user's umask gives a new file (``mkstemp`` would make it 0600)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def held_message(path: Path) -> str:
    """The one-line error of a file another program holds open."""
    return (f"{path.name} is open in another program (in {path.parent}); close it and "
            "write again")


def _replace_or_explain(source: Path, target: Path) -> None:
    """``replace(source, target)``; a file held open by another program is a one-line
    ``BacktestError`` naming ``target``."""
    try:
        replace(source, target)
    except OSError as exc:
        if is_sharing_violation(exc):
            raise BacktestError(held_message(target)) from exc
        raise


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A new empty temporary file beside ``path`` for the block to write (by any means:
    text, parquet, an image); renamed onto ``path`` when the block ends, removed if it
    raises, so ``path`` is never a half file and an existing one survives a failure. A
    ``path`` held open by another program is a ``BacktestError`` naming it."""
    tmp = _new_file_beside(path)
    try:
        yield tmp
        _replace_or_explain(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_through(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` fills a temporary file beside ``path`` that then replaces ``path``
    (``atomic_path``)."""
    with atomic_path(path) as tmp:
        write(tmp)


@contextlib.contextmanager
def staged_folder(folder: Path, owned: tuple[str, ...] = ()) -> Iterator[Path]:
    """A hidden staging folder inside ``folder`` (created if missing) for the block to
    fill with a set of files that then replaces the earlier set whole.

    When the block ends, every file of the earlier set (those the staging folder replaces
    and the ``owned`` names this kind of export may write, even where this one does not
    write them, so no file of an older export survives beside the new ones) is
    first moved into a hidden backup folder; only when all have moved are the new files
    moved in. A file another program holds open (a CSV open in Excel) stops the export
    before anything changed, with a ``BacktestError`` naming it; any failure puts the
    earlier files back. A process killed while writing leaves only hidden folders
    (removed by a later export), never a partial result file."""
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder)
    stage = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=folder))
    try:
        yield stage
        _swap_in(folder, stage, sorted(p.name for p in stage.iterdir()), owned)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _earlier_files(folder: Path, names: list[str], owned: tuple[str, ...]) -> list[str]:
    """The files of the earlier export in ``folder``: those ``names`` replace and the
    ``owned`` ones."""
    return sorted({n for n in (*names, *owned) if (folder / n).is_file()})


def _swap_in(folder: Path, stage: Path, names: list[str], owned: tuple[str, ...]) -> None:
    """Move the earlier files aside, then ``names`` from ``stage`` into ``folder``; on any
    failure undo every move made."""
    backup = Path(tempfile.mkdtemp(prefix=_BACKUP_PREFIX, dir=folder))
    moved: list[str] = []
    placed: list[str] = []
    try:
        for name in _earlier_files(folder, names, owned):
            _replace_or_explain(folder / name, backup / name)
            moved.append(name)
        for name in names:
            _replace_or_explain(stage / name, folder / name)
            placed.append(name)
    except BaseException:
        for name in placed:
            with contextlib.suppress(OSError):
                replace(folder / name, stage / name)
        for name in moved:
            with contextlib.suppress(OSError):
                replace(backup / name, folder / name)
        with contextlib.suppress(OSError):
            backup.rmdir()  # kept (hidden) if an earlier file could not be put back
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _remove_stale(folder: Path) -> None:
    now = time.time()
    for prefix in (_STAGING_PREFIX, _BACKUP_PREFIX):
        for path in folder.glob(f"{prefix}*"):
            with contextlib.suppress(OSError):
                if path.is_dir() and now - path.stat().st_mtime > STALE_STAGING_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
