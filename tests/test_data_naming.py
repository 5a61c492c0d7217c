"""File names, code spellings and board limits (SPEC §1, §4)."""

from __future__ import annotations

import pytest

from engine.data.naming import code_from_file_name, normalize_code, parse_code
from engine.errors import DataError


@pytest.mark.parametrize(("name", "code"), [
    ("000001_SZ.parquet", "000001.SZ"),
    ("000001.SZ.parquet", "000001.SZ"),
    ("600000_SH.csv", "600000.SH"),
    ("430047.bj.parquet", "430047.BJ"),
    ("stock_list.parquet", None),
    ("000001_SZ.txt", None),
    ("000001_HK.parquet", None),
    ("00001_SZ.parquet", None),
])
def test_file_names(name: str, code: str | None) -> None:
    assert code_from_file_name(name) == code


@pytest.mark.parametrize(("text", "code"), [
    ("000001.SZ", "000001.SZ"), ("000001_SZ", "000001.SZ"), (" 000001.sz ", "000001.SZ"),
    ("SZ000001", "000001.SZ"), ("sh600000", "600000.SH"), ("000001", "000001"),
    ("0001.SZ", None), ("hello", None),
])
def test_code_spellings(text: str, code: str | None) -> None:
    assert parse_code(text) == code


def test_normalize_code_error_says_how_to_write_it() -> None:
    with pytest.raises(DataError, match=r"'ABC'.*000001\.SZ"):
        normalize_code("ABC")
