"""What a sweep worker does with a batch of combinations: the strategy's indicators once per
indicator key, its signals, the simulation from buy lists (``simulate_nb.simulate_lists_nb``,
no rejection records) and the metrics, with what is the same for many combinations
computed once and kept.

A row's metrics and daily returns equal a single run's exactly: the simulation is
bit-identical to ``engine.run.backtest.simulate`` and the metrics go through the same
``engine.run.backtest.run_metrics``.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.execution.shared_data import DataRef, attach_market_data
from engine.kernels.simulate_nb import Costs, Market, buy_lists_nb, simulate_lists_nb
from engine.progress import TaskContext
from engine.run.backtest import _tiny_market, run_metrics
from engine.run.kernel_inputs import costs_of, exits_of, market_of
from engine.strategies.base import Bars, Strategy, bars_of
from engine.strategies.builtin import STRATEGIES
from engine.strategies.lookahead import check_lookahead
from engine.strategies.resolve import params_of

#: One combination's outcome: its metrics and daily returns (float32).
Outcome = tuple[dict[str, object], np.ndarray]


@dataclass
class DataState:
    """What this process keeps for the market data it last evaluated combinations on: the
    bars, the kernels' market planes, and the last indicators."""

    prices: np.ndarray
    bars: Bars
    market: Market
    indicator: tuple[Strategy, Hashable, tuple[np.ndarray, ...]] | None = None
    #: Buy lists and sell signals of the last indicators, by side, start and parameters.
    sides: dict[Hashable, object] = field(default_factory=dict)
    #: The kernels' cost arrays by the config fields they come from (the same for most
    #: combinations: ``costs_of`` hashes the calendar each time).
    costs: dict[str, Costs] = field(default_factory=dict)


class _Kept(threading.local):
    """The state of the data this thread evaluated last (a worker serves one sweep at a
    time; a sweep in one process may run its batches on several threads, each with its
    own indicators)."""

    state: DataState | None = None


_KEPT = _Kept()


def data_state(data: MarketData) -> DataState:
    """This thread's ``DataState`` of ``data`` (made on first use)."""
    prices = data.arrays.prices
    kept = _KEPT.state
    if kept is not None and kept.prices is prices:
        return kept
    state = _KEPT.state = DataState(prices, bars_of(data), market_of(data))
    return state


def forget() -> None:
    """Drop this thread's kept state (the sweep is over; the threads that ran its
    batches end with it)."""
    _KEPT.state = None


def indicators_of(data: MarketData, state: DataState, strategy: Strategy,
                  config: BacktestConfig) -> tuple[tuple[np.ndarray, ...], bool]:
    """The strategy's indicators under ``config``; reuses the last ones computed (True if
    new). A user's strategy is checked for look-ahead each time its signals are computed
    for a new parameter set (SPEC §3b)."""
    params = params_of(config, strategy)
    key = strategy.indicator_key(params)
    if state.indicator is not None:
        held_strategy, held_key, indicators = state.indicator
        if held_strategy == strategy and held_key == key:
            return indicators, False
    indicators = strategy.indicators(state.bars, params)
    if strategy.checks_lookahead and config.lookahead_check == "on":
        full = strategy.signals(indicators, state.bars, data.start_index, params)
        check_lookahead(strategy, state.bars, params, data.start_index, full,
                        data.fingerprint)
    state.indicator = (strategy, key, indicators)
    state.sides.clear()
    return indicators, True


BuyLists = tuple[np.ndarray, np.ndarray, np.ndarray]


def _buy_lists(data: MarketData, buy: np.ndarray, score: np.ndarray) -> BuyLists:
    """``buy_lists_nb`` over every stock column."""
    return buy_lists_nb(buy, score, data.start_index, 0, data.n_stocks)


def signals_of(data: MarketData, state: DataState, strategy: Strategy,
               config: BacktestConfig, indicators: tuple[np.ndarray, ...]
               ) -> tuple[BuyLists, np.ndarray]:
    """The buy lists (``buy_lists_nb``) and sell signals of ``config``. A strategy that
    declares which parameters each side depends on (``buy_params``, ``sell_params``) has
    each side computed once per distinct value, for the current indicators."""
    params = params_of(config, strategy)
    buy_params = getattr(strategy, "buy_params", None)
    sell_params = getattr(strategy, "sell_params", None)
    if buy_params is None or sell_params is None:
        signals = strategy.signals(indicators, state.bars, data.start_index, params)
        return _buy_lists(data, signals.buy, signals.score), signals.sell
    buy_key = ("buy", data.start_index, *(params[name] for name in buy_params))
    sell_key = ("sell", data.start_index, *(params[name] for name in sell_params))
    lists, sell = state.sides.get(buy_key), state.sides.get(sell_key)
    if lists is None or sell is None:
        signals = strategy.signals(indicators, state.bars, data.start_index, params)
        if lists is None:
            lists = state.sides[buy_key] = _buy_lists(data, signals.buy, signals.score)
        if sell is None:
            sell = state.sides[sell_key] = signals.sell
    return lists, sell  # type: ignore[return-value]


def simulate_fast(data: MarketData, state: DataState, config: BacktestConfig,
                  lists: BuyLists, sell: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(equity, positions_value, fills) of ``config`` from its buy lists and sell
    signals: bit-identical to ``engine.run.backtest.simulate``'s."""
    per_stock = config.capital_mode == "per_stock"
    cash0 = (config.initial_capital / data.n_stocks if per_stock
             else config.initial_capital)
    return simulate_lists_nb(state.market, _costs(data, state, config), lists, sell,
                             data.start_index, per_stock, config.fill == "close", cash0,
                             config.position_pct, config.max_positions, config.price_limits,
                             exits_of(config))


def _costs(data: MarketData, state: DataState, config: BacktestConfig) -> Costs:
    """``costs_of(data, config)``, made once per distinct set of the fields it reads."""
    key = repr((config.commission_rate, config.min_commission, config.stamp_tax_rate,
                config.transfer_fee_rate, config.slippage, config.lot_size))  # -0.0 != 0.0
    costs = state.costs.get(key)
    if costs is None:
        costs = state.costs[key] = costs_of(data, config)
    return costs


def evaluate(data: MarketData, state: DataState, config: BacktestConfig, lists: BuyLists,
             sell: np.ndarray, benchmark: np.ndarray) -> Outcome:
    """One combination's metrics and daily returns (float32) from its signals."""
    equity, value, fills = simulate_fast(data, state, config, lists, sell)
    returns = np.empty(equity.size, np.float32)
    return run_metrics(config, data, equity, value, fills, benchmark, returns), returns


def sweep_task(payload: tuple[DataRef | MarketData, BacktestConfig, Strategy,
                              list[tuple[int, BacktestConfig]], dict[float, np.ndarray]],
               ctx: TaskContext) -> tuple[list[tuple[int, Outcome]], int]:
    """Evaluate a batch of combinations (grid index and config, grouped by indicator);
    returns (rows of index and outcome, indicator computations)."""
    source, _, strategy, combos, bench = payload
    with ctx.span("attach"):
        data = source if isinstance(source, MarketData) else attach_market_data(source)
        state = data_state(data)
    rows, computed = [], 0
    with ctx.span("sweep"):
        for i, (index, config) in enumerate(combos, start=1):
            indicators, new = indicators_of(data, state, strategy, config)
            computed += new
            lists, sell = signals_of(data, state, strategy, config, indicators)
            rows.append((index, evaluate(data, state, config, lists, sell,
                                         bench[config.initial_capital])))
            ctx.report("sweep", i, len(combos), force=i == len(combos))
            ctx.check_cancel()
    return rows, computed


@functools.cache  # once per process
def warm_up_sweep() -> None:
    """Compile (or load) the sweep's kernels on a tiny universe, in the process that starts
    the workers, so that they only load them (numba's cache is not safe to fill from
    several processes at once)."""
    data = _tiny_market()
    state = DataState(data.arrays.prices, bars_of(data), market_of(data))
    strategy = STRATEGIES["rsi"]
    for mode, fill in itertools.product(("shared", "per_stock"), ("next_open", "close")):
        config = BacktestConfig(period=5, capital_mode=mode, fill=fill, initial_capital=1e5,
                                max_positions=2, stop_loss=0.05)
        params = params_of(config, strategy)
        signals = strategy.signals(strategy.indicators(state.bars, params), state.bars,
                                   data.start_index, params)
        simulate_fast(data, state, config,
                      _buy_lists(data, signals.buy, signals.score),
                      signals.sell)
