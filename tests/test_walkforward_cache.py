"""A walk-forward leaves the user's aligned cache holding the whole window's entry only
(issue 24, item 12): its folds' slices of the same data (each ending where its window
ends) went into the cache as entries of their own, ~150 MB each on a real universe."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.config import BacktestConfig
from engine.studies.folds import FoldSpec
from engine.studies.walkforward import run_walk_forward
from tests.conftest import SAMPLE


def test_the_folds_leave_no_entry_in_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    base = BacktestConfig(data_dir=SAMPLE, start=dt.date(2023, 2, 6), end=dt.date(2026, 2, 4),
                          workers=1, cache_dir=cache)
    result = run_walk_forward(base, {"period": [10, 14]}, FoldSpec("12m", "6m"))
    assert len(result.folds) >= 3
    entries = list(cache.iterdir())  # no fold's entry, no scratch folder left behind
    assert len(entries) == 1 and not entries[0].name.startswith("."), entries
