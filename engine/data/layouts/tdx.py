"""TongDaXin layout: ``vipdoc/{sh,sz,bj}/lday/*.day`` files of 32-byte daily records, adjusted
by the installation's ex-rights table when there is one (SPEC §1)."""

from __future__ import annotations

import dataclasses
import os
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
    finish_scan,
    is_stock_list,
    list_folder,
)
from engine.data.layouts import tdx_gbbq
from engine.data.naming import parse_code
from engine.data.read_pool import read_each
from engine.data.reader import FileTable, digest_of, file_table, unreadable
from engine.errors import DataError
from engine.progress import CancelToken
from engine.util.oscompat import open_binary, read_into

#: One daily record: date YYYYMMDD, prices in fen (0.01 yuan), amount, volume in shares.
DAY_RECORD = np.dtype([("date", "<u4"), ("open", "<u4"), ("high", "<u4"), ("low", "<u4"),
                       ("close", "<u4"), ("amount", "<f4"), ("volume", "<u4"),
                       ("reserved", "<u4")])
EXCHANGE_FOLDERS = ("sh", "sz", "bj")
#: The highest price a ``.day`` record may hold (its u32 is 10,000,000 fen): above it
#: the u32 is a float's bits, written by a tool other than TongDaXin (SPEC §1).
MAX_YUAN = 100_000.0
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
    """The ``.day`` files by code, and the installation's ex-rights table if there is one;
    every file beside them that is not read (in the folder, in ``vipdoc``, in an ``lday``
    folder) is listed in one warning (SPEC §1)."""
    found: dict[str, Path] = {}
    ignored = [p.name for p in listing.files if not is_stock_list(p)]
    for vipdoc in (d for d in listing.dirs if d.name.lower() == "vipdoc"):
        ignored += [f"{vipdoc.name}/{p.name}" for p in list_folder(vipdoc).files]
    broken = list(listing.broken)
    for exchange, lday in lday_folders(folder, listing):
        entries = list_folder(lday)
        where = lday.relative_to(folder).as_posix()
        broken += [f"{where}/{name}" for name in entries.broken]
        for path in entries.files:
            code = parse_code(path.stem) if path.suffix.lower() == ".day" else None
            if code is None or not code.endswith(exchange):
                ignored.append(f"{where}/{path.name}")
                continue
            # The object stored is the code's first file (``is not``: comparing Paths
            # took 20 ms over 2,500 files).
            previous = found.setdefault(code, path)
            if previous is not path:  # sh600000.day and SH600000.day, or two lday folders
                raise DataError(f"{_label(folder, previous)} and {_label(folder, path)} both "
                                f"hold {code}; remove one of them", file=path, code=code,
                                rule="duplicate stock file")
    return finish_scan(folder, listing, "tdx", found, ignored=ignored,
                       ignored_what="file(s) that are not exchange-prefixed .day files in an "
                       "lday folder", broken=broken, ex_rights=tdx_gbbq.find_table(folder))


def _file_size(path: Path) -> int:
    """A file's size (0 when it cannot be stat'ed: reading it then reports why)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _read_into(path: Path, label: str, view: memoryview) -> str:
    """Fill ``view`` with a ``.day`` file's bytes (its size when listed) and return their
    digest; a length that is no whole number of records is an error (a truncated file)."""
    try:  # the OS's calls, not a Python file object (a third of a small file's time)
        handle = open_binary(path)
        try:
            size = read_into(handle, view)
            grown = bool(os.read(handle, 1))
        finally:
            os.close(handle)
    except OSError as exc:
        raise unreadable(path, exc) from exc
    if size != len(view) or grown:
        raise DataError(f"{label}: the file changed while it was read; load the folder again",
                        file=path, rule="unreadable")
    if size % DAY_RECORD.itemsize:
        raise DataError(
            f"{label}: {size} bytes is not a whole number of {DAY_RECORD.itemsize}-byte "
            "records (the file is truncated); export it again from TongDaXin",
            file=path, rule="truncated .day file")
    return digest_of(view)


def _read_all(scan: FolderScan, codes: Sequence[str], labels: dict[str, str],
              progress: ProgressCallback | None, cancel: CancelToken | None
              ) -> tuple[np.ndarray, np.ndarray, list[str | DataError]]:
    """Every file's bytes, back to back in one buffer (NumPy's, so the OS maps it in large
    pages), where each file starts in it, and each file's digest or error."""
    sizes = [_file_size(scan.files[code]) for code in codes]
    starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    buffer = np.empty(int(starts[-1]), dtype=np.uint8)
    view = buffer.data
    where = {code: k for k, code in enumerate(codes)}

    def read_one(code: str) -> str:
        k = where[code]
        return _read_into(scan.files[code], labels[code], view[starts[k]:starts[k + 1]])

    return buffer, starts, read_each(codes, read_one, progress, cancel)


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _yyyymmdd_days(yyyymmdd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """YYYYMMDD integers as days since epoch (int32), and where a number is no date.

    Integer arithmetic only (the proleptic Gregorian "days from civil" formula), a few
    passes over the records instead of NumPy's slower datetime conversions.
    """
    value = yyyymmdd.astype(np.int64)
    year, month, day = value // 10000, value // 100 % 100, value % 100
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    length = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    bad = (month < 1) | (month > 12) | (day < 1) | (day > length)
    shifted = year - (month <= 2)
    era = shifted // 400
    of_era = shifted - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468
    return days.astype(np.int32), bad


def _label(folder: Path, path: Path) -> str:
    """A file's path below the data folder (what errors call it), cheaply: the files were
    found below it, so this is the tail of the path's text."""
    prefix, text = os.path.join(str(folder), ""), str(path)
    return text[len(prefix):] if text.startswith(prefix) else str(path.relative_to(folder))


def _record_days(yyyymmdd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_yyyymmdd_days`` of millions of records, computed once per distinct number: the
    numbers of a few years span about 10^5 values, so a lookup table over that span and
    one gather replace a dozen passes over every record."""
    if yyyymmdd.size == 0:
        return _yyyymmdd_days(yyyymmdd)
    low, high = int(yyyymmdd.min()), int(yyyymmdd.max())
    if high - low >= yyyymmdd.size:  # scattered numbers (corrupt dates): no gain
        return _yyyymmdd_days(yyyymmdd)
    days, bad = _yyyymmdd_days(np.arange(low, high + 1, dtype=np.int64))
    offset = yyyymmdd - np.uint32(low)
    return days[offset], bad[offset]


def _read(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None,
          cancel: CancelToken | None) -> ReadResult:
    """Read every file's bytes on the pool, then convert all records at once: one
    ``frombuffer``, one date conversion, one table, sliced per stock; the scan's ex-rights
    table, if any, gives every stock's ``pre_close`` and ``adj_factor`` columns at once."""
    labels = {code: _label(scan.folder, scan.files[code]) for code in codes}
    buffer, offsets, digests = _read_all(scan, codes, labels, progress, cancel)
    read = [i for i, digest in enumerate(digests) if not isinstance(digest, DataError)]
    if len(read) < len(codes):  # leave out the bytes of the files that failed
        buffer = np.concatenate([buffer[offsets[i]:offsets[i + 1]] for i in read] or [buffer[:0]])
    records = buffer.view(DAY_RECORD)
    counts = np.array([(offsets[i + 1] - offsets[i]) // DAY_RECORD.itemsize for i in read],
                      np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)])
    days, bad = _record_days(records["date"])
    prices = {name: records[name] / 100.0 for name in _PRICES}
    columns = {"date": pa.array(days, pa.date32()), **prices,
               "volume": records["volume"].astype(np.float64)}
    ex = None
    if scan.ex_rights is not None:
        ex = tdx_gbbq.apply_table(tdx_gbbq.read_table(scan.ex_rights),
                                  [codes[i] for i in read], starts, records["date"],
                                  prices["close"], records["volume"] > 0)
        columns |= {"pre_close": ex.pre_close, "adj_factor": ex.adj_factor}
    # Raw prices: the load counts the gaps beyond the limit that no event explains.
    whole = dataclasses.replace(file_table(scan.folder, "", pa.table(columns)), unadjusted=True)
    out: dict[int, FileTable | DataError] = {
        i: digest for i, digest in enumerate(digests) if isinstance(digest, DataError)}
    # Each file's first record that is no date, if any (one search over all records).
    bad_rows = np.flatnonzero(bad)
    first_bad = dict(zip(*np.unique(np.searchsorted(starts, bad_rows, side="right") - 1,
                                    return_index=True), strict=True))
    # And its first record whose prices are no fen (a float written as u32: SPEC §1).
    too_high = prices["open"] > MAX_YUAN
    for name in _PRICES[1:]:
        too_high |= prices[name] > MAX_YUAN
    float_rows = np.flatnonzero(too_high)
    del too_high
    first_float = dict(zip(*np.unique(np.searchsorted(starts, float_rows, side="right") - 1,
                                      return_index=True), strict=True))
    for k, i in enumerate(read):
        code, start, count, digest = codes[i], int(starts[k]), int(counts[k]), digests[i]
        assert isinstance(digest, str)
        if k in first_bad:
            row = int(bad_rows[first_bad[k]]) - start
            out[i] = DataError(
                f"{labels[code]}: record {row + 1} has date {int(records['date'][start + row])}, "
                "which is not a YYYYMMDD date; the file is corrupt, export it again",
                file=scan.files[code], code=code, field="date", row=str(row + 1),
                rule="bad date")
        elif k in first_float:
            row = int(float_rows[first_float[k]]) - start
            out[i] = DataError(
                f"{labels[code]}: record {row + 1} has a price of "
                f"{max(prices[n][start + row] for n in _PRICES):.2f} yuan (above "
                f"{MAX_YUAN:,.0f}): its prices "
                "are not fen integers, the file was written by another tool; export it again "
                "from TongDaXin", file=scan.files[code], code=code, field="close",
                row=str(row + 1), rule="float-price .day file")
        elif ex is not None and k in ex.failed:
            out[i] = _ex_rights_error(scan, code, labels[code], ex.failed[k])
        elif ex is not None:  # the stock's bars are its file and its events
            events = ex.digests.get(k)
            out[i] = whole.part(start, count, path=scan.files[code], label=labels[code],
                                digest=digest if events is None else f"{digest}+{events}",
                                has_adj_factor=bool(ex.adjusted[k]))
        else:
            out[i] = whole.part(start, count, path=scan.files[code], digest=digest,
                                label=labels[code])
    return [out[i] for i in range(len(codes))]


def _ex_rights_error(scan: FolderScan, code: str, label: str, yyyymmdd: int) -> DataError:
    """The error of a stock whose ex-rights event gives no positive ex-rights price."""
    assert scan.ex_rights is not None
    return DataError(f"{label}: the ex-rights table {scan.ex_rights} gives {code} no positive "
                     f"ex-rights price on {yyyymmdd} (a damaged table); let TongDaXin "
                     "download its data again (盘后数据下载)", file=scan.ex_rights, code=code,
                     field="tdx_gbbq", row=str(yyyymmdd), rule="bad ex-rights table")


LAYOUT = Layout("tdx", "TongDaXin vipdoc", _matches, _scan, _read)
