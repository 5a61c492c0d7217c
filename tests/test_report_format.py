"""The one formatter (engine.results.formatting): how each kind of number reads, and that the column
formatter writes exactly what the scalar one does."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.results.formatting import (
    COLUMN_KINDS,
    KINDS,
    METRICS,
    MISSING,
    NUMBER_SPECS,
    column_kind,
    format_column,
    format_frame,
    format_value,
    price_decimals,
    text_frame,
)


@pytest.mark.parametrize(("value", "kind", "code", "text"), [
    (1735.12, "price", None, "1,735.12"),
    (123.45, "price", None, "123.45"),
    (10.5, "price", "600000.SH", "10.50"),
    (1.2345, "price", "510300.SH", "1.234"),  # the binary value is just below 1.2345
    (3.4567, "price", "510300.SH", "3.457"),
    (2.5, "price", "159915.SZ", "2.500"),
    (5.0, "money", None, "5.00"),
    (1234567.891, "money", None, "1,234,567.89"),
    (-1234.5, "money", None, "-1,234.50"),
    (-0.0, "money", None, "0.00"),
    (-0.001, "money", None, "-0.00"),  # rounds to zero from below, as format() writes it
    (0.125, "money", None, "0.12"),  # exact halves round to even
    (0.375, "money", None, "0.38"),
    (2.675, "money", None, "2.67"),  # not a half: 2.67499999... in binary
    (1200, "shares", None, "1,200"),
    (np.int64(1200), "shares", None, "1,200"),
    (1200.0, "shares", None, "1,200"),
    (2.5, "shares", None, "2"),
    (1234567, "int", None, "1,234,567"),
    (2**60 + 1, "int", None, "1,152,921,504,606,846,977"),
    (0.12345, "pct", None, "12.35%"),
    (0.1, "pct", None, "10.00%"),
    (0.00125, "pct", None, "0.12%"),  # 0.125 %: a half, to even
    (-0.0583, "pct", None, "-5.83%"),
    (0.00025, "rate", None, "0.025%"),
    (1.2345, "ratio", None, "1.23"),
    (float("nan"), "money", None, MISSING),
    (None, "pct", None, MISSING),
    (pd.NaT, "date", None, MISSING),
    (pd.NA, "int", None, MISSING),
    (pd.Timestamp("2024-01-02 15:00"), "date", None, "2024-01-02"),
    (np.datetime64("2024-01-02"), "text", None, "2024-01-02"),
    (dt.date(2024, 1, 2), "date", None, "2024-01-02"),
    ("2024-01-02T10:11:12+08:00", "time", None, "2024-01-02 10:11"),
    (True, "price", None, "True"),
    ("buy", "money", None, "buy"),
])
def test_format_value_reads_as_traders_expect(value: object, kind: str, code: str | None,
                                              text: str) -> None:
    assert format_value(value, kind, code) == text


@pytest.mark.parametrize(("code", "decimals"), [
    ("510300.SH", 3), ("500001.SH", 3), ("520830.SH", 3), ("562500.SH", 3), ("588000.SH", 3),
    ("159915.SZ", 3), ("161725.SZ", 3), ("184801.SZ", 3), ("600000.SH", 2), ("000001.SZ", 2),
    ("300750.SZ", 2), ("510300.SZ", 2), ("159915.SH", 2), ("830799.BJ", 2), (None, 2)])
def test_funds_are_priced_to_the_tenth_of_a_fen(code: str | None, decimals: int) -> None:
    assert price_decimals(code) == decimals


def test_every_metric_and_kind_is_known() -> None:
    assert {kind for _, _, kind in METRICS} <= set(KINDS)
    assert set(COLUMN_KINDS.values()) <= set(KINDS)
    assert all(COLUMN_KINDS[key] == kind for key, _, kind in METRICS)


@pytest.mark.parametrize(("name", "dtype", "kind"), [
    ("price", "float64", "price"), ("open", "float64", "price"), ("open", "bool", "text"),
    ("cash_after", "float64", "money"), ("shares", "int64", "shares"),
    ("return", "float64", "pct"), ("total_return", "float64", "pct"),
    ("sharpe", "float64", "ratio"), ("trades", "int64", "int"), ("slippage", "float64", "rate"),
    ("id", "int64", "text"), ("oversold", "float64", "ratio"), ("bars_held", "int64", "int"),
    ("date", "datetime64[s]", "date"), ("start", "float64", "ratio"), ("code", "object", "text"),
    ("created", "object", "time"), ("total_return", "object", "pct")])
def test_column_kind_by_name_where_the_dtype_fits(name: str, dtype: str, kind: str) -> None:
    assert column_kind(name, np.dtype(dtype)) == kind


def _awkward_floats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Floats on and near rounding ties, of every size, with NaN and infinities."""
    return np.concatenate([
        rng.normal(0, 1, n), rng.normal(0, 1e6, n), np.round(rng.uniform(-1e4, 1e4, n), 3),
        rng.integers(-10**6, 10**6, n) / 8, rng.integers(-10**6, 10**6, n) / 1000,
        np.exp(rng.uniform(-30, 45, n)) * rng.choice([-1, 1], n),
        [0.0, -0.0, 0.5, 2.5, 0.125, 2.675, 1.005, 999.995, -0.004, -0.005, 5e-324,
         2.0**53, 1e16, -1e20, np.inf, -np.inf, np.nan]])


@pytest.mark.parametrize("kind", sorted(NUMBER_SPECS))
def test_format_column_writes_what_format_value_writes(kind: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    name = "column_of_this_kind"
    monkeypatch.setitem(COLUMN_KINDS, name, kind)
    for values in (_awkward_floats(rng, 2000), rng.integers(-10**12, 10**12, 2000),
                   np.array([0, -1, 999, 1000, -1000, 2**62, -2**63], dtype=np.int64),
                   np.array([7, 2**64 - 1], dtype=np.uint64), np.array([], dtype=float)):
        assert format_column(name, values).tolist() == [format_value(v, kind)
                                                        for v in values.tolist()]


def test_price_column_takes_fund_decimals_from_the_codes() -> None:
    codes = np.array(["510300.SH", "600000.SH", None, "159915.SZ"], dtype=object)
    text = format_column("price", np.array([1.2346, 1735.12, 3.0, np.nan]), codes)
    assert text.tolist() == ["1.235", "1,735.12", "3.00", MISSING]
    assert format_column("price", np.array([1.2346])).tolist() == ["1.23"]


def test_format_frame_formats_every_column_of_a_fills_table() -> None:
    fills = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-02", "2024-01-03", None]).astype("datetime64[s]"),
        "code": pd.Series(["510300.SH", "600000.SH", "000001.SZ"], dtype="str"),
        "side": pd.Categorical(["buy", "sell", None]),
        "shares": np.array([1200, 100, 2_000_000]),
        "price": [3.4567, 1735.12, 9.999],
        "commission": [5.0, 12.345, np.nan],
        "tax": [0.0, 86.76, 0.0],
        "cash_after": [1234567.891, -0.001, 0.0],
    })
    text = dict(zip(fills.columns, format_frame(fills), strict=True))
    assert {name: t.tolist() for name, t in text.items()} == {
        "date": ["2024-01-02", "2024-01-03", MISSING],
        "code": ["510300.SH", "600000.SH", "000001.SZ"],
        "side": ["buy", "sell", MISSING],
        "shares": ["1,200", "100", "2,000,000"],
        "price": ["3.457", "1,735.12", "10.00"],
        "commission": ["5.00", "12.35", MISSING],  # 12.345 is 12.3450000000000006 in binary
        "tax": ["0.00", "86.76", "0.00"],
        "cash_after": ["1,234,567.89", "-0.00", "0.00"],
    }
    assert all(t.dtype == object for t in text.values())


def test_format_frame_of_times_dates_and_empty_frames() -> None:
    runs = pd.DataFrame({"id": [12, 3], "created": ["2024-01-02T10:11:12+08:00", None],
                         "when": pd.to_datetime(["2024-01-02 10:11:59", None]),
                         "trades": pd.array([1234, None], dtype="Int64")})
    assert [t.tolist() for t in format_frame(runs)] == [
        ["12", "3"], ["2024-01-02 10:11", MISSING], ["2024-01-02", MISSING], ["1,234", MISSING]]
    empty = format_frame(runs.iloc[:0])
    assert [t.tolist() for t in empty] == [[], [], [], []]
    assert format_frame(pd.DataFrame()) == []


def test_text_frame_keeps_columns_and_index() -> None:
    frame = pd.DataFrame({"period": [10, 14], "sharpe": [1.234, np.nan]}, index=[5, 9])
    text = text_frame(frame)
    assert list(text.columns) == ["period", "sharpe"] and list(text.index) == [5, 9]
    assert text.to_dict("list") == {"period": ["10", "14"], "sharpe": ["1.23", MISSING]}


def test_packed_text_gives_back_every_cell_and_pickles_whole() -> None:
    import pickle

    from engine.results.formatting import PackedText, pack_text

    values = ["1,735.12", "", "—", "五粮液", "12.35%"]
    packed = PackedText(values)
    assert len(packed) == 5 and [packed[i] for i in range(5)] == values
    assert list(packed) == values and list(packed[np.array([4, 0])]) == ["12.35%", "1,735.12"]
    assert list(packed.lengths()) == [len(v) for v in values]
    again = pickle.loads(pickle.dumps(packed))
    assert list(again) == values
    frame = pd.DataFrame({"code": ["510300.SH", "000001.SZ"], "price": [1.2345, 1735.12]})
    assert [list(c) for c in pack_text(format_frame(frame))] == [
        list(c) for c in format_frame(frame)]


def test_counts_read_as_words_with_thousands_separators() -> None:
    from engine.util.words import counted

    assert counted(1, "stock") == "1 stock"
    assert counted(2, "stock") == "2 stocks"
    assert counted(7244, "rejection") == "7,244 rejections"
    assert counted(1, "security", "securities") == "1 security"
    assert counted(3, "security", "securities") == "3 securities"


def test_a_runs_counts_say_closed_and_open_trades() -> None:
    from engine.config import BacktestConfig
    from engine.results.formatting import trade_counts
    from engine.run.backtest import run_backtest
    from tests.conftest import SAMPLE

    result = run_backtest(BacktestConfig(data_dir=SAMPLE, workers=1))
    closed = int(result.metrics["trades"])
    still_open = result.count("trades") - closed
    text = trade_counts(result)
    assert text.startswith(f"{result.count('fills'):,} fill")
    assert f"{closed:,} closed trade" in text
    assert (f"and {still_open:,} still open" in text) == (still_open > 0)
    assert text.endswith(f"{result.count('rejections'):,} rejections")
