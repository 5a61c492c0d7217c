"""Every layout (SPEC §1) written by ``datagen --layout`` loads and runs bit-identically to
the per-stock parquet folder; detection, the ``layout=`` override and bad input per layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import CHOICES, BacktestConfig
from engine.data import LAYOUT_CHOICES, load_market_data
from engine.data.layouts.tdx import DAY_RECORD
from engine.datagen.universe import generate_universe
from engine.errors import DataError
from engine.run.backtest import run_backtest
from tests.test_backtest import assert_same

START, END = "2021-01-01", "2022-12-31"
LAYOUT_OF = {"per-stock": "per-stock", "tdx": "tdx", "qlib": "qlib", "long": "long",
             "akshare": "per-stock"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layouts")
    for layout in LAYOUT_OF:
        generate_universe(root / layout, 40, START, END, seed=3, layout=layout)
    return {layout: root / layout for layout in LAYOUT_OF}


def test_layout_choices_of_config_and_loader_agree() -> None:
    assert CHOICES["layout"] == LAYOUT_CHOICES


@pytest.mark.parametrize("layout", [k for k in LAYOUT_OF if k != "per-stock"])
def test_every_layout_is_detected_and_loads_the_same_arrays(folders: dict[str, Path],
                                                            layout: str) -> None:
    expected = load_market_data(folders["per-stock"], use_cache=False)
    data = load_market_data(folders[layout], use_cache=False)
    assert data.layout == LAYOUT_OF[layout]
    assert data.codes == expected.codes
    np.testing.assert_array_equal(data.dates, expected.dates)
    np.testing.assert_array_equal(data.tradable, expected.tradable)
    for plane in ("open", "high", "low", "close", "up_limit", "down_limit"):
        # Bitwise: NaN where no bar, the same doubles elsewhere.
        assert np.array_equal(data.plane(plane), expected.plane(plane), equal_nan=True), plane
    assert data.excluded == () and data.n_stocks == 40


@pytest.mark.parametrize("mode", ["shared", "per_stock"])
@pytest.mark.parametrize("layout", [k for k in LAYOUT_OF if k != "per-stock"])
def test_every_layout_gives_bit_identical_results(folders: dict[str, Path], layout: str,
                                                  mode: str) -> None:
    def run(folder: Path) -> object:
        return run_backtest(BacktestConfig(data_dir=folder, start="2021-06-01", end=END,
                                           capital_mode=mode, workers=1))

    expected, result = run(folders["per-stock"]), run(folders[layout])
    assert len(expected.fills) > 0
    assert_same(result, expected)


def test_layout_option_overrides_detection_and_a_wrong_one_says_what_it_expected(
        folders: dict[str, Path]) -> None:
    assert load_market_data(folders["tdx"], layout="tdx").layout == "tdx"
    with pytest.raises(DataError, match=r"is not a qlib provider folder \(layout=qlib\): "
                       r"expected calendars/day.txt"):
        load_market_data(folders["tdx"], layout="qlib")


def test_unknown_layout_is_one_line_error(folders: dict[str, Path]) -> None:
    with pytest.raises(Exception, match=r"layout must be one of auto, per-stock, tdx, qlib, "
                       r"long, tdx-export, not 'zip'"):
        load_market_data(folders["tdx"], layout="zip")


def test_long_file_itself_may_be_the_data_path(folders: dict[str, Path]) -> None:
    data = load_market_data(folders["long"] / "bars.parquet", use_cache=False)
    assert data.layout == "long" and data.n_stocks == 40


def test_vipdoc_parent_folder_and_index_files_left_out_with_one_warning(
        folders: dict[str, Path], tmp_path: Path) -> None:
    lday = folders["tdx"] / "vipdoc" / "sh" / "lday"
    sample = next(lday.glob("sh6*.day"))
    for name in ("sh000300.day", "sh000001.day", "sh510300.day"):
        (lday / name).write_bytes(sample.read_bytes())
    try:
        data = load_market_data(folders["tdx"], use_cache=False)
    finally:
        for name in ("sh000300.day", "sh000001.day", "sh510300.day"):
            (lday / name).unlink()
    assert data.n_stocks == 40
    left_out = [w for w in data.warnings if "not A-shares" in w]
    assert left_out == ["left out 3 securities that are not A-shares (1 fund, 2 index): "
                        "000001.SH, 000300.SH, 510300.SH"]


def _one_stock_tdx(tmp_path: Path, records: bytes) -> Path:
    lday = tmp_path / "vipdoc" / "sz" / "lday"
    lday.mkdir(parents=True)
    (lday / "sz000001.day").write_bytes(records)
    return tmp_path


def _records(n: int) -> np.ndarray:
    records = np.zeros(n, dtype=DAY_RECORD)
    records["date"] = 20240102 + np.arange(n)
    records["open"] = records["close"] = 1000
    records["high"], records["low"], records["volume"] = 1010, 990, 500
    return records


def test_tdx_record_fields_prices_in_fen(tmp_path: Path) -> None:
    data = load_market_data(_one_stock_tdx(tmp_path, _records(3).tobytes()), use_cache=False)
    assert [str(d) for d in data.dates] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    np.testing.assert_array_equal(data.high[:, 0], [10.10] * 3)
    np.testing.assert_array_equal(data.volume[:, 0], [500.0] * 3)


def test_truncated_day_file_is_one_line_error(tmp_path: Path) -> None:
    folder = _one_stock_tdx(tmp_path, _records(3).tobytes()[:-5])
    with pytest.raises(DataError, match=r"^vipdoc/sz/lday/sz000001.day: 91 bytes is not a "
                       r"whole number of 32-byte records \(the file is truncated\)") as info:
        load_market_data(folder)
    assert info.value.code == "000001.SZ" and info.value.rule == "truncated .day file"


def test_day_file_with_impossible_date_names_the_record(tmp_path: Path) -> None:
    records = _records(3)
    records["date"][1] = 20240230
    with pytest.raises(DataError, match=r"record 2 has date 20240230, which is not a YYYYMMDD"):
        load_market_data(_one_stock_tdx(tmp_path, records.tobytes()))


def _copy_tree(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_qlib_bin_shorter_than_its_calendar_is_one_line_error(folders: dict[str, Path],
                                                              tmp_path: Path) -> None:
    folder = _copy_tree(folders["qlib"], tmp_path / "qlib")
    close = folder / "features" / "sz000001" / "close.day.bin"
    close.write_bytes(close.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"^features/sz000001/close.day.bin: covers calendar "
                       r"days 0\.\.\d+, the other fields of sz000001 cover .*truncated") as info:
        load_market_data(folder)
    assert info.value.code == "000001.SZ"
    for name in ("open", "high", "low", "volume", "factor"):
        path = folder / "features" / "sz000001" / f"{name}.day.bin"
        path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"^features/sz000001: its .bin files end on \S+ but "
                       r"instruments/ lists 000001.SZ until 2022-12-\d\d; the files are shorter"):
        load_market_data(folder)


def test_qlib_bin_longer_than_calendar(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy_tree(folders["qlib"], tmp_path / "qlib")
    calendar = folder / "calendars" / "day.txt"
    days = calendar.read_text(encoding="utf-8").splitlines(keepends=True)
    calendar.write_text("".join(days[:-10]), encoding="utf-8")
    with pytest.raises(DataError, match=r"run past the end of calendars/day.txt"):
        load_market_data(folder)


def test_qlib_factor_gives_real_prices_and_adj_factor(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    (folder / "calendars").mkdir(parents=True)
    (folder / "calendars" / "day.txt").write_text("2024-01-02\n2024-01-03\n2024-01-04\n",
                                                  encoding="utf-8")
    inst = folder / "features" / "sh600000"
    inst.mkdir(parents=True)
    factor = np.array([0.5, 0.5, 1.0], "<f4")
    real = np.array([10.0, 11.0, 12.5])
    for name in ("open", "high", "low", "close"):
        values = (real * factor).astype("<f4")
        (inst / f"{name}.day.bin").write_bytes(np.r_[np.float32(0), values].astype("<f4")
                                               .tobytes())
    (inst / "volume.day.bin").write_bytes(np.array([0, 200, 200, 100], "<f4").tobytes())
    (inst / "factor.day.bin").write_bytes(np.r_[np.float32(0), factor].astype("<f4").tobytes())
    raw = load_market_data(folder, adjust="none", use_cache=False)
    np.testing.assert_array_equal(raw.close[:, 0], real)
    adjusted = load_market_data(folder, use_cache=False)
    np.testing.assert_array_equal(adjusted.close[:, 0], [5.0, 5.5, 12.5])


def test_long_file_duplicate_code_date_rows_name_file_and_stock(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ts_code": ["000001.SZ", "600000.SH", "000001.SZ"],
                          "trade_date": ["20240102", "20240102", "20240102"],
                          "open": 10.0, "high": 10.1, "low": 9.9, "close": 10.0, "vol": 100.0})
    frame.to_parquet(tmp_path / "daily.parquet")
    with pytest.raises(DataError, match=r"^daily.parquet \(000001.SZ\): date 2024-01-02 appears "
                       r"more than once") as info:
        load_market_data(tmp_path)
    assert info.value.code == "000001.SZ" and info.value.rule == "duplicate date"


@pytest.mark.parametrize("suffix", [".csv", ".feather", ".parquet"])
def test_long_file_any_format_any_row_order_and_code_spelling(tmp_path: Path,
                                                              suffix: str) -> None:
    dates = ["2024-01-04", "2024-01-03", "2024-01-02"]  # newest first, as Tushare returns
    frame = pd.DataFrame({"date": dates * 2, "code": ["sh.600000"] * 3 + ["sz.000001"] * 3,
                          "open": [10.0, 10.2, 10.4, 5.0, 5.1, 5.2], "volume": 100.0})
    frame["close"] = frame["high"] = frame["low"] = frame["open"]
    frame = frame.sample(frac=1.0, random_state=1)
    path = tmp_path / f"all{suffix}"
    {".csv": lambda: frame.to_csv(path, index=False),
     ".feather": lambda: frame.reset_index(drop=True).to_feather(path),
     ".parquet": lambda: frame.to_parquet(path)}[suffix]()
    data = load_market_data(tmp_path, use_cache=False)
    assert data.layout == "long" and data.codes == ("000001.SZ", "600000.SH")
    np.testing.assert_array_equal(data.close, [[5.2, 10.4], [5.1, 10.2], [5.0, 10.0]])
    assert sum("dates were not sorted" in w for w in data.warnings) == 1


@pytest.mark.parametrize(("layout", "changed"), [
    ("tdx", "vipdoc/sz/lday/sz000001.day"), ("qlib", "features/sz000001/close.day.bin"),
    ("qlib", "calendars/day.txt"), ("qlib", "instruments/all.txt"), ("long", "bars.parquet"),
    ("akshare", "000001.csv")])
def test_cache_key_covers_the_layouts_source_files(folders: dict[str, Path], tmp_path: Path,
                                                   layout: str, changed: str) -> None:
    folder = _copy_tree(folders[layout], tmp_path / layout)
    cache = tmp_path / "cache"
    assert not load_market_data(folder, cache_dir=cache).from_cache
    assert load_market_data(folder, cache_dir=cache).from_cache
    path = folder / changed
    data = path.read_bytes()
    path.write_bytes(data + (b"\n" if changed.endswith((".txt", ".csv")) else b""))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert not load_market_data(folder, cache_dir=cache).from_cache


def test_day_record_dates_match_numpy_calendar_and_reject_impossible_days() -> None:
    from engine.data.layouts.tdx import _yyyymmdd_days

    days = np.arange(np.datetime64("1990-01-01"), np.datetime64("2040-01-01"))
    text = np.datetime_as_string(days)
    numbers = np.char.replace(text, "-", "").astype(np.uint32)
    converted, bad = _yyyymmdd_days(numbers)
    np.testing.assert_array_equal(converted, days.astype(np.int64))
    assert not bad.any()
    _, bad = _yyyymmdd_days(np.array([20230229, 20240230, 20241301, 20240100, 21000229,
                                      20240229, 20000229], dtype=np.uint32))
    assert bad.tolist() == [True, True, True, True, True, False, False]


@pytest.mark.parametrize(("layout", "index_path"), [
    ("tdx", "vipdoc/sh/lday/sh000300.day"), ("qlib", "features/sh000300")])
def test_an_index_in_the_folder_is_the_benchmark_whatever_the_layout(
        folders: dict[str, Path], tmp_path: Path, layout: str, index_path: str) -> None:
    folder = _copy_tree(folders[layout], tmp_path / layout)
    target = folder / index_path
    if layout == "tdx":
        records = _records(520)  # to the window's last day: an index never ends early
        days = pd.bdate_range("2021-01-04", periods=520)
        records["date"] = days.strftime("%Y%m%d").astype(np.uint32)
        records["close"] = records["open"] = 400000 + np.arange(520) * 100  # 4000.00 + 1/day
        records["high"], records["low"] = records["close"] + 500, records["close"] - 500
        target.write_bytes(records.tobytes())
    else:
        import shutil

        shutil.copytree(folder / "features" / "sz000001", target)  # trades every day
    config = BacktestConfig(data_dir=folder, start="2021-06-01", end=END, workers=1,
                            benchmark="000300.SH")
    result = run_backtest(config)
    assert result.equity["benchmark"].iloc[0] == 1_000_000.0
    assert "benchmark_total_return" in result.metrics
    assert "000300.SH" not in result.codes  # an index is a benchmark, never a traded stock
