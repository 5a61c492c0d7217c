"""GUI responsiveness benchmark (issue 9): the longest gap between 5 ms timer ticks on the
window's thread while it runs jobs, and the equity chart's paint time.

Scenarios, each repeated --runs times in the real window (offscreen Qt): a cold 500-stock
run (empty aligned cache), a warm run, a 5,000-stock x 10-year run, a 1,000-combination
sweep, and opening the drill-down. A gap is measured from the request until the result
is on screen, plus 200 ms. Target: every gap <= 50 ms; the equity chart (750 points with
benchmark and drawdown) paints in <= 30 ms.
With --explain, a watchdog thread samples the window thread's Python stack while a gap
is longer than 30 ms and prints where each gap over 50 ms was spent.
Usage: QT_QPA_PLATFORM=offscreen python benchmarks/bench_responsive.py [--runs N]
       [--skip-large] [--explain]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_engine import HEADLINE, ensure_large
from benchmarks.common import DEMO, ensure_demo, isolate_run_store, write_result

TICK_MS = 5
SETTLE_S = 0.2
TIMEOUT_S = 300.0
SWEEP_GRID = {"period": "6:30:1", "oversold": "20:35:5", "overbought": "62:80:2"}  # 1,000


def _wait(app: object, done: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not finish in time")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.001)


class _Watchdog:
    """Samples the window thread's stack every 5 ms while no tick came for 30 ms."""

    def __init__(self, ticks: list[float]) -> None:
        self.ticks, self.main = ticks, threading.main_thread().ident
        self.samples: list[tuple[float, list[str]]] = []  # (tick the gap began, stack)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            if self.ticks and time.perf_counter() - self.ticks[-1] > 0.03:
                frame = sys._current_frames().get(self.main)
                if frame is not None:
                    stack = [f"{Path(f.filename).name}:{f.lineno} {f.name}"
                             for f in traceback.extract_stack(frame)[-12:]]
                    self.samples.append((self.ticks[-1], stack))

    def report(self, ticks: list[float]) -> None:
        """Print the most sampled frames of each gap over 50 ms."""
        self._stop.set()
        self._thread.join()
        for a, b in itertools.pairwise(ticks):
            if b - a <= 0.05:
                continue
            stacks = [s for t, s in self.samples if t == a]
            print(f"  gap {(b - a) * 1000:.0f} ms, {len(stacks)} samples:")
            for line, n in Counter(x for s in stacks for x in set(s)).most_common(12):
                print(f"    {n:3d}  {line}")


def _max_gap(app: object, start: Callable[[], None], done: Callable[[], bool],
             explain: bool = False) -> float:
    """Largest gap (s) between timer ticks from ``start()`` until ``done()`` + settle."""
    from PySide6.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    _wait(app, lambda: len(ticks) > 3)
    watchdog = _Watchdog(ticks) if explain else None
    start()
    _wait(app, done)
    end = time.perf_counter() + SETTLE_S
    _wait(app, lambda: time.perf_counter() > end)
    timer.stop()
    if watchdog is not None:
        watchdog.report(ticks)
    return max(b - a for a, b in itertools.pairwise(ticks))


def main() -> int:
    """Measure every scenario and write benchmarks/results/bench_responsive.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--explain", action="store_true",
                        help="print where the window thread spent each gap over 50 ms")
    parser.add_argument("--only", default="", help="only the scenarios whose name has this")
    args = parser.parse_args()
    isolate_run_store()
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    os.environ["BACKTEST_CACHE_DIR"] = str(cache)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="bench-settings-"))
    app = QApplication.instance() or QApplication([])
    from engine.config import BacktestConfig
    from gui.main_window import MainWindow

    demo = ensure_demo(DEMO)
    window = MainWindow()
    window.resize(1400, 880)
    window.show()
    ready: list[float] = []
    window.worker.host_started.connect(ready.append)
    _wait(app, lambda: bool(ready))
    time.sleep(2.0)  # the sweep host and its worker pool start after the run host

    def open_folder(folder: Path, start: str, end: str) -> None:
        window.apply_config(BacktestConfig(data_dir=folder, start=start, end=end))
        _wait(app, lambda: window.scan is not None and window.scan.folder == folder)

    def run_once() -> None:
        window.run()

    def idle() -> bool:
        return not window.running

    gaps: dict[str, list[float]] = {}

    def measure(name: str, start: Callable[[], None], done: Callable[[], bool],
                before: Callable[[], None] | None = None) -> None:
        if args.only not in name:
            return
        for _ in range(args.runs):
            if before is not None:
                before()
            gaps.setdefault(name, []).append(_max_gap(app, start, done, args.explain))
        values = gaps[name]
        print(f"{name:<28} max tick gap: median {statistics.median(values) * 1000:5.1f} ms, "
              f"max {max(values) * 1000:5.1f} ms (target 50 ms)")

    open_folder(demo, **HEADLINE)
    measure("cold 500-stock run", run_once, idle,
            before=lambda: shutil.rmtree(cache, ignore_errors=True))
    measure("warm 500-stock run", run_once, idle)
    code = window.result.trades["code"].iloc[0] if window.result is not None else ""
    measure("open the drill-down", lambda: window.show_stock(code),
            lambda: window.stock_chart.candles_count() > 0,
            before=window.stock_chart.clear_data)
    sweep = window.sweep_view
    for name, text in SWEEP_GRID.items():
        sweep.range_edits[name].setText(text)
    window.tabs.setCurrentWidget(sweep)
    measure("1,000-combination sweep", sweep.run, lambda: not sweep.running)
    assert not gaps.get("1,000-combination sweep") or (
        sweep.result is not None and len(sweep.result.table) == 1000)
    window.tabs.setCurrentWidget(window.equity_chart)
    if not args.skip_large:
        open_folder(ensure_large(), "2016-01-01", "2026-02-04")
        measure("5,000 x 10-year run", run_once, idle)

    window.tabs.setCurrentWidget(window.equity_chart)
    open_folder(demo, **HEADLINE)
    window.run()
    _wait(app, idle)
    viewport = window.equity_chart.canvas.viewport()
    paints = []
    for _ in range(max(10, args.runs)):
        t0 = time.perf_counter()
        viewport.repaint()
        paints.append(time.perf_counter() - t0)
    points = window.equity_chart.point_count()
    print(f"equity chart paint ({points} points, benchmark, drawdown): median "
          f"{statistics.median(paints) * 1000:.1f} ms, max {max(paints) * 1000:.1f} ms "
          "(target 30 ms)")
    payload = {"tick_ms": TICK_MS,
               "max_gap_s": {k: {"median": statistics.median(v), "max": max(v), "runs": len(v)}
                             for k, v in gaps.items()},
               "equity_paint_s": {"median": statistics.median(paints), "max": max(paints),
                                  "points": points},
               "targets": {"max_gap_s": 0.05, "equity_paint_s": 0.03}}
    window.close()
    print(f"wrote {write_result('bench_responsive', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
