"""``backtest runs``: list, show, export, compare, rename, tag, annotate and delete saved runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.flags import add_store_flag
from engine.errors import BacktestError
from engine.results.formatting import METRICS, format_column, metric_rows, text_frame, text_table
from engine.strategies.naming import strategy_label

if TYPE_CHECKING:
    from engine.results.store import RunStore

#: Columns of ``store.list_runs()`` that ``runs list`` shows.
LIST_SHOWN = ("id", "created", "name", "stocks", "total_return", "sharpe", "max_drawdown",
              "trades", "tags")


def add_runs(sub: argparse._SubParsersAction) -> None:
    """Register ``backtest runs`` and its subcommands."""
    p = sub.add_parser("runs", help="the run history: list, show, export, compare, rename, "
                       "tag, note and delete saved runs")
    commands = p.add_subparsers(dest="runs_command", required=True)

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]
                ) -> argparse.ArgumentParser:
        q = commands.add_parser(name, help=help_text, description=help_text)
        add_store_flag(q)
        q.set_defaults(func=func)
        return q

    command("list", "every saved run, newest first", _cmd_list)
    q = command("show", "one run's settings and metrics", _cmd_show)
    q.add_argument("id", type=int)
    q = command("export", "write a run's tables (CSV), metrics, timings and config to a folder",
                _cmd_export)
    q.add_argument("id", type=int)
    q.add_argument("--out", type=Path, required=True, help="folder to write into")
    q = command("compare", "settings and metrics of several runs side by side", _cmd_compare)
    q.add_argument("ids", type=int, nargs="+", metavar="ID")
    q.add_argument("--out", type=Path, help="also write the full comparison as CSV")
    q = command("rename", "give a run a new name", _cmd_rename)
    q.add_argument("id", type=int)
    q.add_argument("name")
    q = command("tag", "set a run's tags (none given: remove them all)", _cmd_tag)
    q.add_argument("id", type=int)
    q.add_argument("tags", nargs="*", metavar="TAG")
    q = command("note", "set a run's notes", _cmd_note)
    q.add_argument("id", type=int)
    q.add_argument("text")
    q = command("delete", "remove runs from the history", _cmd_delete)
    q.add_argument("ids", type=int, nargs="+", metavar="ID")


def _open(args: argparse.Namespace) -> RunStore:
    """The store named by ``--store`` (imported here: other commands need not load it)."""
    from engine.results.store import RunStore

    return RunStore(args.store)


def _cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        runs = store.list_runs()
        where = (f"{store.path}" if store.read_only is None
                 else f"{store.path} (read-only: {store.read_only})")
        if runs.empty:
            print(f"no saved runs in {where}")
            return 0
        print(text_frame(runs[list(LIST_SHOWN)]).to_string(index=False))
        print(f"{len(runs)} run(s) in {where}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        info = store.run_info(args.id)
        result = store.load(args.id)
    c = result.config
    print(f"run {args.id}: {info['name']} (saved {info['created']})")
    if info["tags"]:
        print(f"tags: {', '.join(info['tags'])}")
    if info["notes"]:
        print(f"notes: {info['notes']}")
    print(f"{len(result.codes)} stocks from {c.data_dir}, {c.start} .. {c.end}, "
          f"{strategy_label(c)}, {c.capital_mode} mode, fill {c.fill}; "
          f"input fingerprint {result.fingerprint}")
    print(text_table(metric_rows(result.metrics)))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from engine.results.export import check_writable_folder, export_result, writing

    check_writable_folder(args.out, "--out")
    with _open(args) as store:
        result = store.load(args.id)
        extra = store.attachments(args.id)
    with writing(args.out):
        written = export_result(result, args.out, extra=extra)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from engine.results.compare import COVERAGE, best_per_metric, compare_table, config_differences
    from engine.results.export import export_comparison, writing

    ids = list(dict.fromkeys(args.ids))
    if len(ids) < 2:
        raise BacktestError("give at least two different run ids to compare")
    with _open(args) as store:
        results = {run_id: store.load(run_id) for run_id in ids}
    table = compare_table(results)
    differ = config_differences(results)
    best = best_per_metric(table)
    metric_keys = {key for key, _, _ in METRICS}
    rows = {}
    for column in [*differ, *COVERAGE, *(k for k in table.columns if k in metric_keys)]:
        text = format_column(column, table[column].to_numpy())
        rows[column] = [cell + ("*" if best.get(column) == run_id else "")
                        for run_id, cell in zip(table.index, text, strict=True)]
    shown = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=[f"run {run_id}" for run_id in table.index])
    print("settings that differ: " + (", ".join(differ) if differ else "none"))
    print(shown.to_string())
    print("* best of the compared runs")
    if args.out is not None:
        with writing(args.out):
            export_comparison(table, args.out)
        print(f"wrote the comparison to {args.out}")
    return 0


def _cmd_rename(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.update(args.id, name=args.name)
    print(f"renamed run {args.id} to {args.name!r}")
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.update(args.id, tags=args.tags)
        tags = store.run_info(args.id)["tags"]
    print(f"run {args.id} tags: {', '.join(tags) if tags else '(none)'}")
    return 0


def _cmd_note(args: argparse.Namespace) -> int:
    with _open(args) as store:
        store.update(args.id, notes=args.text)
    print(f"updated the notes of run {args.id}")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    with _open(args) as store:
        for run_id in dict.fromkeys(args.ids):
            store.delete(run_id)
            print(f"deleted run {run_id}")
    return 0
