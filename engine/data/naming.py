"""Stock codes and data-file names: canonical spelling."""

from __future__ import annotations

import re
import unicodedata

from engine.errors import DataError

EXCHANGES = ("SH", "SZ", "BJ")
DATA_SUFFIXES = (".parquet", ".csv", ".feather")

# Exchange spellings: the canonical suffix, JoinQuant/RiceQuant's MIC-style suffixes and
# the Beijing exchange's several abbreviations.
_EXCHANGE_NAMES = {"SH": "SH", "SZ": "SZ", "BJ": "BJ", "XSHG": "SH", "XSHE": "SZ",
                   "BSE": "BJ", "BJSE": "BJ"}
_SUFFIXED_RE = re.compile(r"^([0-9]{6})[._](SH|SZ|BJ|XSHG|XSHE|BSE|BJSE)$", re.IGNORECASE)
_PREFIXED_RE = re.compile(r"^(SH|SZ|BJ)[._]?([0-9]{6})$", re.IGNORECASE)

# A-share code prefixes by exchange (SPEC §1). Beijing's are checked before any rule that
# sends a bare 9xxxxx code to Shanghai, because 920 is Beijing's new segment.
A_SHARE_PREFIXES = {
    "BJ": ("920", "43", "83", "87"),
    "SH": ("600", "601", "603", "605", "688", "689"),
    "SZ": ("000", "001", "002", "003", "300", "301", "302"),
}
# Exchange of a bare code whose prefix is not an A-share's: Shanghai funds (5), B-shares
# (900) and bonds (11); Beijing's other 4/8 codes; the rest (SZ funds, bonds, B-shares,
# indices 399) Shenzhen.
_OTHER_BARE_PREFIXES = (("5", "SH"), ("6", "SH"), ("7", "SH"), ("9", "SH"), ("11", "SH"),
                        ("4", "BJ"), ("8", "BJ"))
# What a security that is not an A-share is, by exchange and prefix; first match wins.
_NON_A_SHARE_KINDS = {
    "SH": (("000", "index"), ("900", "B-share"), ("5", "fund"), ("1", "bond"), ("0", "bond")),
    "SZ": (("399", "index"), ("200", "B-share"), ("15", "fund"), ("16", "fund"),
           ("18", "fund"), ("1", "bond")),
    "BJ": (("899", "index"),),
}


def exchange_of_bare_code(digits: str) -> str:
    """Exchange of a bare six-digit code, from its prefix (SPEC §1): BJ's 920/43/83/87 first,
    then SH 600/601/603/605/688/689 and SZ 000-003/300-302, then the other securities'."""
    for exchange in ("BJ", "SH", "SZ"):
        if digits.startswith(A_SHARE_PREFIXES[exchange]):
            return exchange
    for prefix, exchange in _OTHER_BARE_PREFIXES:
        if digits.startswith(prefix):
            return exchange
    return "SZ"


def parse_code(text: str) -> str | None:
    """Canonical ``NNNNNN.EX`` of any spelling in SPEC §1, else None.

    Accepted: ``000001.SZ``, ``000001_SZ``, ``000001``, ``SZ000001``, ``sz000001``,
    ``sz.000001`` (baostock), ``000001.XSHE`` / ``600000.XSHG`` (JoinQuant, RiceQuant),
    ``430047.BJ`` / ``.BSE`` / ``.BJSE``; a bare code takes its exchange from its prefix.
    """
    text = nfkc(text).strip()
    match = _SUFFIXED_RE.match(text)
    if match is not None:
        return f"{match.group(1)}.{_EXCHANGE_NAMES[match.group(2).upper()]}"
    match = _PREFIXED_RE.match(text)
    if match is not None:
        return f"{match.group(2)}.{match.group(1).upper()}"
    if len(text) == 6 and text.isascii() and text.isdigit():
        return f"{text}.{exchange_of_bare_code(text)}"
    return None


def nfkc(text: str) -> str:
    """``text`` with fullwidth characters normalised (NFKC, SPEC §1: ``６００１４２`` is
    600142, ``ｓｚ`` is sz, ``，`` a comma); ASCII text as it is, at no cost."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def pad_code(text: str) -> str:
    """A code that lost its leading zeros (``1``, ``2357``: a spreadsheet's number) padded
    back to six digits (SPEC §1); any other text as it is."""
    text = nfkc(text).strip()
    return text.zfill(6) if text.isascii() and text.isdigit() and len(text) < 6 else text


def code_from_file_name(name: str) -> str | None:
    """Canonical code of a per-stock data file name (``000001_SZ.parquet``, ``sz000001.csv``,
    ``000001.csv``, ``600000.XSHG.feather``, ``６００１４２.csv``...), else None."""
    stem, dot, suffix = nfkc(name).rpartition(".")
    if not dot or f".{suffix.lower()}" not in DATA_SUFFIXES:
        return None
    return parse_code(stem)


def security_kind(code: str) -> str:
    """``"A-share"`` for a canonical code of an A-share, else what it is: ``"index"``,
    ``"fund"``, ``"bond"``, ``"B-share"`` or ``"other"`` (by exchange and prefix)."""
    digits, exchange = code[:6], code[7:]
    if digits.startswith(A_SHARE_PREFIXES.get(exchange, ())):
        return "A-share"
    for prefix, kind in _NON_A_SHARE_KINDS.get(exchange, ()):
        if digits.startswith(prefix):
            return kind
    return "other"


def normalize_code(text: str) -> str:
    """Canonical code, or a DataError that says which spellings are accepted."""
    code = parse_code(text)
    if code is None:
        raise DataError(
            f"stock code {text!r} is not understood; write it as 000001.SZ, 000001_SZ, "
            f"SZ000001, sz.000001, 000001.XSHE or 000001 (exchange one of "
            f"{', '.join(EXCHANGES)})",
            code=text,
        )
    return code

