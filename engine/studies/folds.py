"""How a walk-forward cuts its run window into folds: train and test windows of trading
days or calendar months, rolling or anchored."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError

_WINDOW = re.compile(r"^\s*(\d+)\s*([dm])\s*$", re.IGNORECASE)
#: Longest window of each unit: what fits between the first and last date a calendar can
#: hold (``datetime.date``), in calendar months or in days (a bound on trading days).
MAX_WINDOW = {"m": 12 * (dt.MAXYEAR - dt.MINYEAR + 1),
              "d": (dt.date.max - dt.date.min).days + 1}


@dataclass(frozen=True)
class Window:
    """A window length: ``count`` trading days ("250d") or calendar months ("12m")."""

    count: int
    unit: str  # "d" or "m"

    @classmethod
    def parse(cls, text: str, name: str) -> Window:
        """``"250d"`` or ``"12m"``; a ConfigError names ``name`` otherwise."""
        match = _WINDOW.match(str(text))
        digits = match.group(1).lstrip("0") if match is not None else ""
        if match is None or not digits:
            raise ConfigError(f"{name} {text!r} is not a window; write trading days as 250d "
                              "or months as 12m", field=name)
        unit = match.group(2).lower()
        limit = MAX_WINDOW[unit]
        if len(digits) > len(str(limit)) or int(digits) > limit:
            raise ConfigError(f"{name} {str(text).strip()!r} is longer than any calendar (at most "
                              f"{limit}{unit}); use a shorter window", field=name)
        return cls(int(digits), unit)

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


@dataclass(frozen=True)
class FoldSpec:
    """How to cut [start, end] into folds: train and test lengths, rolling or anchored."""

    train: str = "12m"
    test: str = "3m"
    anchored: bool = False


@dataclass(frozen=True)
class Fold:
    """One fold's train and test windows (trading dates, inclusive)."""

    train_start: dt.date
    train_end: dt.date
    test_start: dt.date
    test_end: dt.date


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day where it has fewer days);
    ``date.max`` or ``date.min`` where that is beyond the calendar (no window that long
    fits in any run)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    if year > dt.MAXYEAR:
        return dt.date.max
    if year < dt.MINYEAR:
        return dt.date.min
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _index(days: np.ndarray, day: dt.date) -> int:
    """Index of the first trading date on or after ``day``."""
    return int(np.searchsorted(days, np.datetime64(day, "D")))


def _window_starts(days: np.ndarray, first: int, window: Window, end: dt.date,
                   anchor: dt.date) -> list[tuple[int, int]]:
    """Consecutive complete windows [a, b) (indices) from ``days[first]`` on; months count
    from the calendar date ``anchor``, days are trading days."""
    out: list[tuple[int, int]] = []
    k, start = 1, first
    while start < days.size:
        if window.unit == "d":
            stop = first + k * window.count
            if stop > days.size:
                break
        else:
            limit = _add_months(anchor, k * window.count)
            if limit - dt.timedelta(days=1) > end:
                break
            stop = _index(days, limit)
        if stop > start:
            out.append((start, stop))
        start, k = stop, k + 1
    return out


def split_folds(run_dates: Iterable[Any], spec: FoldSpec, end: dt.date | None = None,
                start: dt.date | None = None) -> list[Fold]:
    """The folds of a run calendar (its trading dates, sorted; ``start`` and ``end`` the
    run's configured dates, default the first and last trading date).

    The test windows are consecutive windows of ``spec.test`` that begin after the first
    ``spec.train`` of the calendar. Each fold trains on the ``spec.train`` just before
    its test window (rolling), or on everything from the first date (``anchored``).
    Months are calendar months counted from ``start`` (12m from 2023-02-04 ends on
    2024-02-03), days are trading days; only complete windows count.
    """
    days = np.array([np.datetime64(pd.Timestamp(d).date(), "D") for d in run_dates],
                    dtype="datetime64[D]")
    train, test = Window.parse(spec.train, "train"), Window.parse(spec.test, "test")
    span = f"{days[0]} .. {days[-1]}" if days.size else "an empty window"
    last = end if end is not None else (days[-1].item() if days.size else dt.date.min)
    origin = start if start is not None else (days[0].item() if days.size else last)
    first_train = _window_starts(days, 0, train, last, origin)[:1] if days.size else []
    test_origin = (_add_months(origin, train.count) if train.unit == "m" else
                   days[first_train[0][1]].item() if first_train and
                   first_train[0][1] < days.size else origin)
    tests = (_window_starts(days, first_train[0][1], test, last, test_origin)
             if first_train and first_train[0][1] < days.size else [])
    folds = []
    for a, b in tests:
        if spec.anchored:
            begin = 0
        elif train.unit == "d":
            begin = a - train.count
        else:
            begin = _index(days, _add_months(days[a].item(), -train.count))
        folds.append(Fold(days[begin].item(), days[a - 1].item(), days[a].item(),
                          days[b - 1].item()))
    if not folds:
        raise ConfigError(f"no complete fold of train {train} + test {test} fits in {span}; "
                          "use shorter windows or a longer run", field="train")
    return folds
