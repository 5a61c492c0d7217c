"""Many stocks' rows as one table: files converted together, stored once as NumPy columns.

A load of thousands of files spends most of its time on per-file overhead and on memory
it touches for the first time. Here consecutive files of one schema are converted with
one set of Arrow calls (``convert_raws``), and each run of converted tables is copied into
NumPy columns as it comes (``collect``, ``BatchBuilder``), freeing its Arrow memory while
the load goes on;
the stocks' FileTables are then slices of one table, which validation reads without a
copy (``FileTable.batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.types as pat

from engine.data.column_aliases import missing_required
from engine.data.folder import ProgressCallback
from engine.data.read_pool import guarded, read_runs
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
from engine.progress import CancelToken

_PENDING = DataError("not converted")  # a place ``convert_raws`` fills before it returns

#: What a FileTable is besides its rows: path, digest, has_adj_factor, has_limits,
#: list_day, label.
_Facts = tuple[Path, str, bool, bool, int | None, str]


def _facts(f: FileTable) -> _Facts:
    return f.path, f.digest, f.has_adj_factor, f.has_limits, f.list_day, f.label


class BatchBuilder:
    """Collects canonical tables, in order, as NumPy columns; ``finish`` makes them one table.

    Each column is one buffer that doubles when full (its unused tail is never touched,
    so it costs no memory): rows are copied once, into memory that stays, instead of
    into pieces joined at the end. A column no table has a value in stays all-null (no
    memory); numbers that were null become NaN, which is how validation reads them.
    """

    def __init__(self, expected_files: int = 0) -> None:
        self._columns: dict[str, np.ndarray | None] = dict.fromkeys(CANONICAL_SCHEMA.names)
        self._capacity = 1 << 16
        self._expected_files = expected_files
        self._files: list[tuple[_Facts, int, int]] = []
        self._rows = 0

    def add(self, files: Sequence[FileTable]) -> None:
        """Append the rows of ``files``; their tables are not kept."""
        table = pa.concat_tables([f.table for f in files]) if files else None
        if table is None or table.num_rows == 0:
            self._files += [(_facts(f), self._rows, 0) for f in files]
            return
        start, stop = self._rows, self._rows + table.num_rows
        if not self._files and self._expected_files > len(files):
            # Room for as many rows per file in every file to come, and a tenth more.
            per_file = table.num_rows / len(files)
            self._capacity = max(self._capacity, int(per_file * self._expected_files * 1.1))
        if stop > self._capacity:
            self._capacity = max(stop, 2 * self._capacity)
        for name in CANONICAL_SCHEMA.names:
            column = table.column(name)
            if name != "date" and column.null_count == len(column):
                if self._columns[name] is not None:
                    self._room(name, stop)[start:stop] = np.nan
                continue
            # Chunk by chunk into the column: each chunk's values are read in place
            # (a chunk without nulls is its own memory), not joined into a copy first.
            dtype = np.dtype(np.int32 if name == "date" else np.float64)
            target, at = self._room(name, stop, dtype, start), start
            for chunk in column.chunks:
                values = chunk.view(pa.int32()) if name == "date" else chunk
                target[at:at + len(chunk)] = values.to_numpy(zero_copy_only=False)
                at += len(chunk)
        for f in files:  # the file's facts, without its table (whose memory is freed)
            self._files.append((_facts(f), self._rows, f.table.num_rows))
            self._rows += f.table.num_rows

    def _room(self, name: str, stop: int, dtype: np.dtype | None = None,
              start: int = 0) -> np.ndarray:
        """The column's buffer with room for ``stop`` rows; a new float column starts as
        NaN for the rows before it had a value."""
        column = self._columns[name]
        if column is None:
            column = np.empty(self._capacity, dtype=dtype)
            if start:  # only a float column can first have a value after row 0
                column[:start] = np.nan
        elif column.size < stop:
            grown = np.empty(self._capacity, dtype=column.dtype)
            grown[:self._rows] = column[:self._rows]
            column = grown
        self._columns[name] = column
        return column

    def finish(self) -> tuple[pa.Table, list[FileTable]]:
        """The one table of every row added, and each added file's FileTable as rows of it."""
        columns = []
        for name in CANONICAL_SCHEMA.names:
            values = self._columns[name]
            if values is None:
                columns.append(pa.array(np.empty(0, np.int32)).view(pa.date32())
                               if name == "date" else null_column(self._rows))
            else:
                array = pa.array(values[:self._rows])
                columns.append(array.view(pa.date32()) if name == "date" else array)
        table = pa.Table.from_arrays(columns, schema=CANONICAL_SCHEMA)
        files = [FileTable(path, digest, table.slice(start, count), has_adj_factor,
                           has_limits, list_day, label, table, start)
                 for (path, digest, has_adj_factor, has_limits, list_day, label), start, count
                 in self._files]
        self._columns, self._files = dict.fromkeys(CANONICAL_SCHEMA.names), []
        return table, files


def read_files(codes: Sequence[str], read_one: Callable[[str], RawFile],
               progress: ProgressCallback | None, cancel: CancelToken | None
               ) -> list[FileTable | DataError]:
    """Each code's file decoded by ``read_one`` on the read pool, runs of them converted
    together (``convert_raws``) and copied into one table as each run is done
    (``collect``) while the pool reads the next; errors in their places."""
    def read_run(run: Sequence[str]) -> list[FileTable | DataError]:
        return convert_raws([guarded(read_one, code) for code in run])

    return collect(read_runs(codes, read_run, progress, cancel), len(codes))


def collect(parts: Iterable[list[FileTable | DataError]], expected_files: int
            ) -> list[FileTable | DataError]:
    """The converted files of ``parts`` (lists made by ``convert_raws``, in order) as rows
    of one table (``BatchBuilder``), errors in their places. Each part's tables are
    copied as it comes, and freed: a load consumes parts while the pool converts the
    next ones, and never holds every file's Arrow table at once."""
    builder = BatchBuilder(expected_files)
    out: list[FileTable | DataError | None] = []
    for part in parts:
        builder.add([r for r in part if isinstance(r, FileTable)])
        out += [r if isinstance(r, DataError) else None for r in part]
        # The part's tables are freed here and Arrow's allocator reuses their memory for
        # the next parts: handing it back to the OS after each part cost a third of the
        # read's system time (the pages are faulted in again) and saved no peak memory.
        del part
    tables = iter(builder.finish()[1])
    return [r if r is not None else next(tables) for r in out]


def convert_raws(raws: Sequence[RawFile | DataError]) -> list[FileTable | DataError]:
    """``file_table`` of each decoded file, errors kept in their places (each file's own
    Arrow table: ``collect`` joins them).

    Consecutive files of one schema are converted together, as one table (a few Arrow
    calls for the run instead of a dozen per file); a run whose conversion fails, and
    files whose conversion depends on the whole file (dates or numbers as text, a
    ``list_date``), are converted one by one, so every error names its own file and row.
    """
    out: list[FileTable | DataError] = []  # each RawFile's place is set by ``flush``
    run: list[tuple[int, RawFile]] = []
    last: tuple[pa.Schema | None, bool] = (None, False)

    def flush() -> None:
        tables = _convert_run([raw for _, raw in run]) if len(run) > 1 else None
        for k, (i, raw) in enumerate(run):
            out[i] = tables[k] if tables is not None else _convert_one(raw)
        run.clear()

    for raw in raws:
        if isinstance(raw, DataError):
            out.append(raw)
            continue
        out.append(_PENDING)
        schema = raw.table.schema
        same = last[0] is not None and last[1] and schema.equals(last[0])
        if not same:
            last = (schema, row_wise(schema, raw.mapping))
        if run and not same:
            flush()
        run.append((len(out) - 1, raw))
        if not last[1]:
            flush()
    if run:
        flush()
    return out


def _convert_one(raw: RawFile) -> FileTable | DataError:
    try:
        return file_table(raw.path, raw.digest, raw.table, raw.mapping)
    except DataError as exc:
        return exc


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
