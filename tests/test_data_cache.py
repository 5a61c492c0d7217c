"""The aligned cache: hit, miss, invalidation by any file change, memory-mapped reads."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from engine.config import BacktestConfig
from engine.data import PLANES, cache, default_cache_dir, load_market_data
from engine.data.cache import STALE_SECONDS
from engine.errors import DataError
from engine.execution import parallel
from engine.execution.pool import WorkerError
from engine.progress import ProgressSink
from engine.run.backtest import WORKER_SETUP, load, run_backtest
from tests.conftest import SAMPLE, WriteStock, bars, needs_symlinks
from tests.test_backtest import assert_same
from tests.windows_emulation import sharing_violation

DATES = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


@pytest.fixture
def folder(write_stock: WriteStock) -> Path:
    write_stock("000001_SZ.parquet", bars(DATES))
    return write_stock("600000_SH.csv", bars(DATES[1:], [5.0, 5.5, 6.0])).parent


def _same(a, b) -> None:
    assert a.codes == b.codes and a.start_index == b.start_index
    np.testing.assert_array_equal(a.dates, b.dates)
    for name in PLANES:
        np.testing.assert_array_equal(a.plane(name), b.plane(name))
    np.testing.assert_array_equal(a.tradable, b.tradable)
    assert a.fingerprint == b.fingerprint
    assert a.excluded == b.excluded


def test_miss_then_hit_gives_identical_memory_mapped_arrays(folder: Path,
                                                            isolated_cache: Path) -> None:
    cold = load_market_data(folder)
    warm = load_market_data(folder)
    assert not cold.from_cache and warm.from_cache
    assert isinstance(warm.close.base, np.memmap) or isinstance(warm.close, np.memmap)
    _same(cold, warm)
    assert default_cache_dir() == isolated_cache
    assert len(list(isolated_cache.iterdir())) == 1


def test_changed_file_invalidates(folder: Path) -> None:
    load_market_data(folder)
    path = folder / "000001_SZ.parquet"
    bars(DATES, [20.0, 20.1, 20.2, 20.3]).to_parquet(path, index=False)
    fresh = load_market_data(folder)
    assert not fresh.from_cache
    assert fresh.close[0, 0] == 20.0


def test_touched_file_invalidates(folder: Path) -> None:
    load_market_data(folder)
    path = folder / "600000_SH.csv"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not load_market_data(folder).from_cache


def test_key_covers_selection_end_and_adjust_but_not_start(folder: Path) -> None:
    load_market_data(folder)
    assert load_market_data(folder, start="2024-01-03").from_cache
    assert not load_market_data(folder, end="2024-01-04").from_cache
    assert not load_market_data(folder, adjust="none").from_cache
    assert not load_market_data(folder, ["000001.SZ"]).from_cache


def test_skip_mode_excluded_table_survives_the_cache(folder: Path,
                                                     write_stock: WriteStock) -> None:
    write_stock("000002_SZ.parquet", bars(DATES, [1.0, 0.0, 1.0, 1.0]))
    cold = load_market_data(folder, on_bad_stock="skip")
    warm = load_market_data(folder, on_bad_stock="skip")
    assert warm.from_cache and [row[0] for row in warm.excluded] == ["000002.SZ"]
    _same(cold, warm)


def test_corrupt_entry_is_rebuilt(folder: Path, isolated_cache: Path) -> None:
    load_market_data(folder)
    entry = next(isolated_cache.iterdir())
    (entry / "prices.npy").write_bytes(b"garbage")
    again = load_market_data(folder)
    assert not again.from_cache and again.n_stocks == 2


def test_explicit_cache_dir_and_no_cache(folder: Path, tmp_path: Path,
                                         isolated_cache: Path) -> None:
    other = tmp_path / "elsewhere"
    load_market_data(folder, cache_dir=other)
    assert load_market_data(folder, cache_dir=other).from_cache
    assert not isolated_cache.exists()
    assert not load_market_data(folder, use_cache=False).from_cache
    assert not isolated_cache.exists()


def test_unwritable_cache_only_costs_speed(folder: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x", encoding="utf-8")
    data = load_market_data(folder, cache_dir=blocker / "cache")
    assert data.n_stocks == 2 and not data.from_cache


def test_one_entry_serves_skip_and_fail_loads(folder: Path, write_stock: WriteStock,
                                              isolated_cache: Path) -> None:
    write_stock("000002_SZ.parquet", bars(DATES, [1.0, 0.0, 1.0, 1.0]))
    skipped = load_market_data(folder, on_bad_stock="skip")  # the window's folder scan
    with pytest.raises(DataError) as info:
        load_market_data(folder)  # a run: the same entry, and the same error as uncached
    fresh_error = info.value
    assert len(list(isolated_cache.iterdir())) == 1
    with pytest.raises(DataError) as uncached:
        load_market_data(folder, use_cache=False)
    for name in ("code", "file", "field", "row", "rule"):
        assert getattr(fresh_error, name) == getattr(uncached.value, name)
    assert str(fresh_error) == str(uncached.value)
    assert fresh_error.code == "000002.SZ" and fresh_error.rule == "price <= 0 or NaN"
    (folder / "000002_SZ.parquet").unlink()
    good = load_market_data(folder)
    assert good.codes == skipped.codes  # the bad stock was never part of the arrays


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


DAMAGE = {
    "flipped byte": lambda path: _flip_byte(path, path.stat().st_size // 2),
    "flipped last byte": lambda path: _flip_byte(path, -1),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "emptied": lambda path: path.write_bytes(b""),
    "deleted": lambda path: path.unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("name", ["prices.npy", "tradable.npy", "calendar.npy", "meta.json",
                                  "checksums.json"])
def test_a_damaged_cache_entry_never_changes_a_result(folder: Path, isolated_cache: Path,
                                                      name: str, damage: str) -> None:
    cold = load_market_data(folder)
    entry = next(isolated_cache.iterdir())
    DAMAGE[damage](entry / name)
    again = load_market_data(folder)
    assert not again.from_cache
    _same(cold, again)
    warning = [w for w in again.warnings if "aligned cache entry" in w]
    assert len(warning) == 1 and entry.name in warning[0] and "\n" not in warning[0]
    assert warning[0].endswith("rebuilt it from the data files")
    repaired = load_market_data(folder)  # the entry was rewritten on disk
    assert repaired.from_cache and not any("aligned cache" in w for w in repaired.warnings)
    _same(cold, repaired)


def test_flipped_price_byte_names_the_file_that_failed(folder: Path,
                                                       isolated_cache: Path) -> None:
    load_market_data(folder)
    entry = next(isolated_cache.iterdir())
    _flip_byte(entry / "prices.npy", -8)  # inside a float: a plausible, wrong price
    again = load_market_data(folder)
    assert any("prices.npy fails its checksum" in w for w in again.warnings)


def test_a_crashed_writers_temporary_entry_is_never_trusted(folder: Path,
                                                            isolated_cache: Path) -> None:
    cold = load_market_data(folder)
    entry = next(isolated_cache.iterdir())
    debris = isolated_cache / f".{entry.name}.crashed"
    entry.rename(debris)  # what a writer killed before its rename leaves behind
    _flip_byte(debris / "prices.npy", -8)
    again = load_market_data(folder)
    assert not again.from_cache
    _same(cold, again)
    old = time.time() - 2 * STALE_SECONDS
    os.utime(debris, (old, old))
    load_market_data(folder, end="2024-01-04")  # any later write prunes stale debris
    assert not debris.exists()


@pytest.mark.slow
def test_truncated_entry_is_repaired_so_worker_runs_do_not_fail_on_mmap(
        isolated_cache: Path) -> None:
    config = BacktestConfig(data_dir=SAMPLE, workers=2)
    reference = run_backtest(config.replace(workers=1))
    entry = next(isolated_cache.iterdir())
    prices = entry / "prices.npy"
    prices.write_bytes(prices.read_bytes()[:1000])
    pooled = run_backtest(config)  # used to fail: "mmap length is greater than file size"
    assert_same(reference, pooled)
    assert any("aligned cache entry" in w for w in pooled.warnings)
    again = run_backtest(config)
    assert_same(reference, again)
    parallel.shutdown_pool()


@needs_symlinks
def test_retargeted_symlinked_file_invalidates(write_stock: WriteStock, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bars(DATES, [1.0, 1.1, 1.2, 1.3]).to_parquet(elsewhere / "a.parquet", index=False)
    bars(DATES, [2.0, 2.1, 2.2, 2.3]).to_parquet(elsewhere / "b.parquet", index=False)
    folder = write_stock("600000_SH.csv", bars(DATES)).parent
    link = folder / "000001_SZ.parquet"
    link.symlink_to(elsewhere / "a.parquet")
    assert load_market_data(folder).close[0, 0] == 1.0
    assert load_market_data(folder).from_cache
    link.unlink()
    link.symlink_to(elsewhere / "b.parquet")
    again = load_market_data(folder)
    assert not again.from_cache and again.close[0, 0] == 2.0


@pytest.mark.slow
def test_a_worker_never_computes_on_an_entry_damaged_after_the_load(
        isolated_cache: Path) -> None:
    config = BacktestConfig(data_dir=SAMPLE, workers=2)
    load(config)  # fills the run's entry
    data = load(config)  # verified, memory-mapped
    assert data.from_cache and data.cache_path is not None
    _flip_byte(data.cache_path / "prices.npy", -8)
    with pytest.raises(WorkerError, match=r"aligned cache entry .* changed after the run "
                       r"loaded it \(prices\.npy fails its checksum\); run again"), \
            parallel.pooled_columns(data, config, 2, ProgressSink(None), None, WORKER_SETUP):
        pass
    again = run_backtest(config)  # the rerun rebuilds the entry
    assert any("aligned cache entry" in w for w in again.warnings)
    assert_same(again, run_backtest(config.replace(workers=1)))
    parallel.shutdown_pool()


def test_a_file_where_an_entry_belongs_is_replaced(folder: Path, isolated_cache: Path) -> None:
    cold = load_market_data(folder)
    entry = next(isolated_cache.iterdir())
    shutil.rmtree(entry)
    entry.write_text("not an entry", encoding="utf-8")
    again = load_market_data(folder)
    _same(cold, again)
    assert entry.is_dir() and load_market_data(folder).from_cache
    assert [p.name for p in isolated_cache.iterdir()] == [entry.name]


@pytest.mark.slow
def test_a_warm_worker_drops_its_map_of_an_entry_that_was_damaged_and_rebuilt(
        isolated_cache: Path) -> None:
    config = BacktestConfig(data_dir=SAMPLE, workers=2, capital_mode="per_stock")
    reference = run_backtest(config.replace(workers=1))
    assert_same(reference, run_backtest(config))  # the workers now map the entry
    entry = load(config).cache_path
    assert entry is not None
    prices = entry / "prices.npy"
    data = bytearray(prices.read_bytes())
    data[len(data) // 2] ^= 0x40  # in place: the workers' maps see the flip too
    with prices.open("r+b") as handle:
        handle.write(data)
    rebuilt = run_backtest(config)  # the parent rebuilds the entry at the same path
    assert any("aligned cache entry" in w for w in rebuilt.warnings)
    assert_same(reference, rebuilt)
    parallel.shutdown_pool()


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> set[Path]:
    """Windows, emulated for the folders a test adds to the returned set: a process maps
    their files, so renaming or removing them, or anything in them, fails with a sharing
    violation (winerror 32). Linux renames and removes mapped files."""
    held: set[Path] = set()
    real_replace, real_rmtree, real_unlink, real_rmdir = (os.replace, shutil.rmtree,
                                                          os.unlink, os.rmdir)

    def check(*paths: object) -> None:
        for path in paths:
            where = Path(os.fspath(path)).absolute()  # type: ignore[arg-type]
            if any(where == folder or folder in where.parents for folder in held):
                raise sharing_violation(where)

    def replace(source, target, **kwargs):  # type: ignore[no-untyped-def]
        check(source, target)
        return real_replace(source, target, **kwargs)

    def rmtree(path, ignore_errors=False, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            check(path)
        except PermissionError:
            if ignore_errors:
                return None
            raise
        return real_rmtree(path, ignore_errors, *args, **kwargs)

    def unlink(path, **kwargs):  # type: ignore[no-untyped-def]
        check(path)
        return real_unlink(path, **kwargs)

    def rmdir(path, **kwargs):  # type: ignore[no-untyped-def]
        check(path)
        return real_rmdir(path, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "rmdir", rmdir)
    return held


def _names(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir())


def test_a_damaged_entry_a_process_maps_is_rebuilt_under_a_new_name(
        folder: Path, isolated_cache: Path, mapped: set[Path]) -> None:
    cold = load_market_data(folder)
    entry = next(isolated_cache.iterdir())
    _flip_byte(entry / "prices.npy", -8)
    mapped.add(entry)  # a worker still computes on it: it cannot be removed or replaced
    again = load_market_data(folder)
    assert not again.from_cache
    _same(cold, again)
    warning = [w for w in again.warnings if "aligned cache entry" in w]
    assert len(warning) == 1 and entry.name in warning[0]
    newer = isolated_cache / f"{entry.name}~1"
    assert again.cache_path == newer
    assert _names(isolated_cache) == [entry.name, newer.name]  # the damaged one stays
    for _ in range(2):  # the damaged entry is never read, nor warned about, again
        warm = load_market_data(folder)
        assert warm.from_cache and warm.cache_path == newer
        assert not any("aligned cache" in w for w in warm.warnings)
        _same(cold, warm)
    mapped.clear()  # the worker let go: the next store prunes the damaged entry
    load_market_data(folder, end="2024-01-04")
    assert entry.name not in _names(isolated_cache) and newer.is_dir()
    assert not any(name.startswith(".") for name in _names(isolated_cache))
    last = load_market_data(folder)
    assert last.from_cache and last.cache_path == newer
    _same(cold, last)


def test_an_outdated_entry_a_process_maps_is_pruned_once_it_is_let_go(
        folder: Path, isolated_cache: Path, mapped: set[Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "KEEP_ENTRIES", 1)
    load_market_data(folder)
    old = next(isolated_cache.iterdir())
    mapped.add(old)
    bars(DATES, [20.0, 20.1, 20.2, 20.3]).to_parquet(folder / "000001_SZ.parquet",
                                                      index=False)
    fresh = load_market_data(folder)  # a new key; the old entry is out of date
    assert not fresh.from_cache and fresh.close[0, 0] == 20.0
    assert fresh.cache_path is not None and fresh.warnings == ()
    assert _names(isolated_cache) == sorted([old.name, fresh.cache_path.name])
    warm = load_market_data(folder)  # the refused removal is no error, nor a warning
    assert warm.from_cache and warm.warnings == () and old.is_dir()
    mapped.clear()
    later = load_market_data(folder, end="2024-01-04")
    assert later.cache_path is not None and _names(isolated_cache) == [later.cache_path.name]


def test_a_keys_generations_count_as_one_entry(folder: Path, isolated_cache: Path,
                                               mapped: set[Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "KEEP_ENTRIES", 2)
    other = load_market_data(folder, end="2024-01-04").cache_path
    assert other is not None
    past = time.time() - 60
    os.utime(other, (past, past))  # written before the key below
    cold = load_market_data(folder)
    entry = cold.cache_path
    assert entry is not None
    _flip_byte(entry / "tradable.npy", -1)
    mapped.add(entry)
    again = load_market_data(folder)  # publishes <key>~1 while <key> stays
    assert again.cache_path == isolated_cache / f"{entry.name}~1"
    # two keys, three folders: the other key's entry is kept
    assert _names(isolated_cache) == sorted([other.name, entry.name, f"{entry.name}~1"])
    assert load_market_data(folder, end="2024-01-04").from_cache
    warm = load_market_data(folder)
    assert warm.from_cache and warm.cache_path == again.cache_path
    _same(cold, warm)
