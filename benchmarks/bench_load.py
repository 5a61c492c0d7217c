"""Load benchmark: cold load (no cache) and warm load (aligned cache) of the demo universe.

Targets (issues 2 and 12): cold <= 0.5 s, warm <= 25 ms including the checksum
verification of the cache entry, medians of >= 5 runs. Files are in the
OS page cache after the first read, as they are for a user who runs twice.
Usage: python benchmarks/bench_load.py [--data DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEMO, ensure_demo, summary, timed, write_result
from engine.data import load_market_data
from engine.data.cache import verify_entry


def main() -> int:
    """Run the benchmark, print a table, write benchmarks/results/bench_load.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEMO)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = ensure_demo(args.data) if args.data == DEMO else args.data
    with tempfile.TemporaryDirectory() as cache:
        first = load_market_data(folder, cache_dir=cache)  # reads files once, fills the cache
        cold = timed(lambda: load_market_data(folder, use_cache=False), args.runs)
        warm = timed(lambda: load_market_data(folder, cache_dir=cache), args.runs)
        entry = first.cache_path or Path(cache)
        verify = timed(lambda: verify_entry(entry), args.runs)
        entry_bytes = sum(p.stat().st_size for p in entry.iterdir())
        stages = load_market_data(folder, use_cache=False).timings
    result = {
        "universe": {"folder": folder.name, "stocks": first.n_stocks,
                     "days": int(first.dates.size)},
        "cold": summary(cold), "warm": summary(warm),
        "warm_checksums": {**summary(verify), "bytes": entry_bytes},
        "cold_stages_s": stages,
        "targets": {"cold_s": 0.5, "warm_s": 0.025},
    }
    path = write_result("bench_load", result)
    print(f"{first.n_stocks} stocks x {first.dates.size} days")
    print(f"cold load (no cache): median {result['cold']['median_s'] * 1000:7.1f} ms  "
          f"(target 500 ms)  stages: "
          + ", ".join(f"{k} {v * 1000:.0f}" for k, v in stages.items()))
    print(f"warm load (cache):    median {result['warm']['median_s'] * 1000:7.1f} ms  "
          "(target 25 ms)")
    print(f"  of which checksums:  median {result['warm_checksums']['median_s'] * 1000:7.1f} ms  "
          f"({entry_bytes / 1e6:.1f} MB verified, xxh3-64)")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
