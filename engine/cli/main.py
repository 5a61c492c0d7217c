"""Headless command line: ``backtest run``, ``sweep``, ``runs``, ``check`` and ``datagen``."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import multiprocessing
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from engine.cli.closed_pipe import survive_closed_pipes
from engine.cli.flags import (
    add_cluster_flag,
    add_grid_flags,
    add_run_flags,
    add_store_flag,
    check_before_work,
    check_cache_folder,
    check_metric,
    config_from_args,
    grid_from_args,
)
from engine.cli.progress_bar import ProgressBar
from engine.config import CHOICES
from engine.errors import BacktestError
from engine.util.oscompat import make_console_safe

if TYPE_CHECKING:
    from engine.results.store import RunStore
    from engine.results.tables import BacktestResult
    from engine.studies.sweep import SweepResult

log = logging.getLogger("backtest")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the fix, not the usage block
    (its subcommands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: MESSAGE (try PROG --help)`` on stderr and exit with status 2."""
        self.exit(2, f"error: {message} (try {self.prog} --help)\n")


DEMO_START = "2022-08-01"
DEMO_END = "2026-02-04"


def _add_datagen(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datagen", help="write a synthetic A-share universe in a data layout")
    p.add_argument("out", type=Path, help="folder to write into (created if missing)")
    p.add_argument("--stocks", type=int, default=500, help="number of stocks (default 500)")
    p.add_argument("--start", default=DEMO_START, help=f"first date (default {DEMO_START})")
    p.add_argument("--end", default=DEMO_END, help=f"last date (default {DEMO_END})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--layout", choices=("per-stock", "tdx", "tdx-install", "qlib", "long",
                                          "akshare", "tdx-export"),
                   default="per-stock", help="how to write it (default: one parquet per stock; "
                   "tdx-install: a TongDaXin installation, unadjusted bars and the ex-rights "
                   "table)")
    p.set_defaults(func=_cmd_datagen)


def _cmd_datagen(args: argparse.Namespace) -> int:
    from engine.datagen.universe import generate_universe

    if args.stocks < 1:
        raise BacktestError(f"--stocks must be at least 1, not {args.stocks}")
    t0 = time.perf_counter()
    paths = generate_universe(args.out, args.stocks, args.start, args.end, seed=args.seed,
                              layout=args.layout)
    print(f"wrote {len(paths)} stock files ({args.layout} layout) to {args.out} in "
          f"{time.perf_counter() - t0:.2f} s")
    return 0


def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="load and validate a data folder, print what it holds")
    p.add_argument("data", type=Path, help="data folder (per-stock files, TongDaXin vipdoc, "
                   "qlib provider folder) or one long file")
    p.add_argument("--stocks", default=None,
                   help="stock-list file or codes separated by commas (default: all files)")
    p.add_argument("--layout", choices=CHOICES["layout"], default="auto",
                   help="the folder's layout (default: detected from its contents)")
    p.add_argument("--start", default="1990-01-01", help="first date of the run window")
    p.add_argument("--end", default="2100-01-01", help="last date of the run window")
    p.add_argument("--adjust", choices=("forward", "none"), default="forward")
    p.add_argument("--on-bad-stock", choices=("fail", "skip"), default="fail")
    p.add_argument("--tdx-gbbq", default=None, metavar="PATH",
                   help="the TongDaXin ex-rights table (gbbq) that adjusts .day bars "
                   "(default: T0002/hq_cache/gbbq beside vipdoc, if there is one)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from engine.data import load_market_data
    from engine.data.layouts.detect import layout_title

    if not args.no_cache:
        check_cache_folder(None)
    data = load_market_data(args.data, args.stocks, args.start, args.end, layout=args.layout,
                            adjust=args.adjust, on_bad_stock=args.on_bad_stock,
                            tdx_gbbq=args.tdx_gbbq, use_cache=not args.no_cache)
    run_dates = data.run_dates
    print(f"layout: {layout_title(data.layout)} ({data.layout})")
    print(f"{data.n_stocks} stocks, {run_dates.size} trading days in the window "
          f"({run_dates[0]} .. {run_dates[-1]}), {data.start_index} warm-up days before it")
    print(f"loaded in {data.timings['total'] * 1000:.0f} ms "
          f"({'aligned cache' if data.from_cache else 'files'}); fingerprint {data.fingerprint}")
    for message in data.warnings:
        print(f"warning: {message}")
    for code, _, reason in data.excluded:
        print(f"excluded: {code}: {reason}")
    return 0


def _add_save_flags(parser: argparse.ArgumentParser) -> None:
    add_store_flag(parser)
    parser.add_argument("--no-store", action="store_true",
                        help="do not save the run in the run history")


@contextlib.contextmanager
def _saving_store(args: argparse.Namespace) -> Iterator[RunStore | None]:
    """The run store to save into (opened before the run, so a bad path fails fast), or
    None with ``--no-store``."""
    if args.no_store:
        yield None
        return
    from engine.results.store import RunStore

    with RunStore(args.store) as store:
        yield store


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one backtest and print its metrics and timings")
    add_run_flags(p)
    p.add_argument("--out", type=Path, help="write equity/fills/trades/rejections CSV, "
                   "metrics.csv, metrics.json, timings.json and config.toml into this folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _add_save_flags(p)
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from engine.progress import STAGES
    from engine.run.backtest import run_backtest

    config = config_from_args(args)
    check_before_work(config, args.out)
    with _saving_store(args) as store:
        with ProgressBar(STAGES, enabled=not args.no_progress) as bar:
            result = run_backtest(config, progress=bar)
        _print_run(result)
        if args.out is not None:
            from engine.results.export import export_result, writing

            with writing(args.out):
                written = export_result(result, args.out)
            print(f"wrote {len(written)} files to {args.out}")
        if store is not None:
            print(f"saved as run {store.save(result)} in {store.path}")
    return 0


def _print_run(result: BacktestResult) -> None:
    """A run's headline, metrics table, counts, timings and warnings."""
    from engine.results.formatting import metric_rows, text_table, trade_counts
    from engine.results.tables import TIMING_COUNTS
    from engine.strategies.naming import strategy_label

    config = result.config
    print(f"{len(result.codes)} stocks, {config.start} .. {config.end}, "
          f"{strategy_label(config)}, {config.capital_mode} mode, fill {config.fill}")
    print(text_table(metric_rows(result.metrics)))
    print(trade_counts(result))
    print("timings: " + ", ".join(
        f"{k} {v:,.0f}" if k in TIMING_COUNTS else f"{k} {v * 1000:.1f} ms"
        for k, v in result.timings.items()))
    for message in result.warnings:
        print(f"warning: {message}")


#: Metrics shown beside the parameters in the top rows.
SWEEP_SHOWN = ("total_return", "cagr", "sharpe", "max_drawdown", "trades", "win_rate")

def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a grid of parameter combinations, write sweep.csv "
                       "and print the best rows")
    add_grid_flags(p)
    p.add_argument("--out", type=Path, help="write sweep.csv (every parameter and metric), "
                   "skipped.csv and sweep.json (config, grid, timings) into this folder")
    p.add_argument("--sort", default="sharpe", help="metric to rank by (default sharpe)")
    p.add_argument("--ascending", action="store_true", help="smallest first")
    p.add_argument("--top", type=int, default=10, help="rows to print (default 10)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_cluster_flag(p)
    _add_save_flags(p)
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from engine.results.formatting import text_frame
    from engine.studies.sweep import run_sweep

    check_metric(args.sort, "--sort")
    config = config_from_args(args)
    grid = grid_from_args(args, config)
    check_before_work(config, args.out)
    with _saving_store(args) as store:
        t0 = time.perf_counter()
        # No bar at all with --no-progress: a script's sweep need not import tqdm.
        bar = None if args.no_progress else ProgressBar(unit_stage="sweep")
        with bar or contextlib.nullcontext():
            result = run_sweep(config, grid, progress=bar, cluster=args.cluster)
        wall = time.perf_counter() - t0
        n = len(result.table)
        workers = int(result.timings["workers"])
        where = (f"{workers} workers on {result.executor}" if args.cluster
                 else f"{workers} worker(s)")
        print(f"{n} combinations on {len(result.codes)} stocks, {config.start} .. {config.end}, "
              f"{config.capital_mode} mode: {wall:.2f} s ({n / wall:,.0f} per second, "
              f"{where}); {len(result.skipped)} skipped")
        top = result.top(args.sort, args.top, ascending=args.ascending)
        shown = [*result.parameters, *dict.fromkeys((args.sort, *SWEEP_SHOWN))]
        print(f"top {len(top)} by {args.sort}{' (ascending)' if args.ascending else ''}:")
        print(text_frame(top[shown]).to_string(index=False))
        from engine.results.formatting import diagnostics_text

        print(diagnostics_text(result.diagnostics))
        if args.out is not None:
            _write_sweep(args.out, result, grid)
        if store is not None:
            _save_sweep_best(store, result, args.sort, args.ascending)
    return 0


def _write_sweep(out: Path, result: SweepResult, grid: dict[str, list[float]]) -> None:
    from engine.results.export import export_sweep, write_csv, write_json, writing
    from engine.util.atomic import staged_folder

    with writing(out), staged_folder(out) as stage:
        export_sweep(result, stage / "sweep.csv")
        write_csv(result.skipped, stage / "skipped.csv")
        write_json({"config": result.config.to_dict(),
                    "grid": {k: list(v) for k, v in grid.items()},
                    "diagnostics": result.diagnostics,
                    "timings": result.timings}, stage / "sweep.json")
    print(f"wrote sweep.csv, skipped.csv and sweep.json to {out}")


def _save_sweep_best(store: RunStore, result: SweepResult, sort: str, ascending: bool) -> None:
    """Run the sweep's best combination in full and save it, the sweep table attached."""
    from engine.run.backtest import run_backtest

    top = result.top(sort, 1, ascending=ascending)
    params = {name: top[name].iloc[0].item() for name in result.parameters}
    best = run_backtest(result.config.replace(**params))
    grid = "; ".join(f"{name} {', '.join(f'{v:g}' for v in values)}"
                     for name, values in result.grid.items())
    notes = (f"best of {len(result.table)} sweep combinations by {sort}"
             f"{' (ascending)' if ascending else ''}; grid: {grid}")
    run_id = store.save(best, notes=notes, tags=("sweep",),
                        attachments={"sweep": result.table, "skipped": result.skipped})
    chosen = ", ".join(f"{name} {getattr(best.config, name):g}" for name in result.parameters)
    print(f"saved the best combination ({chosen}) as run {run_id} in {store.path}")


def build_parser() -> argparse.ArgumentParser:
    """The ``backtest`` argument parser with every subcommand."""
    parser = OneLineParser(prog="backtest", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_sweep(sub)
    _add_check(sub)
    _add_datagen(sub)
    from engine.cli.runs import add_runs
    from engine.cli.walkforward import add_walkforward

    add_walkforward(sub)
    add_runs(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``backtest``: returns the exit code (0 ok, 2 bad input or parameters).

    The objects alive when a command ends are frozen (``gc.freeze``), so the
    interpreter's final collections skip the few hundred thousand that numba's types and
    the imported libraries allocated: that saves a fresh process 0.3-0.5 s at exit.
    Standard output and error first take any text (``make_console_safe``): a Chinese stock
    name printed to a GBK console, or to a file it is redirected to, never raises; and
    output to a pipe whose reader has gone (``| head -3``) is dropped while the command
    finishes its work, writing its files and saving its run (``survive_closed_pipes``).
    """
    make_console_safe()
    try:
        with survive_closed_pipes():
            return _main(argv)
    finally:
        gc.freeze()


def _main(argv: Sequence[str] | None) -> int:
    multiprocessing.freeze_support()  # a frozen executable re-enters here in each worker
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except BacktestError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
