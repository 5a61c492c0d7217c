"""Engine jobs on job hosts: the same numbers as in-process, errors as themselves, cancel,
a killed host, the caller's environment, the run store, and the hosts' priority."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import Cancelled, DataError
from engine.execution import jobs
from engine.execution.pool import WorkerCrashError
from engine.progress import STAGES
from engine.results.formatting import format_frame
from engine.results.store import RunStore
from engine.run.backtest import run_backtest
from engine.studies.sweep import run_sweep
from engine.util.oscompat import WORKER_NICENESS
from tests.conftest import SAMPLE
from tests.faults import inject_fault

CONFIG = BacktestConfig(data_dir=SAMPLE)


def test_a_run_on_the_host_equals_the_run_in_this_process(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    outcome = jobs.run(CONFIG, store)
    expected = run_backtest(CONFIG)
    assert outcome.host_pid != os.getpid()
    pd.testing.assert_frame_equal(outcome.result.equity, expected.equity)
    pd.testing.assert_frame_equal(outcome.result.fills, expected.fills)
    assert outcome.result.metrics == expected.metrics
    assert outcome.run_id is not None and outcome.store_error == ""
    assert outcome.runs is not None and list(outcome.runs["id"]) == [outcome.run_id]
    with RunStore(store) as saved:
        np.testing.assert_array_equal(saved.load(outcome.run_id).equity["equity"],
                                      expected.equity["equity"])


def test_progress_reaches_the_caller_with_every_stage() -> None:
    events: list[tuple[str, int, int]] = []
    jobs.run(CONFIG, progress=lambda stage, done, total: events.append((stage, done, total)))
    stages = [stage for stage, _, _ in events]
    for stage in ("load", "indicators", "signals", "simulate", "metrics", "done"):
        assert stage in stages
    assert events[-1] == ("done", len(STAGES), len(STAGES))


def test_an_unsaved_run_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    outcome = jobs.run(CONFIG, folder)
    assert outcome.run_id is None and "is a folder" in outcome.store_error
    assert outcome.result.metrics == run_backtest(CONFIG).metrics


def test_engine_errors_arrive_as_themselves(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as caught:
        jobs.run(BacktestConfig(data_dir=tmp_path / "missing"))
    assert caught.value.file is None or "missing" in caught.value.file
    with pytest.raises(DataError, match=r"999999\.SH"):
        jobs.stock_detail(CONFIG, "999999.SH")


def _report_then_wait(_: object, ctx: jobs.TaskContext) -> None:
    """A job that reports once, then waits in a span that ``inject_fault`` holds up."""
    ctx.report("load", 0, 1, force=True)
    with ctx.span("waiting"):
        pass


def test_a_cancelled_job_raises_and_the_host_stays_usable() -> None:
    cancel = threading.Event()
    with inject_fault("hang", "waiting"), pytest.raises(Cancelled):
        jobs.submit("run", _report_then_wait, None, "a job",
                    progress=lambda *_: cancel.set(), cancel=cancel)
    assert jobs.run(CONFIG).result.metrics == run_backtest(CONFIG).metrics


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_host_fails_the_job_and_the_next_job_restarts_it() -> None:
    victim = jobs.host_pid("run")

    def kill(*_: object) -> None:
        os.kill(victim, signal.SIGKILL)

    with inject_fault("stall", "waiting"), pytest.raises(WorkerCrashError, match="died"):
        jobs.submit("run", _report_then_wait, None, "a job", progress=kill)
    assert jobs.host_pid("run") != victim
    assert jobs.run(CONFIG).result.metrics == run_backtest(CONFIG).metrics


def test_jobs_see_the_callers_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    cache = tmp_path / "another cache"
    monkeypatch.setenv("BACKTEST_CACHE_DIR", str(cache))
    jobs.scan_folder(SAMPLE, CONFIG.end, CONFIG.adjust)
    assert any(cache.iterdir())  # the host wrote its aligned cache entry there


def test_a_folder_scan_lists_the_usable_stocks() -> None:
    scan = jobs.scan_folder(SAMPLE, CONFIG.end, CONFIG.adjust)
    assert len(scan.codes) == 50 and scan.folder == SAMPLE
    assert list(scan.coverage["code"]) == list(scan.codes)
    assert scan.first_date <= scan.last_date and len(scan.excluded) == 0


def test_a_sweep_on_its_host_equals_the_sweep_here() -> None:
    grid = {"period": [10, 14], "oversold": [25, 30]}
    outcome = jobs.sweep(CONFIG, grid)
    pd.testing.assert_frame_equal(outcome.result.table, run_sweep(CONFIG, grid).table)
    assert [list(t) for t in outcome.text] == [list(t) for t in format_frame(outcome.result.table)]


def test_stored_runs_are_read_on_the_host(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    run_id = jobs.run(CONFIG, store).run_id
    assert run_id is not None
    results, names = jobs.load_runs(store, [run_id])
    assert names[run_id] and results[run_id].metrics == run_backtest(CONFIG).metrics


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="Unix priorities")
def test_hosts_compute_at_a_lower_priority_than_the_caller() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    host = os.getpriority(os.PRIO_PROCESS, jobs.host_pid("run"))
    assert host >= min(19, mine + WORKER_NICENESS) or host >= WORKER_NICENESS


def test_a_walk_forward_on_the_host_is_saved_like_a_run_with_its_folds(tmp_path: Path) -> None:
    from engine.studies.walkforward import FoldSpec, run_walk_forward

    store = tmp_path / "runs.sqlite"
    grid = {"period": [10, 14], "oversold": [25, 30]}
    spec = FoldSpec("12m", "6m")
    outcome = jobs.walk_forward(CONFIG, grid, spec, "sharpe", store)
    expected = run_walk_forward(CONFIG, grid, spec, "sharpe")
    pd.testing.assert_frame_equal(outcome.result.folds, expected.folds)
    assert outcome.run_id is not None and outcome.store_error == ""
    with RunStore(store) as saved:
        run = saved.load(outcome.run_id)
        np.testing.assert_array_equal(run.equity["equity"], expected.equity["equity"])
        assert run.metrics["pbo"] == expected.diagnostics["pbo"]
        assert run.metrics["wf_efficiency"] == expected.wf_efficiency
        pd.testing.assert_frame_equal(saved.attachments(outcome.run_id)["folds"],
                                      expected.folds, check_dtype=False)
    assert "walkforward" in str(outcome.runs["tags"].iloc[0])  # type: ignore[index]


# ------------------------------------------------------------------------ the run store
@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A run store with three runs of CONFIG (ids 1, 2, 3), the last with a fold table."""
    path = tmp_path / "runs.sqlite"
    result = run_backtest(CONFIG)
    with RunStore(path) as store:
        store.save(result, name="first")
        store.save(result, name="second", tags=["keep"])
        store.save(result, name="third", attachments={"folds": pd.DataFrame({"fold": [1, 2]})})
    return path


def test_the_run_store_is_listed_and_edited_on_the_host(saved: Path) -> None:
    listed = jobs.list_runs(saved)
    assert listed.ok and listed.opened and listed.runs is not None
    assert list(listed.runs["id"]) == [3, 2, 1]
    renamed = jobs.update_runs(saved, [2], name="renamed")
    assert renamed.ok and renamed.runs is not None
    assert renamed.runs.set_index("id").loc[2, "name"] == "renamed"
    tagged = jobs.update_runs(saved, (1, 2), tags=["a", "b"], notes="both")
    assert tagged.ok and tagged.runs is not None
    assert tagged.runs.set_index("id").loc[[1, 2], "tags"].tolist() == ["a,b", "a,b"]
    deleted = jobs.delete_runs(saved, [1, 3])
    assert deleted.ok and deleted.runs is not None and list(deleted.runs["id"]) == [2]
    with RunStore(saved) as store:
        assert store.run_info(2) | {"created": "", "fingerprint": ""} == {
            "id": 2, "name": "renamed", "notes": "both", "tags": ["a", "b"], "created": "",
            "fingerprint": ""}
        assert list(store.list_runs()["id"]) == [2]


def test_store_errors_come_back_as_one_line_with_the_fresh_list(saved: Path,
                                                                tmp_path: Path) -> None:
    empty = jobs.update_runs(saved, [1], name="   ")
    assert not empty.ok and empty.error == "a run's name cannot be empty"
    assert empty.runs is not None and list(empty.runs["id"]) == [3, 2, 1]
    partly = jobs.delete_runs(saved, [1, 99, 2])  # 1 goes, then 99 stops it
    assert not partly.ok and "99" in partly.error and "\n" not in partly.error
    assert partly.runs is not None and list(partly.runs["id"]) == [3, 2]
    folder = tmp_path / "a folder"
    folder.mkdir()
    unopened = jobs.list_runs(folder)
    assert not unopened.opened and unopened.runs is None and "is a folder" in unopened.error
    assert "Traceback" not in unopened.error and "\n" not in unopened.error


def test_exports_write_each_run_with_its_attachments_on_the_host(saved: Path,
                                                                 tmp_path: Path) -> None:
    one = jobs.export_runs(saved, [3], tmp_path / "one")
    assert one.ok and one.runs is None
    assert (tmp_path / "one" / "equity.csv").is_file()
    assert pd.read_csv(tmp_path / "one" / "folds.csv", encoding="utf-8-sig")["fold"].tolist() \
        == [1, 2]
    two = jobs.export_runs(saved, [1, 3], tmp_path / "two")
    assert two.ok
    for run_id in (1, 3):
        assert (tmp_path / "two" / f"run_{run_id}" / "trades.csv").is_file()
    assert (tmp_path / "two" / "run_3" / "folds.csv").is_file()
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    refused = jobs.export_runs(saved, [1], blocker / "out")
    assert not refused.ok and refused.os_error and "\n" not in refused.error
    missing = jobs.export_runs(saved, [42], tmp_path / "none")
    assert not missing.ok and not missing.os_error and "42" in missing.error
