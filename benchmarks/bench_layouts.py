"""Layout benchmark (issue 10): cold and warm loads of each data-folder layout, with peak memory.

Targets: TongDaXin 2,500 stocks x 4.5 years cold <= 1.0 s (with the installation's
ex-rights table too), warm within 10% of per-stock parquet's; one long parquet of 5,000 x
10 years cold <= 3 s, peak memory <= 2.5x the aligned arrays; per-stock folder of 5,000 x
10 years first open <= 4 s and <= 2 GB.
Each load runs in a fresh process (files in the OS page cache, as for a user who opens a
folder twice), so peak RSS is that load's. Medians of ``--runs`` loads.
Usage: python benchmarks/bench_layouts.py [--runs N] [--scale F] [--data DIR] [--only NAMES]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, ensure_universe, peak_rss_mb, write_result


class Case(NamedTuple):
    """A load to measure: ``universe`` (the folder, written by datagen in ``layout`` with
    ``stocks`` stocks from ``start`` to ``end``) loaded up to ``load_end``."""

    name: str
    universe: str
    layout: str
    stocks: int
    start: str
    end: str
    load_end: str = "2100-01-01"


CASES = (
    Case("tdx_2500x4.5y", "tdx_2500x4.5y", "tdx", 2500, "2021-08-02", "2026-02-04"),
    # The same with its installation's ex-rights table (T0002/hq_cache/gbbq): 1,667
    # stocks adjusted (SPEC §1).
    Case("tdx_install_2500x4.5y", "tdx_install_2500x4.5y", "tdx-install", 2500, "2021-08-02",
         "2026-02-04"),
    Case("per_stock_2500x4.5y", "per_stock_2500x4.5y", "per-stock", 2500, "2021-08-02",
         "2026-02-04"),
    Case("long_5000x10y", "long_5000x10y", "long", 5000, "2016-02-04", "2026-02-04"),
    # A run that ends before the data does: the rows after its end are no bars.
    Case("long_5000x10y_to_2025", "long_5000x10y", "long", 5000, "2016-02-04", "2026-02-04",
         "2025-06-30"),
    Case("per_stock_5000x10y", "per_stock_5000x10y", "per-stock", 5000, "2016-02-04",
         "2026-02-04"),
)
TARGETS = {"tdx_2500x4.5y": {"cold_s": 1.0}, "tdx_install_2500x4.5y": {"cold_s": 1.0},
           "long_5000x10y": {"cold_s": 3.0, "peak_x": 2.5},
           "per_stock_5000x10y": {"cold_s": 4.0, "peak_mb": 2048}}


def _child(folder: str, cache: str, end: str) -> None:
    """Load once (cold when ``cache`` is "none") and print seconds, peak RSS, array size.

    The modules a cold load uses (pandas, which pyarrow imports at its first array, and
    pyarrow's compute, parquet and csv) are imported first: they are bound lazily, so a
    cached run never imports them, and their import is the process's start-up (0.4-0.9 s
    here), not the load's; the load is timed as it was when they were imported eagerly.
    """
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    from engine.data import load_market_data

    t0 = time.perf_counter()
    data = load_market_data(folder, end=end, use_cache=cache != "none",
                            cache_dir=None if cache == "none" else cache)
    seconds = time.perf_counter() - t0
    aligned = data.arrays.prices.nbytes + data.arrays.tradable.nbytes
    print(json.dumps({"s": seconds, "peak_mb": peak_rss_mb(), "aligned_mb": aligned / 2**20,
                      "stages": data.timings, "stocks": data.n_stocks,
                      "days": int(data.dates.size), "layout": data.layout}))


def _load(folder: Path, cache: str, end: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(folder), cache, end],
                         capture_output=True, check=True, cwd=ROOT, encoding="utf-8",
                         errors="replace")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _baseline_mb() -> float:
    code = "import engine.data; from benchmarks.common import peak_rss_mb; print(peak_rss_mb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         check=True, cwd=ROOT, encoding="utf-8", errors="replace")
    return float(out.stdout.strip())


def main() -> int:
    """Generate the universes if missing, measure, print, write bench_layouts.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="share of the stocks")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench_layouts")
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    results: dict[str, dict] = {"baseline_import_mb": _baseline_mb(), "scale": args.scale}
    for case in CASES:
        name = case.name
        if args.only and name not in args.only.split(","):
            continue
        n = max(1, int(case.stocks * args.scale))
        folder = args.data / f"{case.universe}_{n}"
        ensure_universe(folder, n, case.start, case.end, seed=11, layout=case.layout)
        cold = [_load(folder, "none", case.load_end) for _ in range(args.runs)]
        with tempfile.TemporaryDirectory() as cache:
            _load(folder, cache, case.load_end)
            warm = [_load(folder, cache, case.load_end) for _ in range(args.runs)]
        median = statistics.median
        results[name] = {
            "stocks": cold[0]["stocks"], "days": cold[0]["days"], "layout": cold[0]["layout"],
            "cold_median_s": median(r["s"] for r in cold),
            "warm_median_s": median(r["s"] for r in warm),
            "cold_peak_mb": max(r["peak_mb"] for r in cold),
            "aligned_mb": cold[0]["aligned_mb"],
            "cold_stages_s": cold[len(cold) // 2]["stages"],
            "targets": TARGETS.get(name, {}),
        }
        r = results[name]
        print(f"{name:22s} {r['stocks']} x {r['days']}: cold {r['cold_median_s']:.2f} s, "
              f"warm {r['warm_median_s'] * 1000:.0f} ms, peak {r['cold_peak_mb']:.0f} MB "
              f"(aligned {r['aligned_mb']:.0f} MB)  stages "
              + ", ".join(f"{k} {v:.2f}" for k, v in r["cold_stages_s"].items()), flush=True)
    print(f"wrote {write_result('bench_layouts', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
