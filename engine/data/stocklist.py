"""The data folder's stock files and stock lists (text, CSV or parquet) resolved to codes."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.data.naming import code_from_file_name, normalize_code, parse_code
from engine.errors import DataError

log = logging.getLogger(__name__)

STOCK_LIST_PARQUET = "stock_list.parquet"
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class FolderScan:
    """What a data folder holds: one file per code, stock lists, and ignored names."""

    folder: Path
    files: dict[str, Path]
    stock_lists: tuple[Path, ...]
    ignored: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())


def scan_folder(folder: Path | str) -> FolderScan:
    """List the stock files of a data folder by canonical code.

    Both spellings (``000001_SZ`` and ``000001.SZ``) are recognised; parquet wins over
    CSV for one code (with a warning); two parquet files for one code is an error.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder; choose the "
                        "folder that holds one parquet/CSV file per stock", file=folder)
    files: dict[str, Path] = {}
    lists: list[Path] = []
    ignored: list[str] = []
    warnings: list[str] = []
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))
    for name in names:
        code = code_from_file_name(name)
        if code is None:
            if name == STOCK_LIST_PARQUET or name.lower().endswith(".txt"):
                lists.append(folder / name)
            else:
                ignored.append(name)
            continue
        path = folder / name
        previous = files.get(code)
        if previous is None:
            files[code] = path
        elif previous.suffix.lower() == path.suffix.lower():
            raise DataError(f"{previous.name} and {name} both hold {code}; remove one of them",
                            file=path, code=code, rule="duplicate stock file")
        else:
            chosen, other = sorted((previous, path), key=lambda p: p.suffix.lower() != ".parquet")
            files[code] = chosen
            warnings.append(f"{code}: both {chosen.name} and {other.name} exist; "
                            f"using {chosen.name}")
    if ignored:
        warnings.append(f"ignored {len(ignored)} file(s) that are not stock files: "
                        + ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else ""))
    for message in warnings:
        log.warning(message)
    return FolderScan(folder, files, tuple(lists), tuple(ignored), tuple(warnings))


def read_stock_list(path: Path | str) -> list[str]:
    """Codes in a stock-list file, in file order, duplicates removed.

    Text: codes separated by newlines, commas or spaces, ``#`` starts a comment.
    Parquet/CSV: a ``ts_code`` or ``code`` column.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".csv"):
            items = _table_codes(path)
        else:
            text = path.read_text(encoding="utf-8-sig")
            items = [t for line in text.splitlines()
                     for t in _SEPARATORS.split(line.split("#", 1)[0]) if t]
    except (OSError, UnicodeDecodeError, pa.ArrowException, ValueError) as exc:
        raise DataError(f"stock list {path.name} cannot be read ({exc})", file=path) from exc
    codes = []
    for item in items:
        code = parse_code(item)
        if code is None:
            raise DataError(f"stock list {path.name}: {item!r} is not a stock code; write codes "
                            "like 000001.SZ or 000001_SZ", file=path, code=item)
        codes.append(code)
    if not codes:
        raise DataError(f"stock list {path.name} holds no stock code (only blank lines or "
                        "# comments); add codes like 000001.SZ, or select all stocks",
                        file=path, rule="empty stock list")
    return list(dict.fromkeys(codes))


def _table_codes(path: Path) -> list[str]:
    if path.suffix.lower() == ".parquet":
        frame = pq.read_table(path).to_pandas()
    else:
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    by_name = {str(c).strip().lower(): c for c in frame.columns}
    column = by_name.get("ts_code", by_name.get("code"))
    if column is None:
        raise ValueError(f"it needs a `ts_code` or `code` column; found: "
                         f"{', '.join(map(str, frame.columns))}")
    return [str(v).strip() for v in frame[column].dropna()]


def resolve_codes(scan: FolderScan, wanted: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Split the wanted codes into (codes with a file, codes without), both sorted.

    ``None`` means every stock in the folder. A bare six-digit code matches the one
    file with those digits, and is an error if several exchanges have it.
    """
    if wanted is None:
        return sorted(scan.files), []
    by_digits: dict[str, list[str]] = {}
    for code in scan.files:
        by_digits.setdefault(code[:6], []).append(code)
    found: set[str] = set()
    missing: set[str] = set()
    for item in wanted:
        code = normalize_code(item)
        if len(code) == 6:
            matches = by_digits.get(code, [])
            if len(matches) > 1:
                raise DataError(f"stock code {code} is ambiguous ({', '.join(sorted(matches))}); "
                                "add the exchange", code=code)
            code = matches[0] if matches else code
        (found if code in scan.files else missing).add(code)
    return sorted(found), sorted(missing)


def parse_stock_selection(value: str | Path | Iterable[str] | None) -> list[str] | None:
    """Interpret a user's stock selection: None/"all", a stock-list file, or codes.

    A string that names an existing file is read as a stock list; any other string is
    split on commas and whitespace.
    """
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        text = str(value).strip()
        if text.lower() in ("", "all"):
            return None
        if Path(text).is_file():
            return read_stock_list(text)
        codes = [t for t in _SEPARATORS.split(text) if t]
    else:
        codes = [str(v) for v in value]
    if not codes:
        shown = f" {str(value)!r}" if isinstance(value, str | Path) else ""
        raise DataError(f"the stock selection{shown} holds no stock code; select stocks, give "
                        "codes like 000001.SZ or a stock-list file", rule="empty stock list")
    return codes
