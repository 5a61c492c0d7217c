"""Multiprocess benchmark (issue 4): the 1,000-combination sweep and the headline run with
1..N workers, cold and warm pool.

Sweep: RSI period 6..30 x oversold 20..35 step 5 x overbought 62..80 step 2 on the
500-stock demo universe, 2023-02-04 .. 2026-02-04. Target: <= 10 s wall on 2 cores.
For each worker count: a cold run (fresh pool: spawn, import, kernel load) and a
second run on the warm pool, whose start-up overhead should be ~0. Workers 1 means in
this process (no pool). Also: the headline run in-process vs on the warm pool, what
``workers="auto"`` picks, and a fresh ``backtest sweep`` process.

Responsiveness (what tests/test_parallel.py checks by behaviour, measured here): cancel
latency, the seconds from ``cancel.set()`` (in another thread, as the GUI does) to
``Cancelled`` raised, for the sweep and the headline run in-process and on 2 warm workers
and for a run whose workers ignore the cancel (killed after ``CANCEL_GRACE``); and the
longest gap between two progress events of the sweep. Target: cancel <= 1 s, gap <= 0.3 s.

Issue 13 (``benchmarks/cluster_cases.py``): the 1,000-combination per-stock sweep on
1..N local workers with where the time goes, what ``auto`` picks for it, the same sweep
on ``--cluster local:2`` (target >= 80% of the local pool's throughput) and 20,000
combinations on it with each worker's memory (target <= 1 GB).

Usage: python benchmarks/bench_parallel.py [--workers 1,2,4,8,16] [--runs N] [--tries N]
       [--repeats N] [--cluster local:2] [--skip-cli] [--responsiveness-only]
       [--scaling-only]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, ensure_demo, isolate_run_store, summary, write_result

START, END = "2023-02-04", "2026-02-04"
GRID_TEXT = {"period": "6:30:1", "oversold": "20:35:5", "overbought": "62:80:2"}


def _grid() -> dict[str, list[float]]:
    from engine.studies.grid import parse_values

    return {name: parse_values(text) for name, text in GRID_TEXT.items()}


def sweep_case(folder: Path, workers: int | str) -> dict[str, Any]:
    """A cold sweep with ``workers`` (no pool running), then a second one on the warm pool.

    ``workers="auto"`` runs in-process while no pool is warm (a cold pool does not repay
    its start-up for this job on few cores), so its second run first warms the pool
    with one worker per core, as the GUI's pool would be.
    """
    from engine.config import BacktestConfig
    from engine.execution import parallel
    from engine.run.backtest import WORKER_SETUP
    from engine.studies.sweep import run_sweep

    parallel.shutdown_pool()
    config = BacktestConfig(data_dir=folder, start=START, end=END, workers=workers)
    out: dict[str, Any] = {"workers": workers}
    for label in ("cold", "warm"):
        if label == "warm" and workers == "auto":
            parallel.prestart_pool(setup=WORKER_SETUP)
            while not parallel.pool_is_warm(os.cpu_count() or 1):
                time.sleep(0.05)
        t0 = time.perf_counter()
        result = run_sweep(config, _grid())
        wall = time.perf_counter() - t0
        out[label] = {"wall_s": wall, "combinations": len(result.table),
                      "combinations_per_s": len(result.table) / wall,
                      "pool_startup_s": result.timings["pool_startup"],
                      "workers_used": int(result.timings["workers"]),
                      "bytes_to_workers": int(result.timings["bytes_to_workers"]),
                      "indicator_computations": int(result.timings["indicator_computations"])}
    return out


def headline_case(folder: Path, workers: int | str, mode: str, runs: int) -> dict[str, Any]:
    """Median wall of the headline run (warm kernels, warm pool, cached data)."""
    from engine.config import BacktestConfig
    from engine.run.backtest import run_backtest

    config = BacktestConfig(data_dir=folder, start=START, end=END, capital_mode=mode,
                            workers=workers)
    run_backtest(config)  # warms the pool and the data cache
    samples, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = run_backtest(config)
        samples.append(time.perf_counter() - t0)
    assert result is not None
    return {"workers": workers, "mode": mode, **summary(samples),
            "workers_used": int(result.timings.get("workers", 1)),
            "pool_startup_s": result.timings.get("pool_startup", 0.0),
            "bytes_to_workers": int(result.timings.get("bytes_to_workers", 0))}


def _cancelled_after(job: Any, first: Any, delay: float) -> float | None:
    """Seconds from ``cancel.set()`` to ``Cancelled`` raised by ``job(progress, cancel)``.

    The cancel is set by a timer thread ``delay`` seconds after the first progress event
    for which ``first(stage, worker)`` is true; None when the job finished first.
    """
    from engine.errors import Cancelled

    cancel = threading.Event()
    set_at: list[float] = []
    timers: list[threading.Timer] = []

    def fire() -> None:
        set_at.append(time.perf_counter())
        cancel.set()

    def progress(stage: str, done: int, total: int, worker: int | None) -> None:
        if not timers and first(stage, worker):
            timers.append(threading.Timer(delay, fire))
            timers[0].start()

    try:
        job(progress, cancel)
    except Cancelled:
        return time.perf_counter() - set_at[0]
    finally:
        for timer in timers:
            timer.cancel()
    return None


def _nth(stage: str, n: int) -> Any:
    """A ``first`` for ``_cancelled_after``: true from the ``n``-th ``stage`` event on."""
    seen = [0]

    def first(event_stage: str, worker: int | None) -> bool:
        seen[0] += event_stage == stage
        return seen[0] >= n

    return first


def _latency(samples: list[float | None]) -> dict[str, Any]:
    done = [s for s in samples if s is not None]
    return {**(summary(done) if done else {"runs": 0}), "samples_s": done,
            "finished_before_cancel": len(samples) - len(done)}


def cancel_cases(folder: Path, tries: int) -> list[dict[str, Any]]:
    """Cancel latency (median and max of ``tries``) of the sweep and the headline run."""
    from engine.config import BacktestConfig
    from engine.execution import parallel
    from engine.execution.pool import CANCEL_GRACE
    from engine.run.backtest import WORKER_SETUP, run_backtest
    from engine.studies.sweep import run_sweep
    from tests.faults import inject_fault

    grid = _grid()
    cases = []
    for workers in (1, 2):
        config = BacktestConfig(data_dir=folder, start=START, end=END, workers=workers)
        run_backtest(config)  # warm pool, cached data

        def sweep(progress: Any, cancel: Any, config: BacktestConfig = config) -> None:
            run_sweep(config, grid, progress=progress, cancel=cancel)

        def run(progress: Any, cancel: Any, config: BacktestConfig = config) -> None:
            run_backtest(config, progress=progress, cancel=cancel)

        # A sweep: cancelled 0.2 s into its combinations. A run is over in ~0.1 s: it is
        # cancelled at once when the first piece of its RSI work is reported (the event
        # after the stage's start marker), so the cancel finds the work under way.
        samples = [_cancelled_after(sweep, _nth("sweep", 1), 0.2) for _ in range(tries)]
        cases.append({"job": "sweep", "workers": workers, **_latency(samples)})
        samples = [_cancelled_after(run, _nth("indicators", 2), 0.0) for _ in range(tries)]
        cases.append({"job": "run", "workers": workers, **_latency(samples)})
    # Workers that ignore the cancel (stalled at the start of their indicators): cancelled
    # 0.3 s after the run's indicators began, they are killed once the grace runs out.
    config = BacktestConfig(data_dir=folder, start=START, end=END, workers=2)

    def stalled(progress: Any, cancel: Any) -> None:
        with inject_fault("stall", "indicators"):
            run_backtest(config, progress=progress, cancel=cancel)

    samples, killed = [], 0
    for _ in range(max(1, tries // 2)):
        run_backtest(config)  # respawns the workers killed last time
        before = set(parallel.shared_pool(2, WORKER_SETUP).pids()[:2])
        samples.append(_cancelled_after(stalled, _nth("indicators", 1), 0.3))
        killed += len(before - set(parallel.shared_pool(2, WORKER_SETUP).pids()))
    cases.append({"job": "run, workers ignore the cancel", "workers": 2,
                  "cancel_grace_s": CANCEL_GRACE, "workers_killed": killed,
                  **_latency(samples)})
    parallel.shutdown_pool()
    return cases


def progress_gaps(folder: Path, workers: int) -> dict[str, Any]:
    """Gaps between the sweep's progress events (warm pool, cached data)."""
    from engine.config import BacktestConfig
    from engine.run.backtest import run_backtest
    from engine.studies.sweep import run_sweep

    config = BacktestConfig(data_dir=folder, start=START, end=END, workers=workers)
    run_backtest(config)  # warm pool, cached data
    ticks: list[float] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "sweep":
            ticks.append(time.perf_counter())

    result = run_sweep(config, _grid(), progress=progress)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return {"workers": workers, "combinations": len(result.table), "events": len(ticks),
            "sweep_s": ticks[-1] - ticks[0], "max_gap_s": max(gaps),
            "median_gap_s": statistics.median(gaps)}


def responsiveness(folder: Path, tries: int) -> dict[str, Any]:
    """Cancel latency and progress gaps, printed and returned."""
    out: dict[str, Any] = {"cancel": cancel_cases(folder, tries),
                           "progress_gaps": [progress_gaps(folder, w) for w in (1, 2)]}
    for case in out["cancel"]:
        if case["runs"]:
            print(f"cancel {case['job']}, workers={case['workers']}: median "
                  f"{case['median_s'] * 1000:.0f} ms, max {case['max_s'] * 1000:.0f} ms "
                  f"({case['runs']} tries; {case['finished_before_cancel']} finished first)")
        else:
            print(f"cancel {case['job']}, workers={case['workers']}: every try finished first")
    for case in out["progress_gaps"]:
        print(f"sweep progress, workers={case['workers']}: {case['events']} events in "
              f"{case['sweep_s']:.2f} s, longest gap {case['max_gap_s'] * 1000:.0f} ms, "
              f"median {case['median_gap_s'] * 1000:.0f} ms")
    return out


def cli_sweep(folder: Path) -> dict[str, Any]:
    """Wall of a whole ``backtest sweep`` process (workers auto, fresh pool)."""
    cli = Path(sys.executable).with_name("backtest")
    cmd = [str(cli), "sweep", "--data", str(folder), "--start", START, "--end", END,
           "--no-progress", *(f"--{k}={v}" for k, v in GRID_TEXT.items())]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, encoding="utf-8",
                          errors="replace")
    return {"wall_s": time.perf_counter() - t0, "first_line": done.stdout.splitlines()[0]}


def scaling(folder: Path, counts: list[int], repeats: int, address: str) -> dict[str, Any]:
    """Issue 13's cases (see ``benchmarks/cluster_cases.py``)."""
    from benchmarks import cluster_cases as cases

    out: dict[str, Any] = {"auto_per_stock": cases.auto_choice(folder)}
    out["per_stock_scaling"] = cases.per_stock_scaling(folder, counts, repeats)
    if address != "none":
        two = next((c for c in out["per_stock_scaling"] if c["workers"] == 2), None)
        out["cluster"] = cases.cluster_cases(folder, address, repeats, two)
    return out


def main() -> int:
    """Run the cases, print a summary, write benchmarks/results/bench_parallel.json."""
    isolate_run_store()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2,4,8,16")
    parser.add_argument("--runs", type=int, default=7, help="headline runs per case")
    parser.add_argument("--tries", type=int, default=5, help="cancels timed per case")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--responsiveness-only", action="store_true",
                        help="only cancel latency and progress gaps")
    parser.add_argument("--repeats", type=int, default=3,
                        help="per-stock sweeps timed per worker count / on the cluster")
    parser.add_argument("--cluster", default="local:2",
                        help="Dask cluster for the cluster cases ('none' skips them)")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only the per-stock scaling, auto and cluster cases")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    folder = ensure_demo()
    from engine.execution import parallel
    from engine.run.backtest import warm_up

    warm_up()
    result: dict[str, Any] = {"cores": os.cpu_count(), "grid": GRID_TEXT}
    result.update(scaling(folder, counts, args.repeats, args.cluster))
    if args.scaling_only:
        print(f"wrote {write_result('bench_parallel_scaling', result)}")
        return 0
    result["responsiveness"] = responsiveness(folder, args.tries)
    worst_cancel = max((c["max_s"] for c in result["responsiveness"]["cancel"] if c["runs"]),
                       default=None)
    worst_gap = max(c["max_gap_s"] for c in result["responsiveness"]["progress_gaps"])
    targets = {"cancel_latency_s": 1.0, "worst_cancel_latency_s": worst_cancel,
               "progress_gap_s": 0.3, "worst_progress_gap_s": worst_gap}
    if args.responsiveness_only:
        result["targets"] = targets
        print(f"wrote {write_result('bench_parallel', result)}")
        return 0
    result.update(sweep=[], headline=[])
    for workers in [*counts, "auto"]:
        case = sweep_case(folder, workers)
        result["sweep"].append(case)
        cold, warm = case["cold"], case["warm"]
        print(f"sweep {cold['combinations']} combinations, workers={workers} "
              f"(used {warm['workers_used']}): cold {cold['wall_s']:.2f} s "
              f"({cold['combinations_per_s']:.0f}/s, start-up {cold['pool_startup_s']:.2f} s); "
              f"warm {warm['wall_s']:.2f} s ({warm['combinations_per_s']:.0f}/s, start-up "
              f"{warm['pool_startup_s']:.3f} s); {warm['bytes_to_workers']:,} bytes to workers")
    for mode in ("shared", "per_stock"):
        for workers in [*sorted({*counts, 2}), "auto"]:
            case = headline_case(folder, workers, mode, args.runs)
            result["headline"].append(case)
            print(f"headline {mode}, workers={workers} (used {case['workers_used']}): "
                  f"median {case['median_s'] * 1000:.1f} ms")
    parallel.shutdown_pool()
    if not args.skip_cli:
        result["cli_sweep"] = cli_sweep(folder)
        print(f"fresh `backtest sweep` process: {result['cli_sweep']['wall_s']:.2f} s "
              f"({result['cli_sweep']['first_line']})")
    best = min(c["cold"]["wall_s"] for c in result["sweep"])
    result["targets"] = {"sweep_wall_s": 10.0, "best_cold_sweep_wall_s": best, **targets}
    print(f"wrote {write_result('bench_parallel', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
