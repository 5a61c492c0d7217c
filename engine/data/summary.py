"""Per-stock coverage of a loaded universe, and whether a run window meets it, for display
in the GUI and CLI."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from engine.data.loader import MarketData
from engine.rules.rulebook import board_of
from engine.util.lazy_import import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")


def coverage(data: MarketData, start: dt.date | str | None = None,
             end: dt.date | str | None = None) -> pd.DataFrame:
    """One row per stock: code, board, first and last bar, bars in window, warm-up bars.

    The window is the run window [``start``, ``end``] (by default the data's own: from
    ``data.start_index`` to its last day): bars in window are a stock's bars on its days,
    warm-up bars its bars before ``start``."""
    tradable = np.asarray(data.tradable)
    dates = data.dates
    lo = (data.start_index if start is None
          else int(np.searchsorted(dates, np.datetime64(start, "D"))))
    hi = (len(dates) if end is None
          else int(np.searchsorted(dates, np.datetime64(end, "D"), side="right")))
    hi = max(hi, lo)
    has = tradable.any(axis=0)
    first = np.where(has, tradable.argmax(axis=0), 0)
    last = np.where(has, tradable.shape[0] - 1 - tradable[::-1].argmax(axis=0), 0)
    return pd.DataFrame({
        "code": list(data.codes),
        "board": [board_of(c) for c in data.codes],
        "first_bar": np.where(has, dates[first], np.datetime64("NaT")),
        "last_bar": np.where(has, dates[last], np.datetime64("NaT")),
        "bars_in_window": tradable[lo:hi].sum(axis=0),
        "warmup_bars": tradable[:lo].sum(axis=0),
        "file": list(data.files),
    })


def window_problem(start: dt.date, end: dt.date, first: dt.date, last: dt.date) -> str:
    """Why the run window [start, end] cannot run on data covering [first, last]
    ("" when it can): it must hold at least one of the data's days."""
    if start > last or end < first:
        return (f"the run window {start} .. {end} holds none of the data's days "
                f"({first} .. {last}); use the data's range")
    return ""
