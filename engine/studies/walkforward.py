"""Walk-forward validation of a parameter grid: choose on a train window, trade the choice
on the following test window, stitch the out-of-sample results into one curve.

``run_walk_forward(base, grid, folds=FoldSpec("12m", "3m"), metric="sharpe")`` splits
[start, end] into folds (rolling or anchored), sweeps the grid on each train window
with ``engine.studies.sweep.run_sweep``, runs the best combination on the test window with
``engine.run.backtest.run_backtest`` and chains the test windows' equity. A test window only
ever sees data up to its own end, and its choice comes from bars before its start.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.data.cache import default_cache_dir
from engine.errors import Cancelled, ConfigError
from engine.kernels.records import rejection_dt
from engine.progress import CancelToken, Progress, ProgressSink
from engine.results.liquidation import close_open_positions
from engine.results.metric_registry import metric_goal
from engine.results.metrics import compute_metrics, drawdown
from engine.results.tables import BacktestResult, excluded_table, rejections_table
from engine.run.backtest import load, run_backtest
from engine.run.benchmark_curve import benchmark_curve
from engine.strategies.resolve import numeric_params, strategy_of
from engine.studies.folds import Fold, FoldSpec, split_folds
from engine.studies.grid import expand_grid
from engine.studies.sweep import SweepResult, run_sweep

STAGES = ("load", "train", "test", "done")


def best_row(sweep: SweepResult, metric: str) -> pd.Series:
    """The sweep's best combination by ``metric`` (NaN never wins); ties go to the
    smallest parameter values, in grid order."""
    goal = metric_goal(metric) or "max"
    table = sweep.table.dropna(subset=[metric])
    if table.empty:
        raise ConfigError(f"no combination has a {metric} on the train window (e.g. no "
                          "trades); choose another metric or a longer train window",
                          field="metric")
    keys = [metric, *sweep.parameters]
    ascending = [goal == "min", *([True] * len(sweep.parameters))]
    return table.sort_values(keys, ascending=ascending, kind="stable").iloc[0]


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-fold choices and results, and the stitched out-of-sample run.

    ``folds``: train_start, train_end, test_start, test_end, each chosen parameter,
    ``is_<metric>``, ``oos_<metric>`` (the test run's own metric, positions marked at the
    last close), trades (round trips in the test window, those closed at its end too).
    ``equity``: the stitched out-of-sample curve (date, equity, cash, positions_value,
    drawdown, benchmark, fold), with every test window's positions closed at its end; its
    benchmark is that of a run over the whole out-of-sample span (``_span_benchmark``).
    ``metrics``: SPEC §7 on that curve. ``in_sample_best`` is the combination the whole
    window's sweep would have picked and ``in_sample_equity`` (date, equity) its run over
    the out-of-sample dates, scaled to start from the same capital (hindsight, to compare
    against); ``diagnostics`` that sweep's deflated Sharpe
    ratio and PBO (``engine.studies.sweep.sweep_diagnostics``).
    """

    config: BacktestConfig
    grid: dict[str, tuple[float, ...]]
    spec: FoldSpec
    metric: str
    folds: pd.DataFrame
    equity: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    metrics: dict[str, object]
    wf_efficiency: float
    timings: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, float] = field(default_factory=dict)
    in_sample_best: dict[str, float] = field(default_factory=dict)
    in_sample_equity: pd.DataFrame = field(default_factory=pd.DataFrame)
    codes: tuple[str, ...] = ()
    fingerprint: str = ""

    def as_result(self) -> BacktestResult:
        """The stitched out-of-sample run as a ``BacktestResult`` (for the run history,
        export and comparison), its metrics joined by the walk-forward efficiency, the
        deflated Sharpe ratio and the PBO."""
        metrics = {**self.metrics, "wf_efficiency": self.wf_efficiency,
                   "deflated_sharpe": self.diagnostics.get("deflated_sharpe", math.nan),
                   "pbo": self.diagnostics.get("pbo", math.nan)}
        no_days = np.zeros(0, dtype="datetime64[D]")
        rejections = rejections_table(np.zeros(0, dtype=rejection_dt), no_days, self.codes)
        tables = {"equity": self.equity.drop(columns="fold"), "fills": self.fills,
                  "trades": self.trades, "rejections": rejections, "excluded": excluded_table(())}
        return BacktestResult(config=self.config, codes=self.codes, tables=tables,
                              metrics=metrics, timings=self.timings,
                              fingerprint=self.fingerprint)

    def summary(self) -> dict[str, object]:
        """What ``summary.json`` holds: the OOS metrics, efficiency and diagnostics."""
        return {"oos_metrics": self.metrics, "wf_efficiency": self.wf_efficiency,
                "deflated_sharpe": self.diagnostics.get("deflated_sharpe"),
                "pbo": self.diagnostics.get("pbo"), "diagnostics": self.diagnostics,
                "in_sample_best": self.in_sample_best, "metric": self.metric,
                "train": self.spec.train, "test": self.spec.test, "anchored": self.spec.anchored,
                "folds": len(self.folds)}


def _rebased(equity: pd.DataFrame, start: dt.date, end: dt.date,
             capital: float) -> pd.DataFrame:
    """``equity`` from ``start`` to ``end``, scaled as if it held ``capital`` the day
    before ``start``."""
    dates = equity["date"]
    before = equity["equity"][dates < pd.Timestamp(start)]
    level = float(before.iloc[-1]) if len(before) else capital
    after = equity[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))]
    return pd.DataFrame({"date": after["date"].to_numpy(),
                         "equity": after["equity"].to_numpy() * (capital / level)})


def _span_benchmark(data: MarketData, config: BacktestConfig,
                    dates: np.ndarray) -> np.ndarray:
    """The benchmark of a run over the out-of-sample span (``dates``: the stitched
    curve's), from ``config``'s initial capital (SPEC §7): an index's close-to-close growth
    from the span's first day, or the equal-weight buy-and-hold of the stocks bought at
    its first open and held. Each later test fold's first day moves with it, from the
    previous trading day's close, as the stitched equity does (chaining the test runs'
    own benchmarks, each starting flat or at its first open, left those days out)."""
    first = data.start_index + int(np.searchsorted(data.run_dates, dates[0]))
    curve = benchmark_curve(data, config, config.initial_capital, first)
    at = np.searchsorted(data.dates[first:], dates)
    if at[-1] >= curve.size or not np.array_equal(data.dates[first:][at], dates):
        raise ValueError("the test runs' dates are not days of the walk-forward's calendar")
    return curve[at]


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The folds' tables as one, codes as objects: concatenated Arrow-backed strings are
    chunked, which the run store's one-batch encoding cannot take."""
    return pd.concat(frames, ignore_index=True).astype({"code": object})


def _fold_row(fold: Fold, params: Mapping[str, float], metric: str, in_sample: float,
              result: BacktestResult, trades: int) -> dict[str, object]:
    return {"train_start": fold.train_start, "train_end": fold.train_end,
            "test_start": fold.test_start, "test_end": fold.test_end, **params,
            f"is_{metric}": in_sample, f"oos_{metric}": result.metrics[metric],
            "trades": trades}


def _fold_cache(config: BacktestConfig) -> tempfile.TemporaryDirectory[str]:
    """A scratch aligned cache for the folds' loads, hidden in the run's cache folder.

    Each fold's data ends where its window ends: a slice of what the whole window's entry
    already holds, so its entries stay out of the user's cache, and go with the folder
    when the folds are done (on an error, when the folder object is collected; a crash
    leaves hidden debris the cache prunes)."""
    root = config.cache_dir if config.cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".walk-forward-folds-", dir=root,
                                       ignore_cleanup_errors=True)


def run_walk_forward(base_config: BacktestConfig, grid: Mapping[str, Iterable[float]],
                     folds: FoldSpec | None = None, metric: str = "sharpe",
                     progress: Progress | None = None,
                     cancel: CancelToken | None = None, *,
                     cluster: str | None = None) -> WalkForwardResult:
    """Walk ``grid`` forward over ``base_config``'s window (see the module docstring).

    ``progress`` gets ``("train", fold, folds)`` and ``("test", fold, folds)`` events;
    ``cancel`` stops between and inside the sweeps with ``Cancelled``. The sweeps run on
    the local pool, or on the Dask ``cluster`` (as ``run_sweep``); results do not depend
    on either, nor on the worker count (every sweep and run is deterministic).
    """
    t0 = time.perf_counter()
    spec = folds or FoldSpec()
    sink = ProgressSink(progress)
    checked, _ = expand_grid(grid, numeric_params(base_config, strategy_of(base_config)))
    from engine.results.formatting import METRICS

    if metric not in {key for key, _, _ in METRICS}:
        raise ConfigError(f"metric {metric!r} is not a metric; choose one of "
                          + ", ".join(key for key, _, _ in METRICS), field="metric")
    data = load(base_config, sink, cancel)
    plan = split_folds(data.run_dates, spec, base_config.end, base_config.start)
    capital = base_config.initial_capital
    scratch = _fold_cache(base_config)
    folds_config = base_config.replace(cache_dir=Path(scratch.name))
    rows, segments, fills, trades, is_cagr = [], [], [], [], []
    for k, fold in enumerate(plan):
        if cancel is not None and cancel.is_set():
            raise Cancelled("walk-forward cancelled")
        sink("train", k, len(plan))
        sweep = run_sweep(folds_config.replace(start=fold.train_start, end=fold.train_end),
                          checked, cancel=cancel, cluster=cluster, diagnostics=False)
        best = best_row(sweep, metric)
        params = {name: best[name].item() for name in sweep.parameters}  # Python numbers
        is_cagr.append(float(best["cagr"]))
        sink("test", k, len(plan))
        test = run_backtest(folds_config.replace(start=fold.test_start, end=fold.test_end,
                                                 initial_capital=capital, **params),
                            cancel=cancel)
        segment = test.equity.copy()
        closing, fold_trades, exit_costs = close_open_positions(test)
        rows.append(_fold_row(fold, params, metric, float(best[metric]), test,
                              len(fold_trades)))
        last = segment.index[-1]
        segment.loc[last, "cash"] += segment.loc[last, "positions_value"] - exit_costs
        segment.loc[last, "positions_value"] = 0.0
        segment.loc[last, "equity"] = segment.loc[last, "cash"]
        segment["fold"] = k + 1
        capital = float(segment.loc[last, "equity"])
        segments.append(segment)
        fills.append(pd.concat([test.fills, closing], ignore_index=True))
        trades.append(fold_trades)
    scratch.cleanup()
    equity = pd.concat(segments, ignore_index=True)
    equity["drawdown"] = drawdown(equity["equity"].to_numpy())
    equity["benchmark"] = _span_benchmark(data, base_config,
                                          equity["date"].to_numpy().astype("datetime64[D]"))
    all_fills, all_trades = _stack(fills), _stack(trades)
    metrics = compute_metrics(equity["date"].to_numpy().astype("datetime64[D]"),
                              equity["equity"].to_numpy(),
                              equity["positions_value"].to_numpy(),
                              base_config.initial_capital, all_trades, all_fills,
                              equity["benchmark"].to_numpy(), base_config.risk_free_rate)
    in_sample = float(np.mean(is_cagr))
    oos = float(metrics["cagr"])  # type: ignore[arg-type]
    efficiency = oos / in_sample if in_sample > 0 and math.isfinite(oos) else math.nan
    sink("train", len(plan), len(plan))
    whole = run_sweep(base_config, checked, cancel=cancel, cluster=cluster)
    hindsight = best_row(whole, metric)
    hindsight_params = {name: hindsight[name].item() for name in whole.parameters}
    hindsight_run = run_backtest(base_config.replace(**hindsight_params), cancel=cancel)
    sink("done", len(plan), len(plan))
    return WalkForwardResult(
        config=base_config, grid=checked, spec=spec, metric=metric,
        folds=pd.DataFrame(rows), equity=equity, fills=all_fills, trades=all_trades,
        metrics=metrics, wf_efficiency=efficiency,
        timings={"total": time.perf_counter() - t0}, diagnostics=whole.diagnostics,
        in_sample_best=hindsight_params,
        in_sample_equity=_rebased(hindsight_run.equity, plan[0].test_start,
                                  plan[-1].test_end, base_config.initial_capital),
        codes=data.codes, fingerprint=data.fingerprint)
