"""Walk-forward validation (engine.studies.walkforward): fold boundaries, no look-ahead, stitching,
the choice rule and determinism across worker counts."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.studies.folds import FoldSpec, Window, split_folds
from engine.studies.sweep import SweepResult
from engine.studies.walkforward import best_row, run_walk_forward
from tests.conftest import SAMPLE

DAYS = pd.bdate_range("2023-01-02", "2024-12-31")
END = dt.date(2024, 12, 31)
GRID = {"period": [10, 14], "oversold": [25, 30]}


def _d(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def test_rolling_month_folds_step_by_the_test_window() -> None:
    folds = split_folds(DAYS, FoldSpec("12m", "3m"), END)
    assert [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds] == [
        (_d("2023-01-02"), _d("2024-01-01"), _d("2024-01-02"), _d("2024-04-01")),
        (_d("2023-04-03"), _d("2024-04-01"), _d("2024-04-02"), _d("2024-07-01")),
        (_d("2023-07-03"), _d("2024-07-01"), _d("2024-07-02"), _d("2024-10-01")),
    ]  # the next test window would run to 2025-01-01, past the end: not a fold


def test_months_count_from_the_configured_start() -> None:
    # The headline window starts on a Saturday: 12 months from 2023-02-04 end on
    # 2024-02-03, and eight 3-month test windows fill the rest exactly.
    days = pd.bdate_range("2023-02-06", "2026-02-04")
    folds = split_folds(days, FoldSpec("12m", "3m"), _d("2026-02-04"), _d("2023-02-04"))
    assert len(folds) == 8
    assert (folds[0].train_end, folds[0].test_start) == (_d("2024-02-02"), _d("2024-02-05"))
    assert folds[-1].test_end == _d("2026-02-03")


def test_anchored_folds_keep_the_first_train_date() -> None:
    rolling = split_folds(DAYS, FoldSpec("12m", "3m"), END)
    anchored = split_folds(DAYS, FoldSpec("12m", "3m", anchored=True), END)
    assert {f.train_start for f in anchored} == {_d("2023-01-02")}
    assert [(f.train_end, f.test_start, f.test_end) for f in anchored] == \
        [(f.train_end, f.test_start, f.test_end) for f in rolling]


def test_trading_day_folds_count_bars() -> None:
    folds = split_folds(DAYS, FoldSpec("250d", "60d"), END)
    index = {d.date(): i for i, d in enumerate(DAYS)}
    for k, f in enumerate(folds):
        assert index[f.train_start] == 60 * k
        assert index[f.train_end] - index[f.train_start] + 1 == 250
        assert index[f.test_start] == index[f.train_end] + 1
        assert index[f.test_end] - index[f.test_start] + 1 == 60
    assert len(folds) == (len(DAYS) - 250) // 60


def test_test_windows_are_consecutive_and_never_overlap_their_train_window() -> None:
    for spec in (FoldSpec("6m", "60d"), FoldSpec("120d", "2m"), FoldSpec("12m", "3m", True)):
        folds = split_folds(DAYS, spec, END)
        for a, b in itertools.pairwise(folds):
            assert b.test_start == (DAYS[DAYS.get_loc(pd.Timestamp(a.test_end)) + 1]).date()
        for f in folds:
            assert f.train_start <= f.train_end < f.test_start <= f.test_end


def test_windows_that_do_not_fit_are_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no complete fold"):
        split_folds(DAYS, FoldSpec("24m", "3m"), END)
    with pytest.raises(ConfigError, match=r"train '12x'.*250d.*12m"):
        Window.parse("12x", "train")


def test_best_row_takes_the_metric_then_the_smallest_parameters() -> None:
    table = pd.DataFrame({"period": [10, 10, 14, 14], "oversold": [25.0, 30.0, 25.0, 30.0],
                          "overbought": [70.0] * 4, "sharpe": [0.5, np.nan, 0.9, 0.9],
                          "max_drawdown": [-0.1, -0.3, -0.2, -0.05]})
    sweep = SweepResult(BacktestConfig(), {"period": (10, 14), "oversold": (25, 30)}, table,
                        pd.DataFrame(), {}, (), "")
    assert best_row(sweep, "sharpe")[["period", "oversold"]].tolist() == [14, 25.0]
    assert best_row(sweep, "max_drawdown")["oversold"] == 30.0  # closest to zero


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wf") / "data"
    shutil.copytree(SAMPLE, folder)
    return folder


def _walk(folder: Path, **config: object) -> object:
    base = BacktestConfig(data_dir=folder, start="2023-02-06", end="2026-02-04", workers=1)
    return run_walk_forward(base.replace(**config), GRID, FoldSpec("12m", "6m"))


def test_stitched_curve_chains_the_folds_with_positions_closed(sample_copy: Path) -> None:
    wf = _walk(sample_copy)
    equity = wf.equity  # type: ignore[attr-defined]
    folds = wf.folds  # type: ignore[attr-defined]
    assert len(folds) == 3 and equity["fold"].unique().tolist() == [1, 2, 3]
    assert equity["date"].is_monotonic_increasing and equity["date"].is_unique
    ends = equity.groupby("fold").tail(1)
    assert (ends["positions_value"] == 0.0).all()
    assert (ends["equity"] == ends["cash"]).all()
    for k in (2, 3):  # each test window starts from the previous one's final equity
        test_start = pd.Timestamp(folds["test_start"].iloc[k - 1])
        first = equity[equity["fold"] == k].iloc[0]
        assert first["date"] == test_start
        run = BacktestConfig(data_dir=sample_copy, start=folds["test_start"].iloc[k - 1],
                             end=folds["test_end"].iloc[k - 1], workers=1,
                             initial_capital=float(ends["equity"].iloc[k - 2]),
                             period=int(folds["period"].iloc[k - 1]),
                             oversold=float(folds["oversold"].iloc[k - 1]))
        from engine.run.backtest import run_backtest

        alone = run_backtest(run).equity["equity"].to_numpy()
        assert np.array_equal(equity[equity["fold"] == k]["equity"].to_numpy()[:-1],
                              alone[:-1])
    fills, trades = wf.fills, wf.trades  # type: ignore[attr-defined]
    assert not trades["open"].any()  # every position is closed at its test window's end
    assert folds["trades"].sum() == len(trades)
    for k, end in enumerate(folds["test_end"], start=1):
        closing = fills[(fills["date"] == pd.Timestamp(end)) & (fills["side"] == "sell")]
        last = equity[equity["fold"] == k].iloc[-1]
        costs = (closing["commission"] + closing["tax"] + closing["transfer_fee"]).sum()
        value = (closing["shares"] * closing["price"]).sum()
        assert last["cash"] == pytest.approx(closing["cash_after"].iloc[-1] if len(closing)
                                             else last["cash"], abs=1e-6)
        assert costs >= 0 and value >= 0
    metrics = wf.metrics  # type: ignore[attr-defined]
    assert metrics["final_equity"] == equity["equity"].iloc[-1]
    assert metrics["total_return"] == equity["equity"].iloc[-1] / 1_000_000 - 1


def test_a_test_window_never_influences_its_own_choice(sample_copy: Path,
                                                       tmp_path: Path) -> None:
    before = _walk(sample_copy).folds  # type: ignore[attr-defined]
    cut = pd.Timestamp(before["train_end"].iloc[0])
    changed = tmp_path / "changed"
    shutil.copytree(sample_copy, changed)
    rng = np.random.default_rng(0)
    for path in changed.glob("*.parquet"):
        frame = pd.read_parquet(path)
        after = pd.to_datetime(frame["date"]) > cut
        scale = rng.uniform(0.8, 1.25, int(after.sum()))
        for column in ("open", "high", "low", "close"):
            frame.loc[after, column] = np.round(frame.loc[after, column] * scale, 2)
        frame.to_parquet(path, index=False)
    after_change = _walk(changed).folds  # type: ignore[attr-defined]
    first = ["train_start", "train_end", "period", "oversold", "overbought", "is_sharpe"]
    assert before[first].iloc[0].tolist() == after_change[first].iloc[0].tolist()
    assert not before["oos_sharpe"].equals(after_change["oos_sharpe"])  # the change is seen


def test_results_do_not_depend_on_the_worker_count(sample_copy: Path) -> None:
    one = _walk(sample_copy, workers=1)
    two = _walk(sample_copy, workers=2)
    pd.testing.assert_frame_equal(one.folds, two.folds)  # type: ignore[attr-defined]
    assert np.array_equal(one.equity["equity"].to_numpy(),  # type: ignore[attr-defined]
                          two.equity["equity"].to_numpy())  # type: ignore[attr-defined]


def test_cli_walkforward_writes_folds_equity_and_summary(sample_copy: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from engine.cli.main import main

    out = tmp_path / "wf"
    assert main(["walkforward", "--data", str(sample_copy), "--workers", "1", "--period",
                 "10,14", "--oversold", "25,30", "--train", "12m", "--test", "6m",
                 "--metric", "sharpe", "--out", str(out), "--no-progress"]) == 0
    assert "walk-forward efficiency" in capsys.readouterr().out
    folds = pd.read_csv(out / "folds.csv", encoding="utf-8-sig")
    assert list(folds.columns) == ["train_start", "train_end", "test_start", "test_end",
                                   "period", "oversold", "overbought", "is_sharpe",
                                   "oos_sharpe", "trades"]
    assert folds["train_start"].iloc[0] == "2023-02-06"  # ISO dates
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {"oos_metrics", "wf_efficiency", "deflated_sharpe", "pbo"} <= set(summary)
    equity = pd.read_csv(out / "equity.csv", encoding="utf-8-sig")
    assert equity["equity"].iloc[-1] == pytest.approx(summary["oos_metrics"]["final_equity"])


def test_cli_walkforward_bad_window_is_one_line(sample_copy: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli.main import main

    assert main(["walkforward", "--data", str(sample_copy), "--period", "10,14",
                 "--train", "1y", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "250d" in err
