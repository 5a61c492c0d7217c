"""Strategies benchmark (issue 25), on the 500-stock x 3-year headline, in process:

- the built-in ``rsi`` run (target: in-process <= 35 ms);
- a user strategy file: what a run adds on top of the file's own ``signals`` time beyond
  what the built-in run of the same signals spends outside its indicators and signals.
  The file returns the RSI strategy's own signals, so both runs trade alike and only the
  engine's handling of a file differs. Target: <= 10% of the signal time S of a NumPy
  strategy, the example ``strategies/momentum.py``;
- the look-ahead check's stage against S, for both files (target: <= 3x);
- exits: the simulation stage with all four exits on but never reached (their cost)
  against none (target: <= +10%), and with exits that trade (more trades, more work).

Medians and maxima of ``--runs`` runs, written to benchmarks/results/strategies.json.
Usage: python benchmarks/bench_strategies.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, ensure_demo, isolate_run_store, summary, timed, write_result

HEADLINE = {"start": "2023-02-04", "end": "2026-02-04"}
USER_FILE = ROOT / "strategies" / "momentum.py"
#: The built-in RSI strategy's signals, from a user's file.
SAME_SIGNALS = """
from engine.kernels.indicators_nb import rsi_wilder_nb
from engine.kernels.signals_nb import signals_nb

NAME = "RSI as a file"
PARAMS = {"period": 14, "oversold": 30.0, "overbought": 70.0}

def signals(bars, params):
    rsi = rsi_wilder_nb(bars.close, bars.tradable, params["period"])
    buy, sell = signals_nb(rsi, bars.tradable, 0, params["oversold"], params["overbought"])
    return buy, sell, rsi
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    isolate_run_store()
    folder = ensure_demo()

    from engine.config import BacktestConfig
    from engine.run.backtest import load, run_backtest
    from engine.strategies.base import bars_of
    from engine.strategies.resolve import params_of, strategy_of

    base = BacktestConfig(data_dir=folder, workers=1, **HEADLINE)  # type: ignore[arg-type]
    same_file = Path(tempfile.mkdtemp()) / "rsi_as_a_file.py"
    same_file.write_text(SAME_SIGNALS, encoding="utf-8")
    user = base.replace(strategy=str(same_file))
    example = base.replace(strategy=str(USER_FILE))
    idle_exits = base.replace(stop_loss=0.99, take_profit=0.99, trailing_stop=0.99,
                              max_hold=10**6)
    exits = base.replace(stop_loss=0.08, take_profit=0.2, trailing_stop=0.1, max_hold=30)
    for config in (base, user, example, idle_exits, exits):
        run_backtest(config)  # kernels loaded, data cached

    configs = {"rsi": base, "idle_exits": idle_exits, "exits": exits,
               "user": user.replace(lookahead_check="off"), "checked": user,
               "example": example}
    runs: dict[str, dict[str, list[float]]] = {key: {} for key in configs}
    for _ in range(args.runs):  # interleaved, so drift hits every case alike
        for key, config in configs.items():
            for name, value in run_backtest(config).timings.items():
                runs[key].setdefault(name, []).append(value)
    rsi, with_idle_exits, with_exits = runs["rsi"], runs["idle_exits"], runs["exits"]
    user_runs, checked, example_runs = runs["user"], runs["checked"], runs["example"]
    data = load(user)

    def signal_seconds(config: BacktestConfig) -> list[float]:
        strategy = strategy_of(config)
        bars, params = bars_of(data), params_of(config, strategy)
        return timed(lambda: strategy.indicators(bars, params), args.runs)

    signal_s = signal_seconds(user)
    example_s = signal_seconds(example)

    med = statistics.median
    rest_rsi = [t - i - s for t, i, s in zip(rsi["total"], rsi["indicators"], rsi["signals"],
                                             strict=True)]
    user_added = med(user_runs["total"]) - med(signal_s) - med(rest_rsi)
    payload = {
        "rsi_run": summary(rsi["total"]),
        "user_signals": summary(signal_s),
        "user_run_without_check": summary(user_runs["total"]),
        "file_overhead_ms": user_added * 1e3,
        "file_overhead_over_numpy_signals": user_added / med(example_s),
        "lookahead_stage": summary(checked["lookahead"]),
        "lookahead_over_signals": med(checked["lookahead"]) / med(signal_s),
        "example_signals": summary(example_s),
        "example_lookahead_over_signals": med(example_runs["lookahead"]) / med(example_s),
        "simulate_no_exits": summary(rsi["simulate"]),
        "simulate_idle_exits": summary(with_idle_exits["simulate"]),
        "idle_exits_over_simulate": med(with_idle_exits["simulate"]) / med(rsi["simulate"]) - 1,
        "simulate_trading_exits": summary(with_exits["simulate"]),
    }
    path = write_result("strategies", payload)
    print(f"rsi run: median {med(rsi['total']) * 1e3:.1f} ms, max "
          f"{max(rsi['total']) * 1e3:.1f} ms")
    print(f"a strategy file costs its signals plus {user_added * 1e3:.2f} ms = "
          f"{payload['file_overhead_over_numpy_signals']:.1%} of the NumPy example's "
          f"signal time S ({med(example_s) * 1e3:.1f} ms)")
    print(f"look-ahead check: {payload['example_lookahead_over_signals']:.2f} x S on the "
          f"NumPy example; {med(checked['lookahead']) * 1e3:.1f} ms = "
          f"{payload['lookahead_over_signals']:.2f} x the signals of the RSI file "
          f"({med(signal_s) * 1e3:.1f} ms)")
    print(f"simulate: {med(rsi['simulate']) * 1e3:.2f} ms without exits, "
          f"{med(with_idle_exits['simulate']) * 1e3:.2f} ms with all four never reached "
          f"({payload['idle_exits_over_simulate']:+.1%}), "
          f"{med(with_exits['simulate']) * 1e3:.2f} ms with exits that trade")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
