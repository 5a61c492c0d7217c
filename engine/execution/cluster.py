"""Sweeps on a Dask cluster: the same tasks as the local pool, a Dask client as executor.

``connect("tcp://host:8786")`` joins a running cluster (``dask scheduler`` and ``dask
worker`` processes on any machines); ``connect("local:N")`` starts a ``LocalCluster`` of
N single-threaded worker processes on loopback in this process. Either is kept for the
process's later jobs and closed at exit.

Every worker loads the engine's kernels once (``_EnginePlugin``). Market data reaches
each worker once: a worker plugin memory-maps the run's aligned-cache entry when every
worker can read its path (a folder all machines mount), otherwise the client scatters
the arrays once to every worker (``broadcast=True``). Tasks then carry only their
parameters. A worker that dies has its tasks rerun elsewhere by Dask (results do not
change: a task is a pure function of its payload); a cluster that goes away, or never
answers, raises ``ClusterError`` naming its address.

Dask is an optional dependency (``pip install .[cluster]``): this module imports it only
when a cluster is asked for, and says how to install it when it is missing.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import logging
import os
import pickle
import re
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from engine.data import MarketData
from engine.errors import BacktestError, Cancelled, ClusterError
from engine.execution.pool import MapStats, Task, WorkerCrashError, WorkerError
from engine.execution.shared_data import share_market_data
from engine.progress import CancelToken, ProgressSink

log = logging.getLogger(__name__)

INSTALL_HINT = ('install Dask with: pip install "dask[distributed]" (or, in a clone of the '
                'workbench, pip install -e ".[cluster]")')
#: Seconds to reach a scheduler (and to wait for a lost one before giving up).
CONNECT_TIMEOUT = 10.0
#: Seconds a cluster may have no worker at all before a job gives up on it.
NO_WORKER_TIMEOUT = 60.0
_POLL = 0.1
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc)://[^\s/]+$")
_LOCAL = re.compile(r"^local:(\d+)$")

_executors: dict[str, DaskExecutor] = {}
_lock = threading.Lock()
_keys = itertools.count()


def available() -> bool:
    """Whether Dask distributed is installed (nothing is imported)."""
    try:
        return importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):  # hidden by an import hook, or a broken install
        return False


def parse_address(text: str) -> str:
    """``text`` as a cluster address: ``local:N`` or a scheduler's ``tcp://host:port``
    (a bare ``host:port`` means tcp); raises ``ClusterError`` saying what is accepted."""
    address = text.strip()
    if not address:
        raise ClusterError("no cluster address; give tcp://host:8786 or local:N", address="")
    local = _LOCAL.match(address)
    if local:
        if int(local.group(1)) < 1:
            raise ClusterError(f"{address}: a local cluster needs at least one worker",
                               address=address)
        return address
    if "://" not in address and re.match(r"^[\w.\-\[\]:]+:\d+$", address):
        address = f"tcp://{address}"
    if not _ADDRESS.match(address):
        raise ClusterError(f"{text!r} is not a cluster address; give a scheduler's "
                           "tcp://host:8786 or local:N (N worker processes on this machine)",
                           address=text)
    return address


def connect(address: str, sink: ProgressSink | None = None) -> DaskExecutor:
    """The executor of the cluster at ``address`` (see ``parse_address``), connected or
    started on first use (``sink`` gets ``("startup", 0, 1)`` and ``("startup", 1, 1)``
    around it) and kept for later jobs of this process."""
    address = parse_address(address)
    if not available():
        raise ClusterError(f"cannot use the Dask cluster at {address}: Dask is not "
                           f"installed; {INSTALL_HINT}", address=address)
    with _lock:
        executor = _executors.get(address)
        if executor is None or not executor.alive():
            if executor is not None:
                executor.close()
            report = sink or ProgressSink(None)
            report("startup", 0, 1)
            t0 = time.perf_counter()
            executor = DaskExecutor(address)
            executor.startup_seconds = time.perf_counter() - t0
            _executors[address] = executor
            report("startup", 1, 1)
        return executor


def shutdown_clusters() -> None:
    """Close every client and local cluster this process opened (registered at exit)."""
    with _lock:
        executors = list(_executors.values())
        _executors.clear()
    for executor in executors:
        executor.close()


atexit.register(shutdown_clusters)


# ------------------------------------------------------------------ client side
class DaskExecutor:
    """An ``engine.execution.executor.Executor`` over a Dask client (see the module docstring)."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        from engine.execution import dask_worker

        self.address = address
        #: Seconds this executor took to connect (or start its local cluster); the
        #: first job's statistics report them.
        self.startup_seconds = 0.0
        self._cluster: Any = None
        self._lanes: dict[str, int] = {}
        try:
            local = _LOCAL.match(address)
            if local:
                self._cluster = _local_cluster(int(local.group(1)))
                self.client = Client(self._cluster, timeout=CONNECT_TIMEOUT)
            else:
                self.client = Client(address, timeout=CONNECT_TIMEOUT)
            self.client.register_plugin(dask_worker.EnginePlugin())
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {address} ({_reason(exc)}); "
                               "start it with `dask scheduler` (and workers with `dask worker "
                               f"{address}`) or check the address", address=address) from exc

    # -- state
    def alive(self) -> bool:
        """Whether the client is still connected."""
        return bool(getattr(self, "client", None) is not None and self.client.status == "running")

    @property
    def workers(self) -> int:
        """Worker threads of the cluster now (one per single-threaded worker)."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from exc

    def describe(self) -> str:
        """E.g. "the Dask cluster at tcp://host:8786"."""
        return f"the Dask cluster at {self.address}"

    def memory(self) -> dict[str, int]:
        """Resident memory of each worker process (bytes), by worker address."""
        from engine.execution import dask_worker

        return dict(self.client.run(dask_worker.resident_bytes))

    def worker_pids(self) -> dict[str, int]:
        """Process id of each worker, by worker address (for tests and benchmarks)."""
        return dict(self.client.run(os.getpid))

    def close(self) -> None:
        """Close the client and, for ``local:N``, the cluster it started."""
        for part in (getattr(self, "client", None), self._cluster):
            if part is not None:
                with suppress(Exception):  # already gone: nothing left to close
                    part.close()
        self._cluster = None

    # -- data
    @contextmanager
    def share(self, data: MarketData) -> Iterator[Any]:
        """A ``DataRef`` when every worker can map the data's cache entry (a worker
        plugin attaches it), else a future of the data scattered to every worker."""
        from engine.execution import dask_worker

        ref, block = share_market_data(data) if data.cache_path is not None else (None, None)
        if block is not None:  # the entry went away: a shared-memory copy is local only
            block.unlink()
            ref = None
        if ref is not None:
            name = f"backtest-data-{next(_keys)}-{os.getpid()}"
            try:
                self.client.register_plugin(dask_worker.DataPlugin(ref), name=name)
            except (OSError, RuntimeError, ValueError, BacktestError) as exc:
                log.info("workers cannot read %s (%s); sending the data to each worker",
                         ref.location, exc)
                self._unregister(name)
            else:
                try:
                    yield ref
                finally:
                    self._unregister(name)
                return
        portable = _without_cache_path(data)
        future = self.client.scatter(portable, broadcast=True, hash=False)
        try:
            yield future
        finally:
            with suppress(Exception):
                self.client.cancel([future])

    def _unregister(self, name: str) -> None:
        with suppress(Exception):  # never registered, or the cluster is gone
            self.client.unregister_worker_plugin(name)

    # -- tasks
    def map(self, tasks: Sequence[Task], sink: ProgressSink,
            cancel: CancelToken | None) -> tuple[list[Any], MapStats]:
        """Submit every task, collect values in task order as they finish."""
        from distributed import wait
        from distributed.utils import CancelledError as DaskCancelled

        from engine.execution import dask_worker

        stats = MapStats(workers=self.workers, startup_seconds=self.startup_seconds)
        self.startup_seconds = 0.0
        prefix = f"backtest-{os.getpid()}-{next(_keys)}"
        futures = []
        for i, task in enumerate(tasks):
            stats.bytes_to_workers += len(pickle.dumps(task.payload, pickle.HIGHEST_PROTOCOL))
            futures.append(self.client.submit(dask_worker.run_task, task.fn, task.payload,
                                              key=f"{prefix}-{i}", pure=False))
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        total, done = sum(t.units for t in tasks), 0
        pending = set(futures)
        idle_since: float | None = None
        try:
            while pending:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                try:
                    finished, pending = wait(pending, timeout=_POLL,
                                             return_when="FIRST_COMPLETED")
                except TimeoutError:
                    idle_since = self._check_workers(idle_since)
                    continue
                except DaskCancelled as exc:  # the client lost the scheduler
                    raise self._lost(None) from exc
                for future in finished:
                    if future.status in ("pending", "lost"):  # its value died with a
                        pending.add(future)                   # worker: Dask reruns it
                        continue
                    i = index[future.key]
                    value, spans, stage, worker, sent = self._value(future, tasks[i])
                    results[i] = value
                    lane = self._lanes.setdefault(worker, len(self._lanes))
                    stats.spans.extend((lane, s, a, b) for s, a, b in spans)
                    stats.spans.append((lane, "return", sent, time.time()))
                    done += tasks[i].units
                    if stage is not None:
                        sink(stage, done, total, lane)
        except BaseException:
            # Every future, finished ones too: the exception's frames keep them alive,
            # and the scheduler would hold their tasks and values until they are freed.
            if self.alive():
                with suppress(Exception):
                    self.client.cancel(futures, force=True)
            raise
        return results, stats

    def _check_workers(self, idle_since: float | None) -> float | None:
        """Raise when the cluster has had no worker for ``NO_WORKER_TIMEOUT`` seconds."""
        if not self.alive():
            raise self._lost(None)
        if self.workers_now() > 0:
            return None
        now = time.monotonic()
        if idle_since is not None and now - idle_since > NO_WORKER_TIMEOUT:
            raise ClusterError(f"the Dask cluster at {self.address} has had no worker for "
                               f"{NO_WORKER_TIMEOUT:.0f} s; start workers with `dask worker "
                               f"{self.address}`", address=self.address)
        return idle_since if idle_since is not None else now

    def workers_now(self) -> int:
        """Workers connected to the scheduler now (0 when none)."""
        try:
            return len(self.client.nthreads())
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from exc

    def _value(self, future: Any, task: Task) -> Any:
        """A finished future's value, or the error that names what went wrong."""
        from distributed import KilledWorker

        if future.status == "finished":
            return future.result()
        if future.status != "error":  # cancelled by the client losing its scheduler
            raise self._lost(None)
        exc = future.exception()
        remote = "".join(traceback.format_tb(future.traceback()))
        if isinstance(exc, KilledWorker):
            raise WorkerCrashError(f"Dask workers kept dying while computing {task.label} "
                                   f"on {self.describe()}: {exc}", worker=-1,
                                   label=task.label, remote_traceback=remote)
        if isinstance(exc, BacktestError):
            raise exc
        raise WorkerError(f"a Dask worker failed on {task.label}: {type(exc).__name__}: {exc}",
                          worker=-1, label=task.label, remote_traceback=remote)

    def _lost(self, exc: BaseException | None) -> ClusterError:
        detail = f" ({_reason(exc)})" if exc is not None else ""
        return ClusterError(f"lost the connection to the Dask cluster at {self.address}"
                            f"{detail}; check that its scheduler is running and run again",
                            address=self.address)


def _local_cluster(n_workers: int) -> Any:
    """A loopback ``LocalCluster`` of ``n_workers`` single-threaded worker processes."""
    from distributed import LocalCluster

    from engine.run.backtest import warm_up

    warm_up()  # fill numba's on-disk cache here, so the workers only load kernels
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None,
                        silence_logs=logging.ERROR)


def _without_cache_path(data: MarketData) -> MarketData:
    """``data`` to send to workers: its arrays in memory, no local cache path."""
    import dataclasses

    return dataclasses.replace(data, cache_path=None)


def _reason(exc: BaseException | None) -> str:
    text = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else ""
    return text or type(exc).__name__
