"""A user's strategy file (SPEC §3b): it runs like a built-in, wherever the engine runs
(its source travels with the task), its look-ahead is caught, and every fault is one
line naming the file (and the line)."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from engine.cli.main import main
from engine.config import BacktestConfig
from engine.errors import ConfigError, StrategyError
from engine.run.backtest import run_backtest
from engine.strategies.lookahead import cut_rows
from engine.strategies.user_file import StrategyFile, read_strategy_file
from engine.studies.sweep import run_sweep
from tests.conftest import ROOT, SAMPLE

#: The built-in ma_cross, written as a user's file on the engine's own kernels.
CROSS = """
from engine.kernels.indicators_nb import sma_nb
from engine.kernels.signals_nb import cross_signals_nb

NAME = "my cross"
PARAMS = {"fast": 5, "slow": 20}

def signals(bars, params):
    fast = sma_nb(bars.close, bars.tradable, params["fast"])
    slow = sma_nb(bars.close, bars.tradable, params["slow"])
    return cross_signals_nb(fast, slow, bars.tradable, 0)
"""


def _file(tmp_path: Path, source: str, name: str = "strategy.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


def _config(strategy: str, **changes: object) -> BacktestConfig:
    return BacktestConfig(data_dir=SAMPLE, strategy=strategy, **changes)  # type: ignore[arg-type]


def test_a_file_gives_exactly_the_builtin_it_reimplements(tmp_path: Path) -> None:
    path = _file(tmp_path, CROSS)
    mine = run_backtest(_config(path, params={"fast": 3, "slow": 15}))
    builtin = run_backtest(_config("ma_cross", params={"fast": 3, "slow": 15}))
    assert mine.metrics["trades"] > 5
    for table in ("equity", "fills", "trades", "rejections"):
        pd.testing.assert_frame_equal(mine.frame(table), builtin.frame(table), check_exact=True)
    assert mine.timings["lookahead"] > 0  # the check ran, as its own stage


@pytest.mark.parametrize("example", ["momentum.py", "rsi_trend.py"])
def test_the_example_files_run_and_pass_the_lookahead_check(example: str) -> None:
    result = run_backtest(_config(str(ROOT / "strategies" / example), stop_loss=0.08))
    assert result.metrics["trades"] > 0


PEEKING = {
    "shifted": """
        import numpy as np
        NAME, PARAMS = "tomorrow", {}
        def signals(bars, params):
            tomorrow = np.roll(bars.close, -1, axis=0)
            return tomorrow > bars.close * 1.01, tomorrow < bars.close * 0.99
    """,
    "normalised": """
        import numpy as np
        NAME, PARAMS = "whole history", {}
        def signals(bars, params):
            level = bars.close / np.nanmax(np.nan_to_num(bars.close), axis=0)
            return level > 0.9, level < 0.7
    """,
    "centred": """
        import pandas as pd
        NAME, PARAMS = "centred mean", {}
        def signals(bars, params):
            mean = pd.DataFrame(bars.close).rolling(5, center=True).mean().to_numpy()
            return bars.close > mean * 1.01, bars.close < mean * 0.99
    """,
}


@pytest.mark.parametrize("kind", sorted(PEEKING))
def test_a_strategy_that_looks_ahead_fails_naming_stock_bar_and_cut(tmp_path: Path,
                                                                     kind: str) -> None:
    path = _file(tmp_path, PEEKING[kind])
    with pytest.raises(StrategyError, match="looks ahead") as info:
        run_backtest(_config(path))
    message = str(info.value)
    assert "\n" not in message and "history cut after 20" in message
    codes = {p.stem.replace("_", ".") for p in SAMPLE.glob("*.parquet")}
    assert any(code in message for code in codes)
    # Switched off, it runs (and its numbers are the user's business).
    assert run_backtest(_config(path, lookahead_check="off")).metrics is not None


def test_the_cut_days_come_from_the_data_and_repeat() -> None:
    assert cut_rows("abc", 100, 900) == cut_rows("abc", 100, 900)
    assert cut_rows("abc", 100, 900) != cut_rows("abd", 100, 900)
    rows = cut_rows("abc", 100, 900)
    assert len(set(rows)) == 3 and all(100 <= r < 899 for r in rows)
    assert cut_rows("abc", 5, 6) == []  # no day with a later day to compare


FAULTS = [
    ("syntax", "NAME = 'x'\nPARAMS = {}\ndef signals(bars, params)\n    return 1\n",
     r"strategy\.py line 3: syntax error", 3),
    ("no name", "PARAMS = {}\ndef signals(bars, params):\n    return None\n",
     r"strategy\.py has no NAME", None),
    ("import", "import no_such_module_here\nNAME, PARAMS = 'x', {}\n",
     r"strategy\.py line 1: does not load: ModuleNotFoundError", 1),
    ("raises", "NAME, PARAMS = 'x', {}\ndef signals(bars, params):\n    x = 1\n"
     "    return x / 0\n", r"strategy\.py line 4: signals\(\) raised: ZeroDivisionError", 4),
    ("shape", "import numpy as np\nNAME, PARAMS = 'x', {}\ndef signals(bars, params):\n"
     "    b = np.zeros(3, bool)\n    return b, b\n", r"buy of shape \(3,\)", None),
    ("nan", "import numpy as np\nNAME, PARAMS = 'x', {}\ndef signals(bars, params):\n"
     "    return bars.close > 0, np.where(bars.close > 0, np.nan, 0.0)\n",
     r"sell = nan for \d{6}\.S[HZ] on \d{4}-\d\d-\d\d; sell must be true/false", None),
    ("one array", "NAME, PARAMS = 'x', {}\ndef signals(bars, params):\n"
     "    return bars.close > 0\n", r"must return \(buy, sell\)", None),
    ("bad default", "NAME, PARAMS = 'x', {'n': [1, 2]}\ndef signals(bars, params):\n"
     "    return None\n", r"PARAMS\['n'\]", None),
]


@pytest.mark.parametrize("kind, source, pattern, line", FAULTS, ids=[f[0] for f in FAULTS])
def test_every_fault_is_one_line_naming_the_file_and_line(tmp_path: Path, kind: str,
                                                          source: str, pattern: str,
                                                          line: int | None) -> None:
    path = _file(tmp_path, source)
    with pytest.raises(StrategyError, match=pattern) as info:
        run_backtest(_config(path))
    assert "\n" not in str(info.value)
    assert info.value.file == path and info.value.line == line


def test_a_missing_file_and_unknown_or_bad_parameters_are_named(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match=r"nope\.py not found"):
        run_backtest(_config(str(tmp_path / "nope.py")))
    path = _file(tmp_path, CROSS)
    with pytest.raises(StrategyError, match="has no parameter 'speed'; its parameters: "
                                            "fast, slow"):
        run_backtest(_config(path, params={"speed": 3}))
    with pytest.raises(ConfigError, match=r"fast = 2\.5: must be a whole number"):
        run_backtest(_config(path, params={"fast": 2.5}))


def test_the_cli_prints_one_line_and_exits_2(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, FAULTS[3][1])
    assert main(["run", "--data", str(SAMPLE), "--strategy", path, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "strategy.py line 4" in err


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = _file(tmp_path, CROSS)
    first = run_backtest(_config(path))
    Path(path).write_text(textwrap.dedent(CROSS).replace('"slow": 20', '"slow": 30'),
                          encoding="utf-8")
    second = run_backtest(_config(path))
    assert second.metrics != first.metrics
    assert second.metrics == run_backtest(_config("ma_cross", params={"slow": 30})).metrics


def test_a_file_travels_as_its_source_and_runs_without_its_path(tmp_path: Path) -> None:
    strategy = read_strategy_file(_file(tmp_path, CROSS, "travelling.py"))
    moved = pickle.loads(pickle.dumps(strategy))
    assert isinstance(moved, StrategyFile) and moved.source == strategy.source
    elsewhere = StrategyFile(str(tmp_path / "gone" / "travelling.py"), strategy.source)
    assert elsewhere.defaults() == {"fast": 5, "slow": 20}


GRID = {"fast": [3, 5], "slow": [15, 25]}


def test_a_sweep_over_a_files_parameters_on_two_workers_equals_one_process(
        tmp_path: Path) -> None:
    path = _file(tmp_path, CROSS)
    base = _config(path)
    one = run_sweep(base.replace(workers=1), GRID)

    def delete_the_file(*_: object) -> None:
        # Once the sweep has read it (before its first event), the workers never need
        # the user's file.
        Path(path).unlink(missing_ok=True)

    two = run_sweep(base.replace(workers=2), GRID, progress=delete_the_file)
    assert not Path(path).exists()
    assert two.timings["workers"] == 2
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    builtin = run_sweep(_config("ma_cross", workers=1), GRID)
    metrics = [c for c in one.table.columns if c not in GRID]
    pd.testing.assert_frame_equal(one.table[metrics], builtin.table[metrics], check_exact=True)


def test_a_sweep_over_a_files_parameters_on_a_dask_cluster(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from engine.execution import cluster

    path = _file(tmp_path, CROSS)
    base = _config(path, workers=1)
    local = run_sweep(base, GRID)
    try:
        remote = run_sweep(base, GRID, cluster="local:2")
    finally:
        cluster.shutdown_clusters()
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=True)


def test_a_strategy_that_runs_past_a_cancel_stops_and_leaves_no_hung_host(
        tmp_path: Path) -> None:
    import threading

    from engine.errors import Cancelled
    from engine.execution import jobs

    path = _file(tmp_path, """
        import time
        NAME, PARAMS = "sleeper", {}
        def signals(bars, params):
            time.sleep(600)
    """)
    cancel = threading.Event()

    def cancel_once_it_computes(stage: str, *_: object) -> None:
        if stage == "indicators":  # the strategy's own code is running
            cancel.set()

    with pytest.raises(Cancelled):
        jobs.run(_config(path), progress=cancel_once_it_computes, cancel=cancel)
    # The host that hung in the user's code was stopped; the next run gets a fresh one.
    good = _config("ma_cross")
    assert jobs.run(good).result.metrics == run_backtest(good).metrics
