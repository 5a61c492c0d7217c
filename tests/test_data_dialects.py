"""Column dialects (AkShare, Tushare, baostock), zoned dates, file-name spellings, symlinks and
the description of a folder with nothing usable (SPEC §1)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import load_market_data
from engine.errors import DataError
from tests.conftest import WriteStock, bars, needs_symlinks

DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
CLOSE = [10.0, 10.5, 10.2, 10.8]


def _closes(folder: Path, code: str = "000001.SZ") -> np.ndarray:
    data = load_market_data(folder, use_cache=False)
    assert data.codes == (code,)
    return np.asarray(data.close[:, 0])


@pytest.mark.parametrize("name", ["000001.csv", "sz000001.csv", "SZ000001.parquet",
                                  "sz.000001.csv", "000001.XSHE.parquet", "000001.SZ.feather"])
def test_every_file_name_spelling(write_stock: WriteStock, name: str) -> None:
    frame = bars(DATES, CLOSE)
    if name.endswith(".feather"):
        path = write_stock("x.parquet", frame).with_name(name)
        frame.to_feather(path)
        (path.parent / "x.parquet").unlink()
    else:
        path = write_stock(name, frame)
    np.testing.assert_array_equal(_closes(path.parent), CLOSE)


def test_bj_920_file_is_beijing(write_stock: WriteStock) -> None:
    path = write_stock("920001.csv", bars(DATES, CLOSE))
    assert load_market_data(path.parent).codes == ("920001.BJ",)


def test_akshare_chinese_headers_with_stock_code_column(write_stock: WriteStock) -> None:
    frame = bars(DATES, CLOSE).rename(columns={"date": "日期", "open": "开盘", "high": "最高",
                                               "low": "最低", "close": "收盘", "volume": "成交量"})
    frame.insert(1, "股票代码", "000001")
    frame["成交额"] = 1.0e6
    frame["涨跌幅"] = 0.5
    path = write_stock("000001.csv", frame, encoding="utf-8-sig")
    np.testing.assert_array_equal(_closes(path.parent), CLOSE)


def test_tushare_daily_vol_amount_pre_close_newest_first(write_stock: WriteStock) -> None:
    frame = bars(DATES, CLOSE).rename(columns={"date": "trade_date", "volume": "vol"})
    frame["trade_date"] = frame["trade_date"].dt.strftime("%Y%m%d").astype(int)
    frame.insert(0, "ts_code", "000001.SZ")
    frame["pre_close"] = np.r_[np.nan, CLOSE[:-1]]
    frame["amount"] = 1234.5
    path = write_stock("000001.SZ.csv", frame.iloc[::-1])
    np.testing.assert_array_equal(_closes(path.parent), CLOSE)


def test_baostock_all_string_columns_and_tradestatus_zero_is_no_bar(
        write_stock: WriteStock) -> None:
    frame = bars(DATES, CLOSE)
    text = pd.DataFrame({
        "date": frame["date"].dt.strftime("%Y-%m-%d"), "code": "sz.000001",
        **{c: frame[c].map(str) for c in ("open", "high", "low", "close", "volume")},
        "preclose": ["", "10.0", "10.5", "10.2"], "adjustflag": "3",
        "tradestatus": ["1", "1", "0", "1"], "isST": "0",
    })
    path = write_stock("sz.000001.parquet", text.astype(str))
    data = load_market_data(path.parent, use_cache=False)
    assert [str(d) for d in data.dates] == ["2024-01-02", "2024-01-03", "2024-01-05"]
    np.testing.assert_array_equal(data.close[:, 0], [10.0, 10.5, 10.8])


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/New_York"])
def test_zoned_dates_are_shanghai_local_dates_not_a_day_earlier(write_stock: WriteStock,
                                                                zone: str) -> None:
    frame = bars(DATES, CLOSE)
    # Shanghai midnight, expressed in each zone (for UTC: 16:00 the previous day).
    frame["date"] = frame["date"].dt.tz_localize("Asia/Shanghai").dt.tz_convert(zone)
    path = write_stock("000001_SZ.parquet", frame)
    data = load_market_data(path.parent, use_cache=False)
    assert [str(d) for d in data.dates] == DATES


def test_zoned_date_text_in_csv(write_stock: WriteStock) -> None:
    frame = bars(DATES, CLOSE)
    frame["date"] = [f"{d}T00:00:00+08:00" for d in DATES]
    path = write_stock("000001_SZ.csv", frame)
    assert [str(d) for d in load_market_data(path.parent, use_cache=False).dates] == DATES


@needs_symlinks
def test_symlink_loop_and_dangling_symlink_are_skipped_with_a_warning(
        write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.parquet", bars(DATES, CLOSE))
    folder = path.parent
    os.symlink(folder / "loop.csv", folder / "loop.csv")
    os.symlink(folder / "gone.parquet", folder / "000002_SZ.parquet")
    os.symlink(folder, folder / "again")
    data = load_market_data(folder, use_cache=False)
    assert data.codes == ("000001.SZ",)
    assert ("skipped 3 symlink(s) that lead nowhere: 000002_SZ.parquet (points to nothing), "
            "again (a symlink loop), loop.csv (a symlink loop)") in data.warnings


@needs_symlinks
def test_symlink_loop_inside_a_vipdoc_is_skipped(tmp_path: Path) -> None:
    from tests.test_data_layouts import _one_stock_tdx, _records

    folder = _one_stock_tdx(tmp_path, _records(3).tobytes())
    lday = folder / "vipdoc" / "sz" / "lday"
    os.symlink(lday / "sz000002.day", lday / "sz000002.day")
    data = load_market_data(folder, use_cache=False)
    assert data.codes == ("000001.SZ",)
    assert any("vipdoc/sz/lday/sz000002.day (a symlink loop)" in w for w in data.warnings)


def test_nothing_usable_says_what_the_folder_holds_and_why(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        pd.DataFrame({"when": DATES, "close": CLOSE}).to_csv(tmp_path / name, index=False)
    pd.DataFrame({"date": DATES, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                  "volume": 1.0}).to_parquet(tmp_path / "prices.parquet")
    (tmp_path / "notes.docx").write_text("x", encoding="utf-8")
    (tmp_path / "old").mkdir()
    with pytest.raises(DataError) as info:
        load_market_data(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"no usable stock in {tmp_path}: it holds 3 CSV files without a "
                              "date column (a.csv, b.csv, c.csv); ")
    assert "1 other file (.docx), not a data file (notes.docx)" in message
    assert ("1 parquet file not named by a stock code and without a code column "
            "(prices.parquet)") in message
    assert "1 subfolder not searched (old)" in message


def test_folder_of_only_indices_says_so(tmp_path: Path) -> None:
    from tests.test_data_layouts import _records

    lday = tmp_path / "vipdoc" / "sh" / "lday"
    lday.mkdir(parents=True)
    for name in ("sh000001.day", "sh000300.day", "sh510050.day"):
        (lday / name).write_bytes(_records(3).tobytes())
    with pytest.raises(DataError, match=r"it holds 3 .day files, all securities that are not "
                       r"A-shares \(1 fund, 2 index\)"):
        load_market_data(tmp_path)


def test_all_stocks_failing_in_skip_mode_counts_the_reasons(write_stock: WriteStock) -> None:
    for name in ("000001.csv", "000002.csv"):
        path = write_stock(name, pd.DataFrame({"date": DATES, "close": CLOSE}))
    with pytest.raises(DataError, match=r"no usable stock in the selection: 2 stock\(s\) excluded "
                       r"\(2 missing column\); first: 000001.csv: column `open` is missing"):
        load_market_data(path.parent, on_bad_stock="skip")
