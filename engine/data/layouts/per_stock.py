"""Per-stock layout: one parquet, CSV or feather file per stock, named by its code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.data.batch import collect, convert_raws
from engine.data.folder import (
    FolderScan,
    Layout,
    Listing,
    ProgressCallback,
    ReadResult,
    finish_scan,
    is_stock_list,
)
from engine.data.naming import code_from_file_name
from engine.data.read_pool import guarded, read_runs
from engine.data.reader import FileTable, RawFile, read_raw
from engine.errors import DataError
from engine.progress import CancelToken

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
    for path in listing.files:
        code = code_from_file_name(path.name)
        if code is None:
            if not is_stock_list(path):
                ignored.append(path.name)
            continue
        previous = found.get(code)
        if previous is None:
            found[code] = path
        elif previous.suffix.lower() == path.suffix.lower():
            raise DataError(f"{previous.name} and {path.name} both hold {code}; remove one of "
                            "them", file=path, code=code, rule="duplicate stock file")
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
    """Decode and convert runs of files on the pool (``convert_raws``), copying each run's
    rows into one table as it is done (``collect``) while the pool reads the next."""
    def read_run(run: Sequence[str]) -> list[FileTable | DataError]:
        return convert_raws([guarded(read_one, code) for code in run])

    def read_one(code: str) -> RawFile:
        return read_raw(scan.files[code])

    return collect(read_runs(codes, read_run, progress, cancel), len(codes))


LAYOUT = Layout("per-stock", "per-stock files", _matches, _scan, _read)
