"""RSI with a trend filter: a numba strategy file (see docs/strategies.md).

The RSI crossing of the built-in ``rsi`` strategy, but a buy only when the close is
above its ``trend``-bar moving average. Try it with ``--stop-loss 0.08``.
"""

import numpy as np
from numba import njit

NAME = "RSI above its trend"
PARAMS = {"period": 14, "oversold": 30.0, "overbought": 70.0, "trend": 60}


@njit(cache=True)
def _signals(close, tradable, period, oversold, overbought, trend):
    n_days, n_stocks = close.shape
    buy = np.zeros((n_days, n_stocks), dtype=np.bool_)
    sell = np.zeros((n_days, n_stocks), dtype=np.bool_)
    score = np.zeros((n_days, n_stocks))
    for s in range(n_stocks):
        k = 0  # this stock's bars so far
        prev_close = np.nan
        gain = 0.0
        loss = 0.0
        prev_rsi = np.nan
        ring = np.zeros(trend)
        total = 0.0
        for t in range(n_days):
            if not tradable[t, s]:
                continue
            c = close[t, s]
            total += c - ring[k % trend]
            ring[k % trend] = c
            rsi = np.nan
            if k >= 1:
                d = c - prev_close
                g = d if d > 0 else 0.0
                lo = -d if d < 0 else 0.0
                if k <= period:
                    gain += g
                    loss += lo
                    if k == period:
                        gain /= period
                        loss /= period
                else:
                    gain = (gain * (period - 1) + g) / period
                    loss = (loss * (period - 1) + lo) / period
                if k >= period:
                    if loss == 0.0:
                        rsi = 100.0 if gain > 0.0 else 50.0
                    else:
                        rsi = 100.0 - 100.0 / (1.0 + gain / loss)
            above = k + 1 >= trend and c > total / trend
            buy[t, s] = prev_rsi <= oversold and rsi > oversold and above
            sell[t, s] = prev_rsi >= overbought and rsi < overbought
            score[t, s] = rsi
            prev_rsi = rsi
            prev_close = c
            k += 1
    return buy, sell, score


def signals(bars, params):
    return _signals(bars.close, bars.tradable, int(params["period"]),
                    float(params["oversold"]), float(params["overbought"]),
                    int(params["trend"]))
