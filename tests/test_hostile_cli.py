"""Hostile input at the command line and on disk (issue 23): numbers that do not fit,
output to a closed pipe, benchmark and data files that change or end early, and the
figures that read them. Each case either works or is one line naming what to fix."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli.main import main
from engine.config import BacktestConfig
from engine.errors import ConfigError
from engine.studies.folds import FoldSpec, Window, split_folds
from engine.studies.grid import parse_values
from tests.conftest import ROOT, SAMPLE

# -- 1. numbers that are not finite or do not fit the kernels' int64 ------------------

_RUN = ["--data", str(SAMPLE), "--no-progress", "--workers", "1"]


def _status(argv: list[str]) -> int:
    """``backtest``'s exit status (argparse's errors exit through SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(("args", "words"), [
    (["sweep", "--period", "14,inf", "--no-store"], ("--period", "finite")),
    (["sweep", "--period", "10:inf:2", "--no-store"], ("--period", "finite")),
    (["sweep", "--period", "10,nan", "--no-store"], ("--period", "finite")),
    (["sweep", "--period", "14", "--grid", "lot_size=100,inf", "--no-store"],
     ("--grid lot_size", "finite")),
    (["sweep", "--period", "14", "--grid", "slippage=0:1e-300:1e-310", "--no-store"],
     ("--grid slippage", "step")),
    (["sweep", "--period", "14", "--grid", "lot_size=1e20", "--no-store"],
     ("lot_size", "64-bit")),
    (["sweep", "--period", "14", "--grid", "max_positions=1e20", "--no-store"],
     ("max_positions", "64-bit")),
    (["walkforward", "--period", "10,14", "--train", "100000m"], ("train", "100000m")),
    (["walkforward", "--period", "10,14", "--train", "200000m"], ("--train", "calendar")),
    (["walkforward", "--period", "10,14", "--test", "9999999999d"], ("--test", "calendar")),
    (["run", "--max-positions", "1e20", "--no-store"], ("--max-positions",)),
    (["run", "--lot-size", "1e20", "--no-store"], ("--lot-size",)),
    (["run", "--max-positions", "100000000000000000000", "--no-store"],
     ("max_positions", "64-bit")),
    (["run", "--lot-size", "100000000000000000000", "--no-store"], ("lot_size", "64-bit")),
    (["run", "--max-positions", "1" * 400, "--no-store"], ("max_positions", "64-bit")),
])
def test_numbers_that_do_not_fit_are_one_line_naming_the_flag(
        args: list[str], words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert _status([*args, *_RUN]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1,inf", "1:inf:1", "1e400",
                                  "0:1:1e-9"])
def test_grid_values_must_be_finite_and_few_enough(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--grid x "):
        parse_values(text, "--grid x")


@pytest.mark.parametrize(("field", "value"), [
    ("max_positions", 2**63), ("max_positions", 10**400), ("lot_size", 2**63),
    ("lot_size", 1e20), ("workers", 2**64), ("max_positions", 1e300)])
def test_whole_number_fields_fit_int64(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"^{field} = .*64-bit"):
        BacktestConfig(**{field: value})  # type: ignore[arg-type]


def test_whole_number_fields_up_to_int64_are_accepted() -> None:
    config = BacktestConfig(max_positions=2**63 - 1, lot_size=2**63 - 1)
    assert config.max_positions == 2**63 - 1 and config.lot_size == 2**63 - 1


def test_a_window_longer_than_any_calendar_is_an_error_not_an_overflow() -> None:
    with pytest.raises(ConfigError, match="calendar"):
        Window.parse("200000m", "train")
    with pytest.raises(ConfigError, match="calendar"):
        Window.parse("9" * 5000 + "d", "test")
    days = [dt.date(2023, 1, 2) + dt.timedelta(days=k) for k in range(400)]
    for spec in (FoldSpec("100000m", "3m"), FoldSpec("3m", "100000m"),
                 FoldSpec("100000m", "3m", anchored=True)):
        with pytest.raises(ConfigError, match="no complete fold"):
            split_folds(days, spec)


# -- 2. output to a closed pipe (``backtest sweep ... | head -3``) ---------------------

def _sweep_argv(out: Path, store: Path) -> list[str]:
    # --top 100: the table is more than one 8 KiB buffer, so it reaches the pipe while
    # the command still has its files to write and its run to save
    return [sys.executable, "-m", "engine.cli", "sweep", "--data", str(SAMPLE),
            "--workers", "1", "--period", "6:30:1", "--oversold", "25,30", "--top", "100",
            "--out", str(out), "--store", str(store), "--no-progress"]


@pytest.mark.parametrize("reader", ["gone", "head -3"])
def test_output_to_a_closed_pipe_still_writes_the_files_and_saves_the_run(
        reader: str, tmp_path: Path) -> None:
    from engine.results.store import RunStore

    out, store = tmp_path / "sweep", tmp_path / "runs.sqlite"
    argv = _sweep_argv(out, store)
    if reader == "gone":  # the reader closed its end before the first line
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT,
                                  encoding="utf-8", errors="replace", timeout=600,
                                  check=False)
        finally:
            os.close(write_end)
        status, err = done.returncode, done.stderr
    else:  # like head -3: read three lines, then close the pipe
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=ROOT, encoding="utf-8", errors="replace")
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        proc.stdout.close()
        err = proc.stderr.read()
        status = proc.wait(timeout=600)
        assert lines[0].startswith("50 combinations on 50 stocks")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert status == 0, err
    assert {p.name for p in out.iterdir()} == {"sweep.csv", "skipped.csv", "sweep.json"}
    with RunStore(store) as runs:
        assert len(runs.list_runs()) == 1


# -- 3. an index benchmark that ends early; a benchmark file changed in place ----------

def _index_closes(folder: Path, start: str = "2022-06-01", end: str = "2026-02-27",
                  seed: int = 1) -> tuple[Path, pd.DataFrame]:
    days = pd.bdate_range(start, end)
    closes = np.round(3000 * np.exp(np.cumsum(
        np.random.default_rng(seed).normal(0, 0.01, len(days)))), 2)
    frame = pd.DataFrame({"trade_date": days.strftime("%Y%m%d"), "close": closes})
    path = folder / "hs300.csv"
    frame.to_csv(path, index=False)
    return path, frame


_BENCH_BASE = BacktestConfig(data_dir=SAMPLE, workers=1)  # 2023-02-04 .. 2026-02-04


def test_an_index_that_ends_before_the_window_is_an_error_naming_its_range(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.errors import DataError
    from engine.run.backtest import run_backtest

    path, _ = _index_closes(tmp_path, end="2025-06-30")
    with pytest.raises(DataError, match=r"ends 2025-06-30, before the run's last day "
                                        r"2026-02-04.*2022-06-01 \.\. 2025-06-30"):
        run_backtest(_BENCH_BASE.replace(benchmark=str(path)))
    late, _ = _index_closes(tmp_path, start="2024-01-02")
    with pytest.raises(DataError, match=r"no close on or before the run's first day "
                                        r"2023-02-06.*2024-01-02 \.\. 2026-02-27"):
        run_backtest(_BENCH_BASE.replace(benchmark=str(late)))
    path, _ = _index_closes(tmp_path, end="2025-06-30")
    assert _status(["run", *_RUN, "--no-store", "--benchmark", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "2022-06-01 .. 2025-06-30" in err
    # an index that covers the window to its last day is fine
    path, _ = _index_closes(tmp_path, start="2023-02-06", end="2026-02-04")
    run_backtest(_BENCH_BASE.replace(benchmark=str(path)))


def test_a_benchmark_file_changed_in_place_is_read_again(tmp_path: Path) -> None:
    from engine.run.backtest import run_backtest

    path, frame = _index_closes(tmp_path)
    config = _BENCH_BASE.replace(benchmark=str(path))
    before = run_backtest(config).equity["benchmark"].to_numpy()
    st = path.stat()
    changed = frame.assign(close=frame["close"].to_numpy()[::-1])  # the same bytes, reordered
    changed.to_csv(path, index=False)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # cp -p, rsync -t: mtime kept
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    after = run_backtest(config).equity
    closes = changed.set_index(pd.to_datetime(changed["trade_date"]))["close"]
    level = closes.reindex(pd.to_datetime(after["date"]), method="ffill").to_numpy()
    assert not np.array_equal(after["benchmark"].to_numpy(), before)
    np.testing.assert_allclose(after["benchmark"], 1_000_000 * level / level[0], rtol=1e-15)


# -- 4. a data file corrected in place, its size and mtime kept ------------------------

@pytest.mark.parametrize("how", ["rewrite", "replace"])
def test_a_file_corrected_in_place_with_its_mtime_kept_is_read_again(
        how: str, tmp_path: Path) -> None:
    from engine.data import load_market_data
    from tests.conftest import bars

    folder = tmp_path / "data"
    folder.mkdir()
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    path = folder / "600000_SH.csv"
    bars(days, [5.0, 5.5, 6.0, 6.5]).to_csv(path, index=False)
    first = load_market_data(folder)
    st = path.stat()
    corrected = bars(days, [5.0, 5.6, 6.0, 6.5])  # one close fixed: the same size
    time.sleep(0.03)  # past the file system's coarse clock tick, as any real edit is
    if how == "rewrite":  # an editor writing the file in place
        corrected.to_csv(path, index=False)
    else:  # cp -p, rsync -t, tar x: a new file put where the old one was
        other = folder / "incoming.tmp"
        corrected.to_csv(other, index=False)
        os.replace(other, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime kept
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    again = load_market_data(folder)
    assert first.close[1, 0] == 5.5 and not again.from_cache
    assert again.close[1, 0] == 5.6


# -- 5. the walk-forward's benchmark over its whole out-of-sample span -----------------

def _walk_forward(**config: object) -> object:
    from engine.studies.walkforward import run_walk_forward

    base = BacktestConfig(data_dir=SAMPLE, start="2023-02-06", end="2026-02-04", workers=1)
    return run_walk_forward(base.replace(**config), {"period": [10, 14]}, FoldSpec("12m", "6m"))


def test_the_walk_forward_benchmark_moves_on_every_test_folds_first_day(
        tmp_path: Path) -> None:
    from engine.results.metrics import daily_returns, relative_stats

    path, frame = _index_closes(tmp_path)
    wf = _walk_forward(benchmark=str(path))
    equity, folds = wf.equity, wf.folds  # type: ignore[attr-defined]
    assert len(folds) == 3
    # computed on its own: the index's close-to-close growth over the out-of-sample span
    closes = frame.set_index(pd.to_datetime(frame["trade_date"]))["close"]
    level = closes.reindex(pd.to_datetime(equity["date"]), method="ffill").to_numpy()
    expected = 1_000_000 * level / level[0]
    np.testing.assert_allclose(equity["benchmark"], expected, rtol=1e-12)
    for k in (2, 3):  # each later fold's first day: its close over the day before's
        at = int(np.flatnonzero(equity["fold"].to_numpy() == k)[0])
        moved = equity["benchmark"].iloc[at] / equity["benchmark"].iloc[at - 1] - 1
        assert moved == pytest.approx(level[at] / level[at - 1] - 1, rel=1e-9)
        assert moved != 0.0
    metrics = wf.metrics  # type: ignore[attr-defined]
    assert metrics["benchmark_total_return"] == pytest.approx(expected[-1] / 1e6 - 1,
                                                              rel=1e-12)
    stats = relative_stats(daily_returns(equity["equity"].to_numpy(), 1e6),
                           daily_returns(expected, 1e6))
    for name, value in stats.items():
        assert metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_the_walk_forward_equal_weight_benchmark_is_held_across_the_folds() -> None:
    from engine.run.backtest import run_backtest

    wf = _walk_forward()
    equity, folds = wf.equity, wf.folds  # type: ignore[attr-defined]
    span = run_backtest(BacktestConfig(data_dir=SAMPLE, start=folds["test_start"].iloc[0],
                                       end=folds["test_end"].iloc[-1], workers=1))
    assert np.array_equal(span.equity["date"].to_numpy(), equity["date"].to_numpy())
    np.testing.assert_allclose(equity["benchmark"], span.equity["benchmark"], rtol=1e-12)


# -- 6. the overfitting figures: net of the risk-free rate, never-traded left out ------

def _combination_returns(n_days: int = 320, seed: int = 0) -> np.ndarray:
    """Five combinations, safer ones with lower means (the rate reorders their Sharpes)."""
    rng = np.random.default_rng(seed)
    vols = np.array([0.002, 0.004, 0.008, 0.016, 0.03])
    means = np.array([0.0003, 0.0005, 0.0009, 0.0015, 0.0025])
    return (rng.normal(0, 1, (n_days, 5)) * vols + means).astype(np.float32)


def test_pbo_ranks_returns_net_of_the_risk_free_rate_as_dsr_does() -> None:
    from engine.studies.overfit import probability_of_overfitting
    from engine.studies.sweep import sweep_diagnostics

    returns, rate = _combination_returns(), 0.3
    net = returns.astype(np.float64) - rate / 252
    d = sweep_diagnostics(returns, rate)
    assert d["pbo"] == probability_of_overfitting(net, 16).pbo
    assert d["pbo"] != probability_of_overfitting(returns, 16).pbo  # the rate matters
    # no rate: the figures as before
    plain = sweep_diagnostics(returns, 0.0)
    assert plain["pbo"] == probability_of_overfitting(returns, 16).pbo


def test_combinations_that_never_trade_are_left_out_of_dsr_and_pbo_and_counted() -> None:
    from engine.results.formatting import diagnostics_text
    from engine.studies.overfit import deflated_sharpe, probability_of_overfitting
    from engine.studies.sweep import sweep_diagnostics

    traded, rate = _combination_returns(seed=3)[:, :3], 0.02
    flat = np.zeros((traded.shape[0], 2), dtype=np.float32)  # equity never moves
    returns = np.concatenate([flat[:, :1], traded, flat[:, 1:]], axis=1)
    d = sweep_diagnostics(returns, rate)
    net = traded.astype(np.float64) - rate / 252
    sharpes = net.mean(axis=0) / net.std(axis=0, ddof=1)
    best = int(np.argmax(sharpes))
    dsr = deflated_sharpe(traded[:, best].astype(np.float64), sharpes, rate)
    assert d["trials"] == 3 and d["never_traded"] == 2
    assert d["deflated_sharpe"] == pytest.approx(dsr.value, rel=1e-12)
    assert d["best_sharpe"] == pytest.approx(dsr.sharpe, rel=1e-12)
    assert d["expected_max_sharpe"] == pytest.approx(dsr.expected_max, rel=1e-12)
    assert d["pbo"] == probability_of_overfitting(net, 16).pbo
    text = diagnostics_text(d)
    assert "best of 3 combinations, 2 never traded" in text
    assert "never traded" not in diagnostics_text(sweep_diagnostics(traded, rate))
