"""The one place a run's indicator is chosen from its configuration (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.config import BacktestConfig
from engine.kernels.indicators_nb import rsi_sma_nb, rsi_wilder_nb

#: RSI kernel by ``rsi_method``: each takes (close, tradable, period).
RSI_KERNELS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "wilder": rsi_wilder_nb, "sma": rsi_sma_nb}


def compute_indicator(close: np.ndarray, tradable: np.ndarray,
                      config: BacktestConfig) -> np.ndarray:
    """The configured indicator of the given stock columns (aligned ``(days, stocks)``
    close and tradable arrays, all of each stock's history): today the RSI of
    ``config.rsi_method`` and ``config.period``, on each stock's own bars."""
    return RSI_KERNELS[config.rsi_method](close, tradable, config.period)
