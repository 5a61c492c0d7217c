"""Each validation rule of SPEC §1: the error names the file, the date or row, and the rule."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from engine.data import load_market_data
from engine.errors import ConfigError, DataError
from tests.conftest import WriteStock, bars

DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def _broken(column: str, row: int, value: object) -> pd.DataFrame:
    frame = bars(DATES)
    if isinstance(value, str):
        frame = frame.astype({column: object})
    frame.loc[row, column] = value
    return frame


CASES = [
    ("missing column", bars(DATES).drop(columns="close"), r"column `close` is missing; found: "
     r"date, open, high, low, volume\. Accepted names: close: close, \$close, 收盘"),
    ("non-numeric", _broken("open", 1, "abc"), r"column `open` row 2 \(2024-01-03\) is not a "
     r"number \('abc'\)"),
    ("price <= 0", _broken("close", 2, 0.0),
     r"column `close` is 0.0 on 2024-01-04, a traded day"),
    ("price NaN", _broken("low", 3, np.nan), r"column `low` is nan on 2024-01-05, a traded day"),
    ("high < max(open, close)", _broken("high", 1, 10.07),
     r"on 2024-01-03 high 10.07 is below max\(open, close\) 10.1 by more than one tick"),
    ("low > min(open, close)", _broken("low", 2, 10.23),
     r"on 2024-01-04 low 10.23 is above min\(open, close\) 10.2 by more than one tick"),
    ("duplicate date", bars([*DATES[:3], DATES[2]]), r"date 2024-01-04 appears more than once"),
    ("negative volume", _broken("volume", 0, -5.0), r"column `volume` is negative on 2024-01-02"),
    ("bad date", _broken("date", 1, "yesterday"),
     r"column `date` row 2 has an unreadable date 'yesterday'"),
    ("infinite price", _broken("close", 2, np.inf),
     r"column `close` is inf on 2024-01-04, a traded day \(volume > 0\); prices must be finite"),
    ("infinite volume", _broken("volume", 1, np.inf), r"column `volume` is inf on 2024-01-03"),
    ("volume 0 throughout", bars(DATES, volume=0.0),
     r"column `volume` is 0 or empty on all 4 rows, so the file has no traded day"),
    ("header only", bars(DATES).iloc[:0], r"the file has a header but no rows"),
]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize(("rule", "frame", "message"), CASES, ids=[c[0] for c in CASES])
def test_rule_fails_the_run_naming_file_and_date(write_stock: WriteStock, suffix: str, rule: str,
                                                  frame: pd.DataFrame, message: str) -> None:
    if suffix == ".parquet":  # a text column with one bad value, as a CSV import would make
        frame = frame.astype({c: str for c in frame.columns if frame[c].dtype == object})
    good = write_stock("000001_SZ.parquet", bars(DATES))
    write_stock(f"600000_SH{suffix}", frame)
    with pytest.raises(DataError, match=f"^600000_SH{suffix}: {message}") as info:
        load_market_data(good.parent)
    assert info.value.code == "600000.SH"
    assert info.value.file is not None and info.value.file.endswith(f"600000_SH{suffix}")


@pytest.mark.parametrize(("rule", "frame", "message"), CASES, ids=[c[0] for c in CASES])
def test_rule_excludes_the_stock_with_skip(write_stock: WriteStock, rule: str,
                                           frame: pd.DataFrame, message: str) -> None:
    good = write_stock("000001_SZ.parquet", bars(DATES))
    write_stock("600000_SH.csv", frame)
    data = load_market_data(good.parent, on_bad_stock="skip")
    assert data.codes == ("000001.SZ",)
    [(code, file, reason)] = data.excluded
    assert (code, file) == ("600000.SH", "600000_SH.csv") and re.search(message, reason)


def test_one_tick_outside_is_tolerated(write_stock: WriteStock) -> None:
    frame = bars(DATES)
    frame.loc[1, "high"] = frame.loc[1, "close"] - 0.01
    frame.loc[2, "low"] = frame.loc[2, "close"] + 0.01
    path = write_stock("000001_SZ.parquet", frame)
    assert load_market_data(path.parent).n_stocks == 1


def test_nan_prices_on_untraded_rows_are_fine(write_stock: WriteStock) -> None:
    frame = bars(DATES)
    frame.loc[1, ["open", "high", "low", "close"]] = np.nan
    frame.loc[1, "volume"] = np.nan
    write_stock("000001_SZ.parquet", frame)
    path = write_stock("000002_SZ.parquet", bars(DATES))
    assert load_market_data(path.parent).tradable[:, 0].tolist() == [True, False, True, True]


def test_unsorted_dates_are_sorted_with_a_warning(write_stock: WriteStock) -> None:
    frame = bars(DATES, [1.0, 2.0, 3.0, 4.0]).iloc[[2, 0, 3, 1]]
    path = write_stock("000001_SZ.parquet", frame)
    data = load_market_data(path.parent)
    assert data.close[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert any("000001_SZ.parquet: dates were not sorted" in w for w in data.warnings)


def test_problems_after_end_do_not_matter(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.parquet", _broken("close", 3, -1.0))
    data = load_market_data(path.parent, end="2024-01-04")
    assert data.dates.size == 3


def test_corrupt_parquet(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.parquet", bars(DATES))
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"^000001_SZ.parquet: unreadable or corrupt parquet file"):
        load_market_data(path.parent)


def test_first_bad_stock_in_code_order_is_reported(write_stock: WriteStock) -> None:
    write_stock("600000_SH.parquet", _broken("close", 1, 0.0))
    path = write_stock("000002_SZ.parquet", _broken("open", 1, 0.0))
    with pytest.raises(DataError, match=r"^000002_SZ\.parquet"):
        load_market_data(path.parent)


def test_missing_folder_is_named() -> None:
    with pytest.raises(DataError, match=r"data folder .*nowhere does not exist"):
        load_market_data("nowhere")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"start": "2024-02-01", "end": "2024-01-01"}, "start"),
    ({"start": "not a date"}, "start"),
    ({"adjust": "backward"}, "adjust"),
    ({"on_bad_stock": "ignore"}, "on_bad_stock"),
])
def test_bad_parameters_name_the_field(write_stock: WriteStock, kwargs: dict,
                                       field: str) -> None:
    path = write_stock("000001_SZ.parquet", bars(DATES))
    with pytest.raises(ConfigError) as info:
        load_market_data(path.parent, **kwargs)
    assert info.value.field == field


def test_close_inf_is_an_error_not_an_infinite_equity(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.csv", _broken("close", 1, np.inf))
    with pytest.raises(DataError, match=r"^000001_SZ\.csv: column `close` is inf") as info:
        load_market_data(path.parent)
    assert info.value.rule == "infinite price" and info.value.row == "2024-01-03"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_empty_file_is_an_error_not_a_late_warning(write_stock: WriteStock,
                                                      suffix: str) -> None:
    write_stock("000001_SZ.parquet", bars(DATES))
    path = write_stock(f"600000_SH{suffix}", bars(DATES))
    path.write_bytes(b"")
    with pytest.raises(DataError, match=f"^600000_SH\\{suffix}: the file is empty") as info:
        load_market_data(path.parent)
    assert info.value.code == "600000.SH" and info.value.rule == "no traded row"


def test_all_zero_volume_names_the_file_not_the_end_date(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.parquet", bars(DATES, volume=0.0))
    with pytest.raises(DataError) as info:
        load_market_data(path.parent)
    assert str(info.value).startswith("000001_SZ.parquet: column `volume` is 0")
    assert "end date" not in str(info.value)
    with pytest.raises(DataError, match=r"no usable stock .*000001_SZ\.parquet: column `volume`"):
        load_market_data(path.parent, on_bad_stock="skip")


def test_duplicated_csv_column_is_an_error_not_a_traceback(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.csv", bars(DATES))
    path.write_text("date,open,high,low,close,Close,volume\n2024-01-02,1,1,1,1,1,100\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"^000001_SZ\.csv: column `Close` appears more than "
                       r"once in the header") as info:
        load_market_data(path.parent)
    assert info.value.rule == "duplicate column" and info.value.field == "Close"


def test_weekend_window_names_the_end_date(write_stock: WriteStock) -> None:
    path = write_stock("000001_SZ.parquet", bars(["2024-01-05", "2024-01-08"]))
    with pytest.raises(DataError, match=r"no trading day from 2024-01-06 to 2024-01-07 .*"
                       r"choose a later end date") as info:
        load_market_data(path.parent, start="2024-01-06", end="2024-01-07")
    assert info.value.field == "end"
    with pytest.raises(DataError, match=r"data ends on 2024-01-08\); choose an earlier start"):
        load_market_data(path.parent, start="2024-02-01", end="2024-02-10")
