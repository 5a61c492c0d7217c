"""Text files in UTF-8 (with or without a BOM), else GB18030/GBK (SPEC §1); a GBK console."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.data import load_market_data, read_stock_list
from engine.datagen.universe import generate_universe
from engine.errors import ConfigError, DataError
from engine.run.benchmark_curve import read_closes
from engine.util.text import decode_text, is_utf8, read_text, text_encoding
from tests.conftest import ROOT

BOM = b"\xef\xbb\xbf"


def test_decode_text_takes_utf8_with_or_without_bom_else_gb18030(tmp_path: Path) -> None:
    text = "# 我的自选\n000001.SZ 平安银行\n"
    for data in (text.encode("utf-8"), BOM + text.encode("utf-8"), text.encode("gbk"),
                 text.encode("gb18030")):
        assert decode_text(data, tmp_path / "x.txt") == text
    assert text_encoding(text.encode("gbk")) == "gb18030"
    assert text_encoding(BOM + text.encode("utf-8")) == "utf-8"
    path = tmp_path / "list.txt"
    path.write_bytes(text.encode("gbk"))
    assert read_text(path) == text


def test_is_utf8_on_large_buffers_validates_in_place() -> None:
    big = "2024-01-02,000001.SZ,10.5,平安银行\n".encode() * 100_000  # > 1 MiB, not ASCII
    assert len(big) > 1 << 20 and is_utf8(big)
    assert not is_utf8(big + "平安".encode("gbk"))
    assert not is_utf8("平安".encode("gbk") + big)
    assert is_utf8(b"date,close\n" * 200_000)


def test_undecodable_bytes_are_one_line_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "picks.txt"
    path.write_bytes(b"000001.SZ\n\xff\xff\n")
    with pytest.raises(DataError) as info:
        read_stock_list(path)
    message = str(info.value)
    assert message.startswith("stock list picks.txt: byte 10 is neither UTF-8 nor GB18030")
    assert "save the file as UTF-8" in message and "\n" not in message
    assert info.value.file == str(path) and info.value.rule == "encoding"
    config = tmp_path / "run.toml"
    config.write_bytes(b'data_dir = "\xff\xff"\n')
    with pytest.raises(ConfigError, match=r"^configuration run.toml: byte 12 is neither UTF-8"):
        BacktestConfig.load(config)


def test_gbk_text_stock_list_with_chinese_comments(tmp_path: Path) -> None:
    path = tmp_path / "自选股.txt"
    path.write_bytes("# 我的自选（银行）\n000001.SZ  # 平安银行\n600000_SH, sz300750 # 宁德时代\n"
                     .encode("gbk"))
    assert read_stock_list(path) == ["000001.SZ", "600000.SH", "300750.SZ"]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_csv_stock_list_with_chinese_headers(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes("证券代码,名称\n000001.SZ,平安银行\n600000,浦发银行\n".encode(encoding))
    assert read_stock_list(path) == ["000001.SZ", "600000.SH"]


def test_utf8_bom_text_stock_list(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(BOM + "000001.SZ\n600000.SH # 浦发银行\n".encode())
    assert read_stock_list(path) == ["000001.SZ", "600000.SH"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_toml_config_with_a_bom_or_in_gbk_loads(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "run.toml"
    path.write_bytes('# 回测设置\ndata_dir = "D:/行情/日线"\nperiod = 9\n'.encode(encoding))
    config = BacktestConfig.load(path)
    assert config.data_dir == Path("D:/行情/日线") and config.period == 9


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_benchmark_file_in_gbk_or_utf8(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "沪深300.csv"
    path.write_bytes("日期,收盘,名称\n2024-01-03,3010.5,沪深300\n2024-01-02,3000.0,沪深300\n"
                     .encode(encoding))
    days, closes = read_closes(path)
    np.testing.assert_array_equal(days.astype("datetime64[D]"),
                                  np.array(["2024-01-02", "2024-01-03"], "datetime64[D]"))
    np.testing.assert_array_equal(closes, [3000.0, 3010.5])


def _chinese_long_frame() -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-02", periods=30).strftime("%Y-%m-%d").tolist()
    rows = []
    for code, name, base in (("000001.SZ", "平安银行", 10.0), ("600000.SH", "浦发银行", 7.0),
                             ("300750.SZ", "宁德时代", 150.0)):
        close = np.round(base + np.arange(len(dates)) * 0.01 * base, 2)
        rows.append(pd.DataFrame({"股票代码": code, "股票名称": name, "日期": dates,
                                  "开盘": close, "最高": np.round(close * 1.01, 2),
                                  "最低": np.round(close * 0.99, 2), "收盘": close,
                                  "成交量": 1000.0}))
    return pd.concat(rows, ignore_index=True)


def test_gbk_long_csv_with_chinese_headers_loads_as_its_utf8_version(tmp_path: Path) -> None:
    frame = _chinese_long_frame()
    loaded = {}
    for encoding in ("utf-8", "gbk"):
        folder = tmp_path / encoding
        folder.mkdir()
        frame.to_csv(folder / "全部行情.csv", index=False, encoding=encoding)
        loaded[encoding] = load_market_data(folder, use_cache=False)
    utf8, gbk = loaded["utf-8"], loaded["gbk"]
    assert gbk.layout == utf8.layout == "long"
    assert gbk.codes == utf8.codes == ("000001.SZ", "300750.SZ", "600000.SH")
    np.testing.assert_array_equal(gbk.dates, utf8.dates)
    for plane in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(gbk.plane(plane), utf8.plane(plane), equal_nan=True), plane
    assert gbk.close.shape == (30, 3) and not np.isnan(gbk.close).any()


def test_gbk_per_stock_csv_with_chinese_headers(tmp_path: Path) -> None:
    frame = _chinese_long_frame()
    one = frame[frame["股票代码"] == "000001.SZ"].drop(columns="股票代码")
    for encoding in ("utf-8", "gb18030"):
        folder = tmp_path / encoding
        folder.mkdir()
        one.to_csv(folder / "000001.SZ.csv", index=False, encoding=encoding)
    gbk = load_market_data(tmp_path / "gb18030", use_cache=False)
    utf8 = load_market_data(tmp_path / "utf-8", use_cache=False)
    assert gbk.codes == utf8.codes == ("000001.SZ",)
    assert np.array_equal(gbk.close, utf8.close, equal_nan=True)


def test_qlib_calendar_and_instruments_with_a_bom(tmp_path: Path) -> None:
    folder = tmp_path / "qlib"
    generate_universe(folder, 3, "2024-01-01", "2024-03-31", seed=5, layout="qlib")
    expected = load_market_data(folder, use_cache=False)
    bommed = tmp_path / "bom"
    shutil.copytree(folder, bommed)
    for path in (bommed / "calendars" / "day.txt", *(bommed / "instruments").glob("*.txt")):
        path.write_bytes(BOM + path.read_bytes())
    data = load_market_data(bommed, use_cache=False)
    assert data.layout == "qlib" and data.codes == expected.codes
    np.testing.assert_array_equal(data.dates, expected.dates)
    assert np.array_equal(data.close, expected.close, equal_nan=True)


def test_cli_prints_to_a_gbk_console_without_raising(tmp_path: Path) -> None:
    out = tmp_path / "行情😀"  # the emoji has no GBK code: printed as "?"
    env = {**os.environ, "PYTHONIOENCODING": "gbk"}  # strict errors on stdout
    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "datagen", str(out),
                           "--stocks", "1", "--start", "2024-01-02", "--end", "2024-01-31"],
                          cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode("gbk", errors="replace")
    printed = done.stdout.decode("gbk")
    assert "wrote 1 stock files" in printed and "行情?" in printed
    assert b"UnicodeEncodeError" not in done.stderr
