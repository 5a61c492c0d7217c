"""Identical runs do not pile up in the run history (issue 24, item 12): the same run
saved again replaces the earlier entry under a new id, keeping what the user gave it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.results.store import RunStore
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from tests.conftest import SAMPLE

CONFIG = BacktestConfig(data_dir=SAMPLE, start=dt.date(2024, 1, 2), end=dt.date(2024, 12, 31))


@pytest.fixture(scope="module")
def results() -> dict[str, BacktestResult]:
    return {"rsi14": run_backtest(CONFIG), "rsi10": run_backtest(CONFIG.replace(period=10))}


def test_the_same_run_saved_again_replaces_the_earlier_one(
        tmp_path: Path, results: dict[str, BacktestResult]) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        first = store.save(results["rsi14"])
        other = store.save(results["rsi10"])
        again = store.save(run_backtest(CONFIG))  # a rerun: a new, equal result
        runs = store.list_runs()
        assert list(runs["id"]) == [again, other]  # no duplicate, and it moved to the top
        assert again > first
        pd.testing.assert_frame_equal(store.load(again).equity, results["rsi14"].equity)


def test_a_rerun_keeps_the_name_notes_and_tags_the_user_gave(
        tmp_path: Path, results: dict[str, BacktestResult]) -> None:
    with RunStore(tmp_path / "runs.sqlite") as store:
        first = store.save(results["rsi14"], tags=["base"])
        store.update(first, name="my favourite", notes="checked by hand", tags=["keep"])
        again = store.save(results["rsi14"], tags=["rerun"])
        info = store.run_info(again)
        assert len(store.list_runs()) == 1
        assert info["name"] == "my favourite" and info["notes"] == "checked by hand"
        assert info["tags"] == ["keep", "rerun"]


def test_runs_that_differ_are_all_kept(tmp_path: Path,
                                       results: dict[str, BacktestResult]) -> None:
    table = pd.DataFrame({"period": [10, 14], "sharpe": [0.5, 0.7]})
    with RunStore(tmp_path / "runs.sqlite") as store:
        plain = store.save(results["rsi14"])
        with_table = store.save(results["rsi14"], attachments={"sweep": table})
        named = store.save(results["rsi14"], name="a second copy on purpose")
        other = store.save(results["rsi10"])
        assert sorted(store.list_runs()["id"]) == [plain, with_table, named, other]
