"""The window's process stays light: opening the window (and scanning a folder, listing the
run history) loads neither numba, nor the kernels, nor sqlite3, nor the worker pool, nor
the run pipeline; all of that lives in the job hosts (``engine.execution.jobs``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SAMPLE

#: The window, opened on the sample folder; events are processed until its folder scan
#: has listed the stocks and the run history has been read, then the loaded modules print.
OPEN_WINDOW = f"""
import json, sys, time
from pathlib import Path
from gui.app import start_application, build_window

app = start_application()
window = build_window(Path({os.fspath(SAMPLE)!r}))
window.show()
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (
        window.panel.stocks.codes() and window.runs_panel.idle()):
    app.processEvents()
    time.sleep(0.02)
assert window.panel.stocks.codes(), "the folder scan did not finish in 60 s"
assert window.runs_panel.idle(), "the run history was not read in 60 s"
print("MODULES:" + json.dumps(sorted(sys.modules)))
window.close()
"""


def heavy(names: list[str]) -> list[str]:
    """The sorted names among ``names`` that must stay out of the window's process."""
    return sorted(name for name in names if (
        name.split(".")[0] in ("numba", "llvmlite", "sqlite3", "_sqlite3")
        or (name.startswith("engine.kernels.") and name.endswith("_nb"))
        or name == "engine.execution.parallel"
        or name == "engine.run" or name.startswith("engine.run.")))


def _environment(tmp_path: Path) -> dict[str, str]:
    """A fresh process's environment: offscreen, with the cache, run store and every
    settings folder in ``tmp_path`` (never the user's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKTEST_")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.fspath(ROOT),
               BACKTEST_CACHE_DIR=os.fspath(tmp_path / "cache"),
               BACKTEST_STORE=os.fspath(tmp_path / "store" / "runs.sqlite"),
               HOME=os.fspath(tmp_path / "home"), XDG_CONFIG_HOME=os.fspath(tmp_path / "config"),
               XDG_DATA_HOME=os.fspath(tmp_path / "share"),
               XDG_CACHE_HOME=os.fspath(tmp_path / "xdg-cache"))
    return env


def test_opening_the_window_loads_no_engine_work(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", OPEN_WINDOW], cwd=ROOT,
                          env=_environment(tmp_path), capture_output=True, text=True,
                          encoding="utf-8", timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("MODULES:")]
    assert printed, done.stdout[-2000:] + done.stderr[-2000:]
    loaded = json.loads(printed[-1].removeprefix("MODULES:"))
    assert "gui.main_window" in loaded
    assert heavy(loaded) == []


def test_importing_the_window_imports_no_engine_work(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import gui.main_window"],
                          cwd=ROOT, env=_environment(tmp_path), capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # Lines read "import time: self [us] | cumulative | <indent>name".
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line]
    assert "gui.main_window" in names
    assert heavy(names) == []
