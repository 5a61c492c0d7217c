"""Stock codes and data-file names: canonical spelling."""

from __future__ import annotations

import re

from engine.errors import DataError

EXCHANGES = ("SH", "SZ", "BJ")
DATA_SUFFIXES = (".parquet", ".csv")

_FILE_RE = re.compile(r"^(\d{6})[._](SH|SZ|BJ)\.(parquet|csv)$", re.IGNORECASE)
_CODE_RE = re.compile(r"^(\d{6})[._](SH|SZ|BJ)$", re.IGNORECASE)
_PREFIXED_RE = re.compile(r"^(SH|SZ|BJ)(\d{6})$", re.IGNORECASE)


def code_from_file_name(name: str) -> str | None:
    """Canonical code of a data file name (``000001_SZ.parquet`` -> ``000001.SZ``), else None."""
    match = _FILE_RE.match(name)
    if match is None:
        return None
    return f"{match.group(1)}.{match.group(2).upper()}"


def parse_code(text: str) -> str | None:
    """Canonical ``NNNNNN.EX`` for ``000001.SZ``, ``000001_sz`` or ``SZ000001``; None otherwise.

    A bare six-digit code is returned unchanged (its exchange is resolved against the
    data folder by the stock-list logic).
    """
    text = text.strip()
    match = _CODE_RE.match(text)
    if match is not None:
        return f"{match.group(1)}.{match.group(2).upper()}"
    match = _PREFIXED_RE.match(text)
    if match is not None:
        return f"{match.group(2)}.{match.group(1).upper()}"
    if len(text) == 6 and text.isdigit():
        return text
    return None


def normalize_code(text: str) -> str:
    """Canonical code, or a DataError that says which spellings are accepted."""
    code = parse_code(text)
    if code is None:
        raise DataError(
            f"stock code {text!r} is not understood; write it as 000001.SZ or 000001_SZ "
            f"(exchange one of {', '.join(EXCHANGES)})",
            code=text,
        )
    return code

