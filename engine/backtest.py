"""One backtest run: load -> indicators -> signals -> simulate -> metrics -> BacktestResult."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from engine import results
from engine.config import BacktestConfig
from engine.data import MarketData, load_market_data
from engine.data.loader import CancelToken
from engine.errors import Cancelled
from engine.indicators_nb import rsi_sma_nb, rsi_wilder_nb
from engine.metrics import compute_metrics, drawdown
from engine.signals_nb import signals_nb
from engine.simulate_nb import simulate_per_stock_nb, simulate_shared_nb, sum_sleeves_nb
from engine.valuation_nb import bars_between_nb, benchmark_equity_nb, last_close_nb

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]
STAGES = ("load", "indicators", "signals", "simulate", "metrics")


class _Stages:
    """Times named stages, reports progress, and honours cancellation between stages."""

    def __init__(self, progress: Progress | None, cancel: CancelToken | None) -> None:
        self.progress, self.cancel = progress, cancel
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"run cancelled before {name}")
        if self.progress is not None:
            self.progress(name, STAGES.index(name), len(STAGES))
        t0 = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0


def load(config: BacktestConfig, progress: Progress | None = None,
         cancel: CancelToken | None = None) -> MarketData:
    """The run's market data (from the aligned cache when fresh)."""
    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("load", done, total)

    return load_market_data(config.data_dir, config.stocks, config.start, config.end,
                            adjust=config.adjust, on_bad_stock=config.on_bad_stock,
                            cache_dir=config.cache_dir, progress=report, cancel=cancel)


def compute_rsi(data: MarketData, config: BacktestConfig) -> np.ndarray:
    """RSI of every stock on its own bars (SPEC §3)."""
    kernel = rsi_wilder_nb if config.rsi_method == "wilder" else rsi_sma_nb
    return kernel(data.close, data.tradable, config.period)


def simulate(data: MarketData, config: BacktestConfig, rsi: np.ndarray, buy: np.ndarray,
             sell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                        np.ndarray]:
    """(equity, cash, positions_value, fills, rejections) of the whole portfolio."""
    fill_close = config.fill == "close"
    costs = (config.commission_rate, config.min_commission, config.stamp_tax_rate,
             config.slippage, config.lot_size, config.price_limits)
    if config.capital_mode == "shared":
        return simulate_shared_nb(
            data.open, data.close, data.prev_close, data.tradable, rsi, buy, sell,
            data.limit_pct, data.start_index, fill_close, config.initial_capital,
            config.position_pct, config.max_positions, *costs)
    sleeve = config.initial_capital / data.n_stocks
    equity, cash, value, fills, rejections = simulate_per_stock_nb(
        data.open, data.close, data.prev_close, data.tradable, buy, sell, data.limit_pct,
        data.start_index, 0, data.n_stocks, fill_close, sleeve, *costs)
    # The portfolio is the sum of its sleeves (SPEC §5), added in code order.
    return (sum_sleeves_nb(equity), sum_sleeves_nb(cash), sum_sleeves_nb(value), fills,
            rejections)


def build_result(config: BacktestConfig, data: MarketData, sim: tuple[np.ndarray, ...],
                 timings: dict[str, float]) -> results.BacktestResult:
    """Tables, benchmark and metrics from the simulation's arrays and records."""
    equity, cash, value, fill_records, rejection_records = sim
    start = data.start_index
    dates = data.dates
    bench = benchmark_equity_nb(data.open, data.close, data.tradable, start,
                                config.initial_capital)
    equity_frame = pd.DataFrame({
        "date": data.run_dates, "equity": equity, "cash": cash, "positions_value": value,
        "drawdown": drawdown(equity), "benchmark": bench,
    })
    fills = results.fills_frame(fill_records, dates, data.codes)
    trades = results.trades_frame(fill_records, dates, data.codes, data.close, data.tradable)
    metrics = compute_metrics(data.run_dates, equity, value, config.initial_capital, trades,
                              fills, bench, config.risk_free_rate)
    return results.BacktestResult(
        config=config, codes=data.codes, equity=equity_frame, fills=fills, trades=trades,
        rejections=results.rejections_frame(rejection_records, dates, data.codes),
        excluded=data.excluded, metrics=metrics, timings=timings,
        fingerprint=data.fingerprint, warnings=data.warnings,
    )


def run_backtest(config: BacktestConfig, progress: Progress | None = None,
                 cancel: CancelToken | None = None) -> results.BacktestResult:
    """Run one backtest in this process and return its complete result.

    ``progress(stage, done, total)`` is called at each stage; ``cancel.is_set()`` is
    checked between stages and raises ``Cancelled`` (no partial result).
    """
    t0 = time.perf_counter()
    stages = _Stages(progress, cancel)
    with stages.stage("load"):
        data = load(config, progress, cancel)
    with stages.stage("indicators"):
        rsi = compute_rsi(data, config)
    with stages.stage("signals"):
        buy, sell = signals_nb(rsi, data.tradable, data.start_index, config.oversold,
                               config.overbought)
    with stages.stage("simulate"):
        sim = simulate(data, config, rsi, buy, sell)
    timings: dict[str, float] = stages.timings
    with stages.stage("metrics"):
        result = build_result(config, data, sim, timings)
    for name in ("read", "validate", "align"):
        if name in data.timings:
            timings[f"load.{name}"] = data.timings[name]
    timings["total"] = time.perf_counter() - t0
    if progress is not None:
        progress("done", len(STAGES), len(STAGES))
    return result


def warm_up() -> dict[str, Any]:
    """Compile (or load from numba's on-disk cache) every kernel on a tiny universe.

    Returns the seconds it took, so callers can report first-run cost.
    """
    t0 = time.perf_counter()
    n_days, n_stocks = 40, 3
    rng = np.random.default_rng(0)
    close = np.round(10 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_days, n_stocks)), 0)), 2)
    tradable = np.ones((n_days, n_stocks), dtype=bool)
    prev = np.vstack([np.full((1, n_stocks), np.nan), close[:-1]])
    for arr in (close, tradable, prev):
        arr.flags.writeable = False
    limit = np.full(n_stocks, 0.1)
    for kernel in (rsi_wilder_nb, rsi_sma_nb):
        rsi = kernel(close, tradable, 5)
    buy, sell = signals_nb(rsi, tradable, 10, 30.0, 70.0)
    for fill_close in (False, True):
        simulate_shared_nb(close, close, prev, tradable, rsi, buy, sell, limit, 10, fill_close,
                           1e6, 0.1, 10, 3e-4, 5.0, 5e-4, 0.0, 100, True)
        _, cash, _, _, _ = simulate_per_stock_nb(close, close, prev, tradable, buy, sell, limit,
                                                 10, 0, n_stocks, fill_close, 1e5, 3e-4, 5.0,
                                                 5e-4, 0.0, 100, True)
        sum_sleeves_nb(cash)
    benchmark_equity_nb(close, close, tradable, 10, 1e6)
    bars_between_nb(tradable, np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.int64))
    last_close_nb(close, tradable)
    return {"seconds": time.perf_counter() - t0}
