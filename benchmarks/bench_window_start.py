"""Window start-up benchmark (issue 24, item 7): seconds from launching the workbench on
the demo universe until the user can work.

Each start is a new process (``gui.app``'s ``start_application`` and ``build_window``, as
``backtest-workbench --data data/demo`` runs them, offscreen), timed from its launch:
``shown`` (the window is on screen), ``stocks`` (the folder's stock list is filled),
``run`` (Run is enabled: stocks listed, nothing against it), ``engine`` (the run host
has loaded, or compiled, the kernels) and ``result`` (Run, clicked as soon as it was
enabled, has shown its result; a run clicked before the engine is ready waits for it).

A *first* start has everything empty: numba's kernel cache (``NUMBA_CACHE_DIR`` a new
folder, so every kernel compiles), the aligned data cache, the run store and the
window's settings. A *later* start follows it in the same folders, all warm. Each of
--runs rounds does one of each, in fresh folders. ``--checkout DIR`` measures another
checkout (an older commit in a git worktree) in the same sitting, alternating with this
one. Medians and maxima; targets: usable (Run enabled) within 15 s on a first start and
within 3 s on a later one, on a 2-core machine.
Usage: python benchmarks/bench_window_start.py [--runs N] [--checkout DIR] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ensure_demo, summary, write_result

ROOT = Path(__file__).resolve().parents[1]
MARKS = ("shown", "stocks", "run", "engine", "result")
TARGETS = {"first": 15.0, "later": 3.0}
#: The started window, watched from its own event loop; prints each mark's epoch time.
_CHILD = """
import json, sys, time
from pathlib import Path
from gui.app import build_window, start_application

app = start_application()
window = build_window(Path(sys.argv[1]))
window.show()
marks = {"shown": time.time()}
window.worker.host_started.connect(lambda _: marks.setdefault("engine", time.time()))
deadline = time.monotonic() + 300
while time.monotonic() < deadline and len(marks) < 5:
    app.processEvents()
    if "stocks" not in marks and window.panel.stocks.codes():
        marks["stocks"] = time.time()
    if ("run" not in marks and "stocks" in marks
            and window.run_box.run_button.isEnabled()):
        marks["run"] = time.time()
        window.run_box.run_button.click()
    if "result" not in marks and window.outcome is not None:
        marks["result"] = time.time()
    time.sleep(0.005)
print("MARKS:" + json.dumps(marks))
window.close()
"""


def start_once(checkout: Path, data: Path, home: Path, numba_cache: Path) -> dict[str, float]:
    """Seconds from launch to each of ``MARKS`` of one window start in ``home``'s folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKTEST_")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.fspath(checkout),
               NUMBA_CACHE_DIR=os.fspath(numba_cache),
               BACKTEST_CACHE_DIR=os.fspath(home / "cache"),
               BACKTEST_STORE=os.fspath(home / "store" / "runs.sqlite"),
               HOME=os.fspath(home / "home"), XDG_CONFIG_HOME=os.fspath(home / "config"),
               XDG_DATA_HOME=os.fspath(home / "share"),
               XDG_CACHE_HOME=os.fspath(home / "xdg-cache"))
    t0 = time.time()
    done = subprocess.run([sys.executable, "-c", _CHILD, os.fspath(data)], cwd=checkout,
                          env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=400)
    printed = [line for line in done.stdout.splitlines() if line.startswith("MARKS:")]
    if done.returncode != 0 or not printed:
        raise RuntimeError(f"the window did not start: {done.stderr[-2000:]}")
    marks = json.loads(printed[-1].removeprefix("MARKS:"))
    return {name: marks[name] - t0 for name in MARKS if name in marks}


def main() -> int:
    """Run the benchmark, print a table, write benchmarks/results/bench_window_start.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkout", type=Path, default=None,
                        help="another checkout to measure in the same sitting")
    parser.add_argument("--data", type=Path, default=None,
                        help="data folder to open (default: the 500-stock demo)")
    args = parser.parse_args()
    data = (args.data or ensure_demo()).resolve()
    checkouts = {"this": ROOT, **({"other": args.checkout.resolve()} if args.checkout else {})}
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        name: {start: {mark: [] for mark in MARKS} for start in TARGETS}
               for name in checkouts}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():  # alternating: the same noise for both
            with tempfile.TemporaryDirectory(prefix="bench-start-") as folder:
                home = Path(folder)
                for start in TARGETS:  # "first" in empty folders, then "later" in them
                    marks = start_once(checkout, data, home, home / "numba")
                    for mark, seconds in marks.items():
                        samples[name][start][mark].append(seconds)
    payload: dict[str, object] = {"data": str(data), "cpus": os.cpu_count(),
                                  "targets_run_s": TARGETS}
    for name, checkout in checkouts.items():
        figures = {start: {mark: summary(values) for mark, values in marks.items() if values}
                   for start, marks in samples[name].items()}
        for start, found in figures.items():
            line = ", ".join(f"{mark} {found[mark]['median_s']:.1f} s (max "
                             f"{found[mark]['max_s']:.1f})" for mark in MARKS if mark in found)
            print(f"{name:5} {start:5} start: {line}; target: Run within {TARGETS[start]:.0f} s")
        payload[name] = {"checkout": str(checkout), **figures}
    print(f"wrote {write_result('bench_window_start', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
