"""Engine benchmark (issue 3): the headline run in-process and as a fresh CLI process, and
5,000 stocks x 10 years in-process with peak memory.

Targets: in-process warm (kernels compiled, data cached) <= 100 ms; fresh `backtest run`
process with warm caches <= 2 s wall; 5,000 x 10 years <= 5 s warm, peak RSS <= 2 GB.
Also the run store: saving (and loading back) the headline run and a copy with 10,000
fills; target: a 10,000-fill save <= 0.5 s (tests/test_store.py checks how it is stored).
Usage: python benchmarks/bench_engine.py [--runs N] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    DEMO,
    ROOT,
    ensure_demo,
    ensure_universe,
    isolate_run_store,
    summary,
    timed,
    write_result,
)

if TYPE_CHECKING:
    from engine.results.tables import BacktestResult

LARGE = ROOT / "data" / "bench_5000x10"
HEADLINE = {"start": "2023-02-04", "end": "2026-02-04"}

# Runs in a child process so its peak RSS is the run's alone.
_CHILD = """
import json, statistics, sys, time
from benchmarks.common import peak_rss_mb
from engine.run.backtest import run_backtest, warm_up
from engine.config import BacktestConfig
first = time.perf_counter()
warm_up()
config = BacktestConfig(data_dir=sys.argv[1], start=sys.argv[2], end=sys.argv[3])
result = run_backtest(config)
first = time.perf_counter() - first
samples, stages = [], []
for _ in range(int(sys.argv[4])):
    t0 = time.perf_counter()
    result = run_backtest(config)
    samples.append(time.perf_counter() - t0)
    stages.append(result.timings)
mid = sorted(range(len(samples)), key=samples.__getitem__)[len(samples) // 2]
print(json.dumps({"samples": samples, "stages": stages[mid], "first_run_s": first,
                  "stocks": len(result.codes), "days": len(result.equity),
                  "peak_rss_mb": peak_rss_mb(),
                  "total_return": result.metrics["total_return"]}))
"""


def in_process(folder: Path, start: str, end: str, runs: int) -> dict:
    """Warm in-process timings (median of ``runs``) and peak RSS, from a child process.

    The aligned cache is filled by another process first, so the child's peak memory is
    that of warm runs, not of building the cache.
    """
    cli = Path(sys.executable).with_name("backtest")
    subprocess.run([str(cli), "check", str(folder), "--start", start, "--end", end],
                   check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), start, end, str(runs)],
                         check=True, capture_output=True, cwd=ROOT, encoding="utf-8",
                         errors="replace")
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    payload.update(summary(payload.pop("samples")))
    return payload


def fresh_process(folder: Path, runs: int) -> dict:
    """Wall time of a whole `backtest run` process with warm caches (median of ``runs``)."""
    cli = Path(sys.executable).with_name("backtest")
    cmd = [str(cli), "run", "--data", str(folder), "--start", HEADLINE["start"],
           "--end", HEADLINE["end"]]
    subprocess.run(cmd, check=True, capture_output=True)  # warms the caches
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - t0)
    imports = subprocess.run([sys.executable, "-X", "importtime", "-c",
                              "import engine.run.backtest"], capture_output=True,
                             encoding="utf-8", errors="replace")
    last = imports.stderr.strip().splitlines()[-1].split("|")
    return {**summary(samples), "import_engine_backtest_s": int(last[1]) / 1e6}


def store_save(folder: Path, runs: int) -> dict:
    """Seconds to save and to load back the headline run and a copy of it with 10,000
    fills (drawn from its own) in a fresh run store; median and max of ``runs``."""
    from engine.config import BacktestConfig
    from engine.results.store import RunStore
    from engine.run.backtest import run_backtest

    result = run_backtest(BacktestConfig(data_dir=folder, **HEADLINE))
    fills = result.fills.sample(10_000, replace=True, random_state=0).reset_index(drop=True)
    cases = {"headline": result, "fills_10000": result.with_tables(fills=fills)}
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder_name, \
            RunStore(Path(folder_name) / "runs.sqlite") as store:
        store.save(result)  # creates the schema: not part of a save
        for name, case in cases.items():
            ids: list[int] = []
            saves = timed(lambda case=case, ids=ids: ids.append(store.save(case)), runs)
            loads = timed(lambda ids=ids: store.load(ids[-1]), runs)
            out[name] = {"fills": len(case.fills), "save": summary(saves),
                         "load": summary(loads),
                         "checksums": summary(timed(_checksum_blobs(case), runs))}
    return out


def _checksum_blobs(result: BacktestResult) -> Callable[[], None]:
    """The integrity work of a save (and of a load) of ``result``: the checksum of each
    stored table on its encoded bytes and of the run's sealed columns
    (``engine.results.store_codec``)."""
    from engine.results.store_codec import (
        SEALED_COLUMNS,
        encode_frame,
        frame_checksum,
        run_checksum,
        run_row,
    )
    from engine.results.tables import RESULT_TABLES, to_arrow

    tables = {name: to_arrow(result.table(name)) for name in RESULT_TABLES}
    blobs = [(name, encode_frame(table)) for name, table in tables.items() if table.num_columns]
    row = run_row(result, "bench", "")
    sealed = [row[name] for name in SEALED_COLUMNS]

    def checksums() -> None:
        for name, blob in blobs:
            frame_checksum("result", name, 0, blob)
        run_checksum(sealed)

    return checksums


def ensure_large() -> Path:
    """The generated 5,000-stock x 10-year universe (written once, git-ignored)."""
    return ensure_universe(LARGE, 5000, "2016-01-01", "2026-02-04", seed=11)


def main() -> int:
    """Run the benchmarks, print a summary, write benchmarks/results/bench_engine.json."""
    isolate_run_store()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    demo = ensure_demo(DEMO)
    result = {"headline_in_process": in_process(demo, **HEADLINE, runs=args.runs),
              "headline_fresh_process": fresh_process(demo, max(3, args.runs // 2))}
    h, f = result["headline_in_process"], result["headline_fresh_process"]
    print(f"headline {h['stocks']} stocks x {h['days']} days, in-process warm: median "
          f"{h['median_s'] * 1000:.1f} ms (target 100 ms); first run incl. kernel load "
          f"{h['first_run_s']:.2f} s")
    print("  stages (ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in h["stages"].items()))
    print(f"fresh `backtest run` process: median {f['median_s']:.2f} s (target 2 s); "
          f"import engine.run.backtest {f['import_engine_backtest_s']:.2f} s")
    if not args.skip_large:
        large = ensure_large()
        g = in_process(large, "2016-01-01", "2026-02-04", runs=max(3, args.runs // 2))
        result["large_in_process"] = g
        print(f"large {g['stocks']} stocks x {g['days']} days, in-process warm: median "
              f"{g['median_s']:.2f} s (target 5 s); peak RSS {g['peak_rss_mb']:.0f} MB "
              "(target 2048 MB)")
        print("  stages (ms): " + ", ".join(f"{k} {v * 1000:.0f}"
                                           for k, v in g["stages"].items()))
    result["store"] = store_save(demo, args.runs)
    for name, case in result["store"].items():
        print(f"run store, {name} ({case['fills']:,} fills): save median "
              f"{case['save']['median_s'] * 1000:.1f} ms, max {case['save']['max_s'] * 1000:.1f} "
              f"ms; load median {case['load']['median_s'] * 1000:.1f} ms; of each, checksums "
              f"{case['checksums']['median_s'] * 1000:.2f} ms")
    result["targets"] = {"headline_in_process_s": 0.1, "fresh_process_s": 2.0,
                         "large_in_process_s": 5.0, "large_peak_rss_mb": 2048,
                         "store_save_10000_fills_s": 0.5}
    print(f"wrote {write_result('bench_engine', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
