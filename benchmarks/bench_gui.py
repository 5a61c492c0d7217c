"""GUI table benchmark (issue 5): a 100,000-row fills table set, sorted, filtered, scrolled.

Each action is timed including the repaint it causes (offscreen Qt); "smooth" means each
stays near the ~100 ms a user perceives as immediate. Medians of --runs.
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

from benchmarks.common import write_result
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
    print(f"wrote {write_result('bench_gui', {'rows': args.rows, 'median_s': medians})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
