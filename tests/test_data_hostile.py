"""Hostile real-world data (issue 23): never a silent wrong answer, never a needless refusal.

Each case is data that real tools write; the load either reads it right or fails with one
line naming the file, the row or code, and what to do (SPEC §1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data import load_market_data, read_stock_list
from engine.data.layouts.tdx import DAY_RECORD
from engine.data.reader import read_raw
from engine.errors import DataError

HEADER = "date,open,high,low,close,volume\n"
GOOD_ROWS = ("2024-01-02,10,10.1,9.9,10,100\n2024-01-03,10.1,10.2,10,10.1,100\n"
             "2024-01-04,10.2,10.3,10.1,10.2,100\n")


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _long_csv(codes: list[str]) -> str:
    rows = "".join(f"{code},2024-01-0{2 + k},10,10.1,9.9,10,100\n"
                   for k, code in enumerate(codes))
    return "ts_code," + HEADER + rows


def _qlib(folder: Path, fields: dict[str, np.ndarray]) -> Path:
    (folder / "calendars").mkdir(parents=True)
    (folder / "calendars" / "day.txt").write_text("2024-01-02\n2024-01-03\n", encoding="utf-8")
    inst = folder / "features" / "sh600000"
    inst.mkdir(parents=True)
    for name, values in fields.items():
        (inst / f"{name}.day.bin").write_bytes(np.r_[0, values].astype("<f4").tobytes())
    return folder


# --- item 1


@pytest.mark.parametrize(("written", "shown"), [
    ("22-06-01", "'22-06-01'"), ("22/06/01", "'22/06/01'"), ("220601", "'220601'")])
def test_a_two_digit_year_names_the_file_and_row(tmp_path: Path, written: str,
                                                 shown: str) -> None:
    rows = f"2022-05-31,10,10.1,9.9,10,100\n{written},10,10.1,9.9,10,100\n"
    folder = _folder(tmp_path, {"000001.csv": HEADER + GOOD_ROWS, "600000.csv": HEADER + rows})
    with pytest.raises(DataError, match=rf"^600000.csv: column `date` row 2 has the date "
                       rf"{shown} with a two-digit year; write dates with four-digit years "
                       r"\(YYYY-MM-DD or YYYYMMDD\)$") as info:
        load_market_data(folder, use_cache=False)
    assert info.value.row == "2" and info.value.rule == "two-digit year"


def test_a_two_digit_year_as_an_integer_column(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"trade_date": [220601, 220602], "open": 10.0, "high": 10.1, "low": 9.9,
                  "close": 10.0, "vol": 100.0}).to_parquet(folder / "600000.parquet")
    with pytest.raises(DataError, match=r"^600000.parquet: column `trade_date` row 1 has the "
                       r"date 220601 with a two-digit year"):
        load_market_data(folder, use_cache=False)


def test_a_two_digit_year_in_a_long_file(tmp_path: Path) -> None:
    text = "ts_code," + HEADER + "000001.SZ,2024-01-02,10,10.1,9.9,10,100\n" \
        "600000.SH,24-01-02,10,10.1,9.9,10,100\n"
    folder = _folder(tmp_path, {"bars.csv": text})
    with pytest.raises(DataError, match=r"^bars.csv: column `date` row 2 has the date "
                       r"'24-01-02' with a two-digit year"):
        load_market_data(folder, use_cache=False)


# --- item 2


def test_a_long_file_row_without_a_code_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"bars.csv": _long_csv(["000001.SZ", "600000.SH", "  "])})
    with pytest.raises(DataError, match=r"^bars.csv: row 3 \(2024-01-04\) has no code in column "
                       r"`ts_code`; fill in the row's stock code or remove the row$") as info:
        load_market_data(folder, use_cache=False)
    assert info.value.row == "3" and info.value.rule == "missing code"


def test_a_long_parquet_row_with_a_null_code_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"code": ["000001.SZ", None, "600000.SH"],
                  "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-02"]),
                  "open": 10.0, "high": 10.1, "low": 9.9, "close": 10.0, "volume": 100.0}
                 ).to_parquet(folder / "bars.parquet")
    with pytest.raises(DataError, match=r"^bars.parquet: row 2 \(2024-01-03\) has no code in "
                       r"column `code`"):
        load_market_data(folder, use_cache=False)


# --- item 3


def test_long_csv_codes_that_lost_their_zeros_are_padded(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"bars.csv": _long_csv(["1", "2357", "600000", "1", "2357"])})
    data = load_market_data(folder, use_cache=False)
    assert data.codes == ("000001.SZ", "002357.SZ", "600000.SH")
    assert not [w for w in data.warnings if "not stock codes" in w]


def test_long_parquet_codes_as_integers_or_short_text_are_padded(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-02"]), "open": 10.0,
                          "high": 10.1, "low": 9.9, "close": 10.0, "volume": 100.0})
    frame.assign(code=[1, 2357]).to_parquet(folder / "bars.parquet")
    assert load_market_data(folder, use_cache=False).codes == ("000001.SZ", "002357.SZ")
    frame.assign(code=["1", "2357"]).to_parquet(folder / "bars.parquet")
    assert load_market_data(folder, use_cache=False).codes == ("000001.SZ", "002357.SZ")


def test_stock_lists_whose_codes_lost_their_zeros(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("1\n2357, 600000\n", encoding="utf-8")
    assert read_stock_list(tmp_path / "list.txt") == ["000001.SZ", "002357.SZ", "600000.SH"]
    pd.DataFrame({"code": [1, 2357]}).to_csv(tmp_path / "list.csv", index=False)
    assert read_stock_list(tmp_path / "list.csv") == ["000001.SZ", "002357.SZ"]


# --- item 4


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("ts_code", "600142.SH", "600142.SH"), ("code", "600142", "600142"),
    ("股票代码", "sh600142", "600142.SH")])
def test_a_code_column_that_names_another_stock(tmp_path: Path, column: str, value: str,
                                                shown: str) -> None:
    rows = "".join(f"{value},{line}\n" for line in GOOD_ROWS.splitlines())
    folder = _folder(tmp_path, {"000001.csv": HEADER + GOOD_ROWS,
                                "000002.csv": f"{column}," + HEADER + rows})
    with pytest.raises(DataError, match=rf"^000002.csv: column `{column}` names {shown} on row "
                       r"1, but the file name names 000002.SZ; rename the file or fix the "
                       r"column$") as info:
        load_market_data(folder, use_cache=False)
    assert info.value.code == "000002.SZ" and info.value.rule == "code mismatch"
    skipped = load_market_data(folder, use_cache=False, on_bad_stock="skip")
    assert skipped.codes == ("000001.SZ",) and skipped.excluded[0][:2] == ("000002.SZ",
                                                                           "000002.csv")


def test_a_parquet_code_column_that_names_another_stock(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]), "open": 10.0,
                          "high": 10.1, "low": 9.9, "close": 10.0, "volume": 100.0})
    frame.assign(ts_code="000001.SZ").to_parquet(folder / "000001_SZ.parquet")
    frame.assign(ts_code=["000002.SZ", "600142.SH"]).to_parquet(folder / "000002_SZ.parquet")
    with pytest.raises(DataError, match=r"^000002_SZ.parquet: column `ts_code` names 600142.SH "
                       r"on row 2, but the file name names 000002.SZ"):
        load_market_data(folder, use_cache=False)
    # One code throughout: known from the file's statistics, without decoding the column.
    frame.assign(ts_code="sh600142").to_parquet(folder / "000002_SZ.parquet")
    with pytest.raises(DataError, match=r"^000002_SZ.parquet: column `ts_code` names 600142.SH "
                       r"on row 1, but the file name names 000002.SZ"):
        load_market_data(folder, use_cache=False)
    frame.assign(ts_code=2).to_parquet(folder / "000002_SZ.parquet")
    assert load_market_data(folder, use_cache=False).codes == ("000001.SZ", "000002.SZ")


def _bars_with_codes(codes: list[object], **columns: object) -> pa.Table:
    n = len(codes)
    return pa.table({**columns, "date": pa.array(pd.date_range("2024-01-02", periods=n)),
                     "open": [10.0] * n, "high": [10.1] * n, "low": [9.9] * n,
                     "close": [10.0] * n, "volume": [100.0] * n, "ts_code": codes})


@pytest.mark.parametrize(("table", "options", "constant"), [
    (_bars_with_codes(["000002.SZ"] * 4), {}, "000002.SZ"),
    (_bars_with_codes([2] * 4), {}, 2),
    (_bars_with_codes(["000002.SZ"] * 4), {"row_group_size": 2}, "000002.SZ"),
    (_bars_with_codes(["000002.SZ"] * 2 + ["600142.SH"] * 2), {"row_group_size": 2}, None),
    (_bars_with_codes(["000002.SZ"] * 3 + [None]), {}, None),
    (_bars_with_codes(["000002.SZ"] * 4), {"write_statistics": False}, None),
    # A field of two leaves before the code: leaves and fields are counted apart.
    (_bars_with_codes(["000002.SZ"] * 4, pair=[{"a": 1, "b": "600142.SH"}] * 4), {}, None),
    (_bars_with_codes([["000002.SZ"]] * 4), {}, None),
], ids=["text", "integer", "row-groups", "two-codes", "null", "no-statistics", "nested",
        "list"])
def test_a_parquet_code_column_known_from_its_statistics(tmp_path: Path, table: pa.Table,
                                                         options: dict[str, object],
                                                         constant: object) -> None:
    """The one code of a parquet file's code column comes from its statistics, converted
    as its type says, only when they say one code for every row; otherwise the column is
    read (and checked: tests above)."""
    path = tmp_path / "000002_SZ.parquet"
    pq.write_table(table, path, **options)
    raw = read_raw(path, extra=("ts_code",))
    if constant is None:
        assert raw.constant == {} and "ts_code" in raw.table.column_names
    else:
        assert raw.constant == {"ts_code": constant} and type(raw.constant["ts_code"]) is type(
            constant) and "ts_code" not in raw.table.column_names


def test_a_parquet_code_column_checked_whichever_way_it_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for codes, options in (([["600142.SH"]] * 2, {}), (["600142.SH"] * 2, {}),
                           (["600142.SH"] * 2, {"write_statistics": False}),
                           (["600142.SH"] * 2, {"row_group_size": 1})):
        pq.write_table(_bars_with_codes(codes), folder / "000002_SZ.parquet", **options)
        if isinstance(codes[0], list):  # a list is no code: not compared
            assert load_market_data(folder, use_cache=False).codes == ("000002.SZ",)
            continue
        with pytest.raises(DataError, match=r"^000002_SZ.parquet: column `ts_code` names "
                           r"600142.SH on row 1, but the file name names 000002.SZ"):
            load_market_data(folder, use_cache=False)


def test_code_columns_that_agree_with_the_file_name_load(tmp_path: Path) -> None:
    def rows(value: str) -> str:
        return "code," + HEADER + "".join(f"{value},{line}\n" for line in GOOD_ROWS.splitlines())

    folder = _folder(tmp_path, {"000001.csv": rows("1"), "sz000002.csv": rows("000002.SZ"),
                                "600000_SH.csv": rows("sh.600000"), "sh000001.csv": rows("000001"),
                                "000004.csv": rows("")})
    data = load_market_data(folder, use_cache=False)
    assert data.codes == ("000001.SZ", "000002.SZ", "000004.SZ", "600000.SH")


# --- item 5

def _case_sensitive(folder: Path) -> bool:
    (folder / "probe").write_text("", encoding="utf-8")
    try:
        return not (folder / "PROBE").exists()
    finally:
        (folder / "probe").unlink()


def test_two_csv_files_of_one_stock_beside_a_parquet(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"000001.csv": HEADER + GOOD_ROWS,
                                "sz000001.csv": HEADER + GOOD_ROWS})
    pd.read_csv(folder / "000001.csv").to_parquet(folder / "000001.SZ.parquet")
    with pytest.raises(DataError, match=r"^000001.csv and sz000001.csv both hold 000001.SZ; "
                       r"remove one of them$"):
        load_market_data(folder, use_cache=False)


def test_a_parquet_beside_a_csv_of_the_stock_is_read_and_the_csv_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"000001.csv": HEADER + GOOD_ROWS.replace(",100\n", ",5\n")})
    pd.read_csv(folder / "000001.csv").assign(volume=100.0).to_parquet(folder / "000001.parquet")
    data = load_market_data(folder, use_cache=False)
    assert data.files == ("000001.parquet",) and data.volume[0, 0] == 100.0
    assert [w for w in data.warnings if "000001.csv" in w] == [
        "000001.SZ: both 000001.parquet and 000001.csv exist; using 000001.parquet"]


def _records(n: int, price: int = 1000) -> bytes:
    records = np.zeros(n, dtype=DAY_RECORD)
    records["date"] = 20240102 + np.arange(n)
    records["open"] = records["close"] = price
    records["high"], records["low"], records["volume"] = price + 10, price - 10, 500
    return records.tobytes()


def test_two_day_files_of_one_stock_differing_in_case(tmp_path: Path) -> None:
    lday = tmp_path / "vipdoc" / "sh" / "lday"
    lday.mkdir(parents=True)
    if not _case_sensitive(lday):
        pytest.skip("the file system folds case")
    (lday / "sh600142.day").write_bytes(_records(3))
    (lday / "SH600142.day").write_bytes(_records(4))
    with pytest.raises(DataError, match=r"^vipdoc/sh/lday/SH600142.day and "
                       r"vipdoc/sh/lday/sh600142.day both hold 600142.SH; remove one of them$"):
        load_market_data(tmp_path, use_cache=False)


def test_a_vipdoc_beside_exchange_folders_of_its_own(tmp_path: Path) -> None:
    for root in (tmp_path, tmp_path / "vipdoc"):
        (root / "sh" / "lday").mkdir(parents=True)
        (root / "sh" / "lday" / "sh600142.day").write_bytes(_records(3))
    with pytest.raises(DataError, match=r"^sh/lday/sh600142.day and "
                       r"vipdoc/sh/lday/sh600142.day both hold 600142.SH; remove one of them$"):
        load_market_data(tmp_path, use_cache=False)


def test_two_qlib_instrument_folders_of_one_stock(tmp_path: Path) -> None:
    prices = np.array([7.58, 7.61])
    folder = _qlib(tmp_path / "q", {**{n: prices for n in ("open", "high", "low", "close")},
                                    "volume": np.array([100.0, 100.0])})
    if not _case_sensitive(folder):
        pytest.skip("the file system folds case")
    shutil.copytree(folder / "features" / "sh600000", folder / "features" / "SH600000")
    with pytest.raises(DataError, match=r"^features/SH600000 and features/sh600000 both hold "
                       r"600000.SH; remove one of them$"):
        load_market_data(folder, use_cache=False)


# --- item 6


def test_fullwidth_codes_in_lists_file_names_and_code_columns(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("６００１４２，ｓｚ０００００１\n", encoding="utf-8")
    assert read_stock_list(tmp_path / "list.txt") == ["600142.SH", "000001.SZ"]
    folder = _folder(tmp_path, {"６００１４２.csv": HEADER + GOOD_ROWS,
                                "000001.csv": "code," + HEADER + "".join(
                                    f"０００００１,{line}\n" for line in GOOD_ROWS.splitlines())})
    assert load_market_data(folder, use_cache=False).codes == ("000001.SZ", "600142.SH")
    long = _folder(tmp_path / "long", {"bars.csv": _long_csv(["６００１４２", "000001.SZ"])})
    assert load_market_data(long, use_cache=False).codes == ("000001.SZ", "600142.SH")


# --- item 7


@pytest.mark.parametrize("placeholder", ["--", "-", "null", "N/A", ""])
def test_a_zero_volume_row_with_placeholder_prices_is_a_day_without_a_bar(
        tmp_path: Path, placeholder: str) -> None:
    p = placeholder
    rows = GOOD_ROWS + f"2024-01-05,{p},{p},{p},{p},0\n2024-01-08,10.2,10.3,10.1,10.2,100\n"
    folder = _folder(tmp_path, {"000001.csv": HEADER + rows})
    data = load_market_data(folder, use_cache=False)
    assert [str(d) for d in data.dates] == ["2024-01-02", "2024-01-03", "2024-01-04",
                                            "2024-01-08"]
    assert data.tradable[:, 0].all() and data.close[-1, 0] == 10.2


def test_a_baostock_suspended_row_with_placeholders_and_a_traded_one(tmp_path: Path) -> None:
    header = "date,code,open,high,low,close,volume,tradestatus\n"
    rows = ("2024-01-02,sz.000001,10,10.1,9.9,10,100,1\n"
            "2024-01-03,sz.000001,--,--,--,--,--,0\n"
            "2024-01-04,sz.000001,10,10.1,9.9,10,100,1\n")
    data = load_market_data(_folder(tmp_path, {"sz000001.csv": header + rows}), use_cache=False)
    assert [str(d) for d in data.dates] == ["2024-01-02", "2024-01-04"]
    traded = _folder(tmp_path / "t", {"000001.csv": HEADER + GOOD_ROWS.replace(
        "2024-01-03,10.1,", "2024-01-03,--,")})
    with pytest.raises(DataError, match=r"^000001.csv: column `open` row 2 \(2024-01-03\) is "
                       r"not a number \('--'\)"):
        load_market_data(traded, use_cache=False)


# --- item 8


def test_a_day_file_with_float_prices_is_named(tmp_path: Path) -> None:
    lday = tmp_path / "vipdoc" / "sz" / "lday"
    lday.mkdir(parents=True)
    (lday / "sz000001.day").write_bytes(_records(3))
    records = np.frombuffer(_records(3), dtype=DAY_RECORD).copy()
    for name in ("open", "high", "low", "close"):
        records[name] = (records[name] / 100.0).astype("<f4").view("<u4")
    (lday / "sz000002.day").write_bytes(records.tobytes())
    with pytest.raises(DataError, match=r"^vipdoc/sz/lday/sz000002.day: record 1 has a price of "
                       r"\d+\.\d\d yuan \(above 100,000\): its prices are not fen integers, "
                       r"the file was written by another tool; export it again from "
                       r"TongDaXin$") as info:
        load_market_data(tmp_path, use_cache=False)
    assert info.value.code == "000002.SZ" and info.value.rule == "float-price .day file"


# --- item 9


def test_qlib_float32_prices_are_cents(tmp_path: Path) -> None:
    prices = np.array([7.58, 7.61])
    folder = _qlib(tmp_path / "q", {**{n: prices for n in ("open", "high", "low", "close")},
                                    "volume": np.array([100.0, 100.0])})
    data = load_market_data(folder, use_cache=False)
    assert data.close[:, 0].tolist() == [7.58, 7.61]


def test_qlib_prices_round_half_up_after_the_factor(tmp_path: Path) -> None:
    # 1.125 and 1.375 are exact in float32: x.xx5 exactly, which goes up (not to even).
    prices = np.array([1.125, 1.375])
    factor = np.array([1.0, 1.0])
    folder = _qlib(tmp_path / "q", {**{n: prices * factor for n in ("open", "high", "low",
                                                                   "close")},
                                    "volume": np.array([100.0, 100.0]), "factor": factor})
    data = load_market_data(folder, use_cache=False)
    assert data.close[:, 0].tolist() == [1.13, 1.38]


# --- item 10


def test_files_beside_a_vipdoc_are_listed_in_one_warning(tmp_path: Path) -> None:
    lday = tmp_path / "data" / "vipdoc" / "sz" / "lday"
    lday.mkdir(parents=True)
    (lday / "sz000001.day").write_bytes(_records(3))
    (lday / "sh600000.day").write_bytes(_records(3))  # in the sz folder: not read
    _folder(tmp_path, {"600000.csv": HEADER + GOOD_ROWS, "notes.md": "x", "picks.txt": "1\n"})
    data = load_market_data(tmp_path / "data", use_cache=False)
    assert data.codes == ("000001.SZ",)
    assert [w for w in data.warnings if "600000.csv" in w] == [
        "ignored 3 file(s) that are not exchange-prefixed .day files in an lday folder: "
        "600000.csv, notes.md, vipdoc/sz/lday/sh600000.day"]


def test_files_beside_a_qlib_folder_are_listed_in_one_warning(tmp_path: Path) -> None:
    prices = np.array([7.58, 7.61])
    folder = _qlib(tmp_path / "data", {**{n: prices for n in ("open", "high", "low", "close")},
                                       "volume": np.array([100.0, 100.0])})
    _folder(tmp_path, {"600000.csv": HEADER + GOOD_ROWS, "stocks.txt": "600000\n"})
    (folder / "features" / "sh600000" / "close.day.bin.bak").write_bytes(b"")
    (folder / "features" / "xx").mkdir()
    data = load_market_data(folder, use_cache=False)
    assert data.codes == ("600000.SH",)
    assert [w for w in data.warnings if "600000.csv" in w] == [
        "ignored 3 file(s) or folder(s) that are not the qlib provider's calendar, "
        "instruments or features: 600000.csv, features/sh600000/close.day.bin.bak, "
        "features/xx"]
