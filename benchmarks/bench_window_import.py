"""Window import benchmark (issue 22): seconds a fresh process takes to import the main
window, and which heavy modules that import loads (the window's process should load no
numba, no kernel, no sqlite3 and no compute pool).

Each run is a new interpreter (``python -c "import gui.main_window"``), so nothing is
warm but the OS's file cache. ``--checkout DIR`` measures another checkout of the
workbench (an older commit in a git worktree) in the same sitting, alternating with this
one, for a before/after comparison. Medians and maxima of --runs.
Usage: python benchmarks/bench_window_import.py [--runs N] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import summary, write_result

ROOT = Path(__file__).resolve().parents[1]
#: Module name prefixes the window's process should never load.
HEAVY = ("numba", "llvmlite", "sqlite3", "_sqlite3", "engine.execution.parallel",
         "engine.run.", "engine.kernels.indicators_nb", "engine.kernels.signals_nb",
         "engine.kernels.simulate_nb", "engine.kernels.valuation_nb", "engine.backtest",
         "engine.parallel", "engine.indicators_nb")
_PROBE = ("import json, sys, time; t0 = time.perf_counter(); import gui.main_window; "
          "t = time.perf_counter() - t0; heavy = sorted({m.split('.')[0] if m.startswith("
          "('numba', 'llvmlite')) else m for m in sys.modules if m.startswith(%r)}); "
          "print(json.dumps({'seconds': t, 'heavy': heavy}))")


def import_once(checkout: Path) -> tuple[float, float, list[str]]:
    """(process wall seconds, seconds of the import itself, heavy modules loaded)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(checkout)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PROBE % (HEAVY,)], cwd=checkout, env=env,
                         capture_output=True, text=True, encoding="utf-8", check=True)
    wall = time.perf_counter() - t0
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, float(probe["seconds"]), list(probe["heavy"])


def main() -> int:
    """Run the benchmark, print a table, write benchmarks/results/bench_window_import.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checkout", type=Path, default=None,
                        help="another checkout to measure in the same sitting")
    args = parser.parse_args()
    checkouts = {"this": ROOT, **({"other": args.checkout.resolve()} if args.checkout else {})}
    samples: dict[str, dict[str, list[float]]] = {k: {"wall": [], "import": []}
                                                  for k in checkouts}
    heavy: dict[str, list[str]] = {}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():  # alternating: the same noise for both
            wall, seconds, loaded = import_once(checkout)
            samples[name]["wall"].append(wall)
            samples[name]["import"].append(seconds)
            heavy[name] = loaded
    payload = {}
    for name, checkout in checkouts.items():
        wall, imp = summary(samples[name]["wall"]), summary(samples[name]["import"])
        print(f"{name:5} {checkout}: import gui.main_window median {imp['median_s']:.2f} s "
              f"(max {imp['max_s']:.2f}), process {wall['median_s']:.2f} s; heavy modules: "
              f"{', '.join(heavy[name]) or 'none'}")
        payload[name] = {"checkout": str(checkout), "import": imp, "process": wall,
                         "heavy_modules": heavy[name]}
    print(f"wrote {write_result('bench_window_import', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
