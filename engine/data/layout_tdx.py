"""TongDaXin layout: ``vipdoc/{sh,sz,bj}/lday/*.day`` files of 32-byte daily records (SPEC §1)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    broken_links_warning,
    list_folder,
    split_a_shares,
)
from engine.data.layout_files import is_stock_list
from engine.data.naming import parse_code
from engine.data.read_pool import read_each
from engine.data.reader import FileTable, digest_of, file_table, read_bytes
from engine.errors import DataError
from engine.progress import CancelToken

#: One daily record: date YYYYMMDD, prices in fen (0.01 yuan), amount, volume in shares.
DAY_RECORD = np.dtype([("date", "<u4"), ("open", "<u4"), ("high", "<u4"), ("low", "<u4"),
                       ("close", "<u4"), ("amount", "<f4"), ("volume", "<u4"),
                       ("reserved", "<u4")])
EXCHANGE_FOLDERS = ("sh", "sz", "bj")
_PRICES = ("open", "high", "low", "close")


def lday_folders(folder: Path, listing: Listing) -> list[tuple[str, Path]]:
    """(exchange, ``lday`` folder) of a vipdoc folder, or of a folder holding ``vipdoc``."""
    roots = [folder, *(d for d in listing.dirs if d.name.lower() == "vipdoc")]
    found = []
    for root in roots:
        for exchange in EXCHANGE_FOLDERS:
            lday = root / exchange / "lday"
            if lday.is_dir():
                found.append((exchange.upper(), lday))
    return found


def _matches(folder: Path, listing: Listing) -> bool:
    return bool(lday_folders(folder, listing))


def _scan(folder: Path, listing: Listing) -> FolderScan:
    found: dict[str, Path] = {}
    ignored: list[str] = []
    broken = list(listing.broken)
    for exchange, lday in lday_folders(folder, listing):
        entries = list_folder(lday)
        broken += [f"{lday.relative_to(folder)}/{name}" for name in entries.broken]
        for path in entries.files:
            code = parse_code(path.stem) if path.suffix.lower() == ".day" else None
            if code is None or not code.endswith(exchange):
                ignored.append(path.name)
            else:
                found[code] = path
    files, others, left_out = split_a_shares(found)
    warnings = broken_links_warning(broken)
    if ignored:
        warnings.append(f"ignored {len(ignored)} file(s) in lday folders that are not "
                        "exchange-prefixed .day files: " + ", ".join(ignored[:10]))
    lists = tuple(p for p in listing.files if is_stock_list(p))
    return FolderScan(folder, files, lists, tuple(ignored), (*warnings, *left_out), "tdx",
                      others=others)


def read_day_file(path: Path, label: str) -> FileTable:
    """One ``.day`` file as a FileTable: prices fen / 100, volume in shares, no adjustment."""
    data = read_bytes(path)
    if len(data) % DAY_RECORD.itemsize:
        raise DataError(
            f"{label}: {len(data)} bytes is not a whole number of {DAY_RECORD.itemsize}-byte "
            "records (the file is truncated); export it again from TongDaXin",
            file=path, rule="truncated .day file")
    records = np.frombuffer(data, dtype=DAY_RECORD)
    columns = {"date": pa.array(_days(path, label, records["date"]), pa.date32())}
    columns |= {name: records[name] / 100.0 for name in _PRICES}
    columns["volume"] = records["volume"].astype(np.float64)
    columns["amount"] = records["amount"].astype(np.float64)
    return file_table(path, digest_of(data), pa.table(columns), label=label)


def _days(path: Path, label: str, yyyymmdd: np.ndarray) -> np.ndarray:
    """YYYYMMDD integers as days since epoch; a number that is no date is an error."""
    year, month, day = yyyymmdd // 10000, yyyymmdd // 100 % 100, yyyymmdd % 100
    months = (year.astype(np.int64) - 1970) * 12 + month.astype(np.int64) - 1
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (day.astype(np.int64) - 1)
    back = days.astype("datetime64[M]")
    bad = ((month < 1) | (month > 12) | (day < 1) | (back != months.astype("datetime64[M]")))
    rows = np.flatnonzero(bad)
    if rows.size:
        row = int(rows[0])
        raise DataError(f"{label}: record {row + 1} has date {int(yyyymmdd[row])}, which is not "
                        "a YYYYMMDD date; the file is corrupt, export it again",
                        file=path, field="date", row=str(row + 1), rule="bad date")
    return days.astype(np.int64).astype(np.int32)


def _read(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None,
          cancel: CancelToken | None) -> ReadResult:
    def read_one(code: str) -> FileTable:
        path = scan.files[code]
        return read_day_file(path, str(path.relative_to(scan.folder)))

    return read_each(codes, read_one, progress, cancel)


LAYOUT = Layout("tdx", "TongDaXin vipdoc", _matches, _scan, _read)
