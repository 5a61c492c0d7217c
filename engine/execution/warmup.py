"""Compiles (or loads from numba's on-disk cache) every kernel a run or sweep calls."""

from __future__ import annotations

import functools
import itertools
import time
from typing import Any

import numpy as np
import pandas as pd

from engine.config import BacktestConfig
from engine.data import PLANES, AlignedArrays, MarketData
from engine.progress import ProgressSink
from engine.run.backtest import build_result, local_simulation
from engine.util.oscompat import lower_priority, tune_allocator


def start_worker() -> None:
    """Initializer of engine worker processes (the local pool's and Dask's): lower their
    priority, tune the allocator, then load the kernels."""
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
        files=(), excluded=pd.DataFrame(), warnings=(), fingerprint="", from_cache=False)


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
    for method, mode, fill in itertools.product(("wilder", "sma"), ("shared", "per_stock"),
                                                ("next_open", "close")):
        config = BacktestConfig(period=5, rsi_method=method, capital_mode=mode, fill=fill,
                                initial_capital=1e5, max_positions=2)
        sim = local_simulation(data, config, quiet)
        build_result(config, data, sim, {})
    return {"seconds": time.perf_counter() - t0}
