"""Is the best combination luck? The deflated Sharpe ratio and the probability of backtest
overfitting (PBO) of a parameter sweep.

Both take per-period (daily) returns, not annualised figures:

- Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
  Management 40(5), 94-107.
- Bailey, D. H., Borwein, J. M., López de Prado, M. and Zhu, Q. J. (2015), "The
  Probability of Backtest Overfitting", Journal of Computational Finance 20(4), 39-69.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Euler-Mascheroni constant, in the expected maximum of N standard normals.
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()
#: The fewest splits worth a thread of their own.
_SPLITS_PER_BLOCK = 1024


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0, the Sharpe ratio the best of ``n_trials`` skill-less trials reaches by luck.

    ``SR0 = sqrt(V) * ((1 - g) * Z(1 - 1/N) + g * Z(1 - 1/(N e)))`` with ``Z`` the
    standard normal quantile, ``g`` the Euler-Mascheroni constant and ``V`` the variance
    of the trials' Sharpe ratios (Bailey & López de Prado 2014, eq. 6). One trial: 0.
    """
    if n_trials < 2:
        return 0.0
    z = _NORMAL.inv_cdf
    return math.sqrt(sharpe_variance) * ((1 - EULER_GAMMA) * z(1 - 1 / n_trials)
                                         + EULER_GAMMA * z(1 - 1 / (n_trials * math.e)))


def probabilistic_sharpe(sharpe: float, benchmark: float, n_returns: int, skew: float,
                         kurtosis: float) -> float:
    """PSR: the probability that the true Sharpe ratio exceeds ``benchmark``.

    ``Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))`` with ``g3`` the
    skewness and ``g4`` the (non-excess) kurtosis of the returns; per-period Sharpe
    ratios (Bailey & López de Prado 2014, eq. 9). NaN when undefined.
    """
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if n_returns < 2 or not spread > 0 or math.isnan(sharpe):
        return math.nan
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(n_returns - 1) / math.sqrt(spread))


def _moments(returns: np.ndarray) -> tuple[float, float, float]:
    """Per-period Sharpe ratio (ddof=1), skewness and kurtosis (population moments)."""
    std = float(np.std(returns, ddof=1))
    centred = returns - returns.mean()
    m2 = float(np.mean(centred**2))
    skew = float(np.mean(centred**3)) / m2**1.5 if m2 > 0 else math.nan
    kurt = float(np.mean(centred**4)) / m2**2 if m2 > 0 else math.nan
    return (float(returns.mean()) / std if std > 0 else math.nan), skew, kurt


@dataclass(frozen=True)
class DeflatedSharpe:
    """The best combination's deflated Sharpe ratio and what went into it."""

    value: float
    sharpe: float
    expected_max: float
    n_trials: int
    n_returns: int
    skew: float
    kurtosis: float


def deflated_sharpe(best_returns: np.ndarray, trial_sharpes: np.ndarray,
                    risk_free_rate: float = 0.0, periods: int = 252) -> DeflatedSharpe:
    """The deflated Sharpe ratio of the best of a sweep's combinations.

    ``best_returns`` are the best combination's daily returns; ``trial_sharpes`` the
    per-period Sharpe ratios of every combination tried (NaN ones are not counted as
    trials). DSR = PSR(SR*, SR0): the probability that the best is better than the best
    of as many skill-less trials would look. Close to 1: unlikely to be luck.
    """
    r = np.asarray(best_returns, dtype=float) - risk_free_rate / periods
    sharpe, skew, kurt = _moments(r)
    trials = np.asarray(trial_sharpes, dtype=float)
    trials = trials[np.isfinite(trials)]
    variance = float(np.var(trials, ddof=1)) if trials.size > 1 else 0.0
    sr0 = expected_max_sharpe(int(trials.size), variance)
    return DeflatedSharpe(probabilistic_sharpe(sharpe, sr0, r.size, skew, kurt), sharpe, sr0,
                          int(trials.size), int(r.size), skew, kurt)


@dataclass(frozen=True)
class Overfitting:
    """PBO by combinatorially symmetric cross-validation, with its per-split logits."""

    pbo: float
    logits: np.ndarray
    n_splits: int
    n_blocks: int


def probability_of_overfitting(returns: np.ndarray, n_blocks: int = 16) -> Overfitting:
    """PBO of the combinations whose daily returns are the columns of ``returns``.

    The rows are cut into ``n_blocks`` contiguous blocks of equal size (the last
    ``T mod S`` rows are dropped). For each of the C(S, S/2) ways of choosing half the
    blocks as the in-sample set (the rest out of sample), the combination with the best
    in-sample Sharpe ratio gets its out-of-sample relative rank ``w = rank / (N + 1)``
    and the logit ``ln(w / (1 - w))``. PBO is the share of splits with a logit <= 0:
    the in-sample best ranks at or below the median out of sample (Bailey et al. 2015).
    Ties in sample go to the first column (grid order).
    """
    r = np.asarray(returns, dtype=float)
    n_rows, n_combos = r.shape
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks must be an even number >= 2, not {n_blocks}")
    size = n_rows // n_blocks
    if size < 2 or n_combos < 2:
        raise ValueError(f"PBO needs at least 2 combinations and {2 * n_blocks} days "
                         f"({n_blocks} blocks of 2); got {n_combos} and {n_rows}")
    blocks = r[: size * n_blocks].reshape(n_blocks, size, n_combos)
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)
    all_sums, all_squares = sums.sum(axis=0), squares.sum(axis=0)
    half = n_blocks // 2
    n_splits = math.comb(n_blocks, half)
    choose = np.fromiter(itertools.chain.from_iterable(
        itertools.combinations(range(n_blocks), half)), np.int64, n_splits * half
    ).reshape(n_splits, half)
    below = _splits_below(choose, np.ascontiguousarray(sums), np.ascontiguousarray(squares),
                          all_sums, all_squares, size * n_blocks // 2)
    w = (below + 1) / (n_combos + 1)
    logits = np.log(w / (1 - w))
    return Overfitting(float(np.mean(logits <= 0)), logits, len(choose), n_blocks)


def _splits_below(choose: np.ndarray, sums: np.ndarray, squares: np.ndarray,
                  all_sums: np.ndarray, all_squares: np.ndarray, count: int) -> np.ndarray:
    """Per split, the combinations scoring strictly below the in-sample best out of
    sample (``overfit_nb.split_ranks_nb``; NaN never below), the splits cut into ranges
    run on this process's threads. A half's score is ``sum / sqrt(count * sum_sq -
    sum^2)``: its Sharpe ratio times ``sqrt(count - 1)``, the same factor for every
    cell, so it ranks combinations exactly as their Sharpe ratios do."""
    from engine.execution.parallel import cpu_threads
    from engine.kernels.overfit_nb import split_ranks_nb

    below = np.empty(len(choose), np.int64)
    n_threads = max(1, min(cpu_threads(), len(choose) // _SPLITS_PER_BLOCK))
    edges = np.linspace(0, len(choose), n_threads + 1).astype(int)

    def run(piece: int) -> None:
        split_ranks_nb(choose, sums, squares, all_sums, all_squares, float(count),
                       int(edges[piece]), int(edges[piece + 1]), below)

    if n_threads == 1:
        run(0)
    else:
        with ThreadPoolExecutor(n_threads, "pbo") as pool:
            list(pool.map(run, range(n_threads)))
    return below
