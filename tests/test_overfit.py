"""Deflated Sharpe ratio and PBO (engine.studies.overfit) against hand-computed cases and a plain
loop version of CSCV."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from engine.studies.overfit import (
    EULER_GAMMA,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    probability_of_overfitting,
)

PHI = NormalDist()


def test_expected_max_sharpe_by_hand() -> None:
    # N = 100 trials whose Sharpe ratios have variance 0.0002 (per day).
    z1, z2 = PHI.inv_cdf(1 - 1 / 100), PHI.inv_cdf(1 - 1 / (100 * math.e))
    expected = math.sqrt(0.0002) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)
    assert expected_max_sharpe(100, 0.0002) == pytest.approx(expected, rel=1e-15)
    assert z1 == pytest.approx(2.3263, abs=1e-4) and z2 == pytest.approx(2.6802, abs=1e-4)
    assert expected_max_sharpe(1, 0.5) == 0.0


def test_the_papers_worked_example() -> None:
    # Bailey & López de Prado (2014), numerical example: annualised SR 2.5 over 1,250
    # daily returns (250 a year), skew -3, kurtosis 10, after N = 100 trials whose
    # annualised Sharpe ratios have variance 1/2: SR0 = 0.1132 (daily), DSR = 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_probabilistic_sharpe_by_hand() -> None:
    # Normal returns (skew 0, kurtosis 3): PSR = Phi(SR sqrt(T - 1) / sqrt(1 + SR^2 / 2)).
    sr, t = 0.1, 500
    expected = PHI.cdf(sr * math.sqrt(t - 1) / math.sqrt(1 + sr**2 / 2))
    assert probabilistic_sharpe(sr, 0.0, t, 0.0, 3.0) == pytest.approx(expected, rel=1e-15)
    # Negative skew and fat tails widen the band, so the same SR is less convincing.
    assert probabilistic_sharpe(sr, 0.0, t, -3.0, 10.0) < expected


def test_deflated_sharpe_of_one_trial_is_its_probabilistic_sharpe() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0.001, 0.01, 750)
    dsr = deflated_sharpe(r, np.array([1.0]))
    assert dsr.expected_max == 0.0 and dsr.n_trials == 1 and dsr.n_returns == 750
    sharpe = r.mean() / r.std(ddof=1)
    assert dsr.sharpe == pytest.approx(sharpe, rel=1e-12)
    assert dsr.value == pytest.approx(
        probabilistic_sharpe(sharpe, 0.0, 750, dsr.skew, dsr.kurtosis), rel=1e-12)


def test_more_trials_deflate_the_same_best_more() -> None:
    rng = np.random.default_rng(2)
    best = rng.normal(0.0008, 0.01, 750)
    few = deflated_sharpe(best, rng.normal(0.0, 0.03, 10))
    many = deflated_sharpe(best, rng.normal(0.0, 0.03, 1000))
    assert many.expected_max > few.expected_max
    assert many.value < few.value


def _pbo_loop(returns: np.ndarray, n_blocks: int) -> float:
    """CSCV written out: every half of the blocks in, the rest out."""
    size = returns.shape[0] // n_blocks
    blocks = [returns[k * size:(k + 1) * size] for k in range(n_blocks)]
    overfit = splits = 0
    for chosen in itertools.combinations(range(n_blocks), n_blocks // 2):
        train = np.concatenate([blocks[k] for k in chosen])
        test = np.concatenate([blocks[k] for k in range(n_blocks) if k not in chosen])
        is_sr = train.mean(axis=0) / train.std(axis=0, ddof=1)
        oos_sr = test.mean(axis=0) / test.std(axis=0, ddof=1)
        best = int(np.argmax(is_sr))
        rank = 1 + int(np.sum(oos_sr < oos_sr[best]))
        w = rank / (returns.shape[1] + 1)
        overfit += math.log(w / (1 - w)) <= 0
        splits += 1
    return overfit / splits


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_pbo_matches_the_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.01, (240, 7)) + rng.normal(0, 0.0005, 7)
    got = probability_of_overfitting(r, n_blocks=6)
    assert got.n_splits == math.comb(6, 3) == len(got.logits)
    assert got.pbo == _pbo_loop(r, 6)


def test_pbo_is_one_when_the_in_sample_best_is_always_the_worst_out_of_sample() -> None:
    # Two combinations, two blocks: each shines in one block and loses in the other.
    a = np.r_[np.tile([0.02, 0.01], 5), np.tile([-0.02, -0.01], 5)]
    r = np.column_stack([a, -a])
    assert probability_of_overfitting(r, n_blocks=2).pbo == 1.0


def test_pbo_is_zero_for_a_combination_that_is_best_everywhere() -> None:
    rng = np.random.default_rng(6)
    noise = rng.normal(0.0, 0.01, (320, 20))
    noise[:, 7] = np.abs(noise[:, 7]) + 0.001  # always up
    assert probability_of_overfitting(noise, n_blocks=16).pbo == 0.0


def test_pbo_of_pure_noise_is_about_one_half() -> None:
    rng = np.random.default_rng(7)
    pbo = probability_of_overfitting(rng.normal(0.0, 0.01, (800, 50)), n_blocks=16).pbo
    assert 0.3 < pbo < 0.7


def test_pbo_needs_even_blocks_and_enough_days() -> None:
    with pytest.raises(ValueError, match="even"):
        probability_of_overfitting(np.zeros((100, 3)), n_blocks=5)
    with pytest.raises(ValueError, match="at least"):
        probability_of_overfitting(np.zeros((10, 3)), n_blocks=16)
