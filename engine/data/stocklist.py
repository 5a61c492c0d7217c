"""Stock lists (text, CSV or parquet) and stock selections resolved to a folder's codes."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from engine.data.column_aliases import ALIASES, map_columns
from engine.data.folder import FolderScan
from engine.data.naming import nfkc, normalize_code, pad_code, parse_code
from engine.errors import DataError
from engine.util.lazy_import import lazy_module
from engine.util.text import read_text

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.parquet as pq
else:
    pd = lazy_module("pandas")
    pq = lazy_module("pyarrow.parquet")

_SEPARATORS = re.compile(r"[\s,;]+")


def read_stock_list(path: Path | str) -> list[str]:
    """Codes in a stock-list file, in file order, duplicates removed.

    Text: codes separated by newlines, commas or spaces, ``#`` starts a comment.
    Parquet/CSV: a ``ts_code`` or ``code`` column. Text and CSV are UTF-8 (with or
    without a BOM), else GB18030 (GBK, as Chinese Excel and Notepad save).
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".csv"):
            items = _table_codes(path)
        else:
            text = nfkc(read_text(path, f"stock list {path.name}"))  # ，and ＃ too
            items = [t for line in text.splitlines()
                     for t in _SEPARATORS.split(line.split("#", 1)[0]) if t]
    except (OSError, UnicodeDecodeError, pa.ArrowException, ValueError) as exc:
        raise DataError(f"stock list {path.name} cannot be read ({exc})", file=path) from exc
    codes = []
    for item in items:
        code = parse_code(pad_code(item))
        if code is None:
            raise DataError(f"stock list {path.name}: {item!r} is not a stock code; write codes "
                            "like 000001.SZ, 000001_SZ, sz000001 or 000001", file=path, code=item)
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
        frame = pd.read_csv(io.StringIO(read_text(path, f"stock list {path.name}")), dtype=str)
    column = map_columns([str(c) for c in frame.columns]).get("ts_code")
    if column is None:
        raise ValueError(f"it needs a code column ({', '.join(ALIASES['ts_code'])}); found: "
                         f"{', '.join(map(str, frame.columns))}")
    # A spreadsheet may have turned 000001 into the number 1 (padded by the caller).
    return [str(v).strip() for v in frame[column].dropna()]


def resolve_codes(scan: FolderScan, wanted: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Split the wanted codes into (codes with bars in the folder, codes without), both sorted.

    ``None`` means every A-share in the folder. Any spelling of SPEC §1 is accepted; a
    bare code takes its exchange from its prefix.
    """
    if wanted is None:
        return sorted(scan.files), []
    found: set[str] = set()
    missing: set[str] = set()
    for item in wanted:
        code = normalize_code(item)
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
        codes = [t for t in _SEPARATORS.split(nfkc(text)) if t]
    else:
        codes = [str(v) for v in value]
    if not codes:
        shown = f" {str(value)!r}" if isinstance(value, str | Path) else ""
        raise DataError(f"the stock selection{shown} holds no stock code; select stocks, give "
                        "codes like 000001.SZ or a stock-list file", rule="empty stock list")
    return codes
