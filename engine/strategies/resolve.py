"""The strategy a configuration names, and its parameter values (SPEC §3)."""

from __future__ import annotations

from engine.config import BacktestConfig
from engine.strategies.base import Strategy
from engine.strategies.builtin import STRATEGIES
from engine.strategies.catalog import ParamValue, is_file
from engine.strategies.user_file import StrategyFile, read_strategy_file


def strategy_of(config: BacktestConfig) -> Strategy:
    """The built-in strategy, or the user's file read now (``StrategyError`` if it
    cannot be used)."""
    if is_file(config.strategy):
        return read_strategy_file(config.strategy)
    return STRATEGIES[config.strategy]


def params_of(config: BacktestConfig, strategy: Strategy) -> dict[str, ParamValue]:
    """The parameter values ``strategy`` runs with under ``config``: a built-in's from the
    configuration (checked when it was made), a file's defaults with ``config.params``
    applied and checked."""
    if isinstance(strategy, StrategyFile):
        return strategy.params(dict(config.params))
    return config.strategy_params()


def numeric_params(config: BacktestConfig, strategy: Strategy) -> tuple[str, ...]:
    """The strategy's parameters that take numbers: the ones a sweep may vary, and the
    columns every sweep table shows."""
    return tuple(name for name, value in params_of(config, strategy).items()
                 if isinstance(value, int | float) and not isinstance(value, bool))
