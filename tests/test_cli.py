"""The `backtest` command: datagen and check, one-line errors with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
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
