"""Jitted core of the probability of backtest overfitting (``engine.studies.overfit``):
for each CSCV split, the in-sample best combination's out-of-sample rank, without the
(splits x combinations) temporaries and releasing the GIL (a caller may run ranges of
splits on several threads).

The train sums are added block by block in block order from 0.0, which is what the
matrix product of the 0/1 split mask with the block sums did (checked to the bit); a
split reuses the partial sums of the blocks it starts with in common with the split
before (the same additions, about a quarter of them left to do), and
the scores are the same IEEE operations as the numpy code's before (``np.sqrt`` of the
spread, NaN where it is not > 0, then the division).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_BIG = np.finfo(np.float64).max


@njit(cache=True, nogil=True, error_model="numpy")
def _scores_nb(totals: np.ndarray, squares: np.ndarray, count: float, out: np.ndarray
               ) -> None:
    """``total / sqrt(count * squares - total^2)`` per cell; NaN where that root is not
    > 0 (written without branches, so that it runs on vectors)."""
    for j in range(totals.size):
        root = np.sqrt(squares[j] * count - totals[j] * totals[j])
        score = totals[j] / root
        out[j] = score if root > 0 else np.nan


@njit(cache=True, nogil=True, error_model="numpy")
def split_ranks_nb(choose: np.ndarray, sums: np.ndarray, squares: np.ndarray,
                   all_sums: np.ndarray, all_squares: np.ndarray, count: float,
                   first: int, stop: int, below: np.ndarray) -> None:
    """For splits ``first .. stop - 1`` (rows of ``choose``, the in-sample blocks of
    each), how many combinations score strictly below the in-sample best out of sample
    (NaN scores never below; the in-sample best is the first highest score, NaN counted
    as -inf and infinities as the largest finite numbers, as ``np.nan_to_num`` makes
    them), into ``below``."""
    n_combos, half = sums.shape[1], choose.shape[1]
    # Row d of the partial sums adds the split's first d blocks; a split shares the rows
    # of the blocks it has in common with the one before at its start (the splits come
    # in lexicographic order), and those sums are the same additions in the same order.
    part_sums, part_squares = np.zeros((half + 1, n_combos)), np.zeros((half + 1, n_combos))
    train_sums, train_squares = part_sums[half], part_squares[half]
    test_sums, test_squares = np.empty(n_combos), np.empty(n_combos)
    train, test = np.empty(n_combos), np.empty(n_combos)
    for i in range(first, stop):
        same = 0
        if i > first:
            while same < half and choose[i, same] == choose[i - 1, same]:
                same += 1
        for d in range(same, half):
            k = choose[i, d]
            row_sums, row_squares = sums[k], squares[k]
            from_sums, from_squares = part_sums[d], part_squares[d]
            to_sums, to_squares = part_sums[d + 1], part_squares[d + 1]
            for j in range(n_combos):
                to_sums[j] = from_sums[j] + row_sums[j]
                to_squares[j] = from_squares[j] + row_squares[j]
        for j in range(n_combos):
            test_sums[j] = all_sums[j] - train_sums[j]
            test_squares[j] = all_squares[j] - train_squares[j]
        _scores_nb(train_sums, train_squares, count, train)
        _scores_nb(test_sums, test_squares, count, test)
        best, best_score = 0, -np.inf
        for j in range(n_combos):
            score = train[j]
            score = -np.inf if np.isnan(score) else min(max(score, -_BIG), _BIG)
            if score > best_score:
                best, best_score = j, score
        chosen = test[best]
        n = 0
        for j in range(n_combos):
            n += test[j] < chosen
        below[i] = n
