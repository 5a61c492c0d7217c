"""A run-host initializer that waits for a gate file before loading the kernels: a test's
stand-in for the very first start, whose kernels take a while to compile."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: The environment variable naming the gate file (set before the host is spawned).
GATE_ENV = "WORKBENCH_TEST_GATE"
#: Seconds the host waits at most, so a failing test never leaves it hanging.
MAX_WAIT_S = 120.0


def gated_start_host() -> None:
    """Wait until the file ``$WORKBENCH_TEST_GATE`` exists, then start as a run host does."""
    from engine.execution.jobs import _start_host

    gate = Path(os.environ.get(GATE_ENV, ""))  # unset: the test is over, no waiting
    deadline = time.monotonic() + MAX_WAIT_S
    while gate.name and not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    _start_host()
