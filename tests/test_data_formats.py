"""Every accepted file format, file-name spelling and column alias loads to the same bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data import load_market_data
from tests.conftest import WriteStock, bars

DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
CLOSE = [10.0, 10.5, 10.2, 10.8]


def _load(folder: Path) -> np.ndarray:
    data = load_market_data(folder)
    assert data.codes == ("000001.SZ",)
    assert [str(d) for d in data.dates] == DATES
    return np.asarray(data.close[:, 0])


def _tushare() -> pd.DataFrame:
    frame = bars(DATES, CLOSE).rename(columns={"date": "trade_date", "volume": "vol"})
    frame["trade_date"] = frame["trade_date"].dt.strftime("%Y%m%d")
    frame.insert(0, "ts_code", "000001.SZ")
    return frame


def _tushare_int() -> pd.DataFrame:
    frame = _tushare()
    frame["trade_date"] = frame["trade_date"].astype(int)
    return frame


def _qlib() -> pd.DataFrame:
    return bars(DATES, CLOSE).rename(columns={c: f"${c}" for c in
                                              ("open", "high", "low", "close", "volume")})


def _akshare() -> pd.DataFrame:
    frame = bars(DATES, CLOSE).rename(columns={"date": "日期", "open": "开盘", "high": "最高",
                                               "low": "最低", "close": "收盘", "volume": "成交量"})
    frame["日期"] = frame["日期"].dt.strftime("%Y-%m-%d")
    frame["成交额"] = 1.0e6
    return frame


def _upper_case() -> pd.DataFrame:
    return bars(DATES, CLOSE).rename(columns=str.upper)


@pytest.mark.parametrize("make", [_tushare, _tushare_int, _qlib, _akshare, _upper_case])
@pytest.mark.parametrize("name", ["000001_SZ.parquet", "000001.SZ.parquet", "000001_SZ.csv",
                                  "000001.SZ.csv"])
def test_aliases_and_spellings(write_stock: WriteStock, make, name: str) -> None:
    path = write_stock(name, make())
    np.testing.assert_array_equal(_load(path.parent), CLOSE)


def test_akshare_csv_in_gbk(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.csv", _akshare(), encoding="gbk")
    np.testing.assert_array_equal(_load(path.parent), CLOSE)


def test_csv_with_utf8_bom(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.csv", _akshare(), encoding="utf-8-sig")
    np.testing.assert_array_equal(_load(path.parent), CLOSE)


def test_slash_dates_and_datetimes_with_time(write_stock: WriteStock) -> None:
    frame = bars(DATES, CLOSE)
    frame["date"] = frame["date"].dt.strftime("%Y/%m/%d")
    path = write_stock("000001_SZ.csv", frame)
    np.testing.assert_array_equal(_load(path.parent), CLOSE)
    frame = bars(DATES, CLOSE)
    frame["date"] = frame["date"] + pd.Timedelta(hours=15)
    path.unlink()
    write_stock("000001_SZ.parquet", frame)
    np.testing.assert_array_equal(_load(path.parent), CLOSE)


def test_other_files_are_ignored_with_a_warning(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.parquet", bars(DATES, CLOSE))
    (path.parent / "notes.md").write_text("hello", encoding="utf-8")
    (path.parent / "stock_list.txt").write_text("000001.SZ\n", encoding="utf-8")
    data = load_market_data(path.parent)
    assert data.codes == ("000001.SZ",)
    assert any("notes.md" in w for w in data.warnings)
    assert not any("stock_list.txt" in w for w in data.warnings)


def test_parquet_preferred_over_csv_of_same_code(write_stock: WriteStock) -> None:
    write_stock("000001_SZ.csv", bars(DATES, [1.0, 1.0, 1.0, 1.0]))
    path = write_stock("000001.SZ.parquet", bars(DATES, CLOSE))
    data = load_market_data(path.parent)
    np.testing.assert_array_equal(data.close[:, 0], CLOSE)
    assert any("using 000001.SZ.parquet" in w for w in data.warnings)


def test_volume_zero_rows_are_days_without_a_bar(write_stock: WriteStock) -> None:
    frame = bars(DATES, CLOSE)
    frame.loc[2, "volume"] = 0.0
    frame.loc[2, ["open", "high", "low", "close"]] = np.nan
    write_stock("000001_SZ.parquet", frame)
    other = write_stock("000002_SZ.parquet", bars(DATES, CLOSE))
    data = load_market_data(other.parent)
    assert data.tradable[:, 0].tolist() == [True, True, False, True]
    assert np.isnan(data.close[2, 0])
    assert data.up_limit[3, 0] == 11.55  # from the previous bar's close, 10.5 * 1.1


def test_parquet_files_of_several_headers_in_one_folder(write_stock: WriteStock) -> None:
    """Each file is read under its own header, however many files of another came before
    (a folder's parquet schemas are remembered, compared name by name and type by type)."""
    frames = {"000001_SZ.parquet": bars(DATES, CLOSE),
              "000002_SZ.parquet": _tushare().assign(ts_code="000002.SZ"),
              "000004_SZ.parquet": _qlib(), "000006_SZ.parquet": _upper_case(),
              "000007_SZ.parquet": bars(DATES, CLOSE).rename(columns={"volume": "vol"}),
              "000008_SZ.parquet": bars(DATES, CLOSE).astype({"volume": "int32"})}
    for name, frame in frames.items():
        path = write_stock(name, frame)
    for _ in range(2):  # and again, with every schema known
        data = load_market_data(path.parent, use_cache=False)
        assert data.codes == tuple(name[:9].replace("_", ".") for name in frames)
        np.testing.assert_array_equal(data.close, np.tile(np.array(CLOSE)[:, None], 6))
