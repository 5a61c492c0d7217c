"""Per-stock layout: one parquet, CSV or feather file per stock, named by its code."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.types as pat

from engine.data.batch import read_files
from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    finish_scan,
    is_stock_list,
)
from engine.data.naming import code_from_file_name, pad_code, parse_code
from engine.data.reader import RawFile, read_raw
from engine.errors import DataError
from engine.progress import CancelToken
from engine.util.lazy_import import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:
    pc = lazy_module("pyarrow.compute")

# Which file serves a code that several formats hold (first wins, with a warning).
_FORMAT_RANK = (".parquet", ".feather", ".csv")


def _matches(folder: Path, listing: Listing) -> bool:
    return any(code_from_file_name(p.name) is not None for p in listing.files)


def _scan(folder: Path, listing: Listing) -> FolderScan:
    """Files by canonical code, in every spelling of SPEC §1. Parquet wins over feather and
    CSV for one code (with a warning); two files of one format for one code is an error."""
    found: dict[str, Path] = {}
    ignored: list[str] = []
    warnings: list[str] = []
    of_format: dict[tuple[str, str], Path] = {}  # (code, suffix) -> its one file
    for path in listing.files:
        code = code_from_file_name(path.name)
        if code is None:
            if not is_stock_list(path):
                ignored.append(path.name)
            continue
        same = of_format.setdefault((code, path.suffix.lower()), path)
        if same != path:
            raise DataError(f"{same.name} and {path.name} both hold {code}; remove one of "
                            "them", file=path, code=code, rule="duplicate stock file")
        previous = found.get(code)
        if previous is None:
            found[code] = path
        else:
            chosen, other = sorted((previous, path),
                                   key=lambda p: _FORMAT_RANK.index(p.suffix.lower()))
            found[code] = chosen
            warnings.append(f"{code}: both {chosen.name} and {other.name} exist; "
                            f"using {chosen.name}")
    return finish_scan(folder, listing, "per-stock", found, ignored=ignored,
                       ignored_what="file(s) that are not stock files",
                       broken=listing.broken, warnings=warnings)


def _read(scan: FolderScan, codes: Sequence[str], progress: ProgressCallback | None,
          cancel: CancelToken | None) -> ReadResult:
    """Each file decoded, its code column checked, and converted (``read_files``)."""
    def read_one(code: str) -> RawFile:
        return checked_code_column(read_raw(scan.files[code], extra=("ts_code",)), code)

    return read_files(codes, read_one, progress, cancel)


def checked_code_column(raw: RawFile, code: str) -> RawFile:
    """The file without its code column, once every code in it is ``code`` (SPEC §1: a
    code column that names another stock than the file name is an error naming both).

    Empty cells and values that are no stock code (a name) are not compared; a bare code
    (``000001``, or ``1`` that lost its zeros) is compared by its digits only, as it does
    not say its exchange (``sh000001.csv``, an index, may say ``000001``)."""
    name = raw.mapping.get("ts_code")
    if name is None:
        return raw
    mapping = {key: found for key, found in raw.mapping.items() if key != "ts_code"}
    if "ts_code" in raw.constant:  # every row holds it (the parquet file's statistics)
        value = raw.constant["ts_code"]
        if value != code and not _names_stock(value, code):  # ``code`` is canonical
            raise _code_mismatch(raw, name, code, value, 0)
        return RawFile(raw.path, raw.digest, raw.table, mapping)
    column = raw.table.column(name)
    if pat.is_nested(column.type):  # lists, structs: no cell is a code
        values = []
    elif pat.is_dictionary(column.type):  # parquet's: each chunk's distinct values
        values = [v for chunk in column.chunks for v in chunk.dictionary.to_pylist()]
    else:
        values = pc.unique(column).to_pylist()
    wrong = [value for value in values if not _names_stock(value, code)]
    if wrong:  # the first row that names another stock
        plain = column.cast(column.type.value_type) if pat.is_dictionary(column.type) else column
        row = min(int(pc.index(plain, pa.scalar(value, plain.type)).as_py())
                  for value in wrong)
        raise _code_mismatch(raw, name, code, plain[row].as_py(), row)
    return RawFile(raw.path, raw.digest, raw.table.drop_columns([name]), mapping)


def _code_mismatch(raw: RawFile, name: str, code: str, value: object, row: int) -> DataError:
    """The error of a code column whose ``value`` on ``row`` names another stock."""
    named, bare = _named_code(value)
    assert named is not None
    return DataError(f"{raw.path.name}: column `{name}` names {named[:6] if bare else named} "
                     f"on row {row + 1}, but the file name names {code}; rename the file or "
                     "fix the column", file=raw.path, code=code, field="ts_code",
                     row=str(row + 1), rule="code mismatch")


def _names_stock(value: object, code: str) -> bool:
    """False when a code cell names a stock other than ``code`` (a bare code: other digits)."""
    named, bare = _named_code(value)
    return named is None or named == code or (bare and named[:6] == code[:6])


@functools.lru_cache(maxsize=1 << 14)
def _named_code(value: object) -> tuple[str | None, bool]:
    """The canonical code a code cell names (None: empty, or no stock code), and whether
    it is bare (says no exchange). Cached: each file's cells repeat one code."""
    if value is None:
        return None, True
    if isinstance(value, float) and value.is_integer():  # an integer column with a gap
        value = int(value)
    padded = pad_code(str(value))
    return parse_code(padded), padded.isdigit()


LAYOUT = Layout("per-stock", "per-stock files", _matches, _scan, _read)
