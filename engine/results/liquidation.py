"""Closing a run's open positions at its end (a walk-forward's test window hands its
capital to the next fold in cash): the closing sells and the closed round trips, priced
with the simulation's own sell costs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.kernels.simulate_nb import sell_costs_nb
from engine.results.tables import BacktestResult
from engine.rules.rulebook import cost_rates


def close_open_positions(result: BacktestResult
                         ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Close the positions still open at the end of a run at the last close, with the
    simulation's own sell costs (``sell_costs_nb``) and the rates in force that day.

    Returns the closing sells (as fills: commission, stamp tax and transfer fee of the
    last day), the trades with those round trips closed (pnl net of both sides' costs),
    and the total of the closing costs.
    """
    config, trades = result.config, result.trades.copy()
    open_ = trades.index[trades["open"]]
    if len(open_) == 0:
        return result.fills.iloc[:0], trades, 0.0
    last_day = result.equity["date"].iloc[-1]
    day = np.array([np.datetime64(last_day, "D").astype(np.int64)])
    rates = cost_rates(day, config.stamp_tax_rate, config.transfer_fee_rate)
    buys = result.fills[result.fills["side"].astype(str) == "buy"].set_index(["code", "date"])
    rows, total = [], 0.0
    cash = float(result.equity["cash"].iloc[-1])
    for i in open_:
        t = trades.loc[i]
        entry = buys.loc[(t["code"], t["entry_date"])]
        shares, price = int(t["shares"]), float(t["exit_price"])
        notional = shares * price
        commission, tax, fee = sell_costs_nb(notional, config.commission_rate,
                                             config.min_commission,
                                             float(rates.stamp_sell[0]),
                                             float(rates.transfer_fee[0]))
        cost = (shares * float(t["entry_price"]) + float(entry["commission"])
                + float(entry["tax"]) + float(entry["transfer_fee"]))
        pnl = notional - commission - tax - fee - cost
        trades.loc[i, ["exit_date", "pnl", "return", "open"]] = [last_day, pnl, pnl / cost,
                                                                 False]
        cash += notional - commission - tax - fee
        total += commission + tax + fee
        rows.append({"date": last_day, "code": t["code"], "side": "sell", "shares": shares,
                     "price": price, "commission": commission, "tax": tax,
                     "transfer_fee": fee, "cash_after": cash})
    closing = pd.DataFrame(rows, columns=result.fills.columns)
    sides = result.fills["side"].cat.categories
    closing["side"] = pd.Categorical(closing["side"], categories=sides)
    return closing, trades, total
