"""The one interface every strategy has (SPEC §3): bars in, signals out.

A strategy computes in two steps, so that a sweep can compute the expensive part once
per distinct value of the parameters it depends on:

- ``indicators(bars, params)``: arrays computed from the bars (the RSI, the moving
  averages, ...), whose value depends only on ``indicator_key(params)``;
- ``signals(indicators, bars, start_index, params)``: ``Signals`` (buy, sell, score).

``per_column`` says whether each stock's signals depend on that stock's bars only. The
built-ins do, so a run may split the stocks over worker processes; a user's file may
compare stocks with each other, so it always sees the whole universe at once (results
never depend on the worker count).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from engine.data import MarketData
from engine.strategies.catalog import ParamValue


class Signals(NamedTuple):
    """A strategy's output, each ``(n_days, n_stocks)``: bool ``buy`` and ``sell``, and
    the float ``score`` that orders a day's buys (lowest first, SPEC §5)."""

    buy: np.ndarray
    sell: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class Bars:
    """The bars a strategy sees (SPEC §3b): aligned ``(days, stocks)`` float64 planes,
    NaN where a stock has no bar, over the whole loaded history (warm-up included), with
    ``tradable`` (bool), ``dates`` (datetime64[D]) and ``codes``."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    tradable: np.ndarray
    dates: np.ndarray
    codes: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_days, n_stocks)``."""
        n_days, n_stocks = self.tradable.shape
        return n_days, n_stocks

    def head(self, n_days: int) -> Bars:
        """The first ``n_days`` days only, as read-only views (no copy): nothing a strategy
        computes from them (shifts, rolls, whole-array reductions) reaches a later day."""
        planes = {name: _frozen(getattr(self, name)[:n_days]) for name in _PLANES}
        return Bars(**planes, dates=_frozen(self.dates[:n_days]), codes=self.codes)


_PLANES = ("open", "high", "low", "close", "volume", "tradable")


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _columns(array: np.ndarray, a: int, b: int) -> np.ndarray:
    """Columns ``a:b`` as a read-only C-contiguous array (the kernels' compiled layout)."""
    out = np.ascontiguousarray(array[:, a:b])
    out.flags.writeable = False
    return out


def bars_of(data: MarketData, a: int = 0, b: int | None = None) -> Bars:
    """The bars of stock columns ``a:b`` (all by default) of ``data``."""
    b = data.n_stocks if b is None else b
    planes = {name: _columns(getattr(data, name), a, b) for name in _PLANES}
    return Bars(**planes, dates=data.dates, codes=tuple(data.codes[a:b]))


class Strategy(Protocol):
    """What the run, the sweep and the walk-forward ask of a strategy."""

    @property
    def name(self) -> str:
        """The name messages and run names use."""

    @property
    def per_column(self) -> bool:
        """Whether each stock's signals depend only on that stock's bars."""

    @property
    def checks_lookahead(self) -> bool:
        """Whether the engine checks its signals for look-ahead (user files)."""

    def indicator_key(self, params: Mapping[str, ParamValue]) -> Hashable:
        """What ``indicators`` depends on: equal keys give equal indicators."""

    def indicators(self, bars: Bars, params: Mapping[str, ParamValue]
                   ) -> tuple[np.ndarray, ...]:
        """The indicator arrays of ``bars``."""

    def signals(self, indicators: tuple[np.ndarray, ...], bars: Bars, start_index: int,
                params: Mapping[str, ParamValue]) -> Signals:
        """Buy and sell signals (none before row ``start_index`` nor without a bar)."""
