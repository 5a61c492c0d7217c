"""One stock's bars and RSI over the run window, for drill-down charts and tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.config import BacktestConfig
from engine.data import MarketData
from engine.errors import DataError
from engine.strategies.base import bars_of
from engine.strategies.builtin import STRATEGIES

DETAIL_COLUMNS = ("date", "open", "high", "low", "close", "volume", "rsi")


def _column(data: MarketData, code: str) -> int:
    """Column of ``code`` in ``data``, or a DataError naming the code and what is loaded."""
    try:
        return data.codes.index(code)
    except ValueError:
        shown = ", ".join(data.codes[:5]) + (" …" if data.n_stocks > 5 else "")
        raise DataError(
            f"stock {code!r} is not in the loaded universe ({data.n_stocks} stocks: {shown}); "
            "pick one of the loaded codes, spelled like 000001.SZ",
            code=code,
        ) from None


def stock_detail(data: MarketData, code: str, config: BacktestConfig) -> pd.DataFrame:
    """Bars and RSI of ``code`` from the run's first day (``data.start_index``) to the end.

    Only days on which the stock has a bar are returned (suspended days are absent).
    RSI comes from the same kernel as the run (``config.rsi_method``, ``config.period``)
    applied to the stock's whole history, so the warm-up before the window is honoured and
    each value equals the RSI strategy's indicator; it is NaN throughout when the run's
    strategy is another. Columns: ``DETAIL_COLUMNS``.
    """
    j = _column(data, code)
    # The run's own columns (read-only, contiguous: the kernels' compiled signature).
    bars = bars_of(data, j, j + 1)
    if config.strategy == "rsi":
        rsi = STRATEGIES["rsi"].indicators(bars, config.strategy_params())[0][:, 0]
    else:
        rsi = np.full(bars.shape[0], np.nan)
    rows = np.flatnonzero(bars.tradable[:, 0])
    rows = rows[rows >= data.start_index]
    frame = {"date": data.dates[rows]}
    for name in DETAIL_COLUMNS[1:-1]:
        frame[name] = data.plane(name)[rows, j]
    frame["rsi"] = rsi[rows]
    return pd.DataFrame(frame, columns=list(DETAIL_COLUMNS))
