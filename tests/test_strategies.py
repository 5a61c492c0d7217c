"""Built-in strategies (SPEC §3, §3a): ``ma_cross`` and ``breakout`` against hand-computed
signals, their parameters as configuration fields, and sweeps over them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.cli.flags import param_value
from engine.config import BacktestConfig
from engine.errors import BacktestError, ConfigError
from engine.kernels.indicators_nb import channel_nb, sma_nb
from engine.run.backtest import run_backtest
from engine.strategies.base import Bars
from engine.strategies.builtin import STRATEGIES
from engine.strategies.naming import strategy_label
from engine.studies.sweep import run_sweep
from tests.conftest import SAMPLE

NAN = math.nan


def _bars(close: list[float], high: list[float] | None = None,
          low: list[float] | None = None) -> Bars:
    c = np.array([[v] for v in close])
    tradable = ~np.isnan(c)
    h = c if high is None else np.array([[v] for v in high])
    lo = c if low is None else np.array([[v] for v in low])
    return Bars(open=c, high=h, low=lo, close=c, volume=np.where(tradable, 100.0, NAN),
                tradable=tradable, dates=np.arange(len(close)).astype("datetime64[D]"),
                codes=("600000.SH",))


def _signals(name: str, bars: Bars, start: int = 0, **params: object) -> tuple[list, list, list]:
    strategy = STRATEGIES[name]
    config = BacktestConfig(strategy=name, params=params)
    p = config.strategy_params()
    sig = strategy.signals(strategy.indicators(bars, p), bars, start, p)
    return (list(np.flatnonzero(sig.buy[:, 0])), list(np.flatnonzero(sig.sell[:, 0])),
            list(sig.score[:, 0]))


def test_sma_is_the_mean_of_the_stocks_own_last_closes() -> None:
    close = np.array([[1.0], [2.0], [NAN], [4.0], [8.0]])
    got = sma_nb(close, ~np.isnan(close), 2)[:, 0]
    # Own bars 1, 2, 4, 8: the suspended day is skipped, not a zero.
    np.testing.assert_array_equal(got, [NAN, 1.5, NAN, 3.0, 6.0])


def test_ma_cross_buys_when_fast_crosses_above_slow_and_sells_below() -> None:
    # fast = 2-bar mean, slow = 3-bar mean of 10, 10, 10, 13, 13, 7, 7:
    # fast: -, 10, 10, 11.5, 13, 10, 7;  slow: -, -, 10, 11, 12, 11, 9.
    bars = _bars([10, 10, 10, 13, 13, 7, 7])
    buy, sell, score = _signals("ma_cross", bars, fast=2, slow=3)
    assert buy == [3]  # 10 <= 10 then 11.5 > 11
    assert sell == [5]  # 13 >= 12 then 10 < 11
    assert score[3] == -11.5 / 11


def test_ma_cross_signals_only_from_the_runs_first_day() -> None:
    bars = _bars([10, 10, 10, 13, 13, 7, 7])
    assert _signals("ma_cross", bars, start=4, fast=2, slow=3)[:2] == ([], [5])


def test_breakout_compares_the_close_with_the_previous_windows_extremes() -> None:
    high = [10.5, 11.0, 10.8, 11.2, 12.0, 11.0, 9.0]
    low = [9.5, 10.0, 9.9, 10.4, 11.0, 10.0, 8.0]
    close = [10.0, 10.5, 10.2, 11.1, 11.5, 10.5, 8.5]
    hh, _ = channel_nb(np.array([high]).T, np.array([low]).T, np.ones((7, 1), bool), 2)
    np.testing.assert_array_equal(hh[:, 0], [NAN, NAN, 11.0, 11.0, 11.2, 12.0, 12.0])
    buy, sell, score = _signals("breakout", _bars(close, high, low), window=2)
    assert buy == [3, 4]  # 11.1 > 11.0; 11.5 > 11.2
    assert sell == [6]  # 8.5 < min(11.0, 10.0)
    assert score[4] == -11.5 / 11.2


def test_strategy_parameters_are_configuration_fields() -> None:
    config = BacktestConfig(strategy="ma_cross", params={"fast": 10})
    assert config.strategy_params() == {"fast": 10, "slow": 20}
    assert config.replace(slow=40).strategy_params() == {"fast": 10, "slow": 40}
    assert BacktestConfig.from_toml(config.to_toml()) == config
    assert "[params]" in config.to_toml() or "params = " in config.to_toml()
    # Another strategy starts from its own defaults; the RSI's are its own fields.
    assert config.replace(strategy="breakout").strategy_params() == {"window": 20}
    assert BacktestConfig(params={"period": 9}).period == 9
    assert strategy_label(config) == "MA cross 10/20"
    assert strategy_label(BacktestConfig(stop_loss=0.08, max_hold=20)) == (
        "RSI 14 30/70 · stop 8% · hold 20 bars")


@pytest.mark.parametrize("changes, field", [
    ({"strategy": "ma_cross", "params": {"fast": 20, "slow": 10}}, "fast"),
    ({"strategy": "ma_cross", "params": {"fast": 2.5}}, "fast"),
    ({"strategy": "ma_cross", "params": {"window": 5}}, "window"),
    ({"strategy": "breakout", "params": {"window": 1}}, "window"),
    ({"strategy": "macd"}, "strategy"),
])
def test_bad_strategy_settings_name_the_parameter(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        BacktestConfig(**changes)
    assert info.value.field == field
    assert "\n" not in str(info.value)


def test_param_flag_values_read_as_written() -> None:
    assert param_value("fast=10") == ("fast", 10)
    assert param_value("ratio=1.5") == ("ratio", 1.5)
    assert param_value("on=true") == ("on", True)
    assert param_value("mode = fast") == ("mode", "fast")
    with pytest.raises(BacktestError, match="NAME=VALUE"):
        param_value("fast")


@pytest.mark.parametrize("name, params", [("ma_cross", {"fast": 5, "slow": 20}),
                                          ("breakout", {"window": 20})])
@pytest.mark.parametrize("mode", ["shared", "per_stock"])
def test_builtins_run_and_give_the_same_result_on_any_worker_count(
        name: str, params: dict, mode: str) -> None:
    config = BacktestConfig(data_dir=SAMPLE, strategy=name, params=params, capital_mode=mode)
    one = run_backtest(config.replace(workers=1))
    two = run_backtest(config.replace(workers=2))
    assert one.metrics["trades"] > 5
    for table in ("equity", "fills", "trades", "rejections"):
        pd.testing.assert_frame_equal(one.frame(table), two.frame(table), check_exact=True)


def test_a_sweep_over_a_builtins_parameters_equals_its_single_runs() -> None:
    base = BacktestConfig(data_dir=SAMPLE, strategy="ma_cross", workers=1)
    grid = {"fast": [3, 5], "slow": [10, 20], "stop_loss": [0.0, 0.1]}
    result = run_sweep(base, grid)
    assert list(result.table.columns[:3]) == ["fast", "slow", "stop_loss"]
    assert len(result.table) == 8 and result.timings["indicator_computations"] == 4
    for _, row in result.table.iloc[[0, 5]].iterrows():
        single = run_backtest(base.replace(fast=int(row["fast"]), slow=int(row["slow"]),
                                           stop_loss=row["stop_loss"]))
        for metric, value in single.metrics.items():
            assert row[metric] == value or (value != value and row[metric] != row[metric])


def test_a_sweep_skips_combinations_the_strategy_rejects() -> None:
    base = BacktestConfig(data_dir=SAMPLE, strategy="ma_cross", workers=1)
    result = run_sweep(base, {"fast": [5, 30], "slow": [20]})
    assert len(result.table) == 1 and len(result.skipped) == 1
    assert "fast" in result.skipped["reason"].iloc[0]
    with pytest.raises(ConfigError, match="cannot sweep 'window'"):
        run_sweep(base, {"window": [5]})
