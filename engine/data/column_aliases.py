"""Column names of stock files: aliases (Tushare, qlib, AkShare) mapped to canonical names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

REQUIRED = ("date", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")

# Accepted spellings per canonical column, compared case-insensitively after stripping
# whitespace and a UTF-8 byte-order mark. qlib feature files prefix names with "$".
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "trade_date", "$date", "日期", "交易日期"),
    "open": ("open", "$open", "开盘", "开盘价"),
    "high": ("high", "$high", "最高", "最高价"),
    "low": ("low", "$low", "最低", "最低价"),
    "close": ("close", "$close", "收盘", "收盘价"),
    "volume": ("volume", "vol", "$volume", "$vol", "成交量"),
    "ts_code": ("ts_code", "code", "symbol", "股票代码", "证券代码"),
    "amount": ("amount", "$amount", "成交额"),
    "adj_factor": ("adj_factor", "$adj_factor", "复权因子"),
    "pre_close": ("pre_close", "preclose", "$pre_close", "昨收", "前收盘"),
    "is_st": ("is_st", "isST"),
    "name": ("name", "股票名称", "名称"),
    "list_date": ("list_date", "上市日期"),
    "up_limit": ("up_limit", "涨停价"),
    "down_limit": ("down_limit", "跌停价"),
    # baostock: 1 = traded, 0 = suspended (the row is not a bar).
    "tradestatus": ("tradestatus",),
}

# Cleaned alias -> (canonical name, rank among that column's spellings).
_LOOKUP: dict[str, tuple[str, int]] = {
    alias.casefold(): (canonical, rank)
    for canonical, names in ALIASES.items() for rank, alias in enumerate(names)
}


def _clean(name: str) -> str:
    return name.replace("\ufeff", "").strip().casefold()


def map_columns(names: Sequence[str]) -> dict[str, str]:
    """Map canonical column name -> the file's column name.

    Where a file holds several spellings of one column, the one listed first in
    ``ALIASES`` wins (so ``volume`` beats ``vol``).
    """
    found: dict[str, tuple[int, str]] = {}
    for name in names:
        hit = _LOOKUP.get(_clean(name))
        if hit is None:
            continue
        canonical, rank = hit
        if canonical not in found or rank < found[canonical][0]:
            found[canonical] = (rank, name)
    return {canonical: name for canonical, (_, name) in found.items()}


def duplicated_columns(names: Sequence[str]) -> list[str]:
    """Column names that occur more than once, compared as ``map_columns`` compares them
    (case-insensitive, whitespace and byte-order mark stripped), in header order."""
    seen: set[str] = set()
    repeated = []
    for name in names:
        key = _clean(name)
        if key in seen and name not in repeated:
            repeated.append(name)
        seen.add(key)
    return repeated


def missing_required(mapping: dict[str, str]) -> list[str]:
    """Required canonical columns absent from a mapping made by ``map_columns``."""
    return [name for name in REQUIRED if name not in mapping]


def describe_aliases(columns: Iterable[str]) -> str:
    """Human-readable list of the accepted spellings of some canonical columns."""
    return "; ".join(f"{c}: {', '.join(ALIASES[c])}" for c in columns)
