"""The look-ahead check of a user's strategy (SPEC §3b).

The signals are computed again on the history cut after each of 3 days and compared
with the full computation on every bar up to the cut. The cuts are drawn from the
data's fingerprint, so a rerun on the same data checks the same days.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from engine.errors import StrategyError
from engine.strategies.base import Bars, Signals, Strategy
from engine.strategies.catalog import ParamValue

#: How many cut histories a check computes.
N_CUTS = 3


def cut_rows(fingerprint: str, start_index: int, n_days: int, n_cuts: int = N_CUTS
             ) -> list[int]:
    """The last rows of the cut histories: up to ``n_cuts`` distinct rows of the run,
    each with at least one later row, drawn from ``fingerprint``."""
    candidates = np.arange(start_index, n_days - 1)
    if candidates.size == 0:
        return []
    seed = int.from_bytes(hashlib.sha256(fingerprint.encode("utf-8")).digest()[:8], "little")
    picked = np.random.default_rng(seed).choice(candidates, min(n_cuts, candidates.size),
                                                replace=False)
    return sorted(int(row) for row in picked)


def check_lookahead(strategy: Strategy, bars: Bars, params: Mapping[str, ParamValue],
                    start_index: int, full: Signals, fingerprint: str) -> None:
    """Raise ``StrategyError`` naming the stock, the bar and the cut where ``strategy``'s
    signals on a cut history differ from ``full`` (its signals on the whole history)."""
    for row in cut_rows(fingerprint, start_index, bars.shape[0]):
        head = bars.head(row + 1)
        cut = strategy.signals(strategy.indicators(head, params), head, start_index, params)
        for label in ("buy", "sell"):
            whole = getattr(full, label)[start_index:row + 1]
            part = getattr(cut, label)[start_index:row + 1]
            _compare(strategy, bars, label, whole, part, start_index, row)
        # The score orders a day's buys: where both computations buy, it must agree.
        both = full.buy[start_index:row + 1] & cut.buy[start_index:row + 1]
        score_whole = np.where(both, full.score[start_index:row + 1], 0.0)
        score_part = np.where(both, cut.score[start_index:row + 1], 0.0)
        _compare(strategy, bars, "score", score_whole, score_part, start_index, row)


def _compare(strategy: Strategy, bars: Bars, label: str, whole: np.ndarray, part: np.ndarray,
             start_index: int, row: int) -> None:
    differ = whole != part
    if not differ.any():
        return
    day, stock = np.argwhere(differ)[0]
    when = np.datetime_as_string(bars.dates[start_index + day], unit="D")
    cut = np.datetime_as_string(bars.dates[row], unit="D")
    raise StrategyError(
        f"strategy {strategy.name} looks ahead: its {label} on {bars.codes[stock]} "
        f"{when} is {whole[day, stock]} with the whole history but {part[day, stock]} with "
        f"the history cut after {cut}; a signal on a bar may use bars up to that bar only",
        file=getattr(strategy, "path", None))
