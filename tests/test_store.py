"""The run store: exact round trips, editing, schema versions, concurrent and killed writers,
and the ``backtest runs`` commands."""

from __future__ import annotations

import math
import multiprocessing
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from engine.cli.main import main
from engine.config import BacktestConfig
from engine.results import store as store_module
from engine.results import store_schema
from engine.results.store import (
    LIST_COLUMNS,
    SCHEMA_VERSION,
    STORE_ENV,
    RunStore,
    StoreError,
    default_name,
    default_store_path,
)
from engine.results.tables import RESULT_TABLES, BacktestResult
from engine.run.backtest import run_backtest
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BacktestResult]:
    """Real runs on the sample universe: shared mode; per-stock mode on two workers
    (worker spans, pool timings); and a folder with a bad file skipped (excluded, codes)."""
    root = tmp_path_factory.mktemp("runs")
    cache = root / "cache"  # module-scoped, so the autouse cache fixture is not active yet
    mixed = root / "mixed"
    mixed.mkdir()
    for path in sorted(SAMPLE.glob("*.parquet"))[:4]:
        shutil.copy(path, mixed)
    (mixed / "600000_SH.csv").write_text(
        "date,open,high,low,close,volume\n2024-01-02,10,9,8,10,100\n", encoding="utf-8")
    return {
        "shared": run_backtest(BacktestConfig(data_dir=SAMPLE, cache_dir=cache, workers=1)),
        "per_stock": run_backtest(BacktestConfig(
            data_dir=SAMPLE, capital_mode="per_stock", period=10, cache_dir=cache, workers=2)),
        "skipped": run_backtest(BacktestConfig(
            data_dir=mixed, on_bad_stock="skip", start="2024-01-01", end="2025-06-30",
            stocks=None, fill="close", cache_dir=cache, workers=1)),
    }


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh store file, also the default one (``$BACKTEST_STORE``)."""
    path = tmp_path / "history" / "runs.sqlite"
    monkeypatch.setenv(STORE_ENV, str(path))
    return path


@pytest.fixture
def store(store_path: Path) -> Iterator[RunStore]:
    with RunStore() as opened:
        yield opened


def _same_bits(a: pd.Series, b: pd.Series) -> bool:
    if a.dtype.kind == "f":
        return np.array_equal(a.to_numpy().view(np.int64), b.to_numpy().view(np.int64))
    return bool(a.equals(b))


def assert_same_result(back: BacktestResult, saved: BacktestResult) -> None:
    """Every part equal; float columns bit for bit; metrics with NaN == NaN."""
    assert back.config == saved.config and back.config.cache_dir == saved.config.cache_dir
    assert back.codes == saved.codes and back.fingerprint == saved.fingerprint
    assert back.warnings == saved.warnings and back.timings == saved.timings
    assert back.metrics.keys() == saved.metrics.keys()
    for key, value in saved.metrics.items():
        got = back.metrics[key]
        assert got == value or (math.isnan(got) and math.isnan(value)), key
        assert type(got) is type(value), key
    for name in RESULT_TABLES:
        got, want = getattr(back, name), getattr(saved, name)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert all(_same_bits(got[c], want[c]) for c in want.columns), name


@pytest.mark.parametrize("case", ["shared", "per_stock", "skipped"])
def test_round_trip_is_exact(store: RunStore, runs: dict[str, BacktestResult],
                             case: str) -> None:
    result = runs[case]
    run_id = store.save(result)
    assert_same_result(store.load(run_id), result)
    with RunStore(store.path) as other:  # a fresh connection reads the same
        assert_same_result(other.load(run_id), result)


def test_the_cases_cover_every_part(runs: dict[str, BacktestResult]) -> None:
    assert not runs["per_stock"].worker_spans.empty and "workers" in runs["per_stock"].timings
    assert len(runs["skipped"].excluded) == 1 and runs["shared"].worker_spans.empty


def test_nan_and_numpy_metrics_round_trip(store: RunStore,
                                          runs: dict[str, BacktestResult]) -> None:
    import dataclasses

    result = dataclasses.replace(runs["shared"], metrics={
        **runs["shared"].metrics, "sortino": math.nan, "profit_factor": np.float64(0.1),
        "trades": np.int64(3), "max_drawdown_peak": None})
    back = store.load(store.save(result))
    assert math.isnan(back.metrics["sortino"]) and back.metrics["profit_factor"] == 0.1
    assert back.metrics["trades"] == 3 and back.metrics["max_drawdown_peak"] is None
    listed = store.list_runs()
    assert listed.loc[0, "trades"] == 3


def test_ten_thousand_fills_are_one_compact_insert(store: RunStore,
                                                   runs: dict[str, BacktestResult]) -> None:
    # How long the save takes is measured by benchmarks/bench_engine.py (store_save);
    # here: what makes it cheap, one compressed blob per table instead of a row per fill.
    base = runs["shared"]
    fills = base.fills.sample(10_000, replace=True, random_state=0).reset_index(drop=True)
    big = base.with_tables(fills=fills)
    run_id = store.save(big)
    pd.testing.assert_frame_equal(store.load(run_id).fills, fills, check_exact=True)
    with sqlite3.connect(store.path) as raw:
        frames = dict(raw.execute("SELECT name, n_rows FROM frames WHERE run_id = ?",
                                  (run_id,)).fetchall())
        size = raw.execute("SELECT length(data) FROM frames WHERE run_id = ? AND "
                           "name = 'fills'", (run_id,)).fetchone()[0]
    assert frames["fills"] == 10_000 and len(frames) == len(RESULT_TABLES) - 1  # no spans
    # ~130 kB zstd-compressed (13 bytes a fill; 66 in memory): the database stays small.
    assert size < (30 if pa.Codec.is_available("zstd") else 100) * 10_000


def test_list_update_delete(store: RunStore, runs: dict[str, BacktestResult]) -> None:
    assert list(store.list_runs().columns) == list(LIST_COLUMNS) and store.list_runs().empty
    first = store.save(runs["shared"], tags=["base", " base ", ""])
    second = store.save(runs["per_stock"], name="per stock", notes="sleeves", tags=("a", "b"))
    listed = store.list_runs()
    assert list(listed["id"]) == [second, first]  # newest first
    row = listed.iloc[1]
    shared = runs["shared"]
    assert row["name"] == default_name(shared) == (
        "RSI 14 30/70 · 50 stocks · 2023-02-04..2026-02-04")
    assert row["stocks"] == 50 and row["tags"] == "base" and row["notes"] == ""
    assert (row["start"], row["end"], row["period"]) == ("2023-02-04", "2026-02-04", 14)
    assert (row["capital_mode"], row["fill"]) == ("shared", "next_open")
    assert row["total_return"] == shared.metrics["total_return"]
    assert row["max_drawdown"] == shared.metrics["max_drawdown"]
    assert row["trades"] == shared.metrics["trades"]
    assert listed.iloc[0]["tags"] == "a,b" and listed.iloc[0]["notes"] == "sleeves"
    assert pd.Timestamp(row["created"]).tzinfo is not None  # ISO text with the UTC offset
    assert listed["stocks"].dtype == np.int64 and listed["sharpe"].dtype == np.float64

    store.update(first, name="renamed", notes="new notes", tags=["x", "y", "x"])
    store.update(second, tags=[])
    listed = store.list_runs().set_index("id")
    assert listed.loc[first, ["name", "notes", "tags"]].tolist() == ["renamed", "new notes", "x,y"]
    assert listed.loc[second, "tags"] == "" and listed.loc[second, "name"] == "per stock"
    assert store.run_info(first)["tags"] == ["x", "y"]

    store.delete(second)
    assert list(store.list_runs()["id"]) == [first]
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM frames WHERE run_id = ?", (second,)
                           ).fetchone()[0] == 0
        assert raw.execute("SELECT COUNT(*) FROM tags WHERE run_id = ?", (second,)
                           ).fetchone()[0] == 0
    third = store.save(runs["shared"])
    assert third > second  # a deleted run's id is never reused


@pytest.mark.parametrize("call", ["load", "update", "delete", "run_info", "attachments"])
def test_unknown_id_names_it(store: RunStore, call: str) -> None:
    kwargs: dict[str, Any] = {"name": "x"} if call == "update" else {}
    with pytest.raises(StoreError, match="no run with id 42"):
        getattr(store, call)(42, **kwargs)


def test_bad_names_and_tags_are_refused(store: RunStore,
                                        runs: dict[str, BacktestResult]) -> None:
    run_id = store.save(runs["shared"])
    with pytest.raises(StoreError, match="name cannot be empty"):
        store.update(run_id, name="  ")
    with pytest.raises(StoreError, match="contains a comma"):
        store.update(run_id, tags=["a,b"])
    with pytest.raises(StoreError, match="list of words"):
        store.update(run_id, tags="ab")


def test_attachments_are_kept_with_the_run(store: RunStore,
                                           runs: dict[str, BacktestResult]) -> None:
    table = pd.DataFrame({"period": [10, 12], "sharpe": [0.1, math.nan]})
    run_id = store.save(runs["shared"], attachments={"sweep": table})
    assert list(store.attachments(run_id)) == ["sweep"]
    pd.testing.assert_frame_equal(store.attachments(run_id)["sweep"], table, check_exact=True)
    assert_same_result(store.load(run_id), runs["shared"])


def test_schema_version_and_wal_are_recorded(store: RunStore) -> None:
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(store_path: Path) -> None:
    RunStore(store_path).close()
    with sqlite3.connect(store_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer version of the workbench"):
        RunStore(store_path)


def test_migration_hook_upgrades_an_old_store(store_path: Path, runs: dict[str, BacktestResult],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with RunStore(store_path) as old:
        run_id = old.save(runs["shared"], name="kept")

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN starred INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(store_schema.MIGRATIONS, SCHEMA_VERSION, add_column)
    with RunStore(store_path) as new:
        assert new.schema_version == SCHEMA_VERSION + 1
        assert new.list_runs()["name"].tolist() == ["kept"]
        assert_same_result(new.load(run_id), runs["shared"])
    with sqlite3.connect(store_path) as raw:
        assert raw.execute("SELECT starred FROM runs").fetchall() == [(0,)]


def test_default_path_env_and_user_folder(store_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_store_path() == store_path
    monkeypatch.delenv(STORE_ENV)
    default = default_store_path()
    assert default.name == "runs.sqlite" and "backtest-workbench" in str(default)


def test_tests_never_touch_the_users_store(tmp_path: Path) -> None:
    # tests/conftest.py points $BACKTEST_STORE into each test's own folder.
    assert default_store_path().is_relative_to(tmp_path)


def test_unusable_paths_are_explained(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        RunStore(tmp_path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all, just some text" * 50)
    with pytest.raises(StoreError, match=r"junk\.sqlite"):
        RunStore(junk)


def test_a_store_can_be_used_from_another_thread(store: RunStore,
                                                 runs: dict[str, BacktestResult]) -> None:
    ids: list[int] = []
    thread = threading.Thread(target=lambda: ids.append(store.save(runs["shared"])))
    thread.start()
    thread.join()
    assert store.list_runs()["id"].tolist() == ids


# ---------------------------------------------------------------- other processes
def _save_several(path: str, result: BacktestResult, worker: int, count: int,
                  barrier: Any) -> None:
    barrier.wait()
    with RunStore(path) as store:
        for i in range(count):
            store.save(result, name=f"worker {worker} run {i}")


def test_two_processes_saving_at_once_both_succeed(store_path: Path,
                                                   runs: dict[str, BacktestResult]) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_save_several, args=(str(store_path), runs["skipped"], k, 5,
                                                     barrier)) for k in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    with RunStore(store_path) as store:
        names = set(store.list_runs()["name"])
        assert names == {f"worker {k} run {i}" for k in range(2) for i in range(5)}
        for run_id in store.list_runs()["id"]:
            assert_same_result(store.load(int(run_id)), runs["skipped"])


def _save_then_hang(path: str, result: BacktestResult, inside: Any) -> None:
    """Save one run, then start another and stop inside its transaction (after fills)."""
    with RunStore(path) as store:
        store.save(result, name="complete")
        real = store_module._insert_frame

        def pause_after_fills(conn: sqlite3.Connection, run_id: int, role: str, name: str,
                              n_rows: int, data: bytes) -> None:
            real(conn, run_id, role, name, n_rows, data)
            if name == "fills":
                inside.set()
                time.sleep(120)

        store_module._insert_frame = pause_after_fills
        store.save(result, name="half")


def test_a_writer_killed_mid_save_leaves_no_partial_run(store_path: Path,
                                                        runs: dict[str, BacktestResult]) -> None:
    ctx = multiprocessing.get_context("spawn")
    inside = ctx.Event()
    proc = ctx.Process(target=_save_then_hang, args=(str(store_path), runs["skipped"], inside))
    proc.start()
    try:
        assert inside.wait(60), "the child never reached the middle of its save"
        with RunStore(store_path) as reader:  # WAL: readers are not blocked by the writer
            assert reader.list_runs()["name"].tolist() == ["complete"]
    finally:
        proc.kill()
        proc.join(30)
    with RunStore(store_path) as store:
        assert store.list_runs()["name"].tolist() == ["complete"]
        run_id = int(store.list_runs()["id"].iloc[0])
        assert_same_result(store.load(run_id), runs["skipped"])
        new_id = store.save(runs["skipped"], name="after")
        assert store.list_runs()["name"].tolist() == ["after", "complete"]
    with sqlite3.connect(store_path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = raw.execute("SELECT COUNT(*) FROM frames WHERE run_id NOT IN "
                              "(SELECT id FROM runs)").fetchone()[0]
        assert orphans == 0
        assert raw.execute("SELECT COUNT(*) FROM frames WHERE run_id = ?",
                           (new_id,)).fetchone()[0] == 5  # no worker spans without workers


# ---------------------------------------------------------------- the command line
def test_cli_saves_runs_and_manages_them(store_path: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--data", str(SAMPLE), "--workers", "1", "--no-progress"]) == 0
    assert f"saved as run 1 in {store_path}" in capsys.readouterr().out
    assert main(["run", "--data", str(SAMPLE), "--workers", "1", "--no-progress",
                 "--no-store"]) == 0
    assert "saved as run" not in capsys.readouterr().out
    other = tmp_path / "other.sqlite"
    assert main(["run", "--data", str(SAMPLE), "--workers", "1", "--no-progress",
                 "--start", "2024-06-01", "--stocks", "000001.SZ,000683.SZ",
                 "--store", str(other)]) == 0
    assert f"saved as run 1 in {other}" in capsys.readouterr().out
    assert main(["sweep", "--data", str(SAMPLE), "--workers", "1", "--no-progress",
                 "--period", "10,14", "--oversold", "25,30"]) == 0
    assert "as run 2 in" in capsys.readouterr().out

    assert main(["runs", "list"]) == 0
    listing = capsys.readouterr().out
    assert "2 run(s)" in listing and "sweep" in listing
    with RunStore(store_path) as store:
        best = store.load(2)
        sweep = store.attachments(2)["sweep"]
    assert len(sweep) == 4 and best.metrics["sharpe"] == sweep["sharpe"].max()

    assert main(["runs", "rename", "1", "baseline"]) == 0
    assert main(["runs", "tag", "1", "keep", "demo"]) == 0
    assert main(["runs", "note", "1", "the first one"]) == 0
    assert main(["runs", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "baseline" in shown and "keep, demo" in shown and "the first one" in shown

    out = tmp_path / "export"
    assert main(["runs", "export", "2", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {
        "equity.csv", "fills.csv", "trades.csv", "rejections.csv", "metrics.csv",
        "metrics.json", "timings.json", "config.toml", "sweep.csv", "skipped.csv"}
    assert main(["runs", "compare", "1", "2", "--out", str(tmp_path / "cmp.csv")]) == 0
    assert "settings that differ: period" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "cmp.csv", encoding="utf-8-sig")["id"].tolist() == [1, 2]
    assert main(["runs", "delete", "2"]) == 0
    with RunStore(store_path) as store:
        assert store.list_runs()["name"].tolist() == ["baseline"]


@pytest.mark.parametrize(("args", "message"), [
    (["runs", "show", "7"], "no run with id 7"),
    (["runs", "delete", "7"], "no run with id 7"),
    (["runs", "rename", "7", "x"], "no run with id 7"),
    (["runs", "compare", "1"], "at least two different run ids"),
    (["runs", "export", "1", "--out", "{file}/sub"], "cannot write"),
    (["runs", "list", "--store", "{tmp}"], "is a folder"),
    (["run", "--data", str(SAMPLE), "--store", "{file}/runs.sqlite"], "cannot open the run store"),
])
def test_runs_errors_are_one_line(args: list[str], message: str, tmp_path: Path,
                                  store: RunStore, runs: dict[str, BacktestResult],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    store.save(runs["shared"])
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    argv = [a.format(file=a_file, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- integrity
def _flip_in_file(path: Path, blob: bytes) -> None:
    """Flip one bit of ``blob`` where it lies in the database file (real bit rot): at a
    32-byte piece of it found exactly once in the file (overflow pages split a blob)."""
    data = bytearray(path.read_bytes())
    for start in range(len(blob) - 32, 0, -97):
        needle = blob[start:start + 32]
        at = data.find(needle)
        if at >= 0 and data.find(needle, at + 1) < 0:
            data[at + 16] ^= 0x10
            path.write_bytes(bytes(data))
            return
    pytest.fail("no unique piece of the blob in the file")


def test_bit_rot_in_a_stored_table_is_reported_by_id_never_exported_or_compared(
        store_path: Path, tmp_path: Path, runs: dict[str, BacktestResult],
        capsys: pytest.CaptureFixture[str]) -> None:
    with RunStore(store_path) as store:
        first = store.save(runs["shared"])
        damaged = store.save(runs["per_stock"])
        blob = store._conn.execute("SELECT data FROM frames WHERE run_id = ? AND name = 'fills'",
                                   (damaged,)).fetchone()[0]
    _flip_in_file(store_path, blob)
    with RunStore(store_path) as store, pytest.raises(store_module.DamagedRunError) as info:
        store.load(damaged)
    assert info.value.run_id == damaged
    assert f"run {damaged} in {store_path} is damaged (its fills table fails" in str(info.value)
    with RunStore(store_path) as store:
        assert_same_result(store.load(first), runs["shared"])  # the others are intact
    out = tmp_path / "export"
    assert main(["runs", "export", str(damaged), "--out", str(out)]) == 2
    assert not out.exists()
    assert main(["runs", "compare", str(first), str(damaged)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(f"run {damaged} in" in line for line in err)


@pytest.mark.parametrize("column", ["metrics", "config", "codes", "total_return"])
def test_a_changed_run_row_is_damaged_not_loaded(store: RunStore, column: str,
                                                 runs: dict[str, BacktestResult]) -> None:
    run_id = store.save(runs["shared"], attachments={"sweep": pd.DataFrame({"a": [1.0]})})
    value = store._conn.execute(f"SELECT {column} FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    changed = value * 1.01 if isinstance(value, float) else value.replace("0", "1", 1)
    store._conn.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (changed, run_id))
    with pytest.raises(store_module.DamagedRunError, match="its settings and metrics fails"):
        store.load(run_id)
    store._conn.execute("UPDATE frames SET data = zeroblob(length(data)) WHERE name = 'sweep'")
    with pytest.raises(store_module.DamagedRunError, match="its sweep table fails"):
        store.attachments(run_id)
    store.update(run_id, name="renamed", notes="n", tags=["t"])  # editable, not sealed


def test_a_version_1_store_gains_checksums_and_stays_readable(
        store_path: Path, runs: dict[str, BacktestResult]) -> None:
    with RunStore(store_path) as store:
        run_id = store.save(runs["shared"])
    with sqlite3.connect(store_path) as raw:  # what the workbench wrote before checksums
        raw.execute("ALTER TABLE runs DROP COLUMN checksum")
        raw.execute("ALTER TABLE frames DROP COLUMN checksum")
        raw.execute("PRAGMA user_version = 1")
        raw.execute("PRAGMA application_id = 0")
    with RunStore(store_path) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        assert_same_result(store.load(run_id), runs["shared"])
    with sqlite3.connect(store_path) as raw:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == store_schema.APPLICATION_ID
        assert raw.execute("SELECT COUNT(*) FROM frames WHERE checksum = ''").fetchone()[0] == 0


def test_a_foreign_sqlite_file_is_refused_and_left_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "accounts.db"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        raw.execute("INSERT INTO customers (name) VALUES ('Li')")
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match=r"accounts\.db is an SQLite database but not a "
                       r"workbench run store \(its tables are customers\)"):
        RunStore(foreign)
    assert main(["runs", "list", "--store", str(foreign)]) == 2
    assert main(["run", "--data", str(SAMPLE), "--store", str(foreign), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("not a workbench run store" in line for line in err)
    assert foreign.read_bytes() == before
    assert not Path(f"{foreign}-wal").exists()
