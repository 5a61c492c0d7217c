"""Shared fixtures: small hand-made stock files, an isolated aligned cache and run store."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

#: The session's own aligned cache and run store (``pytest_configure``).
SESSION_FOLDER = Path(tempfile.mkdtemp(prefix="backtest-tests-"))


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module is imported: the whole session's aligned cache and run store
    go to a throwaway folder, never the user's (nor one the user's environment names).
    Modules that load data at import or in a module-scoped fixture run before the
    per-test ``isolated_cache`` and wrote into the user's cache."""
    os.environ["BACKTEST_CACHE_DIR"] = str(SESSION_FOLDER / "cache")
    os.environ["BACKTEST_STORE"] = str(SESSION_FOLDER / "store" / "runs.sqlite")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's cache and run store."""
    shutil.rmtree(SESSION_FOLDER, ignore_errors=True)


#: Tests that kill a process with SIGKILL (Windows has no such signal).
needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")
#: Tests that make symlinks (on Windows only with a privilege or developer mode).
needs_symlinks = pytest.mark.skipif(sys.platform == "win32",
                                    reason="symlinks need a privilege on Windows")


def bars(dates: list[str] | pd.DatetimeIndex, close: list[float] | np.ndarray | None = None,
         **overrides: object) -> pd.DataFrame:
    """A valid OHLCV frame on ``dates``: open = close, high/low one step around it."""
    dates = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    close = np.asarray(close if close is not None else 10 + np.arange(len(dates)) * 0.1, float)
    frame = pd.DataFrame({
        "date": dates,
        "open": close,
        "high": np.round(close + 0.05, 2),
        "low": np.round(close - 0.05, 2),
        "close": close,
        "volume": np.full(len(dates), 1000.0),
    })
    for name, value in overrides.items():
        frame[name] = value
    return frame


WriteStock = Callable[..., Path]


@pytest.fixture
def write_stock(tmp_path: Path) -> WriteStock:
    """Write a frame as ``name`` (parquet or CSV by suffix) into ``tmp_path / 'data'``."""
    folder = tmp_path / "data"
    folder.mkdir()

    def write(name: str, frame: pd.DataFrame, encoding: str = "utf-8") -> Path:
        path = folder / name
        if name.endswith(".csv"):
            frame.to_csv(path, index=False, encoding=encoding)
        else:
            frame.to_parquet(path, index=False)
        return path

    return write


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own aligned cache folder and run store (never the user's)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("BACKTEST_CACHE_DIR", str(cache))
    monkeypatch.setenv("BACKTEST_STORE", str(tmp_path / "store" / "runs.sqlite"))
    return cache


@pytest.fixture
def isolated_settings(tmp_path: Path) -> None:
    """The window's QSettings go to a throwaway folder (never the user's)."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture
def window(qtbot: Any, isolated_settings: None) -> Iterator[Any]:
    """A shown main window, closed after the test."""
    from gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
