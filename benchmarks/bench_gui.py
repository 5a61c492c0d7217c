"""GUI table benchmark (issue 5): a 100,000-row fills table set, sorted, filtered, scrolled.

Each action is timed including the repaint it causes (offscreen Qt); "smooth" means each
stays near the ~100 ms a user perceives as immediate. Medians of --runs.
Also the stock chart: 10 years of daily bars (2,500) set and painted the first time,
median and max of --runs; target <= 0.5 s (tests/test_gui_charts.py checks the binning).
Usage: QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--rows N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from benchmarks.common import summary, write_result
from gui.stock_chart import StockChart
from gui.table_view import FrameTable


def fills(n: int) -> pd.DataFrame:
    """A synthetic fills table of ``n`` rows over 5,000 codes."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "date": pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 3650, n), "D"),
        "code": [f"{i:06d}.SZ" for i in rng.integers(0, 5000, n)],
        "side": pd.Categorical(rng.choice(["buy", "sell"], n)),
        "shares": rng.integers(1, 100, n) * 100, "price": rng.random(n) * 100,
        "commission": rng.random(n) * 10, "tax": rng.random(n), "cash_after": rng.random(n) * 1e6,
    })


def ten_years(n: int = 2_500) -> pd.DataFrame:
    """A synthetic stock detail (date, OHLCV, rsi) of ``n`` business days."""
    rng = np.random.default_rng(7)
    close = np.round(20 * np.exp(np.cumsum(rng.normal(0, 0.015, n))), 2)
    open_ = np.round(close * np.exp(rng.normal(0, 0.01, n)), 2)
    return pd.DataFrame({
        "date": pd.bdate_range("2015-01-05", periods=n),
        "open": open_, "high": np.maximum(open_, close) * 1.01,
        "low": np.minimum(open_, close) * 0.99, "close": close,
        "volume": rng.integers(100_000, 10_000_000, n).astype(float),
        "rsi": np.clip(50 + 30 * np.sin(np.arange(n) / 9) + rng.normal(0, 5, n), 0, 100),
    })


def stock_chart(app: QApplication, runs: int) -> dict[str, float]:
    """Seconds of ``set_data`` plus the first paint of ten years of bars, in a new chart
    each time (as the drill-down opens one)."""
    detail = ten_years()
    fills = pd.DataFrame({"date": detail["date"].iloc[[100, 400]].to_numpy(),
                          "code": "000001.SZ", "side": ["buy", "sell"], "shares": [100, 100],
                          "price": detail["close"].iloc[[100, 400]].to_numpy()})
    samples = []
    for _ in range(runs):
        chart = StockChart()
        chart.resize(1100, 700)
        chart.show()
        app.processEvents()
        t0 = time.perf_counter()
        chart.set_data(detail, fills, 30.0, 70.0, "000001.SZ · 10 years")
        chart.grab()
        samples.append(time.perf_counter() - t0)
        chart.close()
        chart.deleteLater()
        app.processEvents()
    return {"bars": len(detail), **summary(samples)}


def main() -> int:
    """Time the table actions and write benchmarks/results/bench_gui.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    frame = fills(args.rows)
    table = FrameTable()
    table.resize(1000, 700)
    table.show()
    actions = {
        "set_data": lambda: table.set_data(frame),
        "sort": lambda: table.view.sortByColumn(4, Qt.SortOrder.DescendingOrder),
        "filter": lambda: table.filter.setText("00012"),
        "clear_filter": lambda: table.filter.setText(""),
        "scroll_to_bottom": lambda: table.view.scrollToBottom(),
    }
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(args.runs):
        for name, action in actions.items():
            t0 = time.perf_counter()
            action()
            app.processEvents()
            samples[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{args.rows:,} rows, {name:<17} median {value * 1000:6.1f} ms")
    chart = stock_chart(app, args.runs)
    print(f"stock chart, {chart['bars']:,} bars set + first paint: median "
          f"{chart['median_s'] * 1000:.1f} ms, max {chart['max_s'] * 1000:.1f} ms (target 500 ms)")
    payload = {"rows": args.rows, "median_s": medians, "stock_chart_10y": chart,
               "targets": {"stock_chart_10y_s": 0.5}}
    print(f"wrote {write_result('bench_gui', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
