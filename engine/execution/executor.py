"""Where a job's tasks run: one interface for this process, the local pool and a cluster.

A sweep (and later a walk-forward) is a list of ``engine.execution.pool.Task``: a module-level
function and a small picklable payload, ``fn(payload, ctx)``, over market data that
every worker already holds. An ``Executor`` says how the data reaches the workers
(``share``) and runs the tasks (``map``). The local executor runs them in this process
or on the warm spawn pool (``engine.execution.parallel``);
``engine.execution.cluster.DaskExecutor`` runs
the same tasks on a Dask cluster. The job code never knows which, so determinism is
tested once for both.

``batch_sizes`` cuts a job's units (e.g. parameter combinations) into tasks of about
``TARGET_TASK_SECONDS`` each, a whole number of rounds per worker, so per-task costs
are amortised and no worker idles at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from engine.data import MarketData
from engine.execution import parallel
from engine.execution.pool import MapStats, Task
from engine.execution.shared_data import share_market_data
from engine.progress import CancelToken, ProgressSink

#: Seconds of work aimed for per task (the scheduler's per-task cost is ~1 ms locally,
#: a few ms on a cluster), and the fewest tasks per worker (for balance).
TARGET_TASK_SECONDS = 0.5
TASKS_PER_WORKER = 2


class Executor(Protocol):
    """Runs picklable tasks over shared market data (see the module docstring)."""

    @property
    def workers(self) -> int:
        """Worker processes (or threads) the tasks spread over (1 = this process)."""

    def describe(self) -> str:
        """Where the tasks run, for messages ("2 local workers", "the Dask cluster at ...")."""

    def share(self, data: MarketData) -> AbstractContextManager[Any]:
        """A context whose value stands for ``data`` in task payloads (the data itself,
        a ``DataRef`` or a cluster's handle), released when the context exits."""

    def map(self, tasks: Sequence[Task], sink: ProgressSink,
            cancel: CancelToken | None) -> tuple[list[Any], MapStats]:
        """Every task's value, in task order; raises ``Cancelled`` when ``cancel`` is
        set and ``engine.execution.pool.WorkerError`` when a task fails."""


@dataclass(frozen=True)
class LocalExecutor:
    """This process (``workers == 1``; on ``threads`` threads when more than one) or the
    shared warm spawn pool (created with ``setup`` if it is not running; see
    ``engine.execution.parallel.WorkerSetup``)."""

    n_workers: int
    setup: parallel.WorkerSetup
    threads: int = 1

    @property
    def workers(self) -> int:
        """Worker processes (1 = this process)."""
        return self.n_workers

    def describe(self) -> str:
        """E.g. "this process" or "2 local workers"."""
        return "this process" if self.n_workers == 1 else f"{self.n_workers} local workers"

    @contextmanager
    def share(self, data: MarketData) -> Iterator[Any]:
        """The data itself in this process; a ``DataRef`` (cache maps or one shared
        block, unlinked afterwards) for the pool."""
        if self.n_workers == 1:
            yield data
            return
        ref, block = share_market_data(data)
        try:
            yield ref
        finally:
            if block is not None:
                block.unlink()

    def map(self, tasks: Sequence[Task], sink: ProgressSink,
            cancel: CancelToken | None) -> tuple[list[Any], MapStats]:
        """Run the tasks (see ``engine.execution.parallel.run_tasks``)."""
        return parallel.run_tasks(tasks, self.n_workers, sink, cancel, self.setup,
                                  self.threads)


def executor_for(workers: str | int, serial_seconds: float, n_units: int,
                 cluster: str | None = None, sink: ProgressSink | None = None, *,
                 setup: parallel.WorkerSetup) -> Executor:
    """The executor of a job: the Dask cluster at ``cluster`` when given (see
    ``engine.execution.cluster.connect``; ``sink`` hears its start-up), else the local one with
    ``workers`` processes (``"auto"``: see ``engine.execution.parallel.choose_workers``)
    whose pool starts its workers with ``setup`` (a cluster's workers are prepared by
    ``engine.execution.dask_worker.EnginePlugin``)."""
    if cluster is not None:
        from engine.execution.cluster import connect  # Dask is optional: imported only when asked

        return connect(cluster, sink)
    return LocalExecutor(parallel.choose_workers(workers, serial_seconds, n_units), setup)


def batch_sizes(n_units: int, unit_seconds: float, workers: int) -> list[int]:
    """Sizes of consecutive tasks covering ``n_units`` units of ``unit_seconds`` each.

    Tasks take about ``TARGET_TASK_SECONDS`` (at most twice that), there are a multiple
    of ``workers`` of them (at least ``TASKS_PER_WORKER`` each) and sizes differ by at
    most one unit, so every worker finishes at about the same time.
    """
    if n_units < 1:
        return []
    total = n_units * max(unit_seconds, 0.0)
    rounds = max(TASKS_PER_WORKER, math.ceil(total / (workers * TARGET_TASK_SECONDS)))
    n_tasks = min(workers * rounds, n_units)
    base, extra = divmod(n_units, n_tasks)
    return [base + (i < extra) for i in range(n_tasks)]
