"""Reads one stock file (parquet or CSV) into a table with canonical column names and types."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyarrow.types as pat

from engine.data.column_aliases import (
    describe_aliases,
    duplicated_columns,
    map_columns,
    missing_required,
)
from engine.errors import DataError

NUMERIC_COLUMNS = ("open", "high", "low", "close", "volume", "adj_factor", "pre_close",
                   "up_limit", "down_limit", "is_st")
CANONICAL_SCHEMA = pa.schema([("date", pa.date32())]
                             + [(name, pa.float64()) for name in NUMERIC_COLUMNS])


@dataclass(frozen=True)
class FileTable:
    """One file's rows in file order with canonical columns (``CANONICAL_SCHEMA``).

    An optional column the file lacks is all-null: ``adj_factor`` (``has_adj_factor``
    False), ``pre_close``, ``up_limit``/``down_limit`` (``has_limits`` False) and
    ``is_st`` (1.0 on ST days, from an ``is_st``/``isST`` flag or a ``name`` containing
    "ST"). ``list_day`` is the file's ``list_date`` in days since 1970-01-01, if any.
    """

    path: Path
    digest: str
    table: pa.Table
    has_adj_factor: bool
    has_limits: bool = False
    list_day: int | None = None


def read_file(path: Path) -> FileTable:
    """Read, map and convert one data file; errors name the file, column and row."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path.name}: cannot be read ({exc.strerror or exc}); check the file "
                        "permissions", file=path, rule="unreadable") from exc
    if not data.strip():
        raise DataError(f"{path.name}: the file is empty; re-export it or remove it from the "
                        "data folder", file=path, rule="no traded row")
    table, mapping = _parse(path, data)
    missing = missing_required(mapping)
    if missing:
        raise DataError(
            f"{path.name}: column `{missing[0]}` is missing; found: "
            f"{', '.join(table.column_names)}. Accepted names: {describe_aliases(missing)}",
            file=path, field=missing[0], rule="missing column",
        )
    with _unconvertible(path, mapping["date"], "dates"):
        dates = _dates(path, table.column(mapping["date"]), mapping["date"])
    if ("up_limit" in mapping) != ("down_limit" in mapping):
        have, lack = (("up_limit", "down_limit") if "up_limit" in mapping
                      else ("down_limit", "up_limit"))
        raise DataError(f"{path.name}: has a `{have}` column but no `{lack}`; give both "
                        "daily limit columns or neither", file=path, field=lack,
                        rule="missing column")
    columns: list[pa.ChunkedArray | pa.Array] = [dates]
    for name in NUMERIC_COLUMNS:
        if name in mapping:
            with _unconvertible(path, mapping[name], "numbers"):
                columns.append(_numeric(path, table.column(mapping[name]), mapping[name], dates))
        else:
            columns.append(pa.nulls(len(table), pa.float64()))
    if "name" in mapping:
        st = NUMERIC_COLUMNS.index("is_st") + 1
        with _unconvertible(path, mapping["name"], "names"):
            columns[st] = _st_flags(table.column(mapping["name"]), columns[st])
    list_day = None
    if "list_date" in mapping:
        with _unconvertible(path, mapping["list_date"], "dates"):
            list_day = _list_day(path, table.column(mapping["list_date"]), mapping["list_date"])
    return FileTable(path, hashlib.blake2b(data, digest_size=16).hexdigest(),
                     pa.Table.from_arrays(columns, schema=CANONICAL_SCHEMA),
                     "adj_factor" in mapping, "up_limit" in mapping, list_day)


def _st_flags(names: pa.ChunkedArray, flags: pa.ChunkedArray | pa.Array) -> pa.Array:
    """1.0 where the ``is_st`` flag is 1 or the day's ``name`` contains "ST", else 0.0."""
    by_name = pc.fill_null(pc.match_substring(names.cast(pa.string()), "ST"), False)
    by_flag = pc.fill_null(pc.equal(flags, 1.0), False)
    return pc.or_(by_name, by_flag).cast(pa.float64()).combine_chunks()


def _list_day(path: Path, column: pa.ChunkedArray, name: str) -> int | None:
    """The file's one listing date (days since 1970-01-01), None when the column is empty."""
    values = column.drop_null()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pat.is_string(values.type) or pat.is_large_string(values.type):
        values = pc.filter(values, pc.not_equal(pc.utf8_trim_whitespace(values), ""))
    if len(values) == 0:
        return None
    days = np.unique(_dates(path, pa.chunked_array([values]), name).to_numpy()
                     .astype("datetime64[D]").astype(np.int64))
    if days.size > 1:
        raise DataError(f"{path.name}: column `{name}` holds {days.size} different listing "
                        f"dates ({np.datetime64(int(days[0]), 'D')}, "
                        f"{np.datetime64(int(days[1]), 'D')}, ...); a stock has one",
                        file=path, field="list_date", rule="bad list_date")
    return int(days[0])


@contextmanager
def _unconvertible(path: Path, column: str, what: str) -> Iterator[None]:
    """A column whose type cannot become ``what`` at all (lists, structs, bytes that
    are not text) is reported as a DataError naming the file and column."""
    try:
        yield
    except (pa.ArrowException, ValueError, TypeError, OverflowError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: column `{column}` cannot be read as {what} ({exc}); "
                        "re-export it with plain values", file=path, field=column,
                        rule="unreadable column") from exc


def _parse(path: Path, data: bytes) -> tuple[pa.Table, dict[str, str]]:
    """Bytes -> (Arrow table, canonical -> file column) for parquet or CSV.

    Parquet decodes only the mapped columns. CSV is read as UTF-8, else GBK (which
    Chinese tools often write).
    """
    try:
        if path.suffix.lower() == ".parquet":
            parquet = pq.ParquetFile(pa.BufferReader(data))
            _check_unique(path, parquet.schema_arrow.names)
            mapping = map_columns(parquet.schema_arrow.names)
            if missing_required(mapping):
                return parquet.schema_arrow.empty_table(), mapping
            return parquet.read(columns=sorted(set(mapping.values())), use_threads=False), mapping
        try:
            data.decode("utf-8")
            encoding = "utf8"
        except UnicodeDecodeError:
            encoding = "gbk"
        table = _read_csv(data, encoding)
        _check_unique(path, table.column_names)
        return table, map_columns(table.column_names)
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path.name}: unreadable or corrupt {path.suffix.lstrip('.')} file ({exc}); "
            "re-export it or remove it from the data folder",
            file=path, rule="corrupt",
        ) from exc


def _check_unique(path: Path, names: list[str]) -> None:
    """A column named twice is ambiguous (which `close` is the close?), so an error."""
    repeated = duplicated_columns(names)
    if repeated:
        raise DataError(f"{path.name}: column `{repeated[0]}` appears more than once in the "
                        "header; keep one column of each name", file=path, field=repeated[0],
                        rule="duplicate column")


def _read_csv(data: bytes, encoding: str) -> pa.Table:
    # Codes stay text (leading zeros); other columns are inferred, and a text column
    # where numbers are expected is reported by row in ``_numeric``.
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False),
        convert_options=pacsv.ConvertOptions(
            column_types={"ts_code": pa.string(), "code": pa.string()}),
    )


def _row_label(dates: pa.ChunkedArray | None, row: int) -> str:
    if dates is None:
        return f"row {row + 1}"
    return f"row {row + 1} ({dates[row].as_py()})"


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def _dates(path: Path, column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Dates as date32 from datetime, YYYYMMDD integers or date strings."""
    original, kind = column, column.type
    if pat.is_timestamp(kind) and kind.tz is not None:
        column = column.cast(pa.timestamp(kind.unit))
    elif pat.is_integer(kind):
        column = column.cast(pa.string())
    if not (pat.is_timestamp(column.type) or pat.is_date(column.type)):
        column = _parse_date_text(column.cast(pa.string()))
    days = column.cast(pa.date32())
    bad = np.flatnonzero(days.is_null().to_numpy(zero_copy_only=False))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{path.name}: column `{name}` {_row_label(None, row)} has an unreadable date "
            f"{original[row].as_py()!r}; use YYYY-MM-DD or YYYYMMDD",
            file=path, field="date", row=str(row + 1), rule="bad date",
        )
    return days


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


def _numeric(path: Path, column: pa.ChunkedArray, name: str,
             dates: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """A numeric column as float64; text that is not a number is an error naming the row."""
    if (pat.is_integer(column.type) or pat.is_floating(column.type) or pat.is_boolean(column.type)
            or pat.is_decimal(column.type) or pat.is_null(column.type)):
        return column.cast(pa.float64())
    text = pd.Series(column.to_numpy(zero_copy_only=False), dtype="string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy() & text.notna().to_numpy()
                         & (text != "").to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{path.name}: column `{name}` {_row_label(dates, row)} is not a number "
            f"({text.iloc[row]!r}); fix the value or remove the row",
            file=path, field=name, row=str(row + 1), rule="non-numeric",
        )
    return pa.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), pa.float64())


__all__ = ["CANONICAL_SCHEMA", "NUMERIC_COLUMNS", "FileTable", "read_file"]
