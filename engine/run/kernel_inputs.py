"""The simulation kernels' inputs from a run's market data and config: aligned prices and
limits, and the exchange's cost rates and lot rules as arrays (``engine.rules.rulebook``)."""

from __future__ import annotations

import functools

import numpy as np

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.kernels.simulate_nb import Costs, Exits, Market, make_exits
from engine.rules.rulebook import cost_rates, lot_rules


def market_of(data: MarketData) -> Market:
    """The aligned planes the kernels read: open, close, limits and ``tradable``."""
    return Market(data.open, data.close, data.up_limit, data.down_limit, data.tradable)


@functools.lru_cache(maxsize=8)
def _lots(codes: tuple[str, ...], lot_size: int | str) -> tuple[np.ndarray, np.ndarray]:
    # Sweeps ask once per combination; the codes' boards never change within a dataset.
    lot_min, lot_step = lot_rules(codes, lot_size)
    return _frozen(lot_min), _frozen(lot_step)


def _frozen(array: np.ndarray) -> np.ndarray:
    """Read-only: a cached array is shared by every later run."""
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=8)
def _rates(calendar: bytes, stamp_tax: float | str,
           transfer_fee: float | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rates = cost_rates(np.frombuffer(calendar, dtype=np.int64), stamp_tax, transfer_fee)
    return _frozen(rates.stamp_buy), _frozen(rates.stamp_sell), _frozen(rates.transfer_fee)


def costs_of(data: MarketData, config: BacktestConfig) -> Costs:
    """Commission, the stamp tax and transfer fee of each calendar row, slippage and the
    lot rule of each stock, as the kernels take them (SPEC §4)."""
    stamp_buy, stamp_sell, fee = _rates(np.asarray(data.arrays.calendar, np.int64).tobytes(),
                                        config.stamp_tax_rate, config.transfer_fee_rate)
    lot_min, lot_step = _lots(data.codes, config.lot_size)
    return Costs(config.commission_rate, config.min_commission, stamp_buy, stamp_sell, fee,
                 config.slippage, lot_min, lot_step)


def exits_of(config: BacktestConfig) -> Exits:
    """The run's exits (SPEC §3c) as the kernels take them."""
    return make_exits(config.stop_loss, config.take_profit, config.trailing_stop,
                      config.max_hold)
