"""What runs on a Dask worker: the plugins that prepare it and the wrapper of every task.

Imported only on a cluster's workers and by ``engine.execution.cluster`` (it needs Dask).
"""

from __future__ import annotations

import time
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from engine.execution.shared_data import DataRef, attach_market_data
from engine.progress import SpanRecorder


class EnginePlugin(WorkerPlugin):
    """Lowers the worker's priority and loads the kernels, once per worker process."""

    idempotent = True
    name = "backtest-engine"

    def setup(self, worker: Any) -> None:
        """Runs when the worker starts, or at once on the workers already running."""
        from engine.run.backtest import start_worker

        start_worker()


class DataPlugin(WorkerPlugin):
    """Memory-maps one job's aligned-cache entry on every worker, including workers
    that join or restart during the job; its tasks then attach it for free."""

    def __init__(self, ref: DataRef) -> None:
        self.ref = ref

    def setup(self, worker: Any) -> None:
        """Attach the data (raises on a worker that cannot read the entry's folder)."""
        attach_market_data(self.ref)


class ClusterContext(SpanRecorder):
    """``TaskContext`` on a Dask worker: spans and the last stage go back with the value.
    Cancelling is the client's: it cancels the futures (a task lasts about 0.5 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage: str | None = None

    def report(self, stage: str, done: int, total: int, force: bool = False) -> None:
        """Remember the stage; the client reports progress when the task's value arrives."""
        self.stage = stage

    def is_set(self) -> bool:
        """Never: see the class docstring."""
        return False

    def check_cancel(self) -> None:
        """Nothing to check: see the class docstring."""


def run_task(fn: Any, payload: Any) -> tuple[Any, list[tuple[str, float, float]], str | None,
                                             str, float]:
    """Every task on a worker: (value, spans, last stage, worker address, time sent)."""
    ctx = ClusterContext()
    value = fn(payload, ctx)
    return value, ctx.spans, ctx.stage, get_worker().address, time.time()


def resident_bytes() -> int:
    """Resident memory of this worker process."""
    import psutil

    return int(psutil.Process().memory_info().rss)
