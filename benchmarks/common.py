"""Shared helpers of the benchmark scripts: the demo universe, timing, JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
RESULTS = ROOT / "benchmarks" / "results"
DEMO_STOCKS, DEMO_START, DEMO_END, DEMO_SEED = 500, "2022-08-01", "2026-02-04", 7


def isolate_run_store() -> None:
    """Send the runs that benchmarked CLI processes save to a throwaway store, never to
    the user's run history (child processes inherit the environment)."""
    if "BACKTEST_STORE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="bench-store-")
        os.environ["BACKTEST_STORE"] = str(Path(folder) / "runs.sqlite")


def ensure_demo(folder: Path = DEMO) -> Path:
    """The 500-stock demo universe (generated as the README's quick start does, if missing)."""
    return ensure_universe(folder, DEMO_STOCKS, DEMO_START, DEMO_END, DEMO_SEED)


def ensure_universe(folder: Path, stocks: int, start: str, end: str, seed: int,
                    layout: str = "per-stock") -> Path:
    """A generated universe (``engine.datagen.universe``), written afresh when it is missing or
    stale: its stock list must hold ``stocks`` codes, every one an A-share by today's
    code rules. A folder an older datagen wrote (921xxx.BJ codes, which are not A-shares)
    would otherwise be measured with some stocks left out."""
    if not _is_current(folder / "stock_list.txt", stocks):
        import shutil

        from engine.datagen.universe import generate_universe

        shutil.rmtree(folder, ignore_errors=True)  # only generated data lives here
        generate_universe(folder, stocks, start, end, seed=seed, layout=layout)
    return folder


def _is_current(stock_list: Path, stocks: int) -> bool:
    from engine.data.naming import security_kind
    from engine.data.stocklist import read_stock_list
    from engine.errors import DataError

    try:
        codes = read_stock_list(stock_list)
    except DataError:  # missing, unreadable or not codes
        return False
    return len(codes) == stocks and all(security_kind(code) == "A-share" for code in codes)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB since it started its program.

    Linux's ``VmHWM`` (the high-water mark of this program's memory): ``ru_maxrss`` also
    keeps the peak of the process before it ran the program, so a child started by a
    parent that had grown large (one that generated a universe) reported the parent's.
    """
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    """Wall seconds of ``runs`` calls of ``fn``."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    """Median, min and max of timing samples, in seconds."""
    return {"median_s": statistics.median(samples), "min_s": min(samples),
            "max_s": max(samples), "runs": len(samples)}


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/NAME.json`` with the machine described."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform()}, **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
