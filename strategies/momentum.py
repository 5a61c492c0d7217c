"""Momentum with a volume filter: a NumPy strategy file (see docs/strategies.md).

Buy when the close rises above its highest close of the previous ``lookback`` bars on
volume above the average of those bars; sell when it falls below their lowest close.
Each stock's own bars are used (days without a bar are skipped), and every number on
bar t comes from bars up to t: the look-ahead check passes.
"""

import numpy as np

NAME = "Momentum with volume"
PARAMS = {"lookback": 20, "volume_ratio": 1.0}


def _own_bars_rolling(values, tradable, window, reduce):
    """``reduce`` over each stock's previous ``window`` bars (bar t excluded); NaN until
    ``window`` bars precede t, and on days without a bar."""
    out = np.full(values.shape, np.nan)
    for s in range(values.shape[1]):
        rows = np.flatnonzero(tradable[:, s])
        own = values[rows, s]
        if own.size <= window:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(own[:-1], window)
        out[rows[window:], s] = reduce(windows, axis=1)
    return out


def signals(bars, params):
    n = int(params["lookback"])
    highest = _own_bars_rolling(bars.close, bars.tradable, n, np.max)
    lowest = _own_bars_rolling(bars.close, bars.tradable, n, np.min)
    volume = _own_bars_rolling(bars.volume, bars.tradable, n, np.mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        buy = (bars.close > highest) & (bars.volume > params["volume_ratio"] * volume)
        sell = bars.close < lowest
        score = -bars.close / highest  # the strongest breakout buys first
    return buy, sell, np.where(buy, score, 0.0)
