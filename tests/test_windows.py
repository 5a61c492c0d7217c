"""Windows: every layout loads under Windows' file semantics with results identical to the
plain run, and a configuration made with Windows paths runs on this machine's workers."""

from __future__ import annotations

import io
import os
import pickle
import sys
from pathlib import Path, PureWindowsPath

import pandas as pd
import pytest

from engine.config import BacktestConfig
from engine.datagen.universe import generate_universe
from engine.run.backtest import run_backtest
from engine.studies.sweep import run_sweep
from tests.windows_emulation import emulate_windows_files, text_mode

LAYOUTS = ("per-stock", "tdx", "qlib", "long", "akshare")
GRID = {"period": [10.0, 14.0], "oversold": [25.0, 30.0]}


def _config(folder: Path, cache: Path, workers: int = 1) -> BacktestConfig:
    return BacktestConfig(data_dir=folder, start="2023-01-01", end="2024-06-28",
                          cache_dir=cache, workers=workers)


def _exact(metrics: dict[str, object]) -> dict[str, str]:
    """Metrics as their exact text (repr of a float round-trips; NaN equals NaN)."""
    return {key: repr(value) for key, value in metrics.items()}


@pytest.fixture(scope="module")
def universes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layouts")
    for layout in LAYOUTS:
        generate_universe(root / layout, 12, "2022-06-01", "2024-06-28", seed=5, layout=layout)
    return {layout: root / layout for layout in LAYOUTS}


def test_the_emulation_reads_text_mode_where_o_binary_is_missing(
        universes: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulation bites: a .day file read without O_BINARY loses bytes.
    path = next((universes["tdx"]).rglob("*.day"))
    data = path.read_bytes()
    assert text_mode(data) != data
    with emulate_windows_files(monkeypatch) as text_opened:
        handle = os.open(path, os.O_RDONLY)
        try:
            assert os.read(handle, len(data) + 1) == text_mode(data)
        finally:
            os.close(handle)
        assert not hasattr(os, "readv") and not hasattr(os, "nice")
    assert text_opened == [os.fspath(path)]
    assert hasattr(os, "readv") or sys.platform == "win32"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_the_same_run_and_sweep_under_windows_file_semantics(
        universes: dict[str, Path], layout: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = universes[layout]
    plain = run_backtest(_config(folder, tmp_path / "plain"))
    plain_sweep = run_sweep(_config(folder, tmp_path / "plain"), GRID)
    with emulate_windows_files(monkeypatch) as text_opened:
        run = run_backtest(_config(folder, tmp_path / "windows"))  # a cold load: files read
        sweep = run_sweep(_config(folder, tmp_path / "windows", workers=2), GRID)
    assert text_opened == []  # every read of the engine's was binary
    for name in ("equity", "fills", "trades", "rejections"):
        pd.testing.assert_frame_equal(run.frame(name), plain.frame(name), check_exact=True)
    assert _exact(run.metrics) == _exact(plain.metrics)
    assert (sweep.executor, plain_sweep.executor) == ("2 local workers", "this process")
    pd.testing.assert_frame_equal(sweep.table, plain_sweep.table, check_exact=True)


class _NoPathClasses(pickle.Unpickler):
    """Unpickles as the other OS must: no ``pathlib`` class of this one can be made."""

    def find_class(self, module: str, name: str) -> object:
        if module == "pathlib":
            raise pickle.UnpicklingError(f"cannot instantiate {name!r} on your system")
        return super().find_class(module, name)


def test_a_configuration_made_with_windows_paths_runs_on_this_machines_workers(
        universes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    windows = BacktestConfig(data_dir=PureWindowsPath(r"C:\new_tdx\vipdoc"),
                             cache_dir=PureWindowsPath(r"D:\backtest\cache"),
                             stocks=PureWindowsPath(r"D:\lists\沪深300.txt"),
                             start="2023-01-01", end="2024-06-28", workers=2)
    payload = pickle.dumps(windows, pickle.HIGHEST_PROTOCOL)
    assert b"pathlib" not in payload  # paths travel as text
    back = _NoPathClasses(io.BytesIO(payload)).load()
    assert back == windows and str(back.data_dir) == r"C:\new_tdx\vipdoc"
    assert back.stocks == r"D:\lists\沪深300.txt"

    # The sweep's tasks carry the Windows configuration to 2 spawned workers; the data
    # reaches them as it does from any client (here, loaded from this machine's folder).
    from engine.studies import sweep as sweep_module

    local = _config(universes["per-stock"], tmp_path / "cache")
    real_load = sweep_module.load
    monkeypatch.setattr(sweep_module, "load",
                        lambda config, *args: real_load(local, *args))
    remote = run_sweep(back.replace(stocks=None), GRID)
    expected = run_sweep(local, GRID)
    assert (remote.executor, expected.executor) == ("2 local workers", "this process")
    pd.testing.assert_frame_equal(remote.table, expected.table, check_exact=True)

