"""Fault tests with real processes: SIGKILL mid-write, two writers at once, a killed worker.

Each test is named after the failure it pins. Processes are killed at a chosen point
(a patched function announces it through a marker file, then waits to be killed); time
limits only guard against a hang, nothing asserts how long anything took.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xxhash

from engine.cli.main import main
from engine.data import load_market_data
from tests.conftest import ROOT, SAMPLE, needs_sigkill

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

#: Generous limit that only catches a hang (a spawned CLI imports numba, starts workers).
HANG_GUARD_S = 300.0


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    """A Python process running ``code`` (dedented) with ``args`` as ``sys.argv[1:]``."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace")


def _kill_when(process: subprocess.Popen[str], marker: Path) -> None:
    """SIGKILL ``process`` once it has written ``marker`` (it is then stuck mid-write)."""
    give_up = time.monotonic() + HANG_GUARD_S
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the process ended before the fault point: {process.stderr.read()}")
        if time.monotonic() > give_up:
            process.kill()
            pytest.fail("the process never reached the fault point: hung")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=HANG_GUARD_S)
    assert process.returncode == -signal.SIGKILL


def _visible(folder: Path) -> dict[str, bytes]:
    """The files a user sees in ``folder`` (hidden staging debris left out)."""
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


# ``backtest run --out`` stopped (announced by the marker) after its third table file.
_STUCK_EXPORT = """
    import sys, time
    from pathlib import Path
    import engine.results.export as export

    marker, real, written = Path(sys.argv[1]), export.write_csv, []

    def stuck_after_three(frame, path):
        real(frame, path)
        written.append(path)
        if len(written) == 3:
            marker.write_text("three tables written")
            time.sleep(3600)

    export.write_csv = stuck_after_three
    from engine.cli.main import main
    sys.exit(main(sys.argv[2:]))
"""


@needs_sigkill
@pytest.mark.slow
@pytest.mark.parametrize("earlier", [False, True], ids=["new folder", "earlier result"])
def test_sigkill_of_run_out_mid_write_leaves_no_partial_result_files(
        tmp_path: Path, earlier: bool, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run = ["run", "--data", str(SAMPLE), "--workers", "1", "--no-progress", "--no-store",
           "--out", str(out)]
    if earlier:
        assert main([*run, "--period", "10"]) == 0
    before = _visible(out)
    process = _python(_STUCK_EXPORT, tmp_path / "marker", *run, "--period", "12")
    _kill_when(process, tmp_path / "marker")
    assert _visible(out) == before  # nothing half-written, the earlier result whole
    assert main(run) == 0  # and the next export works
    assert "wrote 8 files" in capsys.readouterr().out
    assert len(_visible(out)) == 8


_STUCK_CACHE_WRITE = """
    import sys, time
    from pathlib import Path
    import numpy as np
    import engine.data.cache as cache
    from engine.data import load_market_data

    marker, real = Path(sys.argv[1]), np.save

    def half_written_prices(path, array):
        real(path, array)
        if Path(path).name == "prices.npy":
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])  # as if killed inside the write
            marker.write_text("prices.npy half written")
            time.sleep(3600)

    cache.np.save = half_written_prices
    load_market_data(sys.argv[2])
"""


def _digest(data: object) -> dict[str, object]:
    """What a load produced, exactly: codes, fingerprint and the arrays' bytes."""
    arrays = data.arrays  # type: ignore[attr-defined]
    return {"codes": list(data.codes), "fingerprint": data.fingerprint,  # type: ignore
            "calendar": xxhash.xxh3_64_hexdigest(np.ascontiguousarray(arrays.calendar)),
            "prices": xxhash.xxh3_64_hexdigest(np.ascontiguousarray(arrays.prices)),
            "tradable": xxhash.xxh3_64_hexdigest(np.ascontiguousarray(arrays.tradable))}


@needs_sigkill
@pytest.mark.slow
def test_sigkill_while_a_cache_entry_is_written_leaves_the_next_run_correct(
        tmp_path: Path, isolated_cache: Path) -> None:
    reference = _digest(load_market_data(SAMPLE, use_cache=False))
    process = _python(_STUCK_CACHE_WRITE, tmp_path / "marker", SAMPLE)
    _kill_when(process, tmp_path / "marker")
    assert [p.name.startswith(".") for p in isolated_cache.iterdir()] == [True]  # debris only
    after = load_market_data(SAMPLE)
    assert not after.from_cache and _digest(after) == reference
    assert not any("aligned cache" in w for w in after.warnings)  # debris is never opened
    again = load_market_data(SAMPLE)
    assert again.from_cache and _digest(again) == reference


_FILL_TOGETHER = """
    import json, os, sys, time
    from pathlib import Path
    import engine.data.cache as cache
    from engine.data import load_market_data
    from tests.test_faults import _digest

    barrier, real = Path(sys.argv[1]), cache._publish

    def publish_together(tmp, entry):
        (barrier / str(os.getpid())).write_text("built")
        give_up = time.monotonic() + 120
        while len(list(barrier.iterdir())) < 2 and time.monotonic() < give_up:
            time.sleep(0.01)
        return real(tmp, entry)

    cache._publish = publish_together
    data = load_market_data(sys.argv[2])
    print(json.dumps({"from_cache": data.from_cache, "path": str(data.cache_path),
                      "warnings": list(data.warnings), **_digest(data)}))
"""


@needs_sigkill
@pytest.mark.slow
def test_two_processes_filling_one_cache_entry_at_once_both_get_correct_results(
        tmp_path: Path, isolated_cache: Path) -> None:
    reference = _digest(load_market_data(SAMPLE, use_cache=False))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    processes = [_python(_FILL_TOGETHER, barrier, SAMPLE) for _ in range(2)]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=HANG_GUARD_S)
        assert process.returncode == 0, stderr
        outputs.append(json.loads(stdout))
    assert len(list(barrier.iterdir())) == 2  # both built the entry and published together
    for output in outputs:
        assert not output.pop("from_cache") and output.pop("warnings") == []
        assert Path(output.pop("path")).parent == isolated_cache
        assert output == reference
    entries = [p for p in isolated_cache.iterdir()]
    assert len(entries) == 1  # one entry, no temporary folder left
    warm = load_market_data(SAMPLE)
    assert warm.from_cache and _digest(warm) == reference


_KILL_A_WORKER = """
    import os, signal, sys
    import engine.cli.main as cli
    import engine.studies.sweep as sweep_module
    from engine.execution import parallel
    from engine.run.backtest import WORKER_SETUP

    real, killed = sweep_module.run_sweep, []

    def run_sweep(config, grid, progress=None, cancel=None, **kwargs):
        # The sweep's own progress events (the CLI shows none with --no-progress).
        def kill_worker_0_once_computing(stage, done, total, worker=None):
            if stage == "sweep" and not killed:
                killed.append(parallel.shared_pool(1, WORKER_SETUP).pids()[0])
                print(f"killed {killed[0]}", flush=True)
                os.kill(killed[0], signal.SIGKILL)
            if progress is not None:
                progress(stage, done, total, worker)
        return real(config, grid, kill_worker_0_once_computing, cancel, **kwargs)

    sweep_module.run_sweep = run_sweep
    sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_worker_killed_during_a_cli_sweep_fails_it_in_one_line_and_a_rerun_succeeds(
        tmp_path: Path) -> None:
    sweep = ["sweep", "--data", str(SAMPLE), "--workers", "2", "--no-progress", "--no-store"]
    big = ["--period", "6:30:1", "--oversold", "20:39:1", "--overbought", "60:79:1"]
    out = tmp_path / "sweep"
    process = _python(_KILL_A_WORKER, *sweep, *big, "--out", str(out))
    stdout, stderr = process.communicate(timeout=HANG_GUARD_S)  # fails, never hangs
    assert process.returncode == 2
    victim = stdout.split("killed ")[1].split()[0]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: worker 0 (pid {victim}) died while "
                                                   "computing period ")
    assert "(killed by signal SIGKILL); the run was stopped" in lines[0]
    assert _visible(out) == {}
    rerun = subprocess.run([sys.executable, "-m", "engine.cli.main", *sweep, "--period", "10,14",
                            "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                           timeout=HANG_GUARD_S, encoding="utf-8", errors="replace")
    assert rerun.returncode == 0, rerun.stderr
    assert set(_visible(out)) == {"sweep.csv", "skipped.csv", "sweep.json"}
