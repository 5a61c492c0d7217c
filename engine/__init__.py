"""Backtest engine: data loading, indicators, simulation and metrics (never imports Qt).

The package map is in ``docs/architecture.md``. This module is a lazy facade:
``from engine import BacktestConfig, run_backtest, run_sweep`` imports each name's
module on first use, so importing ``engine`` loads neither numba nor the pool.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.errors import BacktestError, Cancelled, ConfigError, DataError

if TYPE_CHECKING:
    from engine.config import BacktestConfig
    from engine.data import MarketData, load_market_data
    from engine.datagen.universe import generate_universe
    from engine.results.compare import compare_table
    from engine.results.export import export_result
    from engine.results.store import RunStore
    from engine.results.tables import BacktestResult
    from engine.run.backtest import run_backtest
    from engine.studies.folds import FoldSpec
    from engine.studies.sweep import SweepResult, run_sweep
    from engine.studies.walkforward import WalkForwardResult, run_walk_forward

#: Public name -> the module that defines it.
_LAZY = {
    "BacktestConfig": "engine.config",
    "MarketData": "engine.data", "load_market_data": "engine.data",
    "generate_universe": "engine.datagen.universe",
    "compare_table": "engine.results.compare",
    "export_result": "engine.results.export",
    "RunStore": "engine.results.store",
    "BacktestResult": "engine.results.tables",
    "run_backtest": "engine.run.backtest",
    "SweepResult": "engine.studies.sweep", "run_sweep": "engine.studies.sweep",
    "FoldSpec": "engine.studies.folds", "WalkForwardResult": "engine.studies.walkforward",
    "run_walk_forward": "engine.studies.walkforward",
}

__all__ = ["BacktestConfig", "BacktestError", "BacktestResult", "Cancelled", "ConfigError",
           "DataError", "FoldSpec", "MarketData", "RunStore", "SweepResult",
           "WalkForwardResult", "compare_table", "export_result", "generate_universe",
           "load_market_data", "run_backtest", "run_sweep", "run_walk_forward"]


def __getattr__(name: str) -> Any:
    """A public name's object, its module imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
