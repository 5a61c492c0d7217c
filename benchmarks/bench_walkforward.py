"""Walk-forward benchmark (issue 14): 8 rolling folds x 1,000 combinations on the 500-stock
demo universe against a plain 8,000-combination sweep, and the PBO of 1,000 combinations.

Targets: the walk-forward within 1.3x the plain sweep's time; PBO with 16 blocks (12,870
splits) over 1,000 combinations <= 2 s.
Usage: python benchmarks/bench_walkforward.py [--runs N] [--workers N|auto]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ensure_demo, summary, timed, write_result

#: The 1,000-combination grid of bench_parallel.py, and an 8x larger one for the baseline.
GRID = {"period": "6:30:1", "oversold": "20:35:5", "overbought": "62:80:2"}
BIG_EXTRA = ("position_pct", "0.05:0.4:0.05")


def main() -> int:
    """Measure, print and write ``benchmarks/results/walkforward.json``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", default="auto")
    args = parser.parse_args()
    from engine.config import BacktestConfig
    from engine.studies.grid import parse_values
    from engine.studies.overfit import probability_of_overfitting
    from engine.studies.sweep import run_sweep
    from engine.studies.walkforward import FoldSpec, run_walk_forward

    workers: int | str = args.workers if args.workers == "auto" else int(args.workers)
    folder = ensure_demo()
    base = BacktestConfig(data_dir=folder, start="2023-02-04", end="2026-02-04",
                          workers=workers)
    grid = {name: parse_values(text) for name, text in GRID.items()}
    big = {**grid, BIG_EXTRA[0]: parse_values(BIG_EXTRA[1])}
    n_big = math.prod(len(v) for v in big.values())
    run_sweep(base, {"period": [14]})  # warm kernels, cache and pool
    spec = FoldSpec("12m", "3m")
    folds: list[int] = []

    def walk() -> None:
        folds.append(len(run_walk_forward(base, grid, spec).folds))

    walk_s = timed(walk, args.runs)
    sweep_s = timed(lambda: run_sweep(base, big), args.runs)
    returns = run_sweep(base, grid).returns
    t0 = time.perf_counter()
    pbo_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        probability_of_overfitting(returns, 16)
        pbo_s.append(time.perf_counter() - t0)
    n_combos = math.prod(len(v) for v in grid.values())
    result = {
        "walk_forward": {**summary(walk_s), "folds": folds[0], "combinations": n_combos,
                         "combos_per_s": folds[0] * n_combos / summary(walk_s)["median_s"]},
        "plain_sweep": {**summary(sweep_s), "combinations": n_big,
                        "combos_per_s": n_big / summary(sweep_s)["median_s"]},
        "ratio": summary(walk_s)["median_s"] / summary(sweep_s)["median_s"],
        "pbo_1000": {**summary(pbo_s), "splits": math.comb(16, 8),
                     "shape": list(returns.shape)},
    }
    print(f"walk-forward {folds[0]} folds x {n_combos}: {result['walk_forward']['median_s']:.2f} s"
          f"; plain {n_big}-combination sweep: {result['plain_sweep']['median_s']:.2f} s; "
          f"ratio {result['ratio']:.2f}; PBO of {returns.shape[1]} combinations: "
          f"{result['pbo_1000']['median_s']:.2f} s")
    write_result("walkforward", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
