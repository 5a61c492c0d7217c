"""What a data folder holds (the scan every layout returns) and a symlink-safe folder listing."""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.naming import security_kind
from engine.data.reader import FileTable
from engine.errors import DataError
from engine.progress import CancelToken

ProgressCallback = Callable[[int, int], None]
STOCK_LIST_PARQUET = "stock_list.parquet"


@dataclass(frozen=True)
class FolderScan:
    """What a data folder holds in its layout: one source per A-share code, stock lists,
    ignored names, and the securities left out because they are not A-shares.

    ``files[code]`` is where the stock's bars are (a per-stock file, a ``.day`` file, a
    qlib features folder, the long file); ``sources`` lists, where it differs, every file
    the stock's bars are read from (what the aligned cache's key must cover).
    ``others`` says what each left-out security is and ``other_files`` where its bars are
    (an index there can be a run's benchmark). ``ex_rights`` is the TongDaXin ex-rights
    table (``gbbq``) that adjusts the bars, if any (SPEC §1).
    """

    folder: Path
    files: dict[str, Path]
    stock_lists: tuple[Path, ...]
    ignored: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())
    layout: str = "per-stock"
    sources: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)
    other_files: dict[str, Path] = field(default_factory=dict)
    ex_rights: Path | None = None

    def sources_of(self, code: str) -> tuple[Path, ...]:
        """Every file the bars of ``code`` are read from."""
        return self.sources.get(code, (self.files[code],))


ReadResult = list[FileTable | DataError]


@dataclass(frozen=True)
class Layout:
    """One on-disk layout: how to recognise it, list its stocks and read their bars.

    ``read`` returns one FileTable (or the DataError that stock failed with) per code, in
    the order asked; validation and alignment never know which layout the bars came from.
    """

    name: str
    title: str
    matches: Callable[[Path, Listing], bool]
    scan: Callable[[Path, Listing], FolderScan]
    read: Callable[[FolderScan, Sequence[str], ProgressCallback | None, CancelToken | None],
                   ReadResult]


@dataclass(frozen=True)
class Listing:
    """A folder's visible entries, sorted by name; symlinks that lead nowhere (dangling, or
    a loop) are in ``broken`` as "name (why)" and nowhere else."""

    files: tuple[Path, ...]
    dirs: tuple[Path, ...]
    broken: tuple[str, ...]


def list_folder(folder: Path) -> Listing:
    """List ``folder`` without following a symlink into a loop or crashing on a dangling one.

    Entry types come from the directory listing itself; only symlinks cost a ``stat``.
    """
    files: list[Path] = []
    dirs: list[Path] = []
    broken: list[str] = []
    try:
        with os.scandir(folder) as scan:
            entries = sorted((e for e in scan if not e.name.startswith(".")),
                             key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"data folder {folder} cannot be listed ({exc.strerror or exc})",
                        file=folder, rule="unreadable") from exc
    for entry in entries:
        path = folder / entry.name
        try:
            mode = path.stat().st_mode if entry.is_symlink() else (
                stat.S_IFDIR if entry.is_dir(follow_symlinks=False) else
                stat.S_IFREG if entry.is_file(follow_symlinks=False) else 0)
        except OSError as exc:
            why = "a symlink loop" if exc.errno == errno.ELOOP else (
                "points to nothing" if entry.is_symlink() else exc.strerror or str(exc))
            broken.append(f"{entry.name} ({why})")
            continue
        if stat.S_ISDIR(mode):
            if entry.is_symlink() and _loops_back(path, folder):
                broken.append(f"{entry.name} (a symlink loop)")
            else:
                dirs.append(path)
        elif stat.S_ISREG(mode):
            files.append(path)
    return Listing(tuple(files), tuple(dirs), tuple(broken))


def _loops_back(link: Path, folder: Path) -> bool:
    """True when a directory symlink leads to ``folder`` or one of its parents."""
    target, here = link.resolve(), folder.resolve()
    return target == here or target in here.parents


def is_stock_list(path: Path) -> bool:
    """A stock list the folder may hold beside its data (SPEC §1)."""
    return path.name == STOCK_LIST_PARQUET or path.suffix.lower() == ".txt"


def finish_scan(folder: Path, listing: Listing, layout: str, found: dict[str, Path], *,
                ignored: Sequence[str] = (), ignored_what: str = "",
                broken: Sequence[str] = (), warnings: Sequence[str] = (),
                sources: dict[str, tuple[Path, ...]] | None = None,
                ex_rights: Path | None = None) -> FolderScan:
    """The FolderScan of a layout's findings: A-shares kept, the others counted in one
    warning, skipped symlinks and ``ignored`` names (``ignored_what`` says what they are
    not) warned about, the folder's stock lists listed, its ex-rights table kept."""
    files, others, left_out = split_a_shares(found)
    notes = [*broken_links_warning(broken), *warnings]
    if ignored:
        notes.append(f"ignored {len(ignored)} {ignored_what}: " + ", ".join(ignored[:10])
                     + (" ..." if len(ignored) > 10 else ""))
    lists = tuple(p for p in listing.files if is_stock_list(p))
    kept = {code: paths for code, paths in sources.items()} if sources is not None else {}
    return FolderScan(folder, files, lists, tuple(ignored), (*notes, *left_out), layout,
                      kept, others, {code: found[code] for code in others}, ex_rights)


def broken_links_warning(broken: Sequence[str]) -> list[str]:
    """The one warning that lists skipped symlinks, if any."""
    if not broken:
        return []
    return [f"skipped {len(broken)} symlink(s) that lead nowhere: " + ", ".join(broken[:10])
            + (" ..." if len(broken) > 10 else "")]


def split_a_shares(found: dict[str, Path]) -> tuple[dict[str, Path], dict[str, str],
                                                    list[str]]:
    """Split codes into A-shares and the others (code -> kind), with the one warning that
    counts what was left out (SPEC §1: indices, funds, bonds, B-shares)."""
    kinds = {code: security_kind(code) for code in found}
    others = {code: kind for code, kind in kinds.items() if kind != "A-share"}
    shares = {code: path for code, path in found.items() if code not in others}
    return shares, others, non_a_share_warning(others)


def non_a_share_warning(others: dict[str, str]) -> list[str]:
    """"left out 3 securities that are not A-shares (2 index, 1 fund): ..." or nothing."""
    if not others:
        return []
    counts = Counter(others.values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    names = sorted(others)
    what = ("security that is not an A-share" if len(others) == 1
            else "securities that are not A-shares")
    return [f"left out {len(others):,} {what} ({kinds}): "
            + ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")]
