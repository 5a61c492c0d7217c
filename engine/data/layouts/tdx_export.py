"""TongDaXin exports (the client's 数据导出): one GBK text file per stock, ``SH#600000.txt``
(SPEC §1).

Line 1 is ``<code> <name> 日线 <前复权|后复权|不复权>``, line 2 the header (``日期 开盘 最高
最低 收盘 成交量 成交额``), then one row per day, tab-, comma- or space-separated, dated
``YYYY/MM/DD`` or ``YYYY-MM-DD``; a closing line ``数据来源:通达信`` is not a bar. The
prices are the file's own (前复权/后复权 have no raw price to go back to).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from engine.data.batch import read_files
from engine.data.column_aliases import describe_aliases, map_columns, missing_required
from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    finish_scan,
    is_stock_list,
)
from engine.data.naming import nfkc
from engine.data.reader import FileTable, RawFile, digest_of, read_bytes
from engine.errors import DataError
from engine.progress import CancelToken
from engine.util.lazy_import import lazy_module
from engine.util.text import decode_text

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
else:
    pd = lazy_module("pandas")
    pc = lazy_module("pyarrow.compute")
    pacsv = lazy_module("pyarrow.csv")

#: An export's file name: exchange, ``#``, six digits (``SH#600000.txt``).
_NAME = re.compile(r"^(SH|SZ|BJ)#(\d{6})\.(txt|csv)$", re.IGNORECASE)
#: The closing line TongDaXin writes below the rows (``数据来源:通达信``).
CLOSING = "数据来源"
ADJUSTMENTS = ("前复权", "后复权", "不复权")
#: The title word of an export of raw prices.
UNADJUSTED = "不复权"
_DATE_FORMATS = ("%Y/%m/%d", "%Y-%m-%d")
_NUMBERS = ("open", "high", "low", "close", "volume")


def code_of(name: str) -> str | None:
    """The canonical code of an export's file name (``SZ#000001.txt`` -> ``000001.SZ``)."""
    found = _NAME.match(nfkc(name))
    return f"{found.group(2)}.{found.group(1).upper()}" if found else None


def _matches(folder: Path, listing: Listing) -> bool:
    return any(code_of(p.name) is not None for p in listing.files)


def _scan(folder: Path, listing: Listing) -> FolderScan:
    """The export files by code; two files of one stock (``SH#600000.txt`` and
    ``sh#600000.txt``) are an error naming both, other files are listed in one warning."""
    found: dict[str, Path] = {}
    ignored: list[str] = []
    for path in listing.files:
        code = code_of(path.name)
        if code is None:
            if not is_stock_list(path):
                ignored.append(path.name)
            continue
        previous = found.setdefault(code, path)
        if previous != path:
            raise DataError(f"{previous.name} and {path.name} both hold {code}; remove one of "
                            "them", file=path, code=code, rule="duplicate stock file")
    exports = set(found.values())
    # An export is a .txt file but no stock list.
    lists = Listing(tuple(p for p in listing.files if p not in exports), listing.dirs,
                    listing.broken)
    return finish_scan(folder, lists, "tdx-export", found, ignored=ignored,
                       ignored_what="file(s) that are not TongDaXin exports (SH#600000.txt)",
                       broken=listing.broken)


def _read(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None,
          cancel: CancelToken | None) -> ReadResult:
    """Each export parsed and converted (``read_files``); a 不复权 export's bars are
    marked unadjusted, so the load counts their ex-rights gaps (SPEC §1)."""
    raw_prices: set[Path] = set()  # filled by the read pool's threads (set.add is atomic)

    def read_one(code: str) -> RawFile:
        raw, adjustment = read_export(scan.files[code])
        if adjustment == UNADJUSTED:
            raw_prices.add(raw.path)
        return raw

    tables = read_files(codes, read_one, progress, cancel)
    return [dataclasses.replace(t, unadjusted=True)
            if isinstance(t, FileTable) and t.path in raw_prices else t for t in tables]


def read_export(path: Path) -> tuple[RawFile, str | None]:
    """One export's rows as canonical columns (dates as date32, numbers as float64), and
    its title's adjustment (``ADJUSTMENTS``, None without one); a row that is not a bar
    of the header's columns is a DataError naming the file's line."""
    data = read_bytes(path)
    table, adjustment = parse_export(path, data)
    mapping = {name: name for name in table.column_names}
    return RawFile(path, digest_of(data), table, mapping), adjustment


def parse_export(path: Path, data: bytes) -> tuple[pa.Table, str | None]:
    """(the rows as a table of ``date`` and ``_NUMBERS``, the title's adjustment or None)."""
    name = path.name
    lines = decode_text(data, path).splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise DataError(f"{name}: the file is empty; export it again from TongDaXin",
                        file=path, rule="no traded row")
    adjustment = None
    head = first
    if "日期" not in lines[first]:  # the title line: <code> <name> 日线 <前复权|...>
        title = lines[first].split()
        adjustment = next((word for word in title if word in ADJUSTMENTS), None)
        period = next((word for word in title if word.endswith("线")), "日线")
        if period != "日线":
            raise DataError(f"{name}: line {first + 1} says it holds {period} bars; export "
                            "日线 (daily) data", file=path, row=str(first + 1),
                            rule="not daily bars")
        head = next((i for i in range(first + 1, len(lines)) if lines[i].strip()), len(lines))
    if head >= len(lines):
        raise DataError(f"{name}: no header line (日期 开盘 最高 最低 收盘 成交量); export it "
                        "again from TongDaXin", file=path, rule="missing column")
    header = lines[head]
    delimiter = "\t" if "\t" in header else "," if "," in header else None
    names = _cells(header, delimiter)
    mapping = map_columns(names)
    missing = missing_required(mapping)
    if missing:
        raise DataError(f"{name}: line {head + 1} has no `{missing[0]}` column; found: "
                        f"{', '.join(names)}. Accepted names: {describe_aliases(missing)}",
                        file=path, field=missing[0], row=str(head + 1), rule="missing column")
    rows = [i for i in range(head + 1, len(lines)) if lines[i].strip()]
    while rows and lines[rows[-1]].strip().startswith(CLOSING):
        rows.pop()
    if not rows:  # header only: no bar (validation says so)
        return pa.table({"date": pa.array([], pa.date32()),
                         **{c: pa.array([], pa.float64()) for c in _NUMBERS}}), adjustment
    body = "\n".join(lines[i] for i in rows)
    if delimiter is None:  # space-separated, aligned with runs of spaces
        body = re.sub(r"[ \t]+", ",", re.sub(r"^[ \t]+|[ \t]+$", "", body, flags=re.M))
    wrong: list[int] = []

    def invalid(row: pacsv.InvalidRow) -> str:
        wrong.append(row.number if row.number is not None else 0)
        return "skip"

    columns = [f"c{k}" for k in range(len(names))]
    table = pacsv.read_csv(
        pa.BufferReader(body.encode()),
        read_options=pacsv.ReadOptions(column_names=columns, use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=delimiter or ",", invalid_row_handler=invalid),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string())))
    if wrong:
        line = rows[wrong[0] - 1] + 1 if 0 < wrong[0] <= len(rows) else 0
        raise DataError(f"{name}: line {line} does not have the header's {len(names)} columns "
                        f"({lines[line - 1].strip()!r}); fix or remove the row", file=path,
                        row=str(line), rule="bad row")
    at = {canonical: columns[names.index(column)] for canonical, column in mapping.items()}
    out = {"date": _dates(path, table.column(at["date"]), rows, lines)}
    for canonical in _NUMBERS:
        out[canonical] = _numbers(path, table.column(at[canonical]), names[
            columns.index(at[canonical])], rows, lines)
    return pa.table(out), adjustment


def _cells(line: str, delimiter: str | None) -> list[str]:
    """A line's cells, trimmed (``None``: separated by runs of spaces)."""
    return [cell.strip() for cell in line.strip().split(delimiter)]


def _bad(path: Path, rows: list[int], lines: list[str], row: int, what: str, field: str,
         hint: str) -> DataError:
    line = rows[row] + 1
    return DataError(f"{path.name}: line {line} has {what} ({lines[line - 1].strip()!r}); "
                     f"{hint}", file=path, field=field, row=str(line),
                     rule="bad date" if field == "date" else "non-numeric")


def _dates(path: Path, column: pa.ChunkedArray, rows: list[int], lines: list[str]
           ) -> pa.Array:
    """``YYYY/MM/DD`` or ``YYYY-MM-DD`` text as date32; any other is an error naming the
    line (a two-digit year too: Arrow reads ``24/01/02`` as the year 24)."""
    text = pc.utf8_trim_whitespace(column)
    parsed = None
    for fmt in _DATE_FORMATS:
        each = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        parsed = each if parsed is None else pc.coalesce(parsed, each)
    assert parsed is not None
    days = parsed.cast(pa.date32()).combine_chunks()
    values = days.cast(pa.int32()).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(days.is_null().to_numpy(zero_copy_only=False)
                         | (np.nan_to_num(values, nan=0) < _YEAR_1000))
    if bad.size:
        raise _bad(path, rows, lines, int(bad[0]), f"the date {text[int(bad[0])].as_py()!r}",
                   "date", "write dates as YYYY/MM/DD or YYYY-MM-DD")
    return days


# Days from 1970-01-01 to 1000-01-01: a date before it was written with a short year.
_YEAR_1000 = -354285


def _numbers(path: Path, column: pa.ChunkedArray, name: str, rows: list[int],
             lines: list[str]) -> pa.Array:
    """Numeric text as float64; a cell that is no number is an error naming the line."""
    text = pc.utf8_trim_whitespace(column)
    try:
        return text.cast(pa.float64()).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    series = pd.Series(text.to_numpy(zero_copy_only=False), dtype="string")
    numbers = pd.to_numeric(series, errors="coerce")
    row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
    raise _bad(path, rows, lines, row, f"`{name}` {series.iloc[row]!r}, not a number", name,
               "fix the value or remove the row")


LAYOUT = Layout("tdx-export", "TongDaXin exports", _matches, _scan, _read)
