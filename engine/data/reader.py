"""Reads one stock file (parquet, CSV or feather) into a table of canonical columns and types."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.types as pat
import xxhash

from engine.data.column_aliases import (
    ALIASES,
    describe_aliases,
    duplicated_columns,
    map_columns,
    missing_required,
)
from engine.errors import DataError
from engine.util.lazy_import import lazy_module
from engine.util.oscompat import open_binary
from engine.util.text import text_encoding

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
else:
    pd = lazy_module("pandas")
    pc = lazy_module("pyarrow.compute")
    pacsv = lazy_module("pyarrow.csv")
    pq = lazy_module("pyarrow.parquet")

NUMERIC_COLUMNS = ("open", "high", "low", "close", "volume", "adj_factor", "pre_close",
                   "up_limit", "down_limit", "is_st")
CANONICAL_SCHEMA = pa.schema([("date", pa.date32())]
                             + [(name, pa.float64()) for name in NUMERIC_COLUMNS])


EXCHANGE_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class FileTable:
    """One stock's rows in file order with canonical columns (``CANONICAL_SCHEMA``).

    An optional column the file lacks is all-null: ``adj_factor`` (``has_adj_factor``
    False), ``pre_close``, ``up_limit``/``down_limit`` (``has_limits`` False) and
    ``is_st`` (1.0 on ST days, from an ``is_st``/``isST`` flag or a ``name`` containing
    "ST"). ``list_day`` is the file's ``list_date`` in days since 1970-01-01, if any.
    ``label`` is what errors call the stock's source: the file name, or for layouts
    with several stocks in one file (or one stock in several) a name that says which.
    ``batch`` is the table of many stocks that ``table`` is rows ``offset`` on of, when a
    layout read them at once (``part``): validation then takes whole columns from it.
    ``unadjusted`` marks raw prices (TongDaXin ``.day`` bars, 不复权 exports), whose
    overnight gaps beyond the price limit a load counts: ex-rights days that nothing
    (no ``pre_close``, no ex-rights table) explains (SPEC §1).
    """

    path: Path
    digest: str
    table: pa.Table
    has_adj_factor: bool
    has_limits: bool = False
    list_day: int | None = None
    label: str = ""
    batch: pa.Table | None = field(default=None, compare=False, repr=False)
    offset: int = 0
    unadjusted: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.path.name)

    def part(self, start: int, count: int, *, path: Path, digest: str, label: str,
             table: pa.Table | None = None, has_adj_factor: bool | None = None) -> FileTable:
        """The FileTable of one stock whose rows are ``start`` to ``start + count`` of this
        one's table (or ``table``, the same rows built otherwise); ``has_adj_factor``
        says, where it is not this one's, whether the stock's rows hold a factor."""
        # The constructor, not ``dataclasses.replace``: a layout calls this per stock.
        return FileTable(path, digest, self.table.slice(start, count) if table is None
                         else table,
                         self.has_adj_factor if has_adj_factor is None else has_adj_factor,
                         self.has_limits, self.list_day, label, self.table, start,
                         self.unadjusted)


@dataclass(frozen=True)
class RawFile:
    """One data file decoded but not converted: its table under the file's own column
    names, and ``mapping`` from canonical names to them. ``constant`` holds the value of
    each asked-for extra column that was not decoded because the file's statistics say
    every row holds it (``read_table``)."""

    path: Path
    digest: str
    table: pa.Table
    mapping: dict[str, str]
    constant: dict[str, object] = field(default_factory=dict)


def read_file(path: Path) -> FileTable:
    """Read, map and convert one data file; errors name the file, column and row."""
    raw = read_raw(path)
    return file_table(raw.path, raw.digest, raw.table, raw.mapping)


def read_raw(path: Path, extra: tuple[str, ...] = ()) -> RawFile:
    """Read and decode one data file (the part of ``read_file`` that threads can share:
    Arrow's decoders release the GIL); ``engine.data.batch.convert_raws`` finishes it.
    ``extra``: canonical columns to decode besides the bars' (``read_table``)."""
    data = read_bytes(path)
    if not data or data.isspace():
        raise DataError(f"{path.name}: the file is empty; re-export it or remove it from the "
                        "data folder", file=path, rule="no traded row")
    constant: dict[str, object] = {}
    table, mapping = read_table(path, data, extra, constant=constant if extra else None)
    return RawFile(path, digest_of(data), table, mapping, constant)


def is_number_type(kind: pa.DataType) -> bool:
    """True for the Arrow types that convert to float64 as they are (no text parsing)."""
    return (pat.is_integer(kind) or pat.is_floating(kind) or pat.is_boolean(kind)
            or pat.is_decimal(kind) or pat.is_null(kind))


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or a DataError that names it.

    Four calls to the OS (open, size, read, close), not a Python file object's nine: each
    call gives up the GIL, and the threads of a load wait for it after every one."""
    try:
        handle = open_binary(path)
        try:
            size = os.fstat(handle).st_size
            data = os.read(handle, size + 1)  # a regular file gives all it has at once
            if len(data) == size:
                return data
            # A short read (one read returns at most about 2 GiB), or a file that changed
            # since its size was taken: read on to its end.
            parts = [data]
            while part := os.read(handle, 1 << 24):
                parts.append(part)
            return b"".join(parts)
        finally:
            os.close(handle)
    except OSError as exc:
        raise unreadable(path, exc) from exc


def unreadable(path: Path, exc: OSError) -> DataError:
    """The error of a file the OS would not read."""
    return DataError(f"{path.name}: cannot be read ({exc.strerror or exc}); check the file "
                     "permissions", file=path, rule="unreadable")


def digest_of(data: bytes | memoryview) -> str:
    """The content digest recorded in a run's input fingerprint: xxh3-128, which hashes a
    file at memory speed (BLAKE2b took a tenth of a per-stock load's CPU)."""
    return xxhash.xxh3_128_hexdigest(data)


def file_table(path: Path, digest: str, table: pa.Table, mapping: dict[str, str] | None = None,
               label: str = "") -> FileTable:
    """A FileTable from any layout's raw Arrow table (columns under any accepted alias).

    Dates become local exchange dates, numbers float64; a baostock ``tradestatus`` of 0
    marks a suspended day, which is not a bar (its volume is set to 0).
    """
    label = label or path.name
    mapping = map_columns(table.column_names) if mapping is None else mapping
    missing = missing_required(mapping)
    if missing:
        raise DataError(
            f"{label}: column `{missing[0]}` is missing; found: "
            f"{', '.join(table.column_names)}. Accepted names: {describe_aliases(missing)}",
            file=path, field=missing[0], rule="missing column",
        )
    with _unconvertible(path, label, mapping["date"], "dates"):
        dates = parse_dates(path, label, table.column(mapping["date"]), mapping["date"])
    if ("up_limit" in mapping) != ("down_limit" in mapping):
        have, lack = (("up_limit", "down_limit") if "up_limit" in mapping
                      else ("down_limit", "up_limit"))
        raise DataError(f"{label}: has a `{have}` column but no `{lack}`; give both "
                        "daily limit columns or neither", file=path, field=lack,
                        rule="missing column")
    numbers = {}
    held: dict[str, tuple[np.ndarray, pd.Series]] = {}  # column -> placeholder rows, text
    for name in (*NUMERIC_COLUMNS, "tradestatus"):
        if name in mapping:
            with _unconvertible(path, label, mapping[name], "numbers"):
                numbers[name] = _numeric(path, label, table.column(mapping[name]),
                                         mapping[name], dates, held, name)
    if "tradestatus" in numbers:
        suspended = pc.equal(numbers.pop("tradestatus"), 0.0).fill_null(False)
        numbers["volume"] = pc.if_else(suspended, 0.0, numbers["volume"])
    if held:
        _check_placeholders(path, label, mapping, dates, held, numbers["volume"])
    if "name" in mapping:
        with _unconvertible(path, label, mapping["name"], "names"):
            numbers["is_st"] = _st_flags(table.column(mapping["name"]),
                                         numbers.get("is_st", null_column(len(table))))
    columns = [dates, *(numbers.get(name, null_column(len(table))) for name in NUMERIC_COLUMNS)]
    list_day = None
    if "list_date" in mapping:
        with _unconvertible(path, label, mapping["list_date"], "dates"):
            list_day = _list_day(path, label, table.column(mapping["list_date"]),
                                 mapping["list_date"])
    return FileTable(path, digest, pa.Table.from_arrays(columns, schema=CANONICAL_SCHEMA),
                     "adj_factor" in mapping, "up_limit" in mapping, list_day, label)


_NULLS: list[pa.Array] = [pa.nulls(0, pa.float64())]


def null_column(length: int) -> pa.Array:
    """An all-null float64 column: a slice of one shared array, so the optional columns a
    file lacks cost no memory per file (``pa.nulls`` allocates its values every time).
    Its one zeroed buffer (validity and values alike) comes from ``np.zeros``, whose
    pages the OS hands out untouched: a long file's millions of nulls cost no time."""
    shared = _NULLS[0]
    if len(shared) < length:
        size = max(length, 2 * len(shared), 1 << 16)
        zeros = pa.py_buffer(np.zeros(size * 8, dtype=np.uint8))
        shared = _NULLS[0] = pa.Array.from_buffers(pa.float64(), size, [zeros, zeros],
                                                   null_count=size)
    return shared.slice(0, length)


def _st_flags(names: pa.ChunkedArray, flags: pa.ChunkedArray | pa.Array) -> pa.Array:
    """1.0 where the ``is_st`` flag is 1 or the day's ``name`` contains "ST", else 0.0."""
    by_name = pc.fill_null(pc.match_substring(names.cast(pa.string()), "ST"), False)
    by_flag = pc.fill_null(pc.equal(flags, 1.0), False)
    return pc.or_(by_name, by_flag).cast(pa.float64()).combine_chunks()


def _list_day(path: Path, label: str, column: pa.ChunkedArray, name: str) -> int | None:
    """The file's one listing date (days since 1970-01-01), None when the column is empty."""
    values = column.drop_null()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pat.is_string(values.type) or pat.is_large_string(values.type):
        values = pc.filter(values, pc.not_equal(pc.utf8_trim_whitespace(values), ""))
    if len(values) == 0:
        return None
    days = np.unique(parse_dates(path, label, pa.chunked_array([values]), name).to_numpy()
                     .astype("datetime64[D]").astype(np.int64))
    if days.size > 1:
        raise DataError(f"{label}: column `{name}` holds {days.size} different listing "
                        f"dates ({np.datetime64(int(days[0]), 'D')}, "
                        f"{np.datetime64(int(days[1]), 'D')}, ...); a stock has one",
                        file=path, field="list_date", rule="bad list_date")
    return int(days[0])


@contextmanager
def _unconvertible(path: Path, label: str, column: str, what: str) -> Iterator[None]:
    """A column whose type cannot become ``what`` at all (lists, structs, bytes that
    are not text) is reported as a DataError naming the file and column."""
    try:
        yield
    except (pa.ArrowException, ValueError, TypeError, OverflowError, UnicodeDecodeError) as exc:
        raise DataError(f"{label}: column `{column}` cannot be read as {what} ({exc}); "
                        "re-export it with plain values", file=path, field=column,
                        rule="unreadable column") from exc


def _check_unique(path: Path, names: Sequence[str]) -> None:
    """A column named twice is ambiguous (which `close` is the close?), so an error."""
    repeated = duplicated_columns(names)
    if repeated:
        raise _duplicate_column(path, repeated[0])


def _duplicate_column(path: Path, name: str) -> DataError:
    return DataError(f"{path.name}: column `{name}` appears more than once in the header; "
                     "keep one column of each name", file=path, field=name,
                     rule="duplicate column")


@functools.lru_cache(maxsize=256)
def _header(names: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """A header's first repeated name (None: none) and its ``map_columns``, worked out
    once per distinct header: the files of a folder mostly share one. Not to mutate."""
    repeated = duplicated_columns(names)
    return (repeated[0] if repeated else None), map_columns(names)


@functools.lru_cache(maxsize=256)
def _columns_to_read(names: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    """The columns of a header that ``file_table`` reads, and those of ``extra``."""
    mapping = _header(names)[1]
    return sorted({mapping[c] for c in (*_READ_COLUMNS, *extra) if c in mapping})


# Canonical columns ``file_table`` reads (a per-stock file's code column is not needed).
_READ_COLUMNS = ("date", *NUMERIC_COLUMNS, "tradestatus", "name", "list_date")


def read_table(path: Path, data: bytes, extra: tuple[str, ...] = (), *,
               threads: bool = False, constant: dict[str, object] | None = None
               ) -> tuple[pa.Table, dict[str, str]]:
    """Bytes -> (Arrow table, canonical -> file column) for parquet, feather or CSV.

    Parquet and feather decode only the columns ``file_table`` reads, plus the canonical
    ``extra`` ones (a long file's ``ts_code``, which parquet decodes as a dictionary: a
    few thousand distinct codes, not millions of strings). With ``constant`` (a dict to
    fill), an extra parquet column whose statistics say every row holds one value (a
    per-stock file's code) is not decoded: its value goes to ``constant``. ``threads``
    decodes one big file's columns in parallel. CSV is read as UTF-8 (with or without a
    BOM), else GB18030 (a superset of the GBK that Chinese tools often write): UTF-8
    bytes go to Arrow as they are, validated in place, not transcoded.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".feather"):
            if suffix == ".parquet":
                parquet = _open_parquet(data, extra if constant is None else ())
                names, flat = _column_names(parquet)
            else:
                ipc = pa.ipc.open_file(pa.BufferReader(data))
                names, flat = tuple(ipc.schema.names), False
            repeated, mapping = _header(names)
            if repeated is not None:
                raise _duplicate_column(path, repeated)
            mapping = dict(mapping)  # the caller's own
            if missing_required(mapping):
                schema = parquet.schema_arrow if suffix == ".parquet" else ipc.schema
                return schema.empty_table(), mapping
            if suffix == ".parquet" and constant is not None and flat:
                for name in extra:
                    if name in mapping:
                        column = mapping[name]
                        found = _one_value(parquet, names.index(column), column)
                        if found:
                            constant[name] = found[0]
                extra = tuple(name for name in extra if name not in constant)
            columns = _columns_to_read(names, extra)
            if suffix == ".parquet":
                return parquet.read(columns=columns, use_threads=threads), mapping
            return ipc.read_all().select(columns), mapping
        table = _read_csv(data, text_encoding(data))
        _check_unique(path, table.column_names)
        return table, map_columns(table.column_names)
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path.name}: unreadable or corrupt {suffix.lstrip('.')} file ({exc}); "
            "re-export it or remove it from the data folder",
            file=path, rule="corrupt",
        ) from exc


def _one_value(parquet: pq.ParquetFile, j: int, column: str) -> list[object]:
    """``[value]`` when the file's statistics say every row of ``column``, its ``j``-th
    (one leaf of the schema, as each column is: ``_column_names``), holds ``value`` (no
    null, min equal to max in every row group), else ``[]``: read the column."""
    meta = parquet.metadata
    if meta.num_row_groups == 0:
        return []
    value = None
    for group in range(meta.num_row_groups):
        chunk = meta.row_group(group).column(j)
        stats = chunk.statistics
        if stats is None or not stats.has_min_max or stats.null_count != 0:
            return []
        low = stats.min_raw  # the physical value, compared without converting it
        if low != stats.max_raw or (group and low != value) or chunk.path_in_schema != column:
            return []  # a list's items (their leaf's path is longer than the list's name)
        value = low
    return [stats.min]  # converted as its logical type says


#: The parquet schemas of the last files read, with their columns' names and whether each
#: column is one leaf of the schema: the files of a folder mostly share one, and Arrow's
#: schema (which decodes a file's ``ARROW:schema`` metadata) cost more per file than
#: comparing the schemas does. Replaced whole, never changed, so threads may share it.
_RECENT_SCHEMAS: tuple[tuple[pq.ParquetSchema, tuple[str, ...], bool], ...] = ()


def _column_names(parquet: pq.ParquetFile) -> tuple[tuple[str, ...], bool]:
    """The names of a parquet file's columns (its Arrow schema's), and True when each
    column is one leaf of its parquet schema, in the same order (no structs)."""
    global _RECENT_SCHEMAS
    schema = parquet.schema
    for known, names, flat in _RECENT_SCHEMAS:
        if schema.equals(known):  # every name, type and nesting
            return names, flat
    names = tuple(parquet.schema_arrow.names)
    flat = parquet.metadata.num_columns == len(names)
    _RECENT_SCHEMAS = ((schema, names, flat), *_RECENT_SCHEMAS[:3])
    return names, flat


def _open_parquet(data: bytes, codes: tuple[str, ...]) -> pq.ParquetFile:
    """A parquet file whose ``codes`` columns (canonical names) decode as dictionaries."""
    parquet = pq.ParquetFile(pa.BufferReader(data))
    if not codes:
        return parquet
    mapping = map_columns(parquet.schema_arrow.names)
    return pq.ParquetFile(pa.BufferReader(data),
                          read_dictionary=[mapping[name] for name in codes if name in mapping])


def _read_csv(data: bytes, encoding: str) -> pa.Table:
    # Codes stay text (leading zeros); other columns are inferred, and a text column
    # where numbers are expected is reported by row in ``_numeric``.
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(ALIASES["ts_code"], pa.string())),
    )


def _check_placeholders(path: Path, label: str, mapping: dict[str, str],
                        dates: pa.ChunkedArray, held: dict[str, tuple[np.ndarray, pd.Series]],
                        volume: pa.ChunkedArray | pa.Array) -> None:
    """A placeholder cell (``--``) is allowed on a row that is no bar (volume 0 or empty,
    as validation reads it, or a baostock ``tradestatus`` of 0, whose volume is 0 by
    now); on any other row it is the error a value that is not a number is (SPEC §1)."""
    traded = pc.greater(volume, 0.0).fill_null(False)
    no_bar = ~(traded.to_numpy() if isinstance(traded, pa.Array)
               else traded.combine_chunks().to_numpy(zero_copy_only=False))
    for name in (*NUMERIC_COLUMNS, "tradestatus"):
        if name not in held:
            continue
        rows, text = held[name]
        rows = np.flatnonzero(rows & ~no_bar)
        if rows.size:
            row, column = int(rows[0]), mapping[name]
            raise DataError(
                f"{label}: column `{column}` {_row_label(dates, row)} is not a number "
                f"({text.iloc[row]!r}); fix the value or remove the row",
                file=path, field=column, row=str(row + 1), rule="non-numeric",
            )


def _row_label(dates: pa.ChunkedArray | None, row: int) -> str:
    if dates is None:
        return f"row {row + 1}"
    return f"row {row + 1} ({dates[row].as_py()})"


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z")


def parse_dates(path: Path, label: str, column: pa.ChunkedArray, name: str
                ) -> pa.ChunkedArray:
    """Dates as date32 from datetime, YYYYMMDD integers or date strings.

    A time-zone-aware timestamp is first converted to the exchange's local date
    (Asia/Shanghai), so 2024-01-02 00:00+08:00 (2024-01-01 16:00 UTC) is 2024-01-02.
    """
    original = column
    if pat.is_integer(column.type):
        column = column.cast(pa.string())
    text = not (pat.is_timestamp(column.type) or pat.is_date(column.type))
    if text:
        column = _parse_date_text(column.cast(pa.string()))
    if pat.is_timestamp(column.type) and column.type.tz is not None:
        column = pc.local_timestamp(column.cast(pa.timestamp(column.type.unit, EXCHANGE_TZ)))
    days = column.cast(pa.date32())
    bad = np.flatnonzero(days.is_null().to_numpy(zero_copy_only=False))
    if bad.size:
        row = int(bad[0])
        if _two_digit_year(original[row].as_py()):
            raise _two_digit_year_error(path, label, name, original, row)
        raise DataError(
            f"{label}: column `{name}` {_row_label(None, row)} has an unreadable date "
            f"{original[row].as_py()!r}; use YYYY-MM-DD or YYYYMMDD",
            file=path, field="date", row=str(row + 1), rule="bad date",
        )
    if text:  # a year read as 0022 was written as 22 (SPEC §1): never a silent year 22
        early = np.flatnonzero(days.cast(pa.int32()).to_numpy() < _YEAR_1000)
        for row in early.tolist():
            if _two_digit_year(original[row].as_py()):
                raise _two_digit_year_error(path, label, name, original, row)
    return days


# Days from 1970-01-01 to 1000-01-01: a text date before it had a short year.
_YEAR_1000 = -354285
# Dates written with a two-digit year: 22-06-01, 22/6/1, 6/1/22, 220601 (time optional).
_TWO_DIGIT_YEAR = re.compile(r"^\s*(\d{2}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2}"
                             r"|\d{6})([\sT].*)?$")


def _two_digit_year(value: object) -> bool:
    """True for a date cell written with a two-digit year."""
    return isinstance(value, (str, int)) and _TWO_DIGIT_YEAR.match(str(value)) is not None


def _two_digit_year_error(path: Path, label: str, name: str, column: pa.ChunkedArray,
                          row: int) -> DataError:
    return DataError(
        f"{label}: column `{name}` {_row_label(None, row)} has the date "
        f"{column[row].as_py()!r} with a two-digit year; write dates with four-digit years "
        "(YYYY-MM-DD or YYYYMMDD)", file=path, field="date", row=str(row + 1),
        rule="two-digit year")


def _parse_date_text(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Parse date strings with the first format that reads them all (else the best one)."""
    text = pc.utf8_trim_whitespace(text)
    best = None
    for fmt in _DATE_FORMATS:
        parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        if parsed.null_count == 0:
            return parsed
        if best is None or parsed.null_count < best.null_count:
            best = parsed
    assert best is not None
    return best


# What exports write in the price cells of a day without a bar (SPEC §1), casefolded.
_PLACEHOLDERS = ("--", "-", "null", "n/a", "na", "nan", "none")


def _numeric(path: Path, label: str, column: pa.ChunkedArray, name: str,
             dates: pa.ChunkedArray,
             held: dict[str, tuple[np.ndarray, pd.Series]] | None = None,
             canonical: str = "") -> pa.ChunkedArray | pa.Array:
    """A numeric column as float64; text that is not a number is an error naming the row.

    A placeholder (``--``, ``-``, ``null``, ``N/A``) reads as NaN and its rows go to
    ``held[canonical]``: the caller allows them on rows that are no bar only."""
    if is_number_type(column.type):
        return column.cast(pa.float64())
    text = pd.Series(column.to_numpy(zero_copy_only=False), dtype="string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    missing = (numbers.isna().to_numpy() & text.notna().to_numpy()
               & (text != "").to_numpy(dtype=bool, na_value=False))
    if held is not None and missing.any():
        placeholder = text.str.casefold().isin(_PLACEHOLDERS).to_numpy(dtype=bool,
                                                                        na_value=False)
        if (missing & placeholder).any():
            held[canonical] = (missing & placeholder, text)
            missing &= ~placeholder
    bad = np.flatnonzero(missing)
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{label}: column `{name}` {_row_label(dates, row)} is not a number "
            f"({text.iloc[row]!r}); fix the value or remove the row",
            file=path, field=name, row=str(row + 1), rule="non-numeric",
        )
    return pa.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), pa.float64())


__all__ = ["CANONICAL_SCHEMA", "EXCHANGE_TZ", "NUMERIC_COLUMNS", "FileTable", "RawFile",
           "digest_of", "file_table", "is_number_type", "null_column", "read_bytes",
           "read_file", "read_raw", "read_table", "unreadable"]
