"""The built-in strategies' computation (SPEC §3, §3a): ``rsi``, ``ma_cross``, ``breakout``.

Their names, parameters and rules are in ``engine.strategies.catalog``; each here pairs
an indicator kernel with a signal kernel (``engine.kernels``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from engine.kernels.indicators_nb import channel_nb, rsi_sma_nb, rsi_wilder_nb, sma_nb
from engine.kernels.signals_nb import breakout_signals_nb, cross_signals_nb, signals_nb
from engine.strategies.base import Bars, Signals
from engine.strategies.catalog import BUILTINS, ParamValue

Params = Mapping[str, ParamValue]

#: RSI kernel by ``rsi_method``: each takes (close, tradable, period).
RSI_KERNELS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "wilder": rsi_wilder_nb, "sma": rsi_sma_nb}


def _rsi_indicators(bars: Bars, p: Params) -> tuple[np.ndarray, ...]:
    return (RSI_KERNELS[str(p["rsi_method"])](bars.close, bars.tradable, int(p["period"])),)


def _rsi_signals(ind: tuple[np.ndarray, ...], bars: Bars, start: int, p: Params) -> Signals:
    rsi = ind[0]
    buy, sell = signals_nb(rsi, bars.tradable, start, float(p["oversold"]),
                           float(p["overbought"]))
    return Signals(buy, sell, rsi)  # the score is the RSI on the signal bar


def _ma_indicators(bars: Bars, p: Params) -> tuple[np.ndarray, ...]:
    return (sma_nb(bars.close, bars.tradable, int(p["fast"])),
            sma_nb(bars.close, bars.tradable, int(p["slow"])))


def _ma_signals(ind: tuple[np.ndarray, ...], bars: Bars, start: int, p: Params) -> Signals:
    return Signals(*cross_signals_nb(ind[0], ind[1], bars.tradable, start))


def _channel_indicators(bars: Bars, p: Params) -> tuple[np.ndarray, ...]:
    return channel_nb(bars.high, bars.low, bars.tradable, int(p["window"]))


def _breakout_signals(ind: tuple[np.ndarray, ...], bars: Bars, start: int,
                      p: Params) -> Signals:
    return Signals(*breakout_signals_nb(bars.close, ind[0], ind[1], bars.tradable, start))


@dataclass(frozen=True)
class BuiltinKernels:
    """A built-in strategy (see ``engine.strategies.base.Strategy``)."""

    name: str
    compute_indicators: Callable[[Bars, Params], tuple[np.ndarray, ...]]
    compute_signals: Callable[[tuple[np.ndarray, ...], Bars, int, Params], Signals]
    per_column: bool = True
    checks_lookahead: bool = False
    #: The parameters, besides the indicators, that the buy signals and the score depend
    #: on, and those the sell signals depend on: a sweep computes each side once per
    #: distinct value (None: undeclared, computed per combination).
    buy_params: tuple[str, ...] | None = None
    sell_params: tuple[str, ...] | None = None

    def indicator_key(self, params: Params) -> Hashable:
        """The values of the parameters the indicator depends on."""
        return tuple(params[k] for k in BUILTINS[self.name].indicator_params)

    def indicators(self, bars: Bars, params: Params) -> tuple[np.ndarray, ...]:
        """The strategy's indicator arrays of ``bars``."""
        return self.compute_indicators(bars, params)

    def signals(self, indicators: tuple[np.ndarray, ...], bars: Bars, start_index: int,
                params: Params) -> Signals:
        """Buy, sell and score from the indicators."""
        return self.compute_signals(indicators, bars, start_index, params)


STRATEGIES: dict[str, BuiltinKernels] = {
    "rsi": BuiltinKernels("rsi", _rsi_indicators, _rsi_signals, buy_params=("oversold",),
                          sell_params=("overbought",)),
    "ma_cross": BuiltinKernels("ma_cross", _ma_indicators, _ma_signals, buy_params=(),
                               sell_params=()),
    "breakout": BuiltinKernels("breakout", _channel_indicators, _breakout_signals,
                               buy_params=(), sell_params=()),
}
