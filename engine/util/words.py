"""Counts as a reader says them: "1 stock", "2 stocks", "7,244 rejections"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and ``noun`` in the number it takes (``plural``
    when adding "s" is wrong: "1 security", "3 securities")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
