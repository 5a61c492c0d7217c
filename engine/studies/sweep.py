"""Parameter sweeps: every combination of a grid of numeric config values, as one table.

``run_sweep(base, {"period": range(6, 31), "oversold": [20, 25, 30, 35], ...})`` loads
the data once, computes the strategy's indicators once per distinct value of the
parameters they depend on (per worker, at most; the RSI once per period), runs each
combination's signals, portfolio simulation and metrics without building any tables,
and spreads the combinations over the warm worker pool (``base.workers``; "auto" uses
the pool when it repays its start-up) or a Dask cluster (``cluster=``; the same tasks,
see ``engine.execution.executor``). A row's metrics equal ``run_backtest``'s metrics
of the same configuration exactly: both go through ``engine.run.backtest.run_metrics``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.errors import ConfigError, StrategyError
from engine.execution import parallel
from engine.execution.executor import LocalExecutor, batch_sizes, executor_for
from engine.execution.pool import Task
from engine.progress import CancelToken, Progress, ProgressSink
from engine.results.metrics import TRADING_DAYS
from engine.results.tables import spans_table
from engine.run.backtest import WORKER_SETUP, load
from engine.run.benchmark_curve import benchmark_curve
from engine.strategies.base import Strategy
from engine.strategies.resolve import numeric_params, params_of, strategy_of
from engine.studies.grid import expand_grid
from engine.studies.overfit import deflated_sharpe, probability_of_overfitting
from engine.studies.sweep_worker import Outcome, forget, sweep_task, warm_up_sweep
from engine.util.oscompat import tune_allocator

#: Blocks of the CSCV split behind the PBO (Bailey et al. 2015 use 16).
PBO_BLOCKS = 16

@dataclass(frozen=True)
class SweepResult:
    """A sweep's outcome: one ``table`` row per valid combination (parameters, then every
    metric of SPEC §7), the combinations the config rules reject in ``skipped`` (with
    the reason), ``timings`` (seconds; plus pool statistics) and the workers' spans.
    ``returns`` holds each valid combination's daily returns (float32, one column per
    table row); ``diagnostics`` the deflated Sharpe ratio and PBO computed from them
    (``engine.studies.overfit``; NaN where the sweep is too small)."""

    config: BacktestConfig
    grid: dict[str, tuple[float, ...]]
    table: pd.DataFrame
    skipped: pd.DataFrame
    timings: dict[str, float]
    codes: tuple[str, ...]
    fingerprint: str
    worker_spans: pd.DataFrame = field(default_factory=pd.DataFrame)
    returns: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    diagnostics: dict[str, float] = field(default_factory=dict)
    #: Where the combinations ran ("this process", "2 local workers", "the Dask cluster
    #: at ...").
    executor: str = "this process"

    #: The strategy's numeric parameters: shown in ``table`` whether swept or not.
    strategy_params: tuple[str, ...] = ("period", "oversold", "overbought")

    @property
    def parameters(self) -> list[str]:
        """The parameter columns of ``table``."""
        return _parameter_columns(self.grid, self.strategy_params)

    def top(self, metric: str, n: int = 10, ascending: bool = False) -> pd.DataFrame:
        """The ``n`` best rows by ``metric`` (largest first unless ``ascending``; NaN last)."""
        if metric not in self.table.columns:
            raise ConfigError(f"no metric {metric!r}; choose one of "
                              f"{', '.join(c for c in self.table.columns if c not in self.grid)}")
        order = self.table.sort_values(metric, ascending=ascending, kind="stable",
                                       na_position="last")
        return order.head(n)


def _parameter_columns(grid: Mapping[str, Any], strategy_params: Sequence[str]) -> list[str]:
    return [*grid, *(name for name in strategy_params if name not in grid)]


def _tasks(source: Any, base: BacktestConfig, strategy: Strategy,
           valid: list[tuple[int, BacktestConfig]], keys: Mapping[int, object],
           bench: dict[float, np.ndarray], combo_seconds: float, workers: int) -> list[Task]:
    """Batches of combinations (grid index and config) grouped by indicator key in the
    order the keys first appear (a batch computes each indicator once, and the next batch
    on the same worker reuses the last one), sized by
    ``engine.execution.executor.batch_sizes``."""
    group: dict[object, int] = {}
    for index, _ in valid:
        group.setdefault(keys[index], len(group))
    ordered = sorted(valid, key=lambda item: (group[keys[item[0]]], item[0]))
    tasks, start = [], 0
    for size in batch_sizes(len(ordered), combo_seconds, workers):
        piece = ordered[start:start + size]
        start += size
        label = _batch_label(base, piece)
        tasks.append(Task(sweep_task, (source, base, strategy, piece, bench), label,
                          len(piece)))
    return tasks


def _batch_label(base: BacktestConfig, piece: list[tuple[int, BacktestConfig]]) -> str:
    """Names a batch for progress and errors: its periods (RSI) and its size."""
    if base.strategy != "rsi":
        return f"combinations {min(i for i, _ in piece) + 1}.., {len(piece)} combinations"
    periods = sorted({int(config.period) for _, config in piece})
    span = f"{periods[0]}..{periods[-1]}" if len(periods) > 1 else f"{periods[0]}"
    return f"period {span}, {len(piece)} combinations"


def estimate_sweep_seconds(data: MarketData, n_indicators: int, n_combos: int,
                           capital_mode: str = "shared") -> float:
    """Single-core seconds of a sweep (each distinct indicator, e.g. RSI per period, then
    each combination)."""
    return n_indicators * estimate_rsi_seconds(data) + n_combos * estimate_combo_seconds(
        data, capital_mode)


def estimate_rsi_seconds(data: MarketData) -> float:
    """Single-core seconds of one indicator (the RSI's) computation over ``data``."""
    return data.tradable.size * parallel.COST_INDICATORS


def estimate_combo_seconds(data: MarketData, capital_mode: str) -> float:
    """Single-core seconds of one combination's signals, simulation and metrics.

    A per-stock simulation values every sleeve every day and trades far more, several
    times the work of the shared pool's (which visits only its held stocks).
    """
    run_cells = (data.tradable.shape[0] - data.start_index) * data.n_stocks
    simulate = (parallel.COST_SWEEP_SIMULATE_PER_STOCK if capital_mode == "per_stock"
                else parallel.COST_SWEEP_SIMULATE_SHARED)
    return (data.tradable.size * parallel.COST_SIGNALS + run_cells * simulate
            + parallel.COST_COMBO_METRICS)


def _validate(base: BacktestConfig, strategy: Strategy, combos: list[dict[str, float]]
              ) -> tuple[dict[int, BacktestConfig], list[dict[str, Any]]]:
    """The valid combinations' configs by grid index (checked once: the parent's only
    per-combination work), and the rejected ones with the reason."""
    configs, skipped = {}, []
    for index, params in enumerate(combos):
        try:
            config = base.replace(**params)
            params_of(config, strategy)  # a file's parameters are checked against it
            configs[index] = config
        except (ConfigError, StrategyError) as exc:
            skipped.append({**params, "reason": str(exc)})
    if not configs:
        raise ConfigError("no valid combination in the grid"
                          + (f"; e.g. {skipped[0]['reason']}" if skipped else ""))
    return configs, skipped


def run_sweep(base_config: BacktestConfig, grid: Mapping[str, Iterable[float]],
              progress: Progress | None = None, cancel: CancelToken | None = None, *,
              cluster: str | None = None, diagnostics: bool = True) -> SweepResult:
    """Run every combination of ``grid`` (config field -> values) on ``base_config``.

    Combinations the config rules reject (e.g. oversold >= overbought) are listed in
    ``skipped``, not run. ``progress`` gets ``("load", ...)``, ``("startup", ...)`` when
    workers start, ``("sweep", combinations done, combinations, worker)`` and a final
    ``("done", n, n)`` (see ``engine.progress``). ``cancel`` stops the sweep within about
    a second with ``Cancelled``; a failing or killed worker raises ``WorkerError`` /
    ``WorkerCrashError`` naming its combinations.

    ``cluster`` runs the combinations on a Dask cluster instead of this machine:
    ``"tcp://host:8786"`` (a running ``dask scheduler``) or ``"local:N"`` (N worker
    processes started here); see ``engine.execution.cluster``. The table is bit-identical to the
    local one. A cluster that cannot be reached or goes away raises ``ClusterError``.
    ``diagnostics=False`` leaves ``SweepResult.diagnostics`` empty (a walk-forward's
    train sweeps, whose deflated Sharpe and PBO nobody reads).
    """
    t0, wall0 = time.perf_counter(), time.time()
    tune_allocator()  # every combination allocates the same few-MB arrays
    sink = ProgressSink(progress)
    strategy = strategy_of(base_config)
    axes = numeric_params(base_config, strategy)
    checked, combos = expand_grid(grid, axes)
    configs, skipped = _validate(base_config, strategy, combos)
    valid = [(index, combos[index]) for index in configs]
    keys = {index: strategy.indicator_key(params_of(config, strategy))
            for index, config in configs.items()}
    data = load(base_config, sink, cancel)
    timings = {"load": time.perf_counter() - t0}
    capitals = {float(c.initial_capital) for c in configs.values()}
    bench = {c: benchmark_curve(data, base_config, c) for c in capitals}
    mode = base_config.capital_mode
    if cluster is not None:
        warm_up_sweep()  # before its workers start and load the kernels
    t1 = time.perf_counter()
    executor = executor_for(base_config.workers,
                            estimate_sweep_seconds(data, len(set(keys.values())), len(valid),
                                                   mode),
                            len(valid), cluster, sink, setup=WORKER_SETUP)
    if isinstance(executor, LocalExecutor) and executor.workers == 1:
        if base_config.workers == "auto" and not strategy.checks_lookahead:
            # No pool: the batches go to this process's threads (the kernels release
            # the GIL; numba compiles under one lock); a user's strategy file runs on one.
            executor = dataclasses.replace(executor, threads=parallel.cpu_threads())
    else:
        warm_up_sweep()  # compiled here once, before the pool's workers load them
    try:
        with executor.share(data) as source:
            workers = max(executor.workers, getattr(executor, "threads", 1))
            tasks = _tasks(source, base_config, strategy,
                           [(index, configs[index]) for index, _ in valid], keys, bench,
                           estimate_combo_seconds(data, mode), workers)
            outcomes, stats = executor.map(tasks, sink, cancel)
    finally:
        forget()
    timings["sweep"] = time.perf_counter() - t1 - stats.startup_seconds
    timings.update(parallel.pool_timings(stats))
    timings["tasks"] = float(len(tasks))
    timings["threads"] = float(getattr(executor, "threads", 1))
    timings["indicator_computations"] = float(sum(n for _, n in outcomes))
    t2 = time.perf_counter()
    table = _table(checked, axes, strategy, configs, outcomes)
    returns = _returns(valid, outcomes, data.run_dates.size)
    timings["merge"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    figures = sweep_diagnostics(returns, base_config.risk_free_rate) if diagnostics else {}
    timings["diagnostics"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    sink("done", len(valid), len(valid))
    return SweepResult(
        config=base_config, grid=checked, table=table,
        skipped=pd.DataFrame(skipped, columns=[*checked, "reason"]), timings=timings,
        codes=data.codes, fingerprint=data.fingerprint, executor=executor.describe(),
        worker_spans=(spans_table(stats.spans, wall0).to_pandas() if stats.spans
                      else pd.DataFrame()),
        returns=returns, diagnostics=figures, strategy_params=axes)


def _table(grid: Mapping[str, Sequence[float]], axes: Sequence[str], strategy: Strategy,
           configs: Mapping[int, BacktestConfig],
           outcomes: list[tuple[list[tuple[int, Outcome]], int]]
           ) -> pd.DataFrame:
    """Parameters then metrics, one row per valid combination in grid order."""
    metrics = {index: row[0] for rows, _ in outcomes for index, row in rows}
    columns = _parameter_columns(grid, axes)
    records = []
    for index, config in configs.items():
        # A strategy parameter, else the (numeric) config field of that name.
        params = params_of(config, strategy)
        values = {name: params[name] if name in params else getattr(config, name)
                  for name in columns}
        records.append({**values, **metrics[index]})
    return pd.DataFrame.from_records(records)


def _returns(valid: list[tuple[int, dict[str, float]]],
             outcomes: list[tuple[list[tuple[int, Outcome]], int]],
             n_days: int) -> np.ndarray:
    """Daily returns, one column per valid combination in grid order (the table's rows)."""
    by_index = {index: row[1] for rows, _ in outcomes for index, row in rows}
    out = np.empty((n_days, len(valid)), dtype=np.float32)
    for column, (index, _) in enumerate(valid):
        out[:, column] = by_index[index]
    return out


def sweep_diagnostics(returns: np.ndarray, risk_free_rate: float = 0.0) -> dict[str, float]:
    """Deflated Sharpe ratio of the best combination (by Sharpe) and the probability of
    backtest overfitting of a sweep's daily returns (``engine.studies.overfit``), both over
    the returns net of ``risk_free_rate`` / 252 (SPEC §7); NaN values where the sweep has
    too few combinations or days.

    A combination that never trades (its returns never move: an undefined Sharpe) is
    left out of the deflated Sharpe's trials and of PBO's ranking alike: ``trials``
    counts those that traded, ``never_traded`` the rest.
    """
    nan = float("nan")
    raw = returns.astype(np.float64)
    traded = (np.ptp(raw, axis=0) > 0) if raw.shape[0] else np.zeros(raw.shape[1], bool)
    out = {"deflated_sharpe": nan, "expected_max_sharpe": nan, "best_sharpe": nan,
           "trials": float(traded.sum()), "never_traded": float((~traded).sum()),
           "pbo": nan, "pbo_splits": 0.0}
    r = raw[:, traded] - risk_free_rate / TRADING_DAYS
    if r.shape[1] < 2 or r.shape[0] < 3:
        return out
    std = r.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpes = np.where(std > 0, r.mean(axis=0) / std, np.nan)
    if np.isfinite(sharpes).any():
        best = int(np.nanargmax(sharpes))
        dsr = deflated_sharpe(raw[:, traded][:, best], sharpes, risk_free_rate)
        out.update(deflated_sharpe=dsr.value, expected_max_sharpe=dsr.expected_max,
                   best_sharpe=dsr.sharpe)
    if r.shape[0] >= 2 * PBO_BLOCKS:
        pbo = probability_of_overfitting(r, PBO_BLOCKS)
        out.update(pbo=pbo.pbo, pbo_splits=float(pbo.n_splits))
    return out
