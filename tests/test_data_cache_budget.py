"""The aligned cache's size budget (issue 24, item 12): least recently used entries go
once the cache is over it, the entry just used always stays, and the budget is settable."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from engine.data import cache_budget
from engine.data.cache_budget import BUDGET_ENV, DEFAULT_BUDGET, budget, parse_size
from engine.data.loader import load_market_data
from tests.conftest import SAMPLE

ENDS = ("2024-03-29", "2024-06-28", "2024-09-30")


def _load(cache: Path, end: str) -> Path:
    data = load_market_data(SAMPLE, end=end, cache_dir=cache)
    assert data.cache_path is not None
    time.sleep(0.02)  # each use a later modification time, however coarse the clock
    return data.cache_path


def _entries(cache: Path) -> set[Path]:
    return {path for path in cache.iterdir() if not path.name.startswith(".")}


def test_the_least_recently_used_entry_goes_when_the_cache_is_over_its_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s1, s2, s3 = (cache_budget.entry_size(_load(tmp_path / "sizes", end)) for end in ENDS)
    # Room for the first with either other one, never for all three.
    monkeypatch.setenv(BUDGET_ENV, str(max(s1 + s2, s1 + s3)))
    cache = tmp_path / "cache"
    first = _load(cache, ENDS[0])
    second = _load(cache, ENDS[1])
    assert _entries(cache) == {first, second}
    assert _load(cache, ENDS[0]) == first  # read again: now the most recently used
    third = _load(cache, ENDS[2])
    assert _entries(cache) == {first, third}  # the second went, not the oldest written
    assert not load_market_data(SAMPLE, end=ENDS[1], cache_dir=cache).from_cache


def test_the_entry_just_written_stays_even_alone_over_the_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUDGET_ENV, "1KB")
    cache = tmp_path / "cache"
    _load(cache, ENDS[0])
    newest = _load(cache, ENDS[1])
    assert _entries(cache) == {newest}
    assert load_market_data(SAMPLE, end=ENDS[1], cache_dir=cache).from_cache


@pytest.mark.parametrize(("text", "size"), [
    ("2GB", 2 * 1024**3), ("1.5 GiB", int(1.5 * 1024**3)), ("500M", 500 * 1024**2),
    ("64kb", 64 * 1024), ("1024", 1024), (" 3 g ", 3 * 1024**3)])
def test_sizes_read_as_a_user_writes_them(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_the_budget_is_two_gigabytes_unless_set_and_a_bad_setting_says_so(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    assert budget() == DEFAULT_BUDGET == 2 * 1024**3
    monkeypatch.setenv(BUDGET_ENV, "300MB")
    assert budget() == 300 * 1024**2
    monkeypatch.setenv(BUDGET_ENV, "lots")
    with caplog.at_level(logging.WARNING):
        assert budget() == DEFAULT_BUDGET
    assert "BACKTEST_CACHE_BUDGET='lots' is not a size" in caplog.text


def test_hidden_folders_are_neither_counted_nor_removed(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    (root / ".tmp-writer").mkdir(parents=True)
    (root / ".tmp-writer" / "prices.npy").write_bytes(b"x" * 4096)
    old, new = root / "old", root / "new"
    for entry in (old, new):
        entry.mkdir()
        (entry / "prices.npy").write_bytes(b"x" * 1000)
    os.utime(old, (1, 1))
    gone = cache_budget.enforce(root, new, lambda path: True, limit=1500)
    assert gone == [old]
