"""Sweep benchmark (issue 26): the 1,000-combination headline sweep as a fresh ``backtest
sweep`` process (``auto`` workers), and in this process 1,000 against 10,000 combinations
(a fourth axis, ``position_pct``) for the scaling.

Grid: RSI period 6..30 x oversold 20..35 step 5 x overbought 62..80 step 2 on the
500-stock demo universe, 2023-02-04 .. 2026-02-04. Target: <= 1.5 s fresh process; the
10,000-combination sweep about 10x the 1,000 one. ``--compare DIR`` runs the same fresh
process from another checkout (e.g. a worktree of the previous commit) alternately with
this one, so both are measured back to back on the same (noisy) machine.

Usage: python benchmarks/bench_sweep.py [--runs N] [--compare DIR] [--skip-scaling]
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
EXTRA_AXIS = ("position_pct", "0.05:0.5:0.05")


def fresh_sweep(folder: Path, tree: Path) -> float:
    """Wall seconds of one ``backtest sweep`` process run from the checkout ``tree``."""
    cmd = [sys.executable, "-m", "engine.cli.main", "sweep", "--data", str(folder),
           "--start", START, "--end", END, "--no-progress",
           *(f"--{k}={v}" for k, v in GRID_TEXT.items())]
    # Bytecode is written as on a user's machine (the untimed first run writes it), so a
    # shell that sets PYTHONDONTWRITEBYTECODE does not time compiling ~90 modules each run.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=tree, env=env)
    return time.perf_counter() - t0


def scaling(folder: Path, runs: int) -> dict[str, Any]:
    """In-process sweeps of 1,000 and 10,000 combinations (warm kernels and data)."""
    from engine.config import BacktestConfig
    from engine.studies.grid import parse_values
    from engine.studies.sweep import run_sweep

    base = BacktestConfig(data_dir=folder, start=START, end=END)
    grid = {name: parse_values(text) for name, text in GRID_TEXT.items()}
    big = {**grid, EXTRA_AXIS[0]: parse_values(EXTRA_AXIS[1])}
    run_sweep(base, {"period": [14]})  # kernels and the data cache
    out: dict[str, Any] = {}
    for label, g in (("1000", grid), ("10000", big)):
        samples, timings = [], {}
        for _ in range(runs):
            t0 = time.perf_counter()
            result = run_sweep(base, g)
            samples.append(time.perf_counter() - t0)
            timings = result.timings
        out[label] = {**summary(samples), "combinations": len(result.table),
                      "workers": int(timings.get("workers", 1)),
                      "diagnostics_s": timings["diagnostics"]}
    out["ratio"] = out["10000"]["median_s"] / out["1000"]["median_s"]
    return out


def main() -> int:
    """Measure, print and write ``benchmarks/results/sweep.json``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare", type=Path, default=None)
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    isolate_run_store()
    folder = ensure_demo()
    trees = {"this": ROOT, **({"compare": args.compare.resolve()} if args.compare else {})}
    for tree in trees.values():  # compile each checkout's kernels once, untimed
        fresh_sweep(folder, tree)
    samples: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            samples[name].append(fresh_sweep(folder, tree))
    result: dict[str, Any] = {
        "fresh_process": {name: {**summary(s), "tree": str(trees[name]), "samples_s": s}
                          for name, s in samples.items()}}
    for name, s in samples.items():
        stats = summary(s)
        print(f"fresh backtest sweep, 1,000 combinations ({name}): median "
              f"{stats['median_s']:.2f} s, max {stats['max_s']:.2f} s")
    if not args.skip_scaling:
        result["scaling"] = scaling(folder, max(1, args.runs // 2))
        s = result["scaling"]
        print(f"in process: 1,000 in {s['1000']['median_s']:.2f} s, 10,000 in "
              f"{s['10000']['median_s']:.2f} s (x{s['ratio']:.1f})")
    write_result("sweep", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
