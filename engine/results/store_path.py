"""Where the run store lives, without opening it: no sqlite3 here, so a window can name the
store while the job hosts (``engine.execution.jobs``) open and edit it."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

STORE_ENV = "BACKTEST_STORE"


def default_store_path() -> Path:
    """The store file: ``$BACKTEST_STORE`` if set, else ``runs.sqlite`` in the user's
    data folder (``~/.local/share/backtest-workbench`` on Linux)."""
    override = os.environ.get(STORE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("backtest-workbench", appauthor=False)) / "runs.sqlite"
