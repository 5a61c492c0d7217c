"""Small hostile inputs: a long parquet's unused category, a qlib calendar's duplicated
date, a run store on a read-only disk and a store from a newer workbench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.data import load_market_data


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

