"""Export to CSV/JSON/TOML (exact numbers back, BOM, atomic writes) and run comparisons over
different universes and date ranges."""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import BacktestError
from engine.results.compare import (
    ALL_STOCKS,
    COVERAGE,
    METRIC_GOALS,
    PARAMETERS,
    best_per_metric,
    compare_table,
    config_differences,
)
from engine.results.export import (
    export_comparison,
    export_result,
    export_sweep,
    metrics_frame,
    write_atomic,
    write_csv,
)
from engine.results.formatting import METRICS
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest
from engine.studies.sweep import run_sweep
from tests.conftest import SAMPLE
from tests.windows_emulation import sharing_violation

METRIC_KEYS = [key for key, _, _ in METRICS]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[int, BacktestResult]:
    """Two runs over different universes, date ranges, periods and capital modes."""
    root = tmp_path_factory.mktemp("pair")
    small = root / "small"
    small.mkdir()
    for path in sorted(SAMPLE.glob("*.parquet"))[:6]:
        shutil.copy(path, small)
    codes = ("000001.SZ", "000683.SZ", "000785.SZ")
    return {
        3: run_backtest(BacktestConfig(data_dir=SAMPLE, cache_dir=root / "cache", workers=1)),
        8: run_backtest(BacktestConfig(data_dir=small, stocks=codes, start="2024-01-01",
                                       end="2025-06-30", period=10, capital_mode="per_stock",
                                       cache_dir=root / "cache", workers=1)),
    }


def _read(path: Path) -> pd.DataFrame:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    return pd.read_csv(path, encoding="utf-8-sig")


def _assert_numbers_equal(back: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Every numeric column exactly equal (NaN == NaN); dates and text as text."""
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    for column in frame.columns:
        want = frame[column]
        if pd.api.types.is_bool_dtype(want) or not pd.api.types.is_numeric_dtype(want):
            if pd.api.types.is_datetime64_any_dtype(want):
                np.testing.assert_array_equal(pd.to_datetime(back[column]), want)
            else:
                # An empty text cell (a buy's exit_reason) reads back as NaN.
                got = back[column].fillna("").astype(str).tolist()
                assert got == want.astype(str).tolist(), column
        else:
            np.testing.assert_array_equal(back[column].to_numpy(np.float64),
                                          want.to_numpy(np.float64), err_msg=column)


def test_exported_csvs_parse_back_to_the_same_numbers(pair: dict[int, BacktestResult],
                                                      tmp_path: Path) -> None:
    result = pair[8]
    written = export_result(result, tmp_path)
    assert {p.name for p in written} == {
        "equity.csv", "fills.csv", "trades.csv", "rejections.csv", "metrics.csv",
        "metrics.json", "timings.json", "config.toml"}
    for name in ("equity", "fills", "trades", "rejections"):
        _assert_numbers_equal(_read(tmp_path / f"{name}.csv"), getattr(result, name))
    metrics = _read(tmp_path / "metrics.csv")
    assert metrics.columns.tolist() == ["metric", "label", "value"]
    assert metrics["metric"].tolist() == [k for k in METRIC_KEYS if k in result.metrics]
    assert metrics["label"].tolist()[0] == "Total return"
    for key, text in zip(metrics["metric"], metrics["value"], strict=True):
        value = result.metrics[key]
        if isinstance(value, str):
            assert text == value
        elif value is None or math.isnan(value):
            assert isinstance(text, float) and math.isnan(text)
        else:
            assert float(text) == value and type(value)(float(text)) == value
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["sharpe"] == result.metrics["sharpe"]
    assert BacktestConfig.load(tmp_path / "config.toml") == result.config


def test_metrics_frame_orders_labels_and_blanks_undefined() -> None:
    frame = metrics_frame({"custom": 1.5, "sharpe": math.nan, "total_return": 0.1})
    assert frame["metric"].tolist() == ["total_return", "sharpe", "custom"]
    assert frame["label"].tolist() == ["Total return", "Sharpe", "custom"]
    assert frame["value"].tolist() == [0.1, None, 1.5]


def test_chinese_text_and_extra_tables(tmp_path: Path, pair: dict[int, BacktestResult]) -> None:
    frame = pd.DataFrame({"名称": ["平安银行", "万科A"], "x": [0.1, 1 / 3]})
    export_result(pair[3], tmp_path, extra={"notes": frame})
    back = _read(tmp_path / "notes.csv")
    assert back.columns.tolist() == ["名称", "x"] and back["名称"].tolist() == ["平安银行", "万科A"]
    assert back["x"].tolist() == [0.1, 1 / 3]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    write_csv(pd.DataFrame({"a": [1]}), path)

    def fail(handle: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, fail)
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    assert _read(path)["a"].tolist() == [1]


def test_comparing_runs_over_different_universes(pair: dict[int, BacktestResult],
                                                 tmp_path: Path) -> None:
    table = compare_table(pair)
    assert table.index.tolist() == [3, 8] and table["id"].tolist() == [3, 8]
    metric_columns = [k for k in METRIC_KEYS if k in pair[3].metrics]
    assert table.columns.tolist() == ["id", *PARAMETERS, *COVERAGE, *metric_columns]
    assert "cache_dir" not in table.columns
    assert table.loc[3, "stocks"] == ALL_STOCKS
    assert table.loc[8, "stocks"] == "000001.SZ,000683.SZ,000785.SZ"
    assert table["n_stocks"].tolist() == [50, 3]
    assert table.loc[8, ["start", "end", "first_day", "last_day"]].tolist() == [
        "2024-01-01", "2025-06-30", "2024-01-02", "2025-06-30"]
    for run_id, result in pair.items():
        for key in metric_columns:
            value, cell = result.metrics[key], table.loc[run_id, key]
            assert cell == value or (pd.isna(cell) and pd.isna(value)), key
    assert config_differences(pair) == ["data_dir", "stocks", "start", "end", "period",
                                        "capital_mode"]
    assert config_differences({3: pair[3], 4: pair[3]}) == []

    path = export_comparison(table, tmp_path / "compare.csv")
    back = _read(path)
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])
               and not pd.api.types.is_bool_dtype(table[c])]
    for column in numeric:
        np.testing.assert_array_equal(back[column].to_numpy(np.float64),
                                      table[column].to_numpy(np.float64), err_msg=column)


def test_best_per_metric_follows_the_documented_rule() -> None:
    table = pd.DataFrame({
        "id": [11, 12, 13],
        "period": [10, 14, 20],                     # a parameter, never ranked
        "total_return": [0.1, 0.3, math.nan],       # higher is better, NaN ignored
        "volatility": [0.2, 0.1, 0.15],             # lower is better
        "max_drawdown": [-0.3, -0.05, -0.2],        # closest to zero is better
        "total_commission": [5.0, 9.0, 5.0],        # lower; a tie goes to the first row
        "sortino": [math.nan] * 3,                  # NaN everywhere: left out
        "trades": [1, 50, 3],                       # describes a run: left out
        "max_drawdown_peak": ["2024-01-02", None, "2024-03-01"],
    }).set_index("id", drop=False)
    assert best_per_metric(table) == {"total_return": 12, "volatility": 12, "max_drawdown": 12,
                                      "total_commission": 11}
    assert set(METRIC_GOALS) <= set(METRIC_KEYS)


def test_best_per_metric_on_a_real_comparison(pair: dict[int, BacktestResult]) -> None:
    table = compare_table(pair)
    best = best_per_metric(table)
    assert set(best) <= set(METRIC_GOALS) and set(best.values()) <= {3, 8}
    sharpe = table["sharpe"]
    assert best["sharpe"] == int(sharpe.idxmax())


def test_export_sweep_round_trips_the_table(tmp_path: Path) -> None:
    sweep = run_sweep(BacktestConfig(data_dir=SAMPLE, workers=1),
                      {"period": [10, 14], "oversold": [25, 30]})
    path = export_sweep(sweep, tmp_path / "sweep.csv")
    _assert_numbers_equal(_read(path), sweep.table)


def _hold_open(monkeypatch: pytest.MonkeyPatch, held: Path) -> None:
    """Emulate Windows with ``held`` open in a spreadsheet: no rename touches it."""
    real = os.replace
    monkeypatch.setattr("engine.util.oscompat.RENAME_RETRY_SECONDS", 0.05)

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if held in (Path(source), Path(target)):
            raise sharing_violation(held)
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_export_over_a_file_open_in_another_program_changes_nothing(
        tmp_path: Path, pair: dict[int, BacktestResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    export_result(pair[8], tmp_path)
    before = _contents(tmp_path)
    _hold_open(monkeypatch, tmp_path / "trades.csv")
    with pytest.raises(BacktestError) as caught:
        export_result(pair[3], tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("trades.csv is open in another program")
    assert "close it" in message
    assert _contents(tmp_path) == before  # every file of the earlier export as it was


def test_a_file_held_for_a_moment_is_retried(tmp_path: Path, pair: dict[int, BacktestResult],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A virus scanner or OneDrive holds a new file for a moment: the rename retries.
    real, refused = os.replace, []

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if Path(target).name == "fills.csv" and len(refused) < 2:
            refused.append(target)
            raise sharing_violation(Path(target))
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    export_result(pair[3], tmp_path)
    assert len(refused) == 2
    _assert_numbers_equal(_read(tmp_path / "fills.csv"), pair[3].fills)


def test_files_of_an_earlier_export_that_this_one_does_not_write_are_removed(
        tmp_path: Path, pair: dict[int, BacktestResult]) -> None:
    export_result(pair[3], tmp_path, extra={"sweep": pd.DataFrame({"x": [1]})})
    (tmp_path / "excluded.csv").write_text("code,reason\n", encoding="utf-8")
    (tmp_path / "mine.txt").write_text("the user's own file", encoding="utf-8")
    written = export_result(pair[8], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        [*(p.name for p in written), "mine.txt"])
    assert not (tmp_path / "sweep.csv").exists() and not (tmp_path / "excluded.csv").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(os.name != "posix", reason="Unix file modes")
def test_exported_files_get_the_mode_the_umask_gives(tmp_path: Path,
                                                     pair: dict[int, BacktestResult]) -> None:
    old = os.umask(0o022)
    try:
        paths = export_result(pair[3], tmp_path)
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o644}


def test_csv_lines_end_in_lf_on_every_os(tmp_path: Path) -> None:
    write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == b"\xef\xbb\xbfa\n1\n2\n"
