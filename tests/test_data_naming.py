"""File names, code spellings and board limits (SPEC §1, §4)."""

from __future__ import annotations

import pytest

from engine.data.naming import code_from_file_name, normalize_code, parse_code, security_kind
from engine.errors import DataError


@pytest.mark.parametrize(("name", "code"), [
    ("000001_SZ.parquet", "000001.SZ"),
    ("000001.SZ.parquet", "000001.SZ"),
    ("600000_SH.csv", "600000.SH"),
    ("430047.bj.parquet", "430047.BJ"),
    ("000001.csv", "000001.SZ"),
    ("sz000001.csv", "000001.SZ"),
    ("SH600000.parquet", "600000.SH"),
    ("sz.000001.csv", "000001.SZ"),
    ("600000.XSHG.feather", "600000.SH"),
    ("920001.csv", "920001.BJ"),
    ("stock_list.parquet", None),
    ("000001_SZ.txt", None),
    ("000001_HK.parquet", None),
    ("00001_SZ.parquet", None),
])
def test_file_names(name: str, code: str | None) -> None:
    assert code_from_file_name(name) == code


@pytest.mark.parametrize(("text", "code"), [
    ("000001.SZ", "000001.SZ"), ("000001_SZ", "000001.SZ"), (" 000001.sz ", "000001.SZ"),
    ("SZ000001", "000001.SZ"), ("sh600000", "600000.SH"), ("sz000001", "000001.SZ"),
    ("sz.000001", "000001.SZ"), ("sh.600000", "600000.SH"), ("000001.XSHE", "000001.SZ"),
    ("600000.XSHG", "600000.SH"), ("430047.BJ", "430047.BJ"), ("430047.BSE", "430047.BJ"),
    ("830799.BJSE", "830799.BJ"), ("bj.430047", "430047.BJ"),
    ("0001.SZ", None), ("hello", None), ("000001.HK", None),
])
def test_code_spellings(text: str, code: str | None) -> None:
    assert parse_code(text) == code


@pytest.mark.parametrize(("bare", "code"), [
    ("600000", "600000.SH"), ("601318", "601318.SH"), ("603993", "603993.SH"),
    ("605499", "605499.SH"), ("688981", "688981.SH"), ("689009", "689009.SH"),
    ("000001", "000001.SZ"), ("001979", "001979.SZ"), ("002594", "002594.SZ"),
    ("003816", "003816.SZ"), ("300750", "300750.SZ"), ("301001", "301001.SZ"),
    ("302132", "302132.SZ"), ("430047", "430047.BJ"), ("830799", "830799.BJ"),
    ("870204", "870204.BJ"), ("920001", "920001.BJ"), ("900901", "900901.SH"),
])
def test_bare_code_takes_exchange_from_prefix_bj_920_before_9_sh(bare: str, code: str) -> None:
    assert parse_code(bare) == code


@pytest.mark.parametrize(("code", "kind"), [
    ("000001.SZ", "A-share"), ("600000.SH", "A-share"), ("920001.BJ", "A-share"),
    ("000300.SH", "index"), ("000001.SH", "index"), ("399001.SZ", "index"),
    ("899050.BJ", "index"), ("510300.SH", "fund"), ("159915.SZ", "fund"),
    ("900901.SH", "B-share"), ("200002.SZ", "B-share"), ("113050.SH", "bond"),
    ("128136.SZ", "bond"),
])
def test_security_kinds(code: str, kind: str) -> None:
    assert security_kind(code) == kind


def test_normalize_code_error_says_how_to_write_it() -> None:
    with pytest.raises(DataError, match=r"'ABC'.*000001\.SZ"):
        normalize_code("ABC")
