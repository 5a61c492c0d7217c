"""Small hostile inputs: a long parquet's unused category, a qlib calendar's duplicated
date, a store from a newer workbench and a run store on a read-only disk."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.cli.main import main
from engine.config import BacktestConfig
from engine.data import load_market_data
from engine.datagen.universe import generate_universe
from engine.errors import DataError
from engine.results.store import SCHEMA_VERSION, RunStore, StoreError
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from tests.conftest import SAMPLE


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


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> BacktestResult:
    cache = tmp_path_factory.mktemp("cache")
    return run_backtest(BacktestConfig(data_dir=SAMPLE, cache_dir=cache, workers=1))


def _read_only_store(tmp_path: Path, result: BacktestResult) -> Path:
    path = tmp_path / "history" / "runs.sqlite"
    with RunStore(path) as store:
        store.save(result, name="kept")
    return path


def _reads_but_refuses_writes(path: Path, result: BacktestResult,
                              capsys: pytest.CaptureFixture[str]) -> None:
    before = path.read_bytes()
    with RunStore(path) as store:
        assert store.read_only is not None
        assert store.list_runs()["name"].tolist() == ["kept"]
        assert store.load(1).metrics.keys() == result.metrics.keys()
        for write in (lambda: store.save(result), lambda: store.update(1, name="new"),
                      lambda: store.delete(1)):
            with pytest.raises(StoreError, match=rf"^run store {re.escape(str(path))} is "
                               r"read-only \(.*\): .*make it writable") as info:
                write()
            assert "\n" not in str(info.value)
    assert main(["runs", "list", "--store", str(path)]) == 0
    assert "(read-only" in capsys.readouterr().out
    assert main(["runs", "rename", "1", "new", "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is read-only" in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="chmod does not stop root from writing")
@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_store_lists_and_loads_and_refuses_writes_in_one_line(
        what: str, tmp_path: Path, one_run: BacktestResult,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _read_only_store(tmp_path, one_run)
    target = path if what == "file" else path.parent
    mode = target.stat().st_mode
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        _reads_but_refuses_writes(path, one_run, capsys)
    finally:
        target.chmod(mode)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_store_emulated(what: str, tmp_path: Path, one_run: BacktestResult,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The same where chmod cannot stop this process: the file (or its folder) is reported
    unwritable, so the store opens with a read-only URI; in the folder case SQLite cannot
    make its WAL index beside the file (a folder stands in its way), so it reads the file
    as immutable."""
    path = _read_only_store(tmp_path, one_run)
    target = path if what == "file" else path.parent
    real = os.access

    def access(name: object, mode: int, **kwargs: object) -> bool:
        if mode & os.W_OK and Path(str(name)) == target:
            return False
        return real(name, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    if what == "folder":
        (path.parent / f"{path.name}-shm").mkdir()
    _reads_but_refuses_writes(path, one_run, capsys)
