"""Long-file layout: one parquet, CSV or feather file holding every stock, with a code column."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.types as pat

from engine.data.column_aliases import map_columns, missing_required
from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    finish_scan,
    is_stock_list,
)
from engine.data.naming import DATA_SUFFIXES, code_from_file_name, parse_code
from engine.data.reader import digest_of, file_table, read_bytes, read_table
from engine.errors import DataError
from engine.progress import CancelToken
from engine.util.lazy_import import lazy_module
from engine.util.text import text_encoding

if TYPE_CHECKING:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
else:
    pc = lazy_module("pyarrow.compute")
    pacsv = lazy_module("pyarrow.csv")
    pq = lazy_module("pyarrow.parquet")


def column_names(path: Path) -> list[str]:
    """A data file's column names from its schema or header alone ([] if unreadable)."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return list(pq.read_schema(path).names)
        if suffix == ".feather":
            with pa.memory_map(str(path)) as source:
                return list(pa.ipc.open_file(source).schema.names)
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(
                block_size=1 << 16, encoding=csv_encoding(path))) as csv:
            return list(csv.schema.names)
    except (pa.ArrowException, OSError, ValueError):
        return []


def csv_encoding(path: Path) -> str:
    """The encoding of a CSV file's header and first rows (SPEC §1: UTF-8, else GB18030),
    judged on its first 64 KiB up to the last whole line."""
    with open(path, "rb") as file:
        head = file.read(1 << 16)
    return text_encoding(head[:head.rfind(b"\n") + 1] or head)


def candidates(listing: Listing) -> list[Path]:
    """Data files not named by a stock code and not stock lists: possible long files."""
    return [p for p in listing.files
            if p.suffix.lower() in DATA_SUFFIXES and code_from_file_name(p.name) is None
            and not is_stock_list(p)]


def is_long_file(path: Path) -> bool:
    """A file with a code column and every required bar column."""
    mapping = map_columns(column_names(path))
    return "ts_code" in mapping and not missing_required(mapping)


def _matches(folder: Path, listing: Listing) -> bool:
    return any(is_long_file(p) for p in candidates(listing))


def _scan(folder: Path, listing: Listing) -> FolderScan:
    longs = [p for p in candidates(listing) if is_long_file(p)]
    if len(longs) > 1:
        names = ", ".join(p.name for p in longs)
        raise DataError(f"{folder} holds {len(longs)} long files ({names}); keep one, or "
                        "choose the file itself as the data folder",
                        file=folder, rule="several long files")
    path = longs[0]
    found: dict[str, Path] = {}
    unknown = []
    for value in _distinct_codes(path):
        code = parse_code(value)
        if code is None:
            unknown.append(value)
        else:
            found[code] = path
    warnings = [f"{path.name}: ignored the rows of {len(unknown)} code value(s) that are not "
                "stock codes: " + ", ".join(map(repr, sorted(unknown)[:10]))] if unknown else []
    others = [p.name for p in listing.files if p != path and not is_stock_list(p)]
    return finish_scan(folder, listing, "long", found, ignored=others,
                       ignored_what="file(s) beside the long file", broken=listing.broken,
                       warnings=warnings)


def _code_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Codes as text; codes that lost their leading zeros get them back (SPEC §1: an
    integer column, or text such as ``1`` and ``2357`` from a spreadsheet: 000001)."""
    if pat.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    short = pc.and_(pc.utf8_is_digit(text), pc.less(pc.utf8_length(text), 6))
    return pc.if_else(short, pc.utf8_lpad(text, 6, "0"), text)


def _distinct_codes(path: Path) -> list[str]:
    """The distinct values of the code column, reading only that column."""
    name = map_columns(column_names(path))["ts_code"]
    try:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            column = pq.read_table(path, columns=[name], read_dictionary=[name]).column(name)
        elif suffix == ".feather":
            with pa.memory_map(str(path)) as source:
                column = pa.ipc.open_file(source).read_all().column(name)
        else:
            column = pacsv.read_csv(path, read_options=pacsv.ReadOptions(
                encoding=csv_encoding(path)), convert_options=pacsv.ConvertOptions(
                include_columns=[name], column_types={name: pa.string()})).column(name)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path.name}: unreadable or corrupt file ({exc}); re-export it",
                        file=path, rule="corrupt") from exc
    whole = column.combine_chunks()
    if pat.is_dictionary(column.type):
        # Only the categories some row uses: a category no row holds is not a stock.
        used = whole.dictionary.take(pc.drop_null(pc.unique(whole.indices)))
        codes = [v for v in _code_text(pa.chunked_array([used])).to_pylist() if v]
    else:
        codes = [v for v in _code_text(pc.unique(whole)).to_pylist() if v]
    del whole
    del column
    pa.default_memory_pool().release_unused()  # the column was read to list the codes only
    return codes


#: ``_stock_of_rows``'s mark of a row whose code cell is empty.
_NO_CODE = -2


def _stock_of_rows(column: pa.ChunkedArray, codes: Sequence[str], empty: int = -1
                   ) -> np.ndarray:
    """Each row's position in ``codes`` (-1: not asked for, or no stock code; ``empty``:
    the cell is empty), parsing only the distinct values: chunk by chunk, each chunk's
    dictionary looked up once (a value seen in an earlier chunk is not parsed again) and
    its indices gathered in place."""
    position = {code: i for i, code in enumerate(codes)}
    known: dict[str, int] = {}
    out = np.empty(len(column), dtype=np.int32)
    done = 0
    for chunk in column.chunks:
        if not pat.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        values = _code_text(pa.chunked_array([chunk.dictionary])).to_pylist()
        lookup = np.array([known.setdefault(v, position.get(parse_code(v) or "", -1))
                           if v else empty for v in values] + [empty], dtype=np.int32)
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(len(lookup) - 1)
        np.take(lookup, indices.to_numpy(), out=out[done:done + len(chunk)])
        done += len(chunk)
    return out


def _read(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None,
          cancel: CancelToken | None) -> ReadResult:
    """Read the file once, convert it whole, and split it by code with one stable sort
    (rows of a stock keep their file order; validation sorts dates and reports duplicates)."""
    path = scan.files[codes[0]]
    data = read_bytes(path)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing overlaps decoding
        hashed = pool.submit(digest_of, data)
        raw, mapping = read_table(path, data, extra=("ts_code",), threads=True)
        digest = hashed.result()
    del data
    whole = file_table(path, digest, raw, mapping)
    stock = _stock_of_rows(raw.column(mapping["ts_code"]), codes, empty=_NO_CODE)
    del raw  # the code column's text; the bars live on in ``whole``
    if stock.size and stock.min() == _NO_CODE:  # SPEC §1: never a row dropped unsaid
        row = int(np.argmax(stock == _NO_CODE))
        day = whole.table.column("date")[row].as_py()
        raise DataError(f"{path.name}: row {row + 1} ({day}) has no code in column "
                        f"`{mapping['ts_code']}`; fill in the row's stock code or remove the "
                        "row", file=path, field="ts_code", row=str(row + 1), rule="missing code")
    if stock.size and (stock.min() < 0 or np.any(stock[1:] < stock[:-1])):
        order = np.argsort(stock, kind="stable")
        order = order[np.count_nonzero(stock < 0):]
        whole, stock = replace(whole, table=whole.table.take(pa.array(order))), stock[order]
    counts = np.bincount(stock, minlength=len(codes))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if progress is not None:
        progress(len(codes), len(codes))
    return [whole.part(start, count, path=path, digest=f"{digest}:{code}",
                       label=f"{path.name} ({code})")
            for code, start, count in zip(codes, starts.tolist(), counts.tolist(), strict=True)]


LAYOUT = Layout("long", "one long file", _matches, _scan, _read)
