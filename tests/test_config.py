"""BacktestConfig: the spec's defaults, validation naming the field, TOML in and out."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest

from engine.config import MAX_CAPITAL, BacktestConfig
from engine.errors import ConfigError

SPEC_DEFAULTS: dict[str, Any] = {
    "period": 14,
    "oversold": 30.0,
    "overbought": 70.0,
    "rsi_method": "wilder",
    "fill": "next_open",
    "capital_mode": "shared",
    "initial_capital": 1_000_000.0,
    "position_pct": 0.10,
    "max_positions": 10,
    "commission_rate": 0.0003,
    "min_commission": 5.0,
    "stamp_tax_rate": "schedule",
    "transfer_fee_rate": "schedule",
    "slippage": 0.0,
    "lot_size": "board",
    "price_limits": True,
    "adjust": "forward",
    "on_bad_stock": "fail",
    "listing": "list_date",
    "workers": "auto",
    "risk_free_rate": 0.0,
}


def test_defaults_are_the_spec_defaults() -> None:
    cfg = BacktestConfig()
    for name, value in SPEC_DEFAULTS.items():
        assert getattr(cfg, name) == value, name
        assert type(getattr(cfg, name)) is type(value), name
    # SPEC §8 headline window; every stock in the folder; no cache override
    assert cfg.start == dt.date(2023, 2, 4)
    assert cfg.end == dt.date(2026, 2, 4)
    assert cfg.stocks is None
    assert cfg.cache_dir is None
    assert isinstance(cfg.data_dir, Path)


def test_config_is_frozen() -> None:
    cfg = BacktestConfig()
    with pytest.raises(AttributeError):
        cfg.period = 20  # type: ignore[misc]


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(("changes", "field"), [
    ({"period": 1}, "period"),
    ({"period": 501}, "period"),
    ({"period": 0}, "period"),
    ({"period": -14}, "period"),
    ({"period": 14.5}, "period"),
    ({"period": "14"}, "period"),
    ({"period": True}, "period"),
    ({"period": None}, "period"),
    ({"oversold": 0}, "oversold"),
    ({"oversold": -5}, "oversold"),
    ({"oversold": math.nan}, "oversold"),
    ({"oversold": "30"}, "oversold"),
    ({"overbought": 30}, "overbought"),          # == oversold
    ({"overbought": 20}, "overbought"),          # below oversold
    ({"oversold": 50, "overbought": 50}, "overbought"),
    ({"overbought": 100}, "overbought"),
    ({"overbought": 120}, "overbought"),
    ({"rsi_method": "ema"}, "rsi_method"),
    ({"rsi_method": "Wilder"}, "rsi_method"),
    ({"fill": "next_close"}, "fill"),
    ({"capital_mode": "pooled"}, "capital_mode"),
    ({"adjust": "backward"}, "adjust"),
    ({"on_bad_stock": "ignore"}, "on_bad_stock"),
    ({"start": "2024-06-01", "end": "2024-05-31"}, "start"),
    ({"start": "2024-13-01"}, "start"),
    ({"start": "someday"}, "start"),
    ({"end": "2024-02-30"}, "end"),
    ({"end": ""}, "end"),
    ({"price_limits": 1}, "price_limits"),
    ({"price_limits": 0}, "price_limits"),
    ({"price_limits": "true"}, "price_limits"),
    ({"workers": 0}, "workers"),
    ({"workers": -2}, "workers"),
    ({"workers": "many"}, "workers"),
    ({"workers": True}, "workers"),
    ({"workers": 2.5}, "workers"),
    ({"initial_capital": -1.0}, "initial_capital"),
    ({"initial_capital": 0}, "initial_capital"),
    ({"initial_capital": "1e6"}, "initial_capital"),
    ({"initial_capital": 1e30}, "initial_capital"),
    ({"initial_capital": 1.000001e12}, "initial_capital"),
    ({"position_pct": 0}, "position_pct"),
    ({"position_pct": 1.5}, "position_pct"),
    ({"position_pct": -0.1}, "position_pct"),
    ({"max_positions": 0}, "max_positions"),
    ({"max_positions": 2.5}, "max_positions"),
    ({"commission_rate": -0.0003}, "commission_rate"),
    ({"min_commission": -5.0}, "min_commission"),
    ({"stamp_tax_rate": -0.001}, "stamp_tax_rate"),
    ({"slippage": -0.01}, "slippage"),
    ({"lot_size": 0}, "lot_size"),
    ({"lot_size": 100.5}, "lot_size"),
    ({"lot_size": False}, "lot_size"),
])
def test_invalid_values_raise_config_error_naming_the_field(changes: dict[str, Any],
                                                            field: str) -> None:
    with pytest.raises(ConfigError) as info:
        BacktestConfig(**changes)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("changes", [
    {"period": 2},
    {"period": 500},
    {"oversold": 0.5, "overbought": 99.5},
    {"oversold": 50, "overbought": 50.01},
    {"position_pct": 1.0},
    {"max_positions": 1},
    {"lot_size": 1},
    {"workers": 1},
    {"workers": 16},
    {"commission_rate": 0.0, "min_commission": 0.0, "stamp_tax_rate": 0.0},
    {"slippage": 0.001},
    {"start": "2024-05-31", "end": "2024-05-31"},
    {"rsi_method": "sma", "fill": "close", "capital_mode": "per_stock", "adjust": "none",
     "on_bad_stock": "skip", "price_limits": False},
])
def test_boundary_and_alternative_values_are_accepted(changes: dict[str, Any]) -> None:
    cfg = BacktestConfig(**changes)
    for name, value in changes.items():
        if name in ("start", "end"):
            assert getattr(cfg, name) == dt.date.fromisoformat(value)
        else:
            assert getattr(cfg, name) == value, name


def test_whole_number_floats_become_ints_and_ints_become_floats() -> None:
    cfg = BacktestConfig(period=20.0, lot_size=200.0, max_positions=5.0, oversold=25,
                         initial_capital=500_000)
    assert cfg.period == 20 and type(cfg.period) is int
    assert cfg.lot_size == 200 and type(cfg.lot_size) is int
    assert cfg.max_positions == 5 and type(cfg.max_positions) is int
    assert cfg.oversold == 25.0 and type(cfg.oversold) is float
    assert cfg.initial_capital == 500_000.0 and type(cfg.initial_capital) is float


def test_dates_accept_text_and_date_objects() -> None:
    cfg = BacktestConfig(start="2024-01-02", end=dt.date(2024, 6, 28))
    assert cfg.start == dt.date(2024, 1, 2) and type(cfg.start) is dt.date
    assert cfg.end == dt.date(2024, 6, 28)
    cfg = BacktestConfig(start=dt.datetime(2024, 1, 2, 15, 0), end=" 2024-06-28 ")
    assert cfg.start == dt.date(2024, 1, 2) and type(cfg.start) is dt.date
    assert cfg.end == dt.date(2024, 6, 28)


def test_stocks_accept_a_list_a_tuple_or_a_path() -> None:
    cfg = BacktestConfig(stocks=["000001.SZ", "600000.SH"])
    assert cfg.stocks == ("000001.SZ", "600000.SH")
    assert BacktestConfig(stocks=("000001.SZ",)).stocks == ("000001.SZ",)
    assert BacktestConfig(stocks="lists/universe.txt").stocks == "lists/universe.txt"
    assert BacktestConfig(stocks=Path("lists") / "universe.txt").stocks == str(
        Path("lists") / "universe.txt")
    assert BacktestConfig(data_dir="somewhere").data_dir == Path("somewhere")
    assert BacktestConfig(cache_dir="cache").cache_dir == Path("cache")


def test_replace_validates_again() -> None:
    cfg = BacktestConfig()
    changed = cfg.replace(period=20, fill="close")
    assert changed.period == 20 and changed.fill == "close"
    assert cfg.period == 14 and cfg.fill == "next_open"
    with pytest.raises(ConfigError) as info:
        cfg.replace(period=1)
    assert info.value.field == "period"
    with pytest.raises(ConfigError) as info:
        cfg.replace(start="2030-01-01")
    assert info.value.field == "start"


def test_cache_dir_does_not_take_part_in_equality() -> None:
    assert BacktestConfig(cache_dir="a") == BacktestConfig(cache_dir="b")
    assert BacktestConfig(period=15) != BacktestConfig()


# --------------------------------------------------------------- dict and TOML


def test_toml_round_trip_of_the_defaults(tmp_path: Path) -> None:
    cfg = BacktestConfig()
    path = tmp_path / "run.toml"
    cfg.save(path)
    loaded = BacktestConfig.load(path)
    assert loaded == cfg
    assert loaded.stocks is None and loaded.cache_dir is None


def test_toml_round_trip_with_every_field_changed(tmp_path: Path) -> None:
    cfg = BacktestConfig(
        data_dir=tmp_path / "data", stocks=("000001.SZ", "300750.SZ", "688001.SH"),
        start="2023-03-01", end="2024-02-29", period=21, oversold=25.5, overbought=75.0,
        rsi_method="sma", fill="close", capital_mode="per_stock", initial_capital=250_000.5,
        position_pct=0.2, max_positions=4, commission_rate=0.00025, min_commission=0.0,
        stamp_tax_rate=0.001, slippage=0.002, lot_size=200, price_limits=False,
        adjust="none", on_bad_stock="skip", workers=3, risk_free_rate=0.02,
        cache_dir=tmp_path / "cache",
    )
    path = tmp_path / "run.toml"
    cfg.save(path)
    loaded = BacktestConfig.load(path)
    assert loaded == cfg
    assert loaded.stocks == ("000001.SZ", "300750.SZ", "688001.SH")
    assert loaded.cache_dir == tmp_path / "cache"   # not compared by ==, checked here
    assert loaded.workers == 3 and type(loaded.workers) is int
    assert loaded.start == dt.date(2023, 3, 1)


def test_toml_round_trip_of_a_stock_list_path(tmp_path: Path) -> None:
    cfg = BacktestConfig(stocks="lists/universe.txt")
    path = tmp_path / "run.toml"
    cfg.save(path)
    assert BacktestConfig.load(path) == cfg


def test_dict_round_trip() -> None:
    cfg = BacktestConfig(stocks=["600000.SH"], workers=2, start="2024-01-02")
    values = cfg.to_dict()
    assert values["stocks"] == ["600000.SH"]
    assert values["start"] == "2024-01-02"
    assert isinstance(values["data_dir"], str)
    assert "cache_dir" not in values
    assert BacktestConfig.from_dict(values) == cfg


def test_from_dict_with_an_unknown_key_names_it() -> None:
    with pytest.raises(ConfigError) as info:
        BacktestConfig.from_dict({"period": 14, "rsi_perid": 14})
    assert info.value.field == "rsi_perid"
    assert "rsi_perid" in str(info.value)


def test_hand_written_toml_with_some_fields(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '# a few settings, the rest default\n'
        'data_dir = "my/data"\n'
        'stocks = ["000001.SZ", "600000.SH"]\n'
        'start = 2024-01-02\n'            # a TOML date
        'end = "2024-12-31"\n'            # a date as text
        'period = 9\n'
        'oversold = 25\n'                 # an integer for a float field
        'capital_mode = "per_stock"\n'
        'workers = 4\n',
        encoding="utf-8",
    )
    cfg = BacktestConfig.load(path)
    assert cfg.data_dir == Path("my/data")
    assert cfg.stocks == ("000001.SZ", "600000.SH")
    assert cfg.start == dt.date(2024, 1, 2)
    assert cfg.end == dt.date(2024, 12, 31)
    assert cfg.period == 9
    assert cfg.oversold == 25.0 and type(cfg.oversold) is float
    assert cfg.capital_mode == "per_stock"
    assert cfg.workers == 4
    expected = BacktestConfig(data_dir="my/data", stocks=("000001.SZ", "600000.SH"),
                              start="2024-01-02", end="2024-12-31", period=9, oversold=25.0,
                              capital_mode="per_stock", workers=4)
    assert cfg == expected
    for name in ("overbought", "rsi_method", "fill", "initial_capital", "position_pct",
                 "max_positions", "commission_rate", "min_commission", "stamp_tax_rate",
                 "slippage", "lot_size", "price_limits", "adjust", "on_bad_stock"):
        assert getattr(cfg, name) == SPEC_DEFAULTS[name], name


def test_toml_with_an_unknown_key_names_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('period = 14\noverbougth = 70\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        BacktestConfig.load(path)
    assert info.value.field == "overbougth"


def test_toml_with_an_invalid_value_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('period = 14\noverbought = 100\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        BacktestConfig.load(path)
    assert info.value.field == "overbought"


@pytest.mark.parametrize("text", ["period = \n", "[[[not toml", None])
def test_unreadable_toml_is_a_config_error(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "broken.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        BacktestConfig.load(path)
    assert "broken.toml" in str(info.value)


@pytest.mark.parametrize(("field", "value"), [
    ("initial_capital", float("inf")), ("min_commission", float("inf")),
    ("risk_free_rate", float("nan")), ("stocks", 42), ("data_dir", None),
])
def test_non_finite_and_wrong_types_are_config_errors(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        BacktestConfig(**{field: value})
    assert info.value.field == field


def test_capital_1e30_is_refused_instead_of_rejecting_every_buy_as_lot() -> None:
    with pytest.raises(ConfigError, match=r"initial_capital = 1e\+30: must be positive and at "
                       r"most 1e\+12") as info:
        BacktestConfig(initial_capital=1e30)
    assert info.value.field == "initial_capital"
    assert BacktestConfig(initial_capital=MAX_CAPITAL).initial_capital == 1e12


def test_a_strategy_files_parameter_named_like_an_rsi_field_is_its_parameter() -> None:
    """Regression: sweeping ``period`` of strategies/rsi_trend.py changed the RSI's field,
    which the file never reads, so every combination ran the file's default."""
    config = BacktestConfig(strategy="strategies/rsi_trend.py")
    changed = config.replace(period=8, oversold=25.0, trend=40)
    assert changed.params == (("oversold", 25.0), ("period", 8), ("trend", 40))
    assert (changed.period, changed.oversold) == (14, 30.0)
    assert BacktestConfig().replace(period=8).period == 8  # the RSI's own field
    assert config.replace(strategy="rsi", period=8).period == 8


def test_a_date_in_a_message_reads_as_a_date() -> None:
    with pytest.raises(ConfigError) as info:
        BacktestConfig(start="2022-08-01", end="2022-01-01")
    assert str(info.value) == "start = 2022-08-01: must not be after end (2022-01-01)"
