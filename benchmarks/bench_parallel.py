"""Multiprocess benchmark (issue 4): the 1,000-combination sweep and the headline run with
1..N workers, cold and warm pool.

Sweep: RSI period 6..30 x oversold 20..35 step 5 x overbought 62..80 step 2 on the
500-stock demo universe, 2023-02-04 .. 2026-02-04. Target: <= 10 s wall on 2 cores.
For each worker count: a cold run (fresh pool: spawn, import, kernel load) and a
second run on the warm pool, whose start-up overhead should be ~0. Workers 1 means in
this process (no pool). Also: the headline run in-process vs on the warm pool, what
``workers="auto"`` picks, and a fresh ``backtest sweep`` process.

Usage: python benchmarks/bench_parallel.py [--workers 1,2,4,8,16] [--runs N] [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, ensure_demo, isolate_run_store, summary, write_result

START, END = "2023-02-04", "2026-02-04"
GRID_TEXT = {"period": "6:30:1", "oversold": "20:35:5", "overbought": "62:80:2"}


def _grid() -> dict[str, list[float]]:
    from engine.sweep import parse_values

    return {name: parse_values(text) for name, text in GRID_TEXT.items()}


def sweep_case(folder: Path, workers: int | str) -> dict[str, Any]:
    """A cold sweep with ``workers`` (no pool running), then a second one on the warm pool.

    ``workers="auto"`` runs in-process while no pool is warm (a cold pool does not repay
    its start-up for this job on few cores), so its second run first warms the pool
    with one worker per core, as the GUI's pool would be.
    """
    from engine import parallel
    from engine.config import BacktestConfig
    from engine.sweep import run_sweep

    parallel.shutdown_pool()
    config = BacktestConfig(data_dir=folder, start=START, end=END, workers=workers)
    out: dict[str, Any] = {"workers": workers}
    for label in ("cold", "warm"):
        if label == "warm" and workers == "auto":
            parallel.prestart_pool()
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
                      "rsi_computations": int(result.timings["rsi_computations"])}
    return out


def headline_case(folder: Path, workers: int | str, mode: str, runs: int) -> dict[str, Any]:
    """Median wall of the headline run (warm kernels, warm pool, cached data)."""
    from engine.backtest import run_backtest
    from engine.config import BacktestConfig

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


def cli_sweep(folder: Path) -> dict[str, Any]:
    """Wall of a whole ``backtest sweep`` process (workers auto, fresh pool)."""
    cli = Path(sys.executable).with_name("backtest")
    cmd = [str(cli), "sweep", "--data", str(folder), "--start", START, "--end", END,
           "--no-progress", *(f"--{k}={v}" for k, v in GRID_TEXT.items())]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return {"wall_s": time.perf_counter() - t0, "first_line": done.stdout.splitlines()[0]}


def main() -> int:
    """Run the cases, print a summary, write benchmarks/results/bench_parallel.json."""
    isolate_run_store()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2,4,8,16")
    parser.add_argument("--runs", type=int, default=7, help="headline runs per case")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    folder = ensure_demo()
    from engine import parallel
    from engine.backtest import warm_up

    warm_up()
    result: dict[str, Any] = {"cores": os.cpu_count(), "grid": GRID_TEXT, "sweep": [],
                              "headline": []}
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
    result["targets"] = {"sweep_wall_s": 10.0, "best_cold_sweep_wall_s": best}
    print(f"wrote {write_result('bench_parallel', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
