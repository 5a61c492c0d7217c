"""The `backtest` command: datagen and check, one-line errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.cli.main import main
from tests.conftest import SAMPLE


def test_datagen_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "universe"
    assert main(["datagen", str(out), "--stocks", "12", "--start", "2024-01-01",
                 "--end", "2024-06-30", "--seed", "3"]) == 0
    assert len(list(out.glob("*.parquet"))) == 12 and (out / "stock_list.txt").exists()
    assert main(["check", str(out), "--stocks", str(out / "stock_list.txt")]) == 0
    printed = capsys.readouterr().out
    assert "wrote 12 stock files" in printed and "12 stocks" in printed


def test_check_sample_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SAMPLE), "--start", "2023-02-04", "--end", "2026-02-04"]) == 0
    assert "50 stocks" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["check", "no-such-folder"], "data folder no-such-folder does not exist"),
    (["check", str(SAMPLE), "--stocks", "999999.SZ"], "stock 999999.SZ has no file"),
    (["check", str(SAMPLE), "--start", "someday"], "start 'someday' is not a date"),
    (["datagen", "x", "--stocks", "0"], "--stocks must be at least 1"),
])
def test_errors_are_one_line_without_traceback(args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_run_prints_metrics_and_writes_every_file(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from engine.config import BacktestConfig
    from engine.run.backtest import run_backtest

    out = tmp_path / "out"
    assert main(["run", "--data", str(SAMPLE), "--period", "10", "--mode", "per_stock",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Total return" in printed and "timings: load" in printed
    names = {p.name for p in out.iterdir()}
    assert names == {"equity.csv", "fills.csv", "trades.csv", "rejections.csv",
                     "metrics.csv", "metrics.json", "timings.json", "config.toml"}
    config = BacktestConfig.load(out / "config.toml")
    assert config.period == 10 and config.capital_mode == "per_stock"
    result = run_backtest(config)
    assert (out / "fills.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for spreadsheets
    fills = pd.read_csv(out / "fills.csv", encoding="utf-8-sig")
    np.testing.assert_array_equal(fills["price"], result.fills["price"])
    np.testing.assert_array_equal(fills["commission"], result.fills["commission"])
    equity = pd.read_csv(out / "equity.csv", encoding="utf-8-sig")
    np.testing.assert_array_equal(equity["equity"], result.equity["equity"])
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["total_return"] == result.metrics["total_return"]


def test_run_reads_config_and_flags_override(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.toml"
    path.write_text(f'data_dir = "{SAMPLE.as_posix()}"\nperiod = 9\noversold = 25.0\n',
                    encoding="utf-8")
    assert main(["run", "--config", str(path), "--overbought", "75"]) == 0
    assert "RSI 9 25/75" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "1"], "period = 1: must be between 2 and 500"),
    (["--oversold", "80"], "overbought = 70.0: must be above oversold (80)"),
    (["--fill", "open"], "fill = 'open': must be one of next_open, close"),
])
def test_run_bad_parameter_is_one_line(args: list[str], message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--data", str(SAMPLE), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--period", "x"], "error: argument --period: invalid int value: 'x' "
     "(try backtest run --help)"),
    (["run", "--capitall", "5"], "error: unrecognized arguments: --capitall 5 "
     "(try backtest --help)"),
    (["sweep", "--top", "many"], "error: argument --top: invalid int value: 'many' "
     "(try backtest sweep --help)"),
    (["runs", "show", "abc"], "error: argument id: invalid int value: 'abc' "
     "(try backtest runs show --help)"),
    (["check"], "error: the following arguments are required: data "
     "(try backtest check --help)"),
])
def test_bad_flag_is_one_line_not_the_usage_block(args: list[str], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == message and "usage:" not in err


@pytest.mark.parametrize("command", ["run", "sweep", "walkforward"])
@pytest.mark.parametrize(("flag", "message"), [
    ("--out", "cannot write --out {file}/out: {file} is a file, not a folder"),
    ("--cache-dir", "cannot write the aligned cache folder (--cache-dir or "
     "$BACKTEST_CACHE_DIR) {file}/cache: {file} is a file, not a folder"),
])
def test_bad_out_or_cache_folder_fails_before_any_work(
        command: str, flag: str, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.run.backtest
    import engine.studies.sweep
    import engine.studies.walkforward

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run started before its paths were checked")

    monkeypatch.setattr(engine.run.backtest, "run_backtest", no_work)
    monkeypatch.setattr(engine.studies.sweep, "run_sweep", no_work)
    monkeypatch.setattr(engine.studies.walkforward, "run_walk_forward", no_work)
    a_file = tmp_path / "a_file"
    a_file.write_text("x", encoding="utf-8")
    target = a_file / ("out" if flag == "--out" else "cache")
    extra = {"run": ["--no-store"], "sweep": ["--period", "10,14", "--no-store"],
             "walkforward": ["--period", "10,14"]}[command]
    assert main([command, "--data", str(SAMPLE), *extra, flag, str(target)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: " + message.format(file=a_file) + "; choose another folder"


def test_capital_1e30_fails_in_one_line_instead_of_exit_0_without_trades(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--data", str(SAMPLE), "--capital", "1e30", "--no-store"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: initial_capital = 1e+30: must be positive and at most 1e+12")
