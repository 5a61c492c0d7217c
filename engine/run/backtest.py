"""One backtest run: load -> indicators -> signals -> (look-ahead check) -> simulate ->
metrics -> BacktestResult.

Also the warm-up of the processes that run its pieces (``warm_up``, ``start_worker``):
the pipeline itself on a tiny universe. Runs and sweeps hand it to the worker pool as
``WORKER_SETUP``; the pool (``engine.execution.parallel``) never imports this module.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from engine.config import BacktestConfig
from engine.data import PLANES, AlignedArrays, MarketData, load_market_data
from engine.errors import Cancelled
from engine.execution import parallel
from engine.kernels.metrics_nb import FIGURES, run_figures_nb
from engine.kernels.simulate_nb import simulate_per_stock_nb, simulate_shared_nb, sum_sleeves_nb
from engine.progress import STAGES, CancelToken, LocalContext, Progress, ProgressSink
from engine.results import metrics
from engine.results import tables as results
from engine.results.arrow_columns import record_batch
from engine.run.benchmark_curve import benchmark_curve
from engine.run.column_pass import ChunkRecords, column_pass
from engine.run.kernel_inputs import costs_of, exits_of, market_of
from engine.strategies.base import Strategy
from engine.strategies.resolve import strategy_of
from engine.util.oscompat import lower_priority, tune_allocator


class _Stages:
    """Times named stages, reports progress, and honours cancellation between stages."""

    def __init__(self, progress: Progress | None, cancel: CancelToken | None) -> None:
        self.progress, self.cancel = progress, cancel
        self.timings: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """Stage ``name`` begins: honour a cancel, report the stage-start event."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"run cancelled before {name}")
        if self.progress is not None:
            self.progress(name, STAGES.index(name), len(STAGES))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``."""
        self.mark(name)
        t0 = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0


class _StageContext(LocalContext):
    """In-process column work: its spans are the run's timed stages."""

    def __init__(self, stages: _Stages, sink: ProgressSink) -> None:
        super().__init__(sink, stages.cancel)
        self.stages = stages

    def span(self, stage: str) -> AbstractContextManager[None]:
        """Time the block as the run's stage ``stage`` (with its stage-start event)."""
        return self.stages.stage(stage)


def load(config: BacktestConfig, progress: Progress | None = None,
         cancel: CancelToken | None = None) -> MarketData:
    """The run's market data (from the aligned cache when fresh)."""
    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("load", done, total)

    return load_market_data(config.data_dir, config.stocks, config.start, config.end,
                            layout=config.layout, adjust=config.adjust,
                            on_bad_stock=config.on_bad_stock, listing=config.listing,
                            cache_dir=config.cache_dir, progress=report, cancel=cancel,
                            tdx_gbbq=config.tdx_gbbq)


def simulate(data: MarketData, config: BacktestConfig, score: np.ndarray, buy: np.ndarray,
             sell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                        np.ndarray]:
    """(equity, cash, positions_value, fills, rejections) of the whole portfolio, from a
    strategy's signals and buy score."""
    fill_close = config.fill == "close"
    market, costs, exits = market_of(data), costs_of(data, config), exits_of(config)
    if config.capital_mode == "shared":
        return simulate_shared_nb(
            market, costs, score, buy, sell, data.start_index, fill_close,
            config.initial_capital, config.position_pct, config.max_positions,
            config.price_limits, exits)
    sleeve = config.initial_capital / data.n_stocks
    equity, cash, value, fills, rejections = simulate_per_stock_nb(
        market, costs, buy, sell, data.start_index, 0, data.n_stocks, fill_close, sleeve,
        config.price_limits, exits)
    # The portfolio is the sum of its sleeves (SPEC §5), added in code order.
    return (sum_sleeves_nb(equity), sum_sleeves_nb(cash), sum_sleeves_nb(value), fills,
            rejections)


def run_metrics(config: BacktestConfig, data: MarketData, equity: np.ndarray,
                positions_value: np.ndarray, fill_records: np.ndarray, benchmark: np.ndarray,
                returns_out: np.ndarray | None = None) -> dict[str, object]:
    """Every metric of SPEC §7 from the simulation's arrays and fill records (and the
    daily returns into ``returns_out`` when given, float32 or float64).

    Runs and parameter sweeps both use it, so a sweep's row equals the run's metrics
    exactly. The reductions come from ``metrics_nb.run_figures_nb`` (numpy's sums bit
    for bit, without the GIL; the closed trades taken in the trades table's order), the
    formulas from ``engine.results.metrics``, as ``compute_metrics`` does from tables.
    """
    initial = config.initial_capital
    # float32 like a sweep's: one compiled variant of the kernel for runs and sweeps (a
    # fresh process that does both loads it once); the figures never read it back.
    out = np.empty(equity.size, np.float32) if returns_out is None else returns_out
    f = run_figures_nb(equity, positions_value, fill_records, data.tradable,
                       np.asarray(benchmark, float), initial,
                       config.risk_free_rate / metrics.TRADING_DAYS, out)
    fig = dict(zip(FIGURES, f.tolist(), strict=True))
    n, trades = equity.size, int(fig["trades"])
    trough, peak = int(fig["trough"]), int(fig["peak"])
    return metrics.combine_metrics(
        metrics.return_figures(fig["final"], n, fig["mean_return"], fig["std_return"],
                               fig["downside_mean_square"], initial, config.risk_free_rate),
        metrics.drawdown_figures(fig["max_drawdown"], peak, trough,
                                 int(fig["longest_drawdown"]), data.run_dates),
        fig["max_drawdown"],
        metrics.trade_figures(trades, int(fig["wins"]), fig["gross_profit"],
                              fig["gross_loss"], fig["mean_trade_return"],
                              fig["mean_bars_held"]),
        metrics.cost_figures(fig["notional"], fig["commission"], fig["tax"],
                             fig["transfer_fee"], fig["mean_equity"], fig["exposure"]),
        metrics.relative_figures(fig["mean_excess"], fig["mean_benchmark_excess"],
                                 fig["covariance"], fig["variance"], fig["std_active"],
                                 fig["mean_active"]),
        float(benchmark[-1]) / initial - 1.0, n, fig["final"])


def build_result(config: BacktestConfig, data: MarketData, sim: tuple[np.ndarray, ...],
                 timings: dict[str, float]) -> results.BacktestResult:
    """Tables, benchmark and metrics from the simulation's arrays and records."""
    equity, cash, value, fill_records, rejection_records = sim
    dates = data.dates
    bench = benchmark_curve(data, config)
    equity_table = record_batch({
        "date": results.date_column(data.run_dates), "equity": equity, "cash": cash,
        "positions_value": value, "drawdown": metrics.drawdown(equity), "benchmark": bench,
    })
    trade_columns = results.trade_arrays(fill_records, data.close, data.tradable)
    figures = run_metrics(config, data, equity, value, fill_records, bench)
    tables = {
        "equity": equity_table,
        "fills": results.fills_table(fill_records, dates, data.codes),
        "trades": results.trades_table(trade_columns, dates, data.codes),
        "rejections": results.rejections_table(rejection_records, dates, data.codes),
        "excluded": results.excluded_table(data.excluded),
    }
    return results.BacktestResult(config=config, codes=data.codes, tables=tables,
                                  metrics=figures, timings=timings,
                                  fingerprint=data.fingerprint, warnings=data.warnings)


def run_backtest(config: BacktestConfig, progress: Progress | None = None,
                 cancel: CancelToken | None = None) -> results.BacktestResult:
    """Run one backtest and return its complete result.

    The per-stock work (RSI, signals, per_stock sleeves) runs in this process or on the
    shared warm worker pool, as ``config.workers`` says ("auto": the pool only when it
    repays its cost; see ``engine.execution.parallel``). Any worker count gives bit-identical
    results. ``progress`` gets the events of ``engine.progress`` (a three- or
    four-argument callable); ``cancel.is_set()`` is polled between stages and pieces of
    work and raises ``Cancelled`` (no partial result). A failing or killed worker raises
    ``engine.execution.pool.WorkerError`` / ``WorkerCrashError``.
    """
    t0, wall0 = time.perf_counter(), time.time()
    sink = ProgressSink(progress)
    stages = _Stages(sink, cancel)
    strategy = strategy_of(config)  # a user's file is read (and checked) before the load
    with stages.stage("load"):
        data = load(config, sink, cancel)
    # A user's strategy may compare stocks: it sees them all in this process.
    n_workers = parallel.run_workers(config, data) if strategy.per_column else 1
    spans = None
    if n_workers > 1:
        sim, spans = _pooled_simulation(data, config, n_workers, stages, sink, wall0)
    else:
        sim = _local_simulation(data, config, stages, sink, strategy)
    timings: dict[str, float] = stages.timings
    timings.setdefault("lookahead", 0.0)  # only a user's strategy is checked
    with stages.stage("metrics"):
        result = build_result(config, data, sim, timings)
    for name in ("read", "validate", "align"):
        if name in data.timings:
            timings[f"load.{name}"] = data.timings[name]
    timings["total"] = time.perf_counter() - t0
    if spans is not None:
        result = result.with_tables(worker_spans=spans)
    sink("done", len(STAGES), len(STAGES))
    return result


def local_simulation(data: MarketData, config: BacktestConfig, sink: ProgressSink,
                     strategy: Strategy | None = None) -> tuple[np.ndarray, ...]:
    """(equity, cash, positions_value, fills, rejections) of a run done in this process."""
    return _local_simulation(data, config, _Stages(sink, None), sink, strategy)


def _local_simulation(data: MarketData, config: BacktestConfig, stages: _Stages,
                      sink: ProgressSink, strategy: Strategy | None = None
                      ) -> tuple[np.ndarray, ...]:
    """The run's column work and portfolio pass in this process."""
    out: dict[str, np.ndarray] = {}
    records = column_pass(data, config, (0, data.n_stocks), out, _StageContext(stages, sink),
                          strategy)
    with stages.stage("simulate"):
        return _portfolio(data, config, out, records)


def _pooled_simulation(data: MarketData, config: BacktestConfig, n_workers: int,
                       stages: _Stages, sink: ProgressSink,
                       wall0: float) -> tuple[tuple[np.ndarray, ...], pa.RecordBatch]:
    """The column work on ``n_workers`` pool workers, then the portfolio pass here.

    The workers' wall time is shared among their stages in proportion to their busy time.
    """
    stages.mark("indicators")
    with (parallel.pooled_columns(data, config, n_workers, sink, stages.cancel,
                                  WORKER_SETUP) as cols,
          stages.stage("simulate")):
        sim = _portfolio(data, config, cols.out, cols.records)
    shares = parallel.stage_shares(cols.stats, cols.wall, ("indicators", "signals", "simulate"))
    parent_simulate = stages.timings.pop("simulate")
    stages.timings.update(indicators=shares["indicators"], signals=shares["signals"],
                          simulate=shares["simulate"] + parent_simulate)
    stages.timings.update(parallel.pool_timings(cols.stats))
    return sim, results.spans_table(cols.stats.spans, wall0)


def _portfolio(data: MarketData, config: BacktestConfig, out: dict[str, np.ndarray],
               records: ChunkRecords | None) -> tuple[np.ndarray, ...]:
    """(equity, cash, positions_value, fills, rejections) from the column work's outputs."""
    if config.capital_mode == "shared":
        return simulate(data, config, out["score"], out["buy"], out["sell"])
    assert records is not None
    # The portfolio is the sum of its sleeves (SPEC §5), added in code order.
    return (sum_sleeves_nb(out["equity"]), sum_sleeves_nb(out["cash"]),
            sum_sleeves_nb(out["positions_value"]), records.fills, records.rejections)


# ------------------------------------------------------------------------ warm-up
def start_worker() -> None:
    """Initializer of engine worker processes (the local pool's, the job hosts' and
    Dask's): lower their priority, tune the allocator, then load the kernels."""
    lower_priority()
    tune_allocator()
    warm_up()


def _tiny_market(n_days: int = 40, n_stocks: int = 3) -> MarketData:
    """A small random universe with gaps, read-only like the aligned cache's maps."""
    rng = np.random.default_rng(0)
    close = np.round(10 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_days, n_stocks)), 0)), 2)
    tradable = rng.random((n_days, n_stocks)) > 0.1
    prices = np.full((len(PLANES), n_days, n_stocks), np.nan)
    for name in ("open", "high", "low", "close"):
        prices[PLANES.index(name)] = np.where(tradable, close, np.nan)
    prices[PLANES.index("up_limit")][1:] = np.round(close[:-1] * 1.1, 2)
    prices[PLANES.index("down_limit")][1:] = np.round(close[:-1] * 0.9, 2)
    for array in (prices, tradable):
        array.flags.writeable = False
    calendar = np.arange(19000, 19000 + n_days, dtype=np.int64)
    return MarketData(
        codes=tuple(f"{600000 + i}.SH" for i in range(n_stocks)),
        dates=calendar.astype("datetime64[D]"), start_index=10,
        arrays=AlignedArrays(calendar, prices, tradable),
        files=(), excluded=(), warnings=(), fingerprint="", from_cache=False)


@functools.cache  # once per process: a loaded kernel stays loaded
def warm_up() -> dict[str, Any]:
    """Compile (or load from numba's on-disk cache) every kernel the engine calls.

    Runs the real pipeline (both RSI methods, capital modes and fills) on a tiny
    universe, so every signature a run or sweep uses is compiled here. Worker processes
    then only load kernels, never compile them concurrently. Returns the seconds it
    took, so callers can report first-run cost.
    """
    t0 = time.perf_counter()
    data = _tiny_market()
    quiet = ProgressSink(None)
    strategies: tuple[dict[str, Any], ...] = (
                  {"rsi_method": "wilder"}, {"rsi_method": "sma"},
                  {"strategy": "ma_cross", "params": {"fast": 2, "slow": 4}},
                  {"strategy": "breakout", "params": {"window": 3}})
    for chosen, mode, fill in itertools.product(strategies, ("shared", "per_stock"),
                                                ("next_open", "close")):
        config = BacktestConfig(period=5, capital_mode=mode, fill=fill, initial_capital=1e5,
                                max_positions=2, stop_loss=0.05, **chosen)
        sim = local_simulation(data, config, quiet)
        build_result(config, data, sim, {})
    return {"seconds": time.perf_counter() - t0}


#: How the worker pool of runs and sweeps starts its workers: each runs ``start_worker``;
#: this process runs ``warm_up`` first, so the workers only load the kernels it compiled.
WORKER_SETUP = parallel.WorkerSetup(initializer=start_worker, prepare=warm_up)
