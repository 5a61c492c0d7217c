"""Many stocks' rows as one table: files converted together, stored once as NumPy columns.

A load of thousands of files spends most of its time on per-file overhead and on memory
it touches for the first time. Here files of one schema are converted with one set of
Arrow calls (``convert_files``), and every converted table is copied at once into
NumPy columns (``BatchBuilder``), freeing the file's Arrow memory while the load goes on;
the stocks' FileTables are then slices of one table, which validation reads without a
copy (``FileTable.batch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.types as pat

from engine.data.column_aliases import missing_required
from engine.data.reader import (
    CANONICAL_SCHEMA,
    NUMERIC_COLUMNS,
    FileTable,
    RawFile,
    file_table,
    is_number_type,
    null_column,
)
from engine.errors import DataError

#: Files converted together at most, so their decoded tables are freed as the load goes.
RUN = 64


class BatchBuilder:
    """Collects canonical tables, in order, as NumPy columns; ``finish`` makes them one table.

    A column no table has a value in stays all-null (no memory); numbers that were null
    become NaN, which is how validation reads them anyway.
    """

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray | int]] = {n: [] for n in CANONICAL_SCHEMA.names}
        self._files: list[tuple[FileTable, int, int]] = []
        self._rows = 0

    def add(self, files: Sequence[FileTable]) -> None:
        """Append the rows of ``files``; their tables are not kept."""
        if not files:
            return
        table = pa.concat_tables([f.table for f in files])
        for name in CANONICAL_SCHEMA.names:
            column = table.column(name)
            if name == "date":
                self._parts[name].append(column.cast(pa.int32()).to_numpy())
            elif column.null_count == len(column):
                self._parts[name].append(len(column))  # all null: just the length
            else:
                self._parts[name].append(column.to_numpy())
        for f in files:
            self._files.append((f, self._rows, f.table.num_rows))
            self._rows += f.table.num_rows

    def finish(self) -> tuple[pa.Table, list[FileTable]]:
        """The one table of every row added, and each added file's FileTable as rows of it."""
        columns = []
        for name in CANONICAL_SCHEMA.names:
            parts, self._parts[name] = self._parts[name], []
            columns.append(_column(name, parts, self._rows))
            del parts  # each column's pieces are freed before the next is joined
        table = pa.Table.from_arrays(columns, schema=CANONICAL_SCHEMA)
        files = [FileTable(f.path, f.digest, table.slice(start, count), f.has_adj_factor,
                           f.has_limits, f.list_day, f.label, table, start)
                 for f, start, count in self._files]
        self._files = []
        return table, files


def _column(name: str, parts: list[np.ndarray | int], rows: int) -> pa.Array:
    if name == "date":
        days = np.concatenate([p for p in parts if isinstance(p, np.ndarray)]
                              or [np.empty(0, np.int32)])
        return pa.array(days).view(pa.date32())
    if all(isinstance(p, int) for p in parts):
        return null_column(rows)
    return pa.array(np.concatenate([p if isinstance(p, np.ndarray) else np.full(p, np.nan)
                                    for p in parts]))


def convert_files(raws: Iterable[RawFile | DataError]) -> list[FileTable | DataError]:
    """``file_table`` of each decoded file, the same tables and errors as one file at a time,
    as rows of one table (``BatchBuilder``). ``raws`` may be a stream: runs of files are
    converted as they arrive.

    Consecutive files of one schema are converted together, as one table (a few Arrow
    calls for the run instead of a dozen per file); a run whose conversion fails, and
    files whose conversion depends on the whole file (dates or numbers as text, a
    ``list_date``), are converted one by one, so every error names its own file and row.
    """
    builder = BatchBuilder()
    out: list[FileTable | DataError | None] = []
    run: list[tuple[int, RawFile]] = []
    run_key: object = None

    def flush() -> None:
        tables = _convert_run([raw for _, raw in run]) if len(run) > 1 else None
        converted = [(i, tables[k] if tables is not None else _convert_one(raw))
                     for k, (i, raw) in enumerate(run)]
        for i, result in converted:
            if isinstance(result, DataError):
                out[i] = result
        builder.add([r for _, r in converted if isinstance(r, FileTable)])
        run.clear()

    for raw in raws:
        out.append(raw if isinstance(raw, DataError) else None)
        if isinstance(raw, DataError):
            continue
        key = _run_key(raw)
        if run and (key is None or key != run_key or len(run) >= RUN):
            flush()
        run.append((len(out) - 1, raw))
        run_key = key
    if run:
        flush()
    parts = iter(builder.finish()[1])
    return [r if r is not None else next(parts) for r in out]


def _convert_one(raw: RawFile) -> FileTable | DataError:
    try:
        return file_table(raw.path, raw.digest, raw.table, raw.mapping)
    except DataError as exc:
        return exc


def _run_key(raw: RawFile) -> object:
    """What files converted together share (their schema), or None when the file's
    conversion depends on more than each row itself."""
    schema = raw.table.schema
    return (tuple(schema.names), tuple(schema.types)) if row_wise(schema, raw.mapping) else None


def row_wise(schema: pa.Schema, mapping: dict[str, str]) -> bool:
    """True when converting a table of ``schema`` depends on nothing but each row itself,
    so that any rows of it may be converted apart: typed dates and numbers, no
    ``list_date`` (one per file)."""
    if "list_date" in mapping or missing_required(mapping):
        return False
    date = schema.field(mapping["date"]).type
    if not (pat.is_timestamp(date) or pat.is_date(date)):
        return False
    return all(is_number_type(schema.field(mapping[name]).type)
               for name in (*NUMERIC_COLUMNS, "tradestatus") if name in mapping)


def _convert_run(raws: Sequence[RawFile]) -> list[FileTable] | None:
    """One conversion for files of one schema, split back per file; None if it fails."""
    first = raws[0]
    try:
        whole = file_table(first.path, "", pa.concat_tables([r.table for r in raws]),
                           first.mapping)
    except (DataError, pa.ArrowException):
        return None
    counts = [r.table.num_rows for r in raws]
    starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
    return [FileTable(raw.path, raw.digest, whole.table.slice(start, count),
                      whole.has_adj_factor, whole.has_limits, whole.list_day, raw.path.name)
            for raw, start, count in zip(raws, starts, counts, strict=False)]
