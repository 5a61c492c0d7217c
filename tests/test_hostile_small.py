"""Small hostile inputs: a long parquet's unused category, a qlib calendar's duplicated
date, a run store on a read-only disk and a store from a newer workbench."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data import load_market_data
from engine.datagen.universe import generate_universe
from engine.errors import DataError
from engine.results.store import SCHEMA_VERSION, RunStore, StoreError


def test_long_parquet_unused_category_is_not_a_stock(tmp_path: Path) -> None:
    codes = pa.DictionaryArray.from_arrays(
        pa.array([0, 0, 2, 2], pa.int32()),
        pa.array(["000001.SZ", "000002.SZ", "600000.SH"]))  # 000002.SZ: no row uses it
    dates = pa.array(["2024-01-02", "2024-01-03"] * 2)
    price = pa.array([10.0, 10.5, 5.0, 5.25])
    table = pa.table({"ts_code": codes, "date": dates, "open": price, "high": price,
                      "low": price, "close": price, "volume": pa.array([100.0] * 4)})
    pq.write_table(table, tmp_path / "daily.parquet")
    data = load_market_data(tmp_path, use_cache=False)
    assert data.codes == ("000001.SZ", "600000.SH")
    np.testing.assert_array_equal(data.close, [[10.0, 5.0], [10.5, 5.25]])


def test_qlib_calendar_duplicated_date_names_the_calendar_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "qlib"
    generate_universe(folder, 3, "2024-01-01", "2024-03-31", seed=1, layout="qlib")
    calendar = folder / "calendars" / "day.txt"
    lines = calendar.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(10, lines[9])  # line 11 repeats line 10
    calendar.write_text("".join(lines), encoding="utf-8")
    day = lines[9].strip()
    with pytest.raises(DataError, match=rf"^calendars/day.txt: date {day} on line 11 "
                       r"repeats line 10") as info:
        load_market_data(folder, use_cache=False)
    assert "\n" not in str(info.value)


def test_a_newer_store_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode = DELETE")  # as a newer workbench might leave it
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}.*reads up to "
                       rf"{SCHEMA_VERSION}\); update the workbench") as info:
        RunStore(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.sqlite"]
