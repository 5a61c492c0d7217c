"""The per-stock part of a run on a range of stock columns: the strategy's indicators and
signals, the look-ahead check of a user's strategy, and (per_stock mode) the sleeves'
simulation.

A built-in strategy computes every stock column independently of the others, so
splitting the columns into chunks, for worker processes or for progress reports, never
changes a number (a user's strategy, which may compare stocks, gets all columns at once):
chunks write their columns into full-size destination arrays and per-stock records are
merged by a stable sort on (day, sells first, stock), the order one pass produces.
The same code runs in the calling process and in workers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.kernels.records import Side, fill_dt, rejection_dt
from engine.kernels.simulate_nb import simulate_per_stock_nb
from engine.progress import TaskContext
from engine.run.kernel_inputs import costs_of, exits_of, market_of
from engine.strategies.base import Bars, Signals, Strategy, bars_of
from engine.strategies.catalog import ParamValue
from engine.strategies.lookahead import check_lookahead
from engine.strategies.resolve import params_of, strategy_of

#: Bars (days x stocks) per piece of work between progress reports and cancel checks.
PIECE_CELLS = 1_000_000
#: Relative cost of a day without a bar: the kernels still visit the cell.
_EMPTY_CELL_COST = 0.25

Chunk = tuple[int, int]


def balance_chunks(tradable: np.ndarray, n_chunks: int) -> list[Chunk]:
    """Split the columns into ``min(n_chunks, n_stocks)`` contiguous, non-empty ranges of
    about equal work.

    Work is the stock's bar count plus a small cost per calendar day, so a chunk of
    late listings gets more stocks than a chunk of stocks with full histories.
    """
    n_days, n_stocks = tradable.shape
    n_chunks = max(1, min(n_chunks, n_stocks))
    weight = np.asarray(tradable).sum(axis=0) + _EMPTY_CELL_COST * n_days
    cum = np.cumsum(weight)
    # A stock joins the chunk its midpoint falls in.
    cuts = np.searchsorted(cum - weight / 2, cum[-1] * np.arange(1, n_chunks) / n_chunks)
    edges = [0]
    for i, cut in enumerate(cuts):  # keep every chunk non-empty
        edges.append(int(min(max(cut, edges[-1] + 1), n_stocks - (n_chunks - 1 - i))))
    edges.append(n_stocks)
    return list(itertools.pairwise(edges))


def pieces(tradable: np.ndarray, chunk: Chunk, piece_cells: int = PIECE_CELLS) -> list[Chunk]:
    """A chunk cut into pieces of about ``piece_cells`` cells each (at least one)."""
    c0, c1 = chunk
    cells = tradable.shape[0] * (c1 - c0)
    sub = balance_chunks(tradable[:, c0:c1], math.ceil(cells / piece_cells))
    return [(c0 + a, c0 + b) for a, b in sub]


def _put(out: dict[str, np.ndarray], name: str, part: np.ndarray, a: int, n_stocks: int) -> None:
    """Store columns ``a:a+width`` of the full-size array ``out[name]``.

    A part that already covers every column becomes the array itself (no copy).
    """
    if name not in out and part.shape[1] == n_stocks:
        out[name] = part
        return
    if name not in out:
        out[name] = np.empty((part.shape[0], n_stocks), dtype=part.dtype)
    out[name][:, a:a + part.shape[1]] = part


@dataclass(frozen=True)
class ChunkRecords:
    """Per-stock mode's fill and rejection records of a chunk (global stock indices)."""

    fills: np.ndarray
    rejections: np.ndarray


def merge_records(parts: list[np.ndarray]) -> np.ndarray:
    """Records of column chunks in the order one pass over all columns makes them."""
    if len(parts) == 1:
        return parts[0]
    rec = np.concatenate(parts)
    order = np.lexsort((rec["stock"], rec["side"] != Side.SELL, rec["day"]))
    return rec[order]


def column_pass(data: MarketData, config: BacktestConfig, chunk: Chunk,
                out: dict[str, np.ndarray], ctx: TaskContext,
                strategy: Strategy | None = None) -> ChunkRecords | None:
    """Compute columns ``chunk`` of the run into ``out``.

    ``out`` receives full-size arrays (its entries may be pre-allocated, e.g. shared
    memory): ``score``, ``buy``, ``sell`` ``(n_days, n_stocks)`` in shared mode (the
    portfolio pass then needs them all); ``equity``, ``cash``, ``positions_value``
    ``(n_run, n_stocks)`` sleeves in per_stock mode, which also returns the records.
    ``strategy`` is ``config``'s (read from it when not given); one that is not
    ``per_column`` needs the whole universe as its chunk. Reports stocks done per stage,
    checks for cancellation between pieces.
    """
    strategy = strategy_of(config) if strategy is None else strategy
    params = params_of(config, strategy)
    if strategy.per_column:
        parts = pieces(data.tradable, chunk)
    else:
        assert chunk == (0, data.n_stocks), "a whole-universe strategy cannot be split"
        parts = [chunk]
    total = chunk[1] - chunk[0]
    shared = config.capital_mode == "shared"
    signals_out = out if shared else {}
    bars = [bars_of(data, a, b) for a, b in parts]
    indicators = _indicators(strategy, params, bars, parts, ctx, total)
    signals = _signals(strategy, params, data.start_index, bars, indicators, parts,
                       signals_out, data.n_stocks, ctx, total)
    del indicators
    if strategy.checks_lookahead and config.lookahead_check == "on":
        with ctx.span("lookahead"):
            check_lookahead(strategy, bars[0], params, data.start_index, signals[0],
                            data.fingerprint)
            _report_piece(ctx, "lookahead", total, total)
    del signals
    if shared:
        return None
    return _simulate_sleeves(data, config, parts, signals_out, out, ctx, total)


def _report_piece(ctx: TaskContext, stage: str, done: int, total: int) -> None:
    ctx.report(stage, done, total, force=done == total)
    ctx.check_cancel()


def _indicators(strategy: Strategy, params: dict[str, ParamValue], bars: list[Bars],
                parts: list[Chunk], ctx: TaskContext,
                total: int) -> list[tuple[np.ndarray, ...]]:
    out, done = [], 0
    with ctx.span("indicators"):
        for (a, b), piece in zip(parts, bars, strict=True):
            out.append(strategy.indicators(piece, params))
            done += b - a
            _report_piece(ctx, "indicators", done, total)
    return out


def _signals(strategy: Strategy, params: dict[str, ParamValue], start_index: int,
             bars: list[Bars], indicators: list[tuple[np.ndarray, ...]], parts: list[Chunk],
             out: dict[str, np.ndarray], n_stocks: int, ctx: TaskContext,
             total: int) -> list[Signals]:
    done, signals = 0, []
    with ctx.span("signals"):
        for (a, b), piece, ind in zip(parts, bars, indicators, strict=True):
            sig = strategy.signals(ind, piece, start_index, params)
            signals.append(sig)
            for name, part in zip(("buy", "sell", "score"), sig, strict=True):
                _put(out, name, part, a, n_stocks)
            done += b - a
            _report_piece(ctx, "signals", done, total)
    return signals


def _simulate_sleeves(data: MarketData, config: BacktestConfig, parts: list[Chunk],
                      signals: dict[str, np.ndarray], out: dict[str, np.ndarray],
                      ctx: TaskContext, total: int) -> ChunkRecords:
    fills, rejections, done = [], [], 0
    sleeve = config.initial_capital / data.n_stocks
    market, costs = market_of(data), costs_of(data, config)
    with ctx.span("simulate"):
        for a, b in parts:
            equity, cash, value, f, r = simulate_per_stock_nb(
                market, costs, signals["buy"], signals["sell"], data.start_index, a, b,
                config.fill == "close", sleeve, config.price_limits, exits_of(config))
            for name, part in (("equity", equity), ("cash", cash), ("positions_value", value)):
                _put(out, name, part, a, data.n_stocks)
            fills.append(f)
            rejections.append(r)
            done += b - a
            _report_piece(ctx, "simulate", done, total)
    return ChunkRecords(merge_records(fills) if fills else np.empty(0, fill_dt),
                        merge_records(rejections) if rejections else np.empty(0, rejection_dt))
