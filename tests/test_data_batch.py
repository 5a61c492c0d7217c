"""The batched load paths equal the one-file-at-a-time ones bit for bit, errors included.

Files of one schema are converted together (``engine.data.batch``) and validation screens
every row at once, running its rules one by one only on the stocks the screen flags;
each stock must still get exactly the table, the error (file, row, date, rule) and the
bars it gets alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import load_market_data
from engine.data.batch import BatchBuilder, collect, convert_raws
from engine.data.blocks import BLOCK, block_slices, map_blocks
from engine.data.layouts import tdx as layout_tdx
from engine.data.layouts.long_file import _stock_of_rows
from engine.data.read_pool import AHEAD, read_each, read_runs
from engine.data.reader import FileTable, RawFile, file_table, read_bytes, read_raw
from engine.data.validate import validate
from engine.datagen.universe import generate_universe
from engine.errors import Cancelled, DataError
from tests.conftest import WriteStock, bars

DATES = list(pd.bdate_range("2024-01-02", periods=12).strftime("%Y-%m-%d"))
FAR_END = int(np.datetime64("2100-01-01", "D").astype(np.int64))
#: Files per run, as the per-stock reader converts them (``engine.data.read_pool``).
RUN = 25


def _convert(raws: list[RawFile | DataError]) -> list[FileTable | DataError]:
    """The per-stock reader's conversion without its pool: runs of ``RUN`` files, each
    converted together (``convert_raws``) and copied into one batch (``collect``)."""
    return collect((convert_raws(raws[i:i + RUN]) for i in range(0, len(raws), RUN)),
                   len(raws))


def _one_by_one(paths: list[Path]) -> list[FileTable | DataError]:
    out: list[FileTable | DataError] = []
    for path in paths:
        try:
            raw = read_raw(path)
            out.append(file_table(raw.path, raw.digest, raw.table, raw.mapping))
        except DataError as exc:
            out.append(exc)
    return out


def _same(batched: FileTable | DataError, alone: FileTable | DataError) -> None:
    if isinstance(alone, DataError):
        assert isinstance(batched, DataError), batched
        assert (str(batched), batched.file, batched.row, batched.field, batched.rule) == (
            str(alone), alone.file, alone.row, alone.field, alone.rule)
        return
    assert isinstance(batched, FileTable), batched
    assert (batched.path, batched.digest, batched.label, batched.has_adj_factor,
            batched.has_limits, batched.list_day) == (
        alone.path, alone.digest, alone.label, alone.has_adj_factor, alone.has_limits,
        alone.list_day)
    for name in alone.table.column_names:  # nulls are NaN in a batch, as validation reads them
        np.testing.assert_array_equal(batched.table.column(name).to_numpy(),
                                      alone.table.column(name).to_numpy(), err_msg=name)


def _mixed_folder(write_stock: WriteStock) -> list[Path]:
    """Files of several schemas, interleaved, with the columns that convert per row and
    those that need the whole file, and files whose conversion fails."""
    frames = {
        "000001_SZ.parquet": bars(DATES),
        "000002_SZ.parquet": bars(DATES, adj_factor=np.linspace(1, 2, len(DATES))),
        "000004_SZ.parquet": bars(DATES),
        "000005_SZ.csv": bars(DATES),
        "000006_SZ.parquet": bars(DATES, is_st=[0, 1] * 6, name="*ST x"),
        "000007_SZ.parquet": bars(DATES).assign(date=lambda f: f["date"].dt.tz_localize(
            "Asia/Shanghai")),
        "000008_SZ.parquet": bars(DATES, list_date=DATES[2]),
        "000009_SZ.parquet": bars(DATES, tradestatus=[1] * 11 + [0]),
        "000010_SZ.parquet": bars(DATES, up_limit=11.0),
        "000011_SZ.parquet": bars(DATES).drop(columns="close"),
        "000012_SZ.parquet": bars(DATES).iloc[:0],
        "000014_SZ.parquet": bars(DATES, volume=np.arange(12, dtype=np.int64)),
        "000016_SZ.parquet": bars(DATES),
    }
    return [write_stock(name, frame) for name, frame in frames.items()]


def test_batched_conversion_equals_one_file_at_a_time(write_stock: WriteStock) -> None:
    paths = _mixed_folder(write_stock)
    raws = read_each([str(p) for p in paths], lambda p: read_raw(Path(p)), None, None)
    assert len(raws) <= RUN  # one run: the files of each schema are converted together
    batched = _convert(raws)
    for got, alone in zip(batched, _one_by_one(paths), strict=True):
        _same(got, alone)
    tables = [t for t in batched if isinstance(t, FileTable)]
    assert len({id(t.batch) for t in tables}) == 1  # rows of one table


def test_a_bad_row_in_a_run_is_reported_for_its_own_file_and_row(
        write_stock: WriteStock) -> None:
    good = bars(DATES)
    bad = good.copy()
    bad.loc[5, "date"] = pd.NaT  # a null date: found only when the run is converted
    paths = [write_stock(f"{600000 + i}_SH.parquet", bad if i == 37 else good)
             for i in range(2 * RUN + 10)]  # 37: inside the second run
    raws = read_each([str(p) for p in paths], lambda p: read_raw(Path(p)), None, None)
    results = _convert(raws)
    error = results[37]
    assert isinstance(error, DataError)
    assert str(error).startswith("600037_SH.parquet: column `date` row 6 has an unreadable date")
    assert error.file == str(paths[37]) and error.row == "6" and error.rule == "bad date"
    assert all(isinstance(r, FileTable) for i, r in enumerate(results) if i != 37)
    _same(results[38], _one_by_one([paths[38]])[0])


def test_builder_fills_a_column_some_files_lack_with_nan() -> None:
    def table(n: int, pre_close: float | None) -> FileTable:
        frame = pa.table({"date": pa.array(np.arange(n, dtype=np.int32)).view(pa.date32()),
                          "open": np.full(n, 1.0), "high": np.full(n, 1.0),
                          "low": np.full(n, 1.0), "close": np.full(n, 1.0),
                          "volume": np.full(n, 5.0),
                          **({"pre_close": np.full(n, pre_close)} if pre_close else {})})
        return file_table(Path(f"{n}.parquet"), str(n), frame)

    builder = BatchBuilder(expected_files=1)  # too few: the columns grow
    builder.add([table(3, None)])
    builder.add([table(70_000, 2.0), table(2, None)])
    builder.add([table(0, None)])
    whole, files = builder.finish()
    assert [f.table.num_rows for f in files] == [3, 70_000, 2, 0]
    pre_close = whole.column("pre_close").to_numpy()
    assert np.isnan(pre_close[:3]).all() and (pre_close[3:70_003] == 2.0).all()
    assert np.isnan(pre_close[70_003:]).all()
    assert whole.column("is_st").null_count == whole.num_rows  # no file has one: no memory
    assert files[1].batch is whole and files[1].offset == 3


RULE_BREAKERS = {
    "high": lambda f, r: f.assign(high=f["high"].where(f.index != r, 1.0)),
    "close<=0": lambda f, r: f.assign(close=f["close"].where(f.index != r, 0.0)),
    "nan low": lambda f, r: f.assign(low=f["low"].where(f.index != r, np.nan)),
    "inf volume": lambda f, r: f.assign(volume=f["volume"].where(f.index != r, np.inf)),
    "negative volume": lambda f, r: f.assign(volume=f["volume"].where(f.index != r, -1.0)),
    "duplicate": lambda f, r: pd.concat([f, f.iloc[[r]]]),
    "unsorted": lambda f, r: f.iloc[::-1],
    "no volume": lambda f, r: f.assign(volume=0.0),
    "suspended": lambda f, r: f.assign(volume=f["volume"].where(f.index != r, 0.0)),
    "bad factor": lambda f, r: f.assign(adj_factor=np.where(f.index == r, -1.0, 2.0)),
    "factor": lambda f, r: f.assign(adj_factor=np.linspace(1.0, 3.0, len(f))),
    "pre_close": lambda f, r: f.assign(pre_close=np.where(f.index == r, 0.0, 9.0)),
    "empty": lambda f, r: f.iloc[:0],
    "clean": lambda f, r: f,
}


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(sorted(RULE_BREAKERS)), st.integers(0, 11)),
                min_size=1, max_size=8), st.sampled_from(["forward", "none"]),
       st.sampled_from([FAR_END, int(np.datetime64(DATES[6], "D").astype(np.int64))]))
def test_validating_many_stocks_gives_each_what_it_gets_alone(
        tmp_path_factory: pytest.TempPathFactory, breakers: list[tuple[str, int]],
        adjust: str, end_day: int) -> None:
    folder = tmp_path_factory.mktemp("many")
    files = []
    for i, (breaker, row) in enumerate(breakers):
        path = folder / f"{600000 + i}_SH.parquet"
        RULE_BREAKERS[breaker](bars(DATES), row).to_parquet(path, index=False)
        raw = read_raw(path)
        files.append(file_table(raw.path, raw.digest, raw.table, raw.mapping))
    together = validate(files, end_day, adjust)
    kept = 0
    for i, f in enumerate(files):
        alone = validate([f], end_day, adjust)
        if alone.errors:
            assert str(together.errors[i]) == str(alone.errors[0])
            assert together.errors[i].row == alone.errors[0].row
            continue
        assert i not in together.errors
        rows = together.sid == i
        np.testing.assert_array_equal(together.dates[rows], alone.dates)
        for name in alone.values:
            values = alone.column(name)
            np.testing.assert_array_equal(together.column(name)[rows], values, err_msg=name)
        kept += 1
    assert set(together.values) >= {"open", "high", "low", "close", "volume"}
    assert together.sid.size == sum(
        int(validate([f], end_day, adjust).sid.size) for i, f in enumerate(files)
        if i not in together.errors)
    assert kept == len(files) - len(together.errors)
    last_days = [d for i, f in enumerate(files) if i not in together.errors
                 and (d := validate([f], end_day, adjust).last_day) is not None]
    assert together.last_day == (max(last_days) if last_days else None)
    warned = [f.label for f in files if validate([f], end_day, adjust).warnings]
    assert len(together.warnings) == (1 if warned else 0)
    for f in files:
        assert (f.label in "".join(together.warnings)) == (f.label in warned)


def test_a_day_file_that_changes_while_read_is_one_line_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "tdx"
    generate_universe(folder, 3, "2024-01-01", "2024-03-01", seed=1, layout="tdx")
    size = layout_tdx._file_size
    monkeypatch.setattr(layout_tdx, "_file_size",
                        lambda path: size(path) - 32 if path.name == "sz000001.day" else
                        size(path))
    with pytest.raises(DataError, match=r"sz/lday/sz000001\.day: the file changed while it "
                       r"was read; load the folder again") as info:
        load_market_data(folder, use_cache=False)
    assert info.value.code == "000001.SZ" and info.value.rule == "unreadable"
    data = load_market_data(folder, use_cache=False, on_bad_stock="skip")
    assert "000001.SZ" not in data.codes and data.n_stocks == 2


def test_read_pool_reports_progress_in_order_up_to_the_end() -> None:
    seen: list[tuple[int, int]] = []
    codes = [f"{i:06d}" for i in range(203)]
    out = read_each(codes, lambda code: int(code), lambda d, n: seen.append((d, n)), None)
    assert out == list(range(203))
    assert seen[-1] == (203, 203) and all(n == 203 for _, n in seen)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})


def test_bad_day_records_are_found_in_one_search_and_named_per_file(tmp_path: Path) -> None:
    lday = tmp_path / "vipdoc" / "sz" / "lday"
    lday.mkdir(parents=True)
    records = np.zeros(6, dtype=layout_tdx.DAY_RECORD)
    records["date"] = 20240102 + np.arange(6)
    records["open"] = records["close"] = 1000
    records["high"], records["low"], records["volume"] = 1010, 990, 500
    files = {"sz000001": records, "sz000002": records[:0], "sz000004": records.copy(),
             "sz000005": records, "sz000006": records.copy(), "sz000007": records}
    files["sz000004"]["date"][3] = 20241301
    files["sz000006"]["date"][[0, 2]] = 20240230
    for name, data in files.items():
        (lday / f"{name}.day").write_bytes(data.tobytes())
    (lday / "sz000005.day").write_bytes(records.tobytes()[:-3])  # truncated: left out
    data = load_market_data(tmp_path, use_cache=False, on_bad_stock="skip")
    reasons = {code: reason for code, _, reason in data.excluded}
    lday_label = "vipdoc/sz/lday/"
    assert reasons["000004.SZ"].startswith(f"{lday_label}sz000004.day: record 4 has date 20241301")
    assert reasons["000006.SZ"].startswith(f"{lday_label}sz000006.day: record 1 has date 20240230")
    assert "truncated" in reasons["000005.SZ"] and "no rows" in reasons["000002.SZ"]
    assert data.codes == ("000001.SZ", "000007.SZ")
    np.testing.assert_array_equal(data.close, np.full((6, 2), 10.0))


@pytest.mark.parametrize("cores", [1, 2, 5])
def test_blocks_come_back_in_order_whatever_the_cores(
        monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr("engine.data.blocks.os.cpu_count", lambda: cores)
    size = 37 * BLOCK + 5
    values = np.arange(size, dtype=np.int64)
    sums = map_blocks(lambda rows: int(values[rows].sum()), size)
    assert sums == [int(values[rows].sum()) for rows in block_slices(size)]
    assert block_slices(size)[-1] == slice(37 * BLOCK, size)
    assert map_blocks(lambda rows: rows, 0) == []


def test_read_runs_yields_runs_in_order_and_stops_reading_when_cancelled() -> None:
    import threading

    codes = [f"{i:06d}" for i in range(2000)]
    runs = list(read_runs(codes, lambda run: [int(c) for c in run], None, None))
    assert [r for run in runs for r in run] == list(range(2000)) and len(runs) > 1
    cancel, started = threading.Event(), []

    def read_run(run: list[str]) -> list[int]:
        started.append(run[0])
        return [int(c) for c in run]

    reader = read_runs(codes, read_run, None, cancel)
    next(reader)
    cancel.set()
    with pytest.raises(Cancelled):
        next(reader)
    workers = max(1, min(8, os.cpu_count() or 1))
    assert len(started) <= 1 + 2 * AHEAD * workers < len(runs)  # never every run at once


def test_long_file_codes_map_per_chunk_with_their_own_dictionaries() -> None:
    chunks = [pa.array(["000001.SZ", "600000.SH", None, "000001.SZ"]).dictionary_encode(),
              pa.array(["600000.SH", "sz000002", "000300.SH", ""]).dictionary_encode(),
              pa.array(["000001", "600000"])]  # plain text: encoded on the way
    column = pa.chunked_array([chunks[0], chunks[1]])
    codes = ["000001.SZ", "000002.SZ", "600000.SH"]
    np.testing.assert_array_equal(_stock_of_rows(column, codes), [0, 2, -1, 0, 2, 1, -1, -1])
    plain = pa.chunked_array([chunks[2]])
    np.testing.assert_array_equal(_stock_of_rows(plain, codes), [0, 2])


@pytest.mark.parametrize("layout", ["per-stock", "long"])
def test_short_reads_still_give_every_byte_of_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    # One read() returns at most about 2 GiB, so a big long file comes in several reads:
    # a short read must never pass for the file's end (a truncated file, lost rows).
    folder = tmp_path / layout
    generate_universe(folder, 4, "2024-01-01", "2024-06-01", seed=2, layout=layout)
    whole = load_market_data(folder, use_cache=False)
    read = os.read
    monkeypatch.setattr("engine.data.reader.os.read", lambda fd, n: read(fd, min(n, 997)))
    some = next(p for p in folder.rglob("*.parquet"))
    assert read_bytes(some) == some.read_bytes()
    short = load_market_data(folder, use_cache=False)
    np.testing.assert_array_equal(short.arrays.prices, whole.arrays.prices)
    assert short.fingerprint == whole.fingerprint
