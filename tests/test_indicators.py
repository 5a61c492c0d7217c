"""RSI, signal and price-limit kernels against published values and the plain-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.kernels.indicators_nb import rsi_sma_nb, rsi_wilder_nb
from engine.kernels.signals_nb import signals_nb
from tests.reference import random_universe, rsi_reference, signals_reference

# StockCharts ChartSchool "Relative Strength Index (RSI)", spreadsheet cs-rsi.xls:
# QQQQ closes and the published 14-day RSI column (the page's table shows both
# rounded to two decimals; 70.53 is computed from these 4-decimal closes).
STOCKCHARTS_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433,
    46.0826, 45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116,
    46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288,
    44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
]  # fmt: skip
STOCKCHARTS_RSI14 = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42,
    39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def _column(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    close = np.array(values, dtype=float)[:, None].copy()
    return close, ~np.isnan(close)


def test_wilder_rsi_reproduces_the_stockcharts_worked_example() -> None:
    close, tradable = _column(STOCKCHARTS_CLOSES)
    rsi = rsi_wilder_nb(close, tradable, 14)[:, 0]
    assert np.isnan(rsi[:14]).all()
    assert [round(float(v), 2) for v in rsi[14:]] == STOCKCHARTS_RSI14


def test_rsi_small_example_by_hand() -> None:
    # closes 1, 2, 4, 3: changes +1, +2, -1; period 2.
    close, tradable = _column([1.0, 2.0, 4.0, 3.0])
    wilder = rsi_wilder_nb(close, tradable, 2)[:, 0]
    sma = rsi_sma_nb(close, tradable, 2)[:, 0]
    # bar 2: gains (1, 2) -> 1.5, no loss -> 100 for both methods.
    # bar 3: Wilder gain (1.5 * 1 + 0) / 2 = 0.75, loss (0 + 1) / 2 = 0.5, RS 1.5 -> 60;
    #        SMA gains (2, 0) -> 1, losses (0, 1) -> 0.5, RS 2 -> 66.67.
    assert np.isnan(wilder[:2]).all() and np.isnan(sma[:2]).all()
    assert wilder[2] == 100.0 and sma[2] == 100.0
    assert wilder[3] == pytest.approx(60.0, abs=1e-12)
    assert sma[3] == pytest.approx(200.0 / 3.0, abs=1e-12)


@pytest.mark.parametrize("kernel", [rsi_wilder_nb, rsi_sma_nb])
def test_rsi_edge_rules(kernel) -> None:
    flat, tradable = _column([5.0] * 8)
    assert (kernel(flat, tradable, 3)[3:, 0] == 50.0).all()  # no gain, no loss
    rising, tradable = _column([float(i) for i in range(1, 9)])
    assert (kernel(rising, tradable, 3)[3:, 0] == 100.0).all()  # gains only
    falling, tradable = _column([float(i) for i in range(9, 1, -1)])
    assert (kernel(falling, tradable, 3)[3:, 0] == 0.0).all()


@pytest.mark.parametrize("kernel", [rsi_wilder_nb, rsi_sma_nb])
def test_rsi_skips_days_without_a_bar(kernel) -> None:
    closes = [10.0, 10.5, 10.2, 10.9, 11.3, 10.8, 11.0, 11.6]
    close, tradable = _column(closes)
    gappy, gappy_tradable = _column([*closes[:3], math.nan, math.nan, *closes[3:]])
    plain = kernel(close, tradable, 3)[:, 0]
    with_gap = kernel(gappy, gappy_tradable, 3)[:, 0]
    assert np.isnan(with_gap[3:5]).all()
    np.testing.assert_array_equal(np.delete(with_gap, [3, 4]), plain)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("kernel", "method"), [(rsi_wilder_nb, "wilder"), (rsi_sma_nb, "sma")])
def test_rsi_matches_reference_bit_for_bit(seed: int, kernel, method: str) -> None:
    u = random_universe(seed)
    for period in (2, 5, 14):
        got = kernel(u.close, u.tradable, period)
        expected = rsi_reference(u.close, u.tradable, period, method)
        assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_signals_match_reference(seed: int) -> None:
    u = random_universe(seed)
    rsi = rsi_wilder_nb(u.close, u.tradable, 5)
    buy, sell = signals_nb(rsi, u.tradable, 30, 35.0, 65.0)
    ref_buy, ref_sell = signals_reference(rsi, u.tradable, 30, 35.0, 65.0)
    assert buy.any() and sell.any()
    np.testing.assert_array_equal(buy, ref_buy)
    np.testing.assert_array_equal(sell, ref_sell)


def test_signals_cross_rules() -> None:
    nan = math.nan
    # One stock; bar 3 has no bar (suspended), so bar 4 compares with bar 2.
    rsi = np.array([[25.0], [30.0], [31.0], [nan], [29.0], [30.0], [30.0], [nan], [40.0],
                    [75.0], [70.0], [69.0], [70.0], [69.9]])  # fmt: skip
    tradable = np.ones_like(rsi, dtype=bool)
    tradable[3] = False
    buy, sell = signals_nb(rsi, tradable, 1, 30.0, 70.0)
    # start_index 1: bar 1 compares with warm-up bar 0 (25 -> 30: not above 30).
    # bar 2: 30 -> 31 leaves the zone (prev == oversold counts). bar 4: 31 -> 29 no.
    # bar 5: 29 -> 30 no (not strictly above). bar 6: 30 -> 30 no. bar 8: NaN -> 40 no.
    assert np.flatnonzero(buy[:, 0]).tolist() == [2]
    # bar 10: 75 -> 70 no (not strictly below). bar 11: 70 -> 69 yes (prev == overbought).
    # bar 13: 70 -> 69.9 yes.
    assert np.flatnonzero(sell[:, 0]).tolist() == [11, 13]
    buy_late, _ = signals_nb(rsi, tradable, 3, 30.0, 70.0)
    assert not buy_late[:3].any()  # nothing before start_index


