"""Backtest engine: data loading, indicators, simulation and metrics (never imports Qt)."""

from engine.errors import BacktestError, Cancelled, ConfigError, DataError

__all__ = ["BacktestError", "Cancelled", "ConfigError", "DataError"]
