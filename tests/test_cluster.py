"""Sweeps on a real Dask ``LocalCluster`` of 2 worker processes on loopback: the same
table as the local pool, a worker killed mid-sweep, cancel, and a cluster that goes away.

Timeouts here only catch hangs; no test asserts how fast anything is.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from distributed import LocalCluster

from engine.cli.main import main
from engine.config import BacktestConfig
from engine.errors import Cancelled, ClusterError
from engine.execution import cluster, executor
from engine.studies import sweep as sweep_module
from engine.studies.sweep import run_sweep
from engine.util.oscompat import tune_allocator
from tests.conftest import SAMPLE, needs_sigkill

ADDRESS = "local:2"
GRID = {"period": [8, 12, 16, 20], "oversold": [25, 30], "overbought": [65, 70, 75]}
#: Long enough on the 50-stock sample that a cancel or a kill finds it running.
LONG_GRID = {"period": range(6, 31), "oversold": range(20, 40, 2), "overbought": range(60, 80)}
HANG = 120.0
#: Most bytes a task may carry: its combinations and the benchmark curve (~7 KB on the
#: sample), never the market arrays (~2.4 MB).
TASK_BYTES = 16_000


def _config(**changes: object) -> BacktestConfig:
    return BacktestConfig(**{"data_dir": SAMPLE, "workers": 1, **changes})


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[cluster.DaskExecutor]:
    """The ``local:2`` cluster every test here shares, closed afterwards."""
    yield cluster.connect(ADDRESS)
    cluster.shutdown_clusters()


@pytest.fixture
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small tasks (a few combinations each) instead of ~0.5 s ones."""
    monkeypatch.setattr(executor, "TARGET_TASK_SECONDS", 0.001)


def _scheduler_tasks(ex: cluster.DaskExecutor) -> int:
    return int(ex.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + HANG
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"{what} did not happen within {HANG:.0f} s: hung")
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["shared", "per_stock"])
@pytest.mark.parametrize("tasks", ["default", "small"])
def test_cluster_table_is_the_local_pools_exactly(dask_cluster: cluster.DaskExecutor,
                                                  mode: str, tasks: str,
                                                  request: pytest.FixtureRequest) -> None:
    if tasks == "small":
        request.getfixturevalue("small_tasks")
    base = _config(capital_mode=mode)
    local = run_sweep(base.replace(workers=2), GRID)
    events: list[tuple[Any, ...]] = []
    remote = run_sweep(base, GRID, cluster=ADDRESS, progress=lambda *e: events.append(e))
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    assert remote.executor == f"the Dask cluster at {ADDRESS}"
    assert remote.timings["workers"] == 2
    if tasks == "small":
        assert remote.timings["tasks"] >= 6
        assert set(remote.worker_spans["worker"]) <= {0, 1, 2}
    # Tasks carry parameters (and the benchmark curve) only: the data went once, by path.
    assert remote.timings["bytes_to_workers"] < TASK_BYTES * remote.timings["tasks"]
    sweep = [e for e in events if e[0] == "sweep"]
    assert sweep[-1][1:3] == (len(remote.table), len(remote.table))
    assert [e[1] for e in sweep] == sorted(e[1] for e in sweep)
    assert events[-1][0] == "done"


def _prepared() -> tuple[int, bool]:
    from engine.run.backtest import warm_up

    return warm_up.cache_info().currsize, tune_allocator()


def test_every_dask_worker_is_prepared_once_by_the_engine_plugin(
        dask_cluster: cluster.DaskExecutor) -> None:
    # The plugin ran start_worker: kernels loaded once (warm_up is cached per process),
    # and the allocator tuned (Dask's MALLOC_TRIM_THRESHOLD_=65536 made every
    # per-combination array a fresh mmap: per-stock sweeps took ~45% more CPU).
    prepared = dask_cluster.client.run(_prepared)
    assert len(prepared) == 2
    assert set(prepared.values()) <= {(1, True), (1, False)}  # False: not glibc


@pytest.mark.parametrize("where", [None, "missing"])
def test_data_the_workers_cannot_map_is_scattered_once(
        dask_cluster: cluster.DaskExecutor, small_tasks: None, where: str | None,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local = run_sweep(_config(), GRID)
    path = None if where is None else tmp_path / where  # no cache entry / not readable
    real_load = sweep_module.load
    monkeypatch.setattr(sweep_module, "load", lambda *args: dataclasses.replace(
        real_load(*args), cache_path=path))
    remote = run_sweep(_config(), GRID, cluster=ADDRESS)
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    assert remote.timings["bytes_to_workers"] < TASK_BYTES * remote.timings["tasks"]


@needs_sigkill
def test_a_killed_worker_is_replaced_and_the_table_is_unchanged(
        dask_cluster: cluster.DaskExecutor, small_tasks: None) -> None:
    base = _config(capital_mode="per_stock")
    grid = {"period": range(6, 20), "oversold": [25, 30], "overbought": [65, 70, 75]}
    local = run_sweep(base, grid)
    killed: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "sweep" and not killed:
            busy = [w for w, keys in dask_cluster.client.processing().items() if keys]
            pids = dask_cluster.worker_pids()
            victim = pids[busy[0]] if busy else next(iter(pids.values()))
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    remote = run_sweep(base, grid, cluster=ADDRESS, progress=progress)
    assert killed
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)
    _wait_for(lambda: len(dask_cluster.worker_pids()) == 2, "the worker's restart")
    assert killed[0] not in dask_cluster.worker_pids().values()


def test_cancel_releases_the_clusters_work(dask_cluster: cluster.DaskExecutor) -> None:
    cancel = threading.Event()
    set_at: list[float] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "sweep" and not cancel.is_set():
            set_at.append(time.monotonic())
            cancel.set()

    with pytest.raises(Cancelled):
        run_sweep(_config(), LONG_GRID, progress=progress, cancel=cancel, cluster=ADDRESS)
    assert set_at
    _wait_for(lambda: _scheduler_tasks(dask_cluster) == 0, "releasing the cancelled tasks")
    assert len(run_sweep(_config(), {"period": [10, 12]}, cluster=ADDRESS).table) == 2


# The engine's own local:2 cluster of an earlier test may hold the HTTP port a second
# scheduler tries first; distributed then takes another port and says so.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_a_cluster_that_goes_away_names_its_address() -> None:
    doomed = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None)
    address = doomed.scheduler_address
    closer: list[threading.Thread] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "sweep" and not closer:
            closer.append(threading.Thread(target=doomed.close))
            closer[0].start()

    try:
        with pytest.raises(ClusterError, match=f"lost the connection to the Dask cluster at "
                                               f"{address}"):
            run_sweep(_config(), LONG_GRID, progress=progress, cluster=address)
    finally:
        for thread in closer:
            thread.join(HANG)
        doomed.close()
        cluster.shutdown_clusters()  # the client of the lost cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    code = main(["sweep", "--data", str(SAMPLE), "--period", "10,12", "--no-progress",
                 "--cluster", address])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: cannot reach the Dask scheduler at {address}")
    assert "dask scheduler" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("local:3", "local:3"), ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
    ("  sched.lan:8786 ", "tcp://sched.lan:8786"), ("tls://h:8786", "tls://h:8786"),
])
def test_addresses(text: str, expected: str) -> None:
    assert cluster.parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "local:0", "local:x", "http://h:80/x y", "nohost"])
def test_bad_addresses_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ClusterError, match=r"local:N|at least one worker"):
        cluster.parse_address(text)


def test_cli_sweep_on_the_cluster(dask_cluster: cluster.DaskExecutor,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", "--data", str(SAMPLE), "--period", "10,12", "--oversold", "25,30",
                 "--no-progress", "--cluster", ADDRESS])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].endswith(f"2 workers on the Dask cluster at {ADDRESS}); "
                                        "0 skipped")


def test_a_walk_forward_on_the_cluster_equals_the_local_one(
        dask_cluster: cluster.DaskExecutor) -> None:
    from engine.studies.walkforward import FoldSpec, run_walk_forward

    grid = {"period": [10, 14], "oversold": [25, 30]}
    spec = FoldSpec("12m", "6m")
    local = run_walk_forward(_config(), grid, spec, "sharpe")
    remote = run_walk_forward(_config(), grid, spec, "sharpe", cluster=ADDRESS)
    pd.testing.assert_frame_equal(local.folds, remote.folds, check_exact=True)
    assert np.array_equal(local.equity["equity"].to_numpy(), remote.equity["equity"].to_numpy())
    assert local.diagnostics == remote.diagnostics
