"""Cases of bench_parallel.py for issue 13: per-stock sweep scaling on the local pool
(with where the time goes) and the same sweep on a Dask ``local:N`` cluster.

Per worker count it reports the median wall of ``repeats`` warm sweeps and, from the
workers' spans and CPU clocks: seconds before the first task starts, the idle tail
(last worker done minus first worker done), the parent's merge into the table, and the
CPU seconds per combination (compared across counts it shows how much slower each core
computes when all are busy: a shared or busy machine, memory bandwidth).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

START, END = "2023-02-04", "2026-02-04"
#: The 1,000-combination sweep (25 x 4 x 10).
GRID_1K = {"period": "6:30:1", "oversold": "20:35:5", "overbought": "62:80:2"}
#: 20,000 combinations (25 x 20 x 20 x 2).
GRID_20K = {"period": "6:30:1", "oversold": "20:39:1", "overbought": "61:80:1",
            "position_pct": "0.1,0.2"}


def grid_of(text: dict[str, str]) -> dict[str, list[float]]:
    """A grid from range texts."""
    from engine.studies.grid import parse_values

    return {name: parse_values(values) for name, values in text.items()}


def _cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU seconds of processes (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def _breakdown(result: Any, wall: float) -> dict[str, float]:
    spans = result.worker_spans
    out = {"merge_s": result.timings.get("merge", 0.0), "tasks": result.timings["tasks"],
           "pool_startup_s": result.timings.get("pool_startup", 0.0)}
    work = spans[spans["stage"] == "sweep"] if len(spans) else spans
    if len(work):
        ends = work.groupby("worker")["end"].max()
        out["first_task_start_s"] = float(work["start"].min())
        out["idle_tail_s"] = float(ends.max() - ends.min())
        out["worker_busy_s"] = float((work["end"] - work["start"]).sum())
    out["wall_s"] = wall
    return out


def _timed_sweeps(config: Any, grid: dict[str, list[float]], repeats: int, pids: Any,
                  cluster: str | None = None) -> dict[str, Any]:
    """Median of ``repeats`` sweeps after one warm-up sweep."""
    from engine.studies.sweep import run_sweep

    run_sweep(config, {"period": [10]}, cluster=cluster)  # warm pool / cluster, cached data
    samples, rows = [], []
    for _ in range(repeats):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        before = _cpu_seconds(pids())
        t0 = time.perf_counter()
        result = run_sweep(config, grid, cluster=cluster)
        wall = time.perf_counter() - t0
        after = _cpu_seconds(pids())
        row = {**_breakdown(result, wall), "load_1min_before": load}
        if before is not None and after is not None:
            row["cpu_s_per_combination"] = (after - before) / len(result.table)
        rows.append(row)
        samples.append(wall)
    n = len(result.table)
    median = statistics.median(samples)
    return {"combinations": n, "median_wall_s": median, "combinations_per_s": n / median,
            "runs": rows, "workers_used": int(result.timings["workers"])}


def per_stock_scaling(folder: Path, counts: list[int], repeats: int) -> list[dict[str, Any]]:
    """The 1,000-combination per-stock sweep on 1..N local workers (warm pool)."""
    from engine.config import BacktestConfig
    from engine.execution import parallel
    from engine.run.backtest import WORKER_SETUP

    cases = []
    for workers in counts:
        config = BacktestConfig(data_dir=folder, start=START, end=END, workers=workers,
                                capital_mode="per_stock")

        cold = {}
        if workers > 1:  # a one-shot sweep (the CLI's) pays the pool's start-up
            from engine.studies.sweep import run_sweep

            parallel.shutdown_pool()
            t0 = time.perf_counter()
            first = run_sweep(config, grid_of(GRID_1K))
            cold = {"cold_wall_s": time.perf_counter() - t0,
                    "cold_pool_startup_s": first.timings["pool_startup"]}

        def pids(workers: int = workers) -> list[int]:
            own = [os.getpid()]
            return own if workers == 1 else own + parallel.shared_pool(workers, WORKER_SETUP).pids()

        case = {"workers": workers, **cold,
                **_timed_sweeps(config, grid_of(GRID_1K), repeats, pids)}
        cases.append(case)
        print(f"per-stock sweep, {workers} local worker(s): median {case['median_wall_s']:.2f} s "
              f"({case['combinations_per_s']:.0f}/s)", flush=True)
    base = cases[0]["combinations_per_s"]
    for case in cases:
        case["speedup"] = case["combinations_per_s"] / base
        case["efficiency"] = case["speedup"] / case["workers"]
    parallel.shutdown_pool()
    return cases


def auto_choice(folder: Path) -> dict[str, Any]:
    """What ``workers="auto"`` picks for the per-stock sweep with no pool running."""
    from engine.config import BacktestConfig
    from engine.execution import parallel
    from engine.run.backtest import load
    from engine.studies.sweep import estimate_sweep_seconds

    parallel.shutdown_pool()
    config = BacktestConfig(data_dir=folder, start=START, end=END, capital_mode="per_stock")
    data = load(config)
    grid = grid_of(GRID_1K)
    estimate = estimate_sweep_seconds(data, len(grid["period"]), 1000, "per_stock")
    return {"estimated_serial_s": estimate, "cores": os.cpu_count(),
            "auto_workers_cold": parallel.choose_workers("auto", estimate, 1000)}


def cluster_cases(folder: Path, address: str, repeats: int,
                  local_2: dict[str, Any] | None) -> dict[str, Any]:
    """The per-stock sweep on ``address`` (vs the 2-worker local pool), then 20,000
    combinations with each worker's resident memory."""
    from engine.config import BacktestConfig
    from engine.execution import cluster
    from engine.studies.sweep import run_sweep

    t0 = time.perf_counter()
    executor = cluster.connect(address)
    out: dict[str, Any] = {"address": address, "start_s": time.perf_counter() - t0}
    config = BacktestConfig(data_dir=folder, start=START, end=END, capital_mode="per_stock")
    case = _timed_sweeps(config, grid_of(GRID_1K), repeats,
                         lambda: [os.getpid(), *executor.worker_pids().values()], address)
    out["per_stock_1k"] = case
    if local_2 is not None:
        out["vs_local_pool_2"] = case["combinations_per_s"] / local_2["combinations_per_s"]
    print(f"per-stock sweep on {address}: median {case['median_wall_s']:.2f} s "
          f"({case['combinations_per_s']:.0f}/s)", flush=True)
    big = BacktestConfig(data_dir=folder, start=START, end=END)
    t0 = time.perf_counter()
    result = run_sweep(big, grid_of(GRID_20K), cluster=address)
    wall = time.perf_counter() - t0
    memory = executor.memory()
    out["shared_20k"] = {"combinations": len(result.table), "wall_s": wall,
                         "combinations_per_s": len(result.table) / wall,
                         "tasks": result.timings["tasks"],
                         "worker_rss_mb": {k: v / 2**20 for k, v in memory.items()},
                         "max_worker_rss_mb": max(memory.values()) / 2**20}
    print(f"{len(result.table)} combinations (shared mode) on {address}: {wall:.1f} s "
          f"({len(result.table) / wall:.0f}/s), largest worker "
          f"{out['shared_20k']['max_worker_rss_mb']:.0f} MB", flush=True)
    cluster.shutdown_clusters()
    return out
