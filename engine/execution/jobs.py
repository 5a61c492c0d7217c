"""Engine jobs (runs, sweeps, folder scans, drill-downs) run on job-host processes.

A job host is a one-worker spawn pool (``engine.execution.pool.WorkerPool``) whose process loads
the kernels at start and then runs whole jobs: ``run_backtest``, ``run_sweep``, a
folder scan, a stock's drill-down. The caller's thread only waits on the host's pipe
(with the GIL released) and receives a finished, picklable outcome, so a window that
calls these from a worker thread never has engine work in its process. A host is not
daemonic: a job that wants several workers starts the engine's shared pool
(``engine.execution.parallel``) inside the host, as a process would that called the engine
directly.

Three hosts keep one kind of job from waiting behind another: ``"run"`` (runs and
drill-downs), ``"sweep"`` (sweeps, walk-forwards) and ``"data"`` (folder scans, bar
counts, stored runs, the run store's list, edits and exports). The data host loads no
kernels, so on the very first start a folder's stocks are listed while the run host
still compiles them. Each runs one job at a time. Jobs see the caller's ``BACKTEST_*``
environment (cache folder, run store) as it is when they are sent. A caller never
imports the run pipeline or the kernels: the hosts load them (``_start_host``), so a
window that only waits on jobs stays light.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.config import BacktestConfig
from engine.execution.pool import Task, WorkerPool
from engine.progress import CancelToken, Progress, ProgressSink, TaskContext
from engine.results.formatting import PackedText, format_frame, pack_text

if TYPE_CHECKING:
    from engine.data import MarketData
    from engine.results.tables import BacktestResult
    from engine.studies.sweep import SweepResult
    from engine.studies.walkforward import FoldSpec, WalkForwardResult

#: Seconds a cancelled job gets to stop before its host is killed (and restarted later).
JOB_GRACE = 5.0
HOSTS = ("run", "sweep", "data")
#: The hosts whose jobs never call a kernel: they start without loading them.
LIGHT_HOSTS = frozenset({"data"})
ENV_PREFIX = "BACKTEST_"

_hosts: dict[str, WorkerPool] = {}
_hosts_lock = threading.Lock()


def _start_host() -> None:
    """Initializer of a job host, in the host: loads the whole engine (the kernels) there.
    The caller's process only names this function, so it never imports the engine's
    run pipeline, the kernels or numba itself."""
    from engine.run.backtest import start_worker

    start_worker()


def _start_light_host() -> None:
    """Initializer of a host whose jobs read files and the run store but call no kernel:
    the same priority and allocator as the engine's workers, no kernels to load."""
    from engine.util.oscompat import lower_priority, tune_allocator

    lower_priority()
    tune_allocator()


def host(name: str) -> WorkerPool:
    """The job host ``name`` (one of ``HOSTS``), created on first use."""
    if name not in HOSTS:
        raise ValueError(f"unknown job host {name!r}; hosts: {', '.join(HOSTS)}")
    with _hosts_lock:
        pool = _hosts.get(name)
        if pool is None or pool.closed:
            pool = WorkerPool(1, initializer=_start_light_host if name in LIGHT_HOSTS
                              else _start_host, daemon=False,
                              name=f"backtest-{name}-host")
            _hosts[name] = pool
        return pool


def shutdown_hosts() -> None:
    """Stop every job host (and the worker pools their jobs started); registered at exit."""
    with _hosts_lock:
        pools = list(_hosts.values())
        _hosts.clear()
    for pool in pools:
        pool.shutdown()


atexit.register(shutdown_hosts)


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


def _in_environment(payload: tuple[Callable[[Any, TaskContext], Any], Any, dict[str, str]],
                    ctx: TaskContext) -> Any:
    """Host side of every job: take on the caller's environment, then run the job."""
    fn, inner, env = payload
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
        del os.environ[key]
    os.environ.update(env)
    with ctx.span("job"):
        return fn(inner, ctx)


def submit(host_name: str, fn: Callable[[Any, TaskContext], Any], payload: Any, label: str,
           progress: Progress | None = None, cancel: CancelToken | None = None) -> Any:
    """Run ``fn(payload, ctx)`` on job host ``host_name`` and return its value.

    Blocks the calling thread until the job ends; ``progress`` gets the job's events as
    they happen (in this thread). ``cancel`` stops the job (``Cancelled``). An engine
    error the job raises is raised here as itself; a host that dies raises
    ``engine.execution.pool.WorkerCrashError`` and is restarted by the next job.
    """
    task = Task(_in_environment, (fn, payload, _environment()), label, 1, relay=True)
    results, _ = host(host_name).map([task], 1, ProgressSink(progress), cancel,
                                     grace=JOB_GRACE)
    return results[0]


def _relay(ctx: TaskContext) -> Progress:
    """A progress callback that forwards a job's events to the caller: each stage's first
    event always, later ones throttled."""
    last: list[str] = [""]

    def progress(stage: str, done: int, total: int) -> None:
        ctx.report(stage, done, total, force=stage != last[0] or done == total)
        last[0] = stage

    return progress


# ------------------------------------------------------------------------------ jobs
def _ping(_: object, ctx: TaskContext) -> int:
    return os.getpid()


def start_soon(*names: str) -> None:
    """Spawn the job hosts ``names`` without waiting for them, so their start-up (the
    run host's: loading or compiling the kernels) overlaps the caller's own."""
    for name in names:
        host(name).start(1)


def start(name: str, cancel: CancelToken | None = None) -> float:
    """Start job host ``name`` and wait until it is ready; the seconds that took.
    ``cancel`` stops the waiting (``Cancelled``), not the host, which goes on starting."""
    t0 = time.perf_counter()
    submit(name, _ping, None, "start-up", cancel=cancel)
    return time.perf_counter() - t0


def host_pid(name: str) -> int:
    """Process id of job host ``name`` (started if needed)."""
    return int(submit(name, _ping, None, "ping"))


def _prestart(n_workers: int | None, ctx: TaskContext) -> None:
    from engine.execution.parallel import prestart_pool
    from engine.run.backtest import WORKER_SETUP

    prestart_pool(n_workers, setup=WORKER_SETUP)


def prestart_workers(name: str, n_workers: int | None = None) -> None:
    """Start the worker pool of host ``name``'s jobs in the background (one per core by
    default), so its first sweep pays no start-up."""
    submit(name, _prestart, n_workers, "start-up")


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: the result, where the run store keeps it, and the store's list.

    ``run_id`` is None when it was not saved (no store, or ``store_error`` says why);
    ``runs`` is the store's ``list_runs()`` after the save (None without a store);
    ``host_pid`` is the process that computed it.
    """

    result: BacktestResult
    run_id: int | None
    store_error: str
    runs: pd.DataFrame | None
    host_pid: int
    #: Packed display text (``engine.results.formatting.format_frame``) of the result's tables, by
    #: name: "trades", "fills", "rejections".
    text: dict[str, list[PackedText]] = field(default_factory=dict)


def _text(path: Path | None) -> str | None:
    """A path as text for a task's payload (paths cross process boundaries as text)."""
    return None if path is None else os.fspath(path)


def _save(result: BacktestResult, store_path: str | None, **extra: Any
          ) -> tuple[int | None, str, pd.DataFrame | None]:
    """Save ``result`` (``extra``: RunStore.save's name, notes, tags, attachments)."""
    from engine.errors import BacktestError
    from engine.results.store import RunStore

    if store_path is None:
        return None, "", None
    try:
        with RunStore(store_path) as store:
            run_id = store.save(result, **extra)
            return run_id, "", store.list_runs()
    except BacktestError as exc:
        return None, str(exc), None


def _run(payload: tuple[BacktestConfig, str | None], ctx: TaskContext) -> RunOutcome:
    from engine.run.backtest import run_backtest

    config, store_path = payload
    result = run_backtest(config, progress=_relay(ctx), cancel=ctx)
    run_id, error, runs = _save(result, store_path)
    return RunOutcome(result, run_id, error, runs, os.getpid(), _table_text(result))


def _table_text(result: BacktestResult) -> dict[str, list[PackedText]]:
    """Packed display text of a result's big tables (what a window shows of them)."""
    return {name: pack_text(format_frame(result.frame(name)))
            for name in ("trades", "fills", "rejections")}


def run(config: BacktestConfig, store_path: Path | None = None,
        progress: Progress | None = None, cancel: CancelToken | None = None) -> RunOutcome:
    """``run_backtest(config)`` on the run host, saved to the run store at ``store_path``
    (when given) before it returns."""
    outcome: RunOutcome = submit("run", _run, (config, _text(store_path)), "the run", progress,
                                 cancel)
    outcome.result.frames()  # in this (the job's) thread, not the window's
    return outcome


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep and the display text of its table
    (``engine.results.formatting.format_frame``,
    packed)."""

    result: SweepResult
    text: list[PackedText]


def _sweep(payload: tuple[BacktestConfig, dict[str, list[float]], str | None],
           ctx: TaskContext) -> SweepOutcome:
    from engine.studies.sweep import run_sweep

    config, grid, cluster = payload
    result = run_sweep(config, grid, progress=_relay(ctx), cancel=ctx, cluster=cluster)
    # The window shows the diagnostics, never the per-combination returns behind them.
    light = dataclasses.replace(result, returns=result.returns[:0, :0])
    return SweepOutcome(light, pack_text(format_frame(result.table)))


def sweep(config: BacktestConfig, grid: Mapping[str, Iterable[float]],
          progress: Progress | None = None, cancel: CancelToken | None = None, *,
          cluster: str | None = None) -> SweepOutcome:
    """``run_sweep(config, grid, cluster=cluster)`` on the sweep host, with its table's
    display text. A ``local:N`` cluster lives in the sweep host, warm for later sweeps."""
    payload = (config, {k: list(v) for k, v in grid.items()}, cluster)
    return submit("sweep", _sweep, payload, "the sweep", progress, cancel)


@dataclass(frozen=True)
class WalkForwardOutcome:
    """A finished walk-forward, saved like a run (``run_id``, ``store_error``, ``runs`` as
    in ``RunOutcome``), with the display text of its fold table."""

    result: WalkForwardResult
    run_id: int | None
    store_error: str
    runs: pd.DataFrame | None
    folds_text: list[PackedText]


def _walk_forward(payload: tuple[BacktestConfig, dict[str, list[float]], FoldSpec, str,
                                 str | None, str | None],
                  ctx: TaskContext) -> WalkForwardOutcome:
    from engine.studies.walkforward import run_walk_forward

    config, grid, spec, metric, store_path, cluster = payload
    result = run_walk_forward(config, grid, spec, metric, progress=_relay(ctx), cancel=ctx,
                              cluster=cluster)
    kind = "anchored" if spec.anchored else "rolling"
    notes = (f"walk-forward: {len(result.folds)} {kind} folds, train {spec.train}, test "
             f"{spec.test}, best by {metric}; grid: "
             + "; ".join(f"{k} {', '.join(f'{v:g}' for v in values)}"
                         for k, values in result.grid.items()))
    run_id, error, runs = _save(result.as_result(), store_path, notes=notes,
                                tags=("walkforward",), attachments={"folds": result.folds})
    return WalkForwardOutcome(result, run_id, error, runs,
                              pack_text(format_frame(result.folds)))


def walk_forward(config: BacktestConfig, grid: Mapping[str, Iterable[float]], spec: FoldSpec,
                 metric: str, store_path: Path | None = None, progress: Progress | None = None,
                 cancel: CancelToken | None = None, *,
                 cluster: str | None = None) -> WalkForwardOutcome:
    """``run_walk_forward`` on the sweep host (its sweeps on the Dask ``cluster``, if
    given), saved to the run store (its stitched out-of-sample run, tagged
    "walkforward", with the fold table attached)."""
    payload = (config, {k: list(v) for k, v in grid.items()}, spec, metric, _text(store_path),
               cluster)
    return submit("sweep", _walk_forward, payload, "the walk-forward", progress, cancel)


@dataclass(frozen=True)
class FolderScan:
    """What a window shows of a data folder: its layout (``layout`` its name, ``title`` how
    to say it), its usable stocks, their calendar span (the data's coverage), the files it
    could not use (``excluded``: code, file, reason), warnings, and per-stock coverage."""

    folder: Path
    codes: tuple[str, ...]
    first_date: str
    last_date: str
    excluded: pd.DataFrame
    coverage: pd.DataFrame
    layout: str = "per-stock"
    title: str = "per-stock files"
    warnings: tuple[str, ...] = ()
    #: Codes of the index files the folder holds (each can be a run's benchmark).
    indices: tuple[str, ...] = ()


def _load_to_show(folder: str, end: Any, adjust: str, layout: str,
                  ctx: TaskContext) -> MarketData:
    """Every stock of ``folder`` (bad ones skipped) up to ``end``, through the aligned
    cache; all of it when the data starts after ``end``, to show its coverage."""
    from engine.data import load_market_data
    from engine.data.loader import WINDOW_RULE
    from engine.errors import DataError

    try:
        return load_market_data(folder, end=end, adjust=adjust, layout=layout,
                                on_bad_stock="skip", cancel=ctx)
    except DataError as exc:
        if exc.rule != WINDOW_RULE:
            raise
        return load_market_data(folder, adjust=adjust, layout=layout, on_bad_stock="skip",
                                cancel=ctx)


def _scan(payload: tuple[str, Any, str, str], ctx: TaskContext) -> FolderScan:
    from engine.data import coverage
    from engine.data.layouts.detect import layout_title
    from engine.data.layouts.detect import scan_folder as scan_layout
    from engine.results.tables import excluded_table

    text, end, adjust, layout = payload
    folder = Path(text)
    data = _load_to_show(text, end, adjust, layout, ctx)
    dates = data.dates
    others = scan_layout(folder, layout).others
    indices = tuple(sorted(code for code, kind in others.items() if kind == "index"))
    excluded = excluded_table(data.excluded).to_pandas()  # as a result's excluded table
    return FolderScan(folder, data.codes, str(dates[0]), str(dates[-1]), excluded,
                      coverage(data), data.layout, layout_title(data.layout), data.warnings,
                      indices)


def scan_folder(folder: Path, end: Any, adjust: str, layout: str = "auto",
                cancel: CancelToken | None = None) -> FolderScan:
    """Load every stock of ``folder`` (validated, aligned and cached up to ``end``) on the
    data host and summarise it. The aligned cache entry it writes is the one the first
    run of all the folder's stocks reads. ``end`` None (or before the data) loads all."""
    return submit("data", _scan, (os.fspath(folder), end if end is not None else "2100-01-01",
                                 adjust, layout), f"scan of {folder}", cancel=cancel)


def _coverage(payload: tuple[str, str, str, str, str], ctx: TaskContext) -> pd.DataFrame:
    from engine.data import coverage as coverage_of

    text, start, end, adjust, layout = payload
    return coverage_of(_load_to_show(text, end, adjust, layout, ctx), start, end)


def coverage(folder: Path, start: Any, end: Any, adjust: str, layout: str = "auto",
             cancel: CancelToken | None = None) -> pd.DataFrame:
    """Per-stock coverage of ``folder`` for the run window [``start``, ``end``]
    (``engine.data.summary.coverage``: bars in window, warm-up bars before ``start``), on
    the data host, loading the folder through the aligned cache up to ``end`` (the entry
    the folder scan and the runs of that window use)."""
    return submit("data", _coverage, (os.fspath(folder), str(start), str(end), adjust, layout),
                  f"bar counts of {folder}", cancel=cancel)


def _detail(payload: tuple[BacktestConfig, str], ctx: TaskContext) -> pd.DataFrame:
    from engine.run.backtest import load
    from engine.run.drill_down import stock_detail as detail_of

    config, code = payload
    return detail_of(load(config, cancel=ctx), code, config)


def stock_detail(config: BacktestConfig, code: str,
                 cancel: CancelToken | None = None) -> pd.DataFrame:
    """``engine.run.drill_down.stock_detail`` of ``code`` in ``config``'s universe, on the run
    host."""
    return submit("run", _detail, (config, code), f"stock {code}", cancel=cancel)


def _load_runs(payload: tuple[str, list[int]], ctx: TaskContext
               ) -> tuple[dict[int, BacktestResult], dict[int, str]]:
    from engine.results.store import RunStore

    path, run_ids = payload
    with RunStore(path) as store:
        return store.load_many(run_ids)


def load_runs(store_path: Path, run_ids: Sequence[int]
              ) -> tuple[dict[int, BacktestResult], dict[int, str]]:
    """Stored runs by id, and their names, read on the data host."""
    results, names = submit("data", _load_runs, (os.fspath(store_path), list(run_ids)),
                            "stored runs")
    for result in results.values():
        result.frames()  # in this (the job's) thread, not the window's
    return results, names


@dataclass(frozen=True)
class StoredRun:
    """A run read from the store, with its name and its tables' display text (as
    ``RunOutcome.text``), so showing it formats nothing in the caller's process."""

    result: BacktestResult
    name: str
    text: dict[str, list[PackedText]]


def _open_run(payload: tuple[str, int], ctx: TaskContext) -> StoredRun:
    from engine.results.store import RunStore

    path, run_id = payload
    with RunStore(path) as store:
        results, names = store.load_many([run_id])
    return StoredRun(results[run_id], names[run_id], _table_text(results[run_id]))


def open_run(store_path: Path, run_id: int) -> StoredRun:
    """One stored run and its display text, read and formatted on the data host."""
    stored: StoredRun = submit("data", _open_run, (os.fspath(store_path), run_id),
                               f"run {run_id}")
    stored.result.frames()  # in this (the job's) thread, not the window's
    return stored


# ---------------------------------------------------------------------- the run store
@dataclass(frozen=True)
class StoreOutcome:
    """What a run-store job did on the data host.

    ``runs`` is the store's ``list_runs()`` after the job (None when the job does not
    change the list, as an export, or when the store could not be read). ``error`` is
    one line saying why the job stopped short ("" when it did all it was asked; the
    runs before the failing one were changed, and ``runs`` shows them). ``opened`` is
    False when the store itself could not be opened; ``os_error`` True when the file
    system refused a write (another folder may work).
    """

    runs: pd.DataFrame | None
    error: str = ""
    opened: bool = True
    os_error: bool = False

    @property
    def ok(self) -> bool:
        """Whether the job did all it was asked."""
        return not self.error


def _one_line(exc: BaseException) -> str:
    """An error as one line of text (an OSError by its reason, as the OS says it)."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _in_store(payload: tuple[str, float | None], relist: bool,
              apply: Callable[[Any], object] | None) -> StoreOutcome:
    """Open the store at ``payload``'s path (with its busy timeout), ``apply(store)``, and
    (``relist``) read its list again even when ``apply`` failed; engine errors become
    the outcome's one-line ``error``."""
    from engine.errors import BacktestError
    from engine.results.store import BUSY_TIMEOUT_S, RunStore

    path, busy_timeout = payload
    try:
        store = RunStore(path, busy_timeout=BUSY_TIMEOUT_S if busy_timeout is None
                         else busy_timeout)
    except BacktestError as exc:
        return StoreOutcome(None, _one_line(exc), opened=False)
    error, os_error, runs = "", False, None
    with store:
        if apply is not None:
            try:
                apply(store)
            except (BacktestError, OSError, ValueError) as exc:
                error, os_error = _one_line(exc), isinstance(exc, OSError)
        if relist:
            try:
                runs = store.list_runs()
            except BacktestError as exc:
                error = error or _one_line(exc)
    return StoreOutcome(runs, error, os_error=os_error)


def _list_runs(payload: tuple[str, float | None], ctx: TaskContext) -> StoreOutcome:
    return _in_store(payload, True, None)


def _update_runs(payload: tuple[str, float | None, list[int], dict[str, Any]],
                 ctx: TaskContext) -> StoreOutcome:
    path, busy_timeout, run_ids, changes = payload

    def apply(store: Any) -> None:
        for run_id in run_ids:
            store.update(run_id, **changes)

    return _in_store((path, busy_timeout), True, apply)


def _delete_runs(payload: tuple[str, float | None, list[int]],
                 ctx: TaskContext) -> StoreOutcome:
    path, busy_timeout, run_ids = payload

    def apply(store: Any) -> None:
        for run_id in run_ids:
            store.delete(run_id)

    return _in_store((path, busy_timeout), True, apply)


def _export_runs(payload: tuple[str, float | None, list[int], str],
                 ctx: TaskContext) -> StoreOutcome:
    from engine.results.export import export_result

    path, busy_timeout, run_ids, text = payload
    folder = Path(text)

    def apply(store: Any) -> None:
        for run_id in run_ids:
            export_result(store.load(run_id),
                          folder if len(run_ids) == 1 else folder / f"run_{run_id}",
                          extra=store.attachments(run_id))

    return _in_store((path, busy_timeout), False, apply)


def list_runs(store_path: Path, busy_timeout: float | None = None) -> StoreOutcome:
    """The run store's ``list_runs()``, read on the data host (``busy_timeout``: seconds to
    wait for another process's write; the store's default when None)."""
    return submit("data", _list_runs, (os.fspath(store_path), busy_timeout), "the run list")


def update_runs(store_path: Path, run_ids: Sequence[int], *, name: str | None = None,
                tags: Sequence[str] | None = None, notes: str | None = None,
                busy_timeout: float | None = None) -> StoreOutcome:
    """Change the name, tags (replacing the old ones) and/or notes of each of ``run_ids``
    in the run store, on the data host; the store's list after it."""
    changes: dict[str, Any] = {key: value for key, value in (
        ("name", name), ("tags", None if tags is None else list(tags)), ("notes", notes))
        if value is not None}
    payload = (os.fspath(store_path), busy_timeout, [int(i) for i in run_ids], changes)
    return submit("data", _update_runs, payload, "editing runs")


def delete_runs(store_path: Path, run_ids: Sequence[int],
                busy_timeout: float | None = None) -> StoreOutcome:
    """Delete ``run_ids`` (with their tables and tags) from the run store, on the data host;
    the store's list after it."""
    payload = (os.fspath(store_path), busy_timeout, [int(i) for i in run_ids])
    return submit("data", _delete_runs, payload, "deleting runs")


def export_runs(store_path: Path, run_ids: Sequence[int], folder: Path,
                busy_timeout: float | None = None) -> StoreOutcome:
    """Write each stored run's tables (``engine.results.export.export_result``, with the
    tables attached to it: a sweep's table, a walk-forward's folds) on the data host: one
    run into ``folder`` itself, several into one ``run_<id>`` subfolder each."""
    payload = (os.fspath(store_path), busy_timeout, [int(i) for i in run_ids],
               os.fspath(folder))
    return submit("data", _export_runs, payload, "exporting runs")
