#!/usr/bin/env python3
"""Set up and run the workbench from a fresh clone: `python3 dev.py start` or `... test`.

Creates ``.venv`` beside this file, installs the project into it (again only when
pyproject.toml changes), then either generates the demo universe if it is missing and
launches the workbench on it, or installs the test extras and runs the whole suite.
Extra arguments after ``test`` go to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
DEMO = ROOT / "data" / "demo"
DEMO_ARGS = ["--stocks", "500", "--start", "2022-08-01", "--end", "2026-02-04", "--seed", "7"]


#: Lint, then type-check as on this machine, on Windows and on macOS (a call that one OS
#: lacks, such as ``os.readv`` on Windows, is an error there).
CHECKS = (["-m", "ruff", "check", "."], ["-m", "mypy"],
          ["-m", "mypy", "--platform", "win32"], ["-m", "mypy", "--platform", "darwin"])


def _bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def _ensure_venv(extra: str) -> None:
    """Create the virtual environment and install the project (with ``extra``) if stale."""
    if not _bin("python").exists():
        print(f"creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = ".[" + extra + "]" if extra else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing {spec} into {VENV} (first time only) ...", flush=True)
    pip = [str(_bin("python")), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", spec], check=True, cwd=ROOT)
    stamp.write_text(digest)


def start() -> int:
    """Install, generate the 500-stock demo universe if missing, launch the workbench (on
    the data folder and result shown last time; the demo on the first start)."""
    _ensure_venv("")
    if not (DEMO / "stock_list.txt").exists():
        print("generating the 500-stock demo universe (one time, a few seconds) ...", flush=True)
        subprocess.run([str(_bin("backtest")), "datagen", str(DEMO), *DEMO_ARGS], check=True)
    return subprocess.run(workbench_command(), cwd=ROOT).returncode


def workbench_command() -> list[str]:
    """The workbench on the data folder open last time, the demo when there is none."""
    return [str(_bin("python")), "-m", "gui.app", "--default-data", str(DEMO)]


def test(pytest_args: list[str]) -> int:
    """Install the test extras, lint (ruff) and type-check (mypy, for this OS, Windows and
    macOS), then run the whole test suite with Qt offscreen. Arguments given go to pytest,
    and skip the checks."""
    _ensure_venv("test")
    python = str(_bin("python"))
    if not pytest_args:
        for check in CHECKS:
            if subprocess.run([python, *check], cwd=ROOT).returncode != 0:
                return 1
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # -X warn_default_encoding: an open() without an encoding warns (an error for the
    # project's own code, by pyproject's filterwarnings): Windows would use its ANSI page.
    return subprocess.run([python, "-X", "warn_default_encoding", "-m", "pytest", *pytest_args],
                          cwd=ROOT, env=env).returncode


def main() -> int:
    """Dispatch ``start`` (default) or ``test``."""
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command == "start":
        return start()
    if command == "test":
        return test(sys.argv[2:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
