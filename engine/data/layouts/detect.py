"""Picks a data folder's layout from its contents (or as asked), and says why none fits."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from engine.data.column_aliases import map_columns, missing_required
from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    is_stock_list,
    list_folder,
)
from engine.data.layouts import long_file as layout_long
from engine.data.layouts import per_stock as layout_files
from engine.data.layouts import qlib as layout_qlib
from engine.data.layouts import tdx as layout_tdx
from engine.data.layouts import tdx_export as layout_tdx_export
from engine.data.naming import DATA_SUFFIXES, code_from_file_name
from engine.data.reader import FileTable
from engine.errors import DataError
from engine.progress import CancelToken
from engine.util.log_once import warn_once
from engine.util.words import counted

log = logging.getLogger(__name__)

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    layout_files.LAYOUT, layout_tdx.LAYOUT, layout_qlib.LAYOUT, layout_long.LAYOUT,
    layout_tdx_export.LAYOUT)}
LAYOUT_CHOICES = ("auto", *LAYOUTS)
# Those with marker folders first, then files named SH#600000.txt; a long file only where
# no file is named by a code.
_DETECTION_ORDER = ("tdx", "qlib", "tdx-export", "per-stock", "long")

_EXPECTED = {
    "per-stock": "files named by stock code (000001.csv, 000001_SZ.parquet, sz000001.csv)",
    "tdx": "a vipdoc folder with {sh,sz,bj}/lday/*.day files (or a folder holding vipdoc)",
    "qlib": "calendars/day.txt and features/<instrument>/<field>.day.bin",
    "long": "one parquet/CSV/feather file with a code column (ts_code, code, symbol, 股票代码) "
            "and date, open, high, low, close, volume",
    "tdx-export": "TongDaXin export files named SH#600000.txt, SZ#000001.txt, BJ#920001.txt",
}
_WHAT = {"per-stock": "stock files", "tdx": ".day files", "qlib": "qlib instruments",
         "long": "codes in the long file", "tdx-export": "TongDaXin exports"}


def scan_folder(folder: Path | str, layout: str = "auto") -> FolderScan:
    """What ``folder`` holds, read as ``layout`` (``"auto"``: detected from its contents).

    ``folder`` may also be a long file itself. Raises a DataError that describes the
    folder when it holds no usable stock.
    """
    folder = Path(folder)
    if layout not in LAYOUT_CHOICES:
        raise DataError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_CHOICES)}",
                        field="layout", rule="unknown layout")
    if folder.is_file():
        base, listing = folder.parent, Listing((folder,), (), ())
    elif folder.is_dir():
        base, listing = folder, list_folder(folder)
    else:
        raise DataError(f"data folder {folder} does not exist or is not a folder; choose the "
                        "folder that holds your stock data", file=folder)
    if layout == "auto":
        chosen = next((LAYOUTS[name] for name in _DETECTION_ORDER
                       if LAYOUTS[name].matches(base, listing)), None)
        if chosen is None:
            raise DataError(describe_unusable(folder, listing), file=folder, rule="no stock")
    else:
        chosen = LAYOUTS[layout]
        if not chosen.matches(base, listing):
            raise DataError(f"{folder} is not a {chosen.title} (layout={layout}): expected "
                            f"{_EXPECTED[layout]}", file=folder, rule="wrong layout")
    scan = chosen.scan(base, listing)
    if not scan.files:
        raise DataError(describe_unusable(folder, listing, scan), file=folder, rule="no stock")
    for message in scan.warnings:
        warn_once(log, message, str(base))  # every load scans again: once per folder
    return scan


def read_stocks(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> ReadResult:
    """Each code's bars (or its DataError), read with the scan's layout, in code order."""
    return LAYOUTS[scan.layout].read(scan, codes, progress, cancel)


def read_security(folder: Path | str, code: str, layout: str = "auto") -> FileTable | None:
    """The bars of any security in the folder, A-share or not (an index such as
    TongDaXin's ``sh000300.day``), read by the folder's layout; None when the folder has
    none of it. Reading errors are raised as for stocks."""
    scan = scan_folder(folder, layout)
    where = {**scan.other_files, **scan.files}
    if code not in where:
        return None
    one = replace(scan, files={code: where[code]})
    result = LAYOUTS[scan.layout].read(one, [code], None, None)[0]
    if isinstance(result, DataError):
        raise result
    return result


def layout_title(name: str) -> str:
    """How the window and ``backtest check`` name a layout."""
    return LAYOUTS[name].title


def describe_unusable(folder: Path, listing: Listing, scan: FolderScan | None = None) -> str:
    """One line: what the folder holds, counted per kind, and why none of it was used."""
    parts: list[str] = []
    if scan is not None and scan.others:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(Counter(scan.others.values()).items()))
        parts.append(f"{len(scan.others)} {_WHAT[scan.layout]}, all securities that are not "
                     f"A-shares ({kinds})")
    reasons: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in listing.files:
        reasons[_why_unused(path)].append(path.name)
    for (one, many), names in sorted(reasons.items(), key=lambda item: item[0][1]):
        parts.append(f"{len(names):,} {one if len(names) == 1 else many} ({_names(names)})")
    if listing.dirs:
        parts.append(f"{counted(len(listing.dirs), 'subfolder')} not searched "
                     f"({_names([d.name for d in listing.dirs])})")
    if listing.broken:
        parts.append(f"{counted(len(listing.broken), 'symlink')} that "
                     f"{'leads' if len(listing.broken) == 1 else 'lead'} nowhere "
                     f"({_names(list(listing.broken))})")
    holds = "; ".join(parts) if parts else "nothing"
    return (f"no usable stock in {folder}: it holds {holds}. Use a folder of "
            f"{_EXPECTED['per-stock']}, a TongDaXin vipdoc or exports (SH#600000.txt), a qlib "
            "provider folder, or "
            "one long file with a code column")


def _names(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def _why_unused(path: Path) -> tuple[str, str]:
    """Why a top-level file yielded no stock, said of one file and of several ("CSV file
    without ...", "CSV files without ...")."""
    suffix = path.suffix.lower()
    kind = f"{suffix.lstrip('.')} file" if suffix in (".parquet", ".feather") else "CSV file"
    if is_stock_list(path):
        return "stock list", "stock lists"
    if suffix not in DATA_SUFFIXES:
        other = suffix or "no extension"
        return (f"other file ({other}), not a data file",
                f"other files ({other}), not data files")
    if code_from_file_name(path.name) is not None:
        return f"{kind} named by code but not an A-share", f"{kind}s named by code but not A-shares"
    names = layout_long.column_names(path)
    if not names:
        return f"unreadable {kind}", f"unreadable {kind}s"
    missing = missing_required(map_columns(names))
    if missing:
        return (f"{kind} without a {missing[0]} column",
                f"{kind}s without a {missing[0]} column")
    rest = "not named by a stock code and without a code column"
    return f"{kind} {rest}", f"{kind}s {rest}"
