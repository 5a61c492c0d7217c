"""What a fresh process imports and builds (issue 9): a cached `backtest run` never imports
pandas or pyarrow.compute; the Arrow columns its tables are made of convert to exactly the
DataFrame dtypes of before; lazily bound modules import on first use.

How long a fresh process takes is measured by benchmarks/bench_engine.py, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from engine.results import arrow_columns as cols
from engine.util.lazy_import import lazy_module

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

#: Runs the CLI and reports which of the heavy modules were imported (JSON).
_CHILD = """
import json, sys
from engine.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": [
    name for name in ("pandas", "pyarrow.compute", "pyarrow.csv", "pyarrow.parquet")
    if name in sys.modules]}))
"""


def _imported_by_cli(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True,
                         text=True, cwd=ROOT, check=True, encoding="utf-8", errors="replace")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_cached_run_never_imports_pandas_or_pyarrow_compute(tmp_path: Path) -> None:
    args = ["run", "--data", str(SAMPLE), "--start", "2024-01-02", "--end", "2025-06-30",
            "--no-progress", "--store", str(tmp_path / "runs.sqlite")]
    first = _imported_by_cli(args)  # reads the files: the cold path may use them all
    assert first["code"] == 0
    cached = _imported_by_cli(args)
    assert cached == {"code": 0, "modules": []}


def test_the_cached_run_saved_the_same_tables_pandas_would_read(tmp_path: Path) -> None:
    from engine.results.store import RunStore

    args = ["run", "--data", str(SAMPLE), "--start", "2024-01-02", "--end", "2025-06-30",
            "--no-progress", "--store"]
    # Two stores: an identical rerun saved in one store replaces the earlier run.
    _imported_by_cli([*args, str(tmp_path / "files.sqlite")])
    _imported_by_cli([*args, str(tmp_path / "cached.sqlite")])
    with RunStore(tmp_path / "files.sqlite") as store:
        first = store.load(1)
    with RunStore(tmp_path / "cached.sqlite") as store:
        second = store.load(1)
    for name in ("equity", "fills", "trades", "rejections", "excluded"):
        pd.testing.assert_frame_equal(first.frame(name), second.frame(name), check_exact=True)
    assert first.fills["side"].dtype == pd.CategoricalDtype(["buy", "sell"])
    assert first.equity["date"].dtype == np.dtype("datetime64[s]")
    assert len(first.fills) > 0 and first.metrics == second.metrics


# ------------------------------------------------------------------- arrow_columns


@pytest.mark.parametrize("values", [
    np.array([1.5, np.nan, -0.0, 1e300]), np.arange(5, dtype=np.int64),
    np.array([-1, 3], dtype=np.int8), np.array([], dtype=np.float64),
    np.arange(12, dtype=np.uint32)[::3],  # not contiguous
])
def test_numbers_are_the_same_values_and_dtype(values: np.ndarray) -> None:
    column = cols.numbers(values).to_pandas()
    assert column.dtype == values.dtype
    np.testing.assert_array_equal(column.to_numpy(), values)
    assert np.array_equal(np.signbit(column.to_numpy()), np.signbit(values))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 17])
def test_booleans_of_any_length(n: int) -> None:
    values = (np.arange(n) * 7919 % 3) == 1
    column = cols.numbers(values).to_pandas()
    assert column.dtype == np.dtype(bool) and column.tolist() == values.tolist()


def test_datetimes_keep_their_unit() -> None:
    days = np.array(["2024-01-02", "2026-07-06"], dtype="datetime64[D]").astype("datetime64[s]")
    column = cols.numbers(days).to_pandas()
    assert column.dtype == np.dtype("datetime64[s]") and column.tolist() == [
        pd.Timestamp("2024-01-02"), pd.Timestamp("2026-07-06")]


def test_an_unsupported_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="complex128"):
        cols.numbers(np.ones(2, dtype=complex))


@pytest.mark.parametrize("labels", [
    ("000001.SZ", "600000.SH"), ("a", "", "长江电力", "ST 平安"), ("x",)])
def test_picked_strings_equal_indexing_the_labels(labels: tuple[str, ...]) -> None:
    index = np.array([len(labels) - 1, 0, 0, len(labels) - 1, *range(len(labels))])
    column = cols.picked_strings(index, labels).to_pandas()
    assert column.tolist() == [labels[i] for i in index]
    assert column.dtype == pd.Series(["a"]).dtype  # pandas' str, as a DataFrame makes it


def test_picked_strings_of_nothing() -> None:
    assert cols.picked_strings(np.zeros(0, np.int64), ()).to_pandas().tolist() == []
    assert cols.picked_strings(np.zeros(0, np.int64), ("a",)).to_pandas().tolist() == []


def test_strings_and_categories() -> None:
    assert cols.strings(["长江", "", "x"]).to_pandas().tolist() == ["长江", "", "x"]
    cat = cols.categories(np.array([1, 0, 1]), ["buy", "sell"]).to_pandas()
    assert cat.dtype == pd.CategoricalDtype(["buy", "sell"]) and cat.tolist() == [
        "sell", "buy", "sell"]
    empty = cols.categories(np.zeros(0, np.int8), ["buy", "sell"]).to_pandas()
    assert list(empty.cat.categories) == ["buy", "sell"] and empty.size == 0


def test_a_record_batch_equals_the_dataframe_pandas_builds() -> None:
    days = np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[s]")
    built = cols.record_batch({"date": days, "code": cols.picked_strings(
        np.array([1, 0]), ("000001.SZ", "600000.SH")), "shares": np.array([100, 200]),
        "open": np.array([True, False])}).to_pandas()
    expected = pd.DataFrame({"date": days, "code": np.array(["600000.SH", "000001.SZ"],
                                                            dtype=object),
                             "shares": np.array([100, 200]), "open": [True, False]})
    pd.testing.assert_frame_equal(built, expected, check_exact=True)
    assert isinstance(cols.record_batch({}), pa.RecordBatch)


# ------------------------------------------------------------------- lazy_import


def test_a_lazy_module_runs_at_its_first_attribute_access() -> None:
    code = ("import sys; from engine.util.lazy_import import lazy_module; "
            "m = lazy_module('colorsys'); before = 'colorsys' in sys.modules; "
            "m.rgb_to_hsv(1, 0, 0); print(before, 'colorsys' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, encoding="utf-8", errors="replace")
    assert out.stdout.split() == ["False", "True"]


def test_a_lazy_module_imports_once_under_many_threads() -> None:
    code = ("import sys; from concurrent.futures import ThreadPoolExecutor; "
            "from engine.util.lazy_import import lazy_module; m = lazy_module('xml.dom.minidom'); "
            "pool = ThreadPoolExecutor(8); "
            "print(set(pool.map(lambda _: m.parseString('<a/>').documentElement.tagName, "
            "range(64))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, encoding="utf-8", errors="replace")
    assert out.stdout.strip() == "{'a'}"


def test_a_lazy_module_that_is_loaded_already_is_itself() -> None:
    assert lazy_module("json") is sys.modules["json"]


def test_a_missing_module_fails_at_once() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        lazy_module("no_such_module_here")
