"""``backtest walkforward``: walk a parameter grid forward and write folds, the stitched
out-of-sample curve and a summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.flags import (
    add_cluster_flag,
    add_grid_flags,
    check_before_work,
    check_metric,
    config_from_args,
    grid_from_args,
)
from engine.cli.progress_bar import ProgressBar


def add_walkforward(sub: argparse._SubParsersAction) -> None:
    """Register ``backtest walkforward``."""
    p = sub.add_parser("walkforward", help="choose the grid's best on each train window, "
                       "trade it on the next test window, report the stitched result")
    add_grid_flags(p)
    p.add_argument("--train", default="12m", help="train window: 12m (months) or 250d "
                   "(trading days); default 12m")
    p.add_argument("--test", default="3m", help="test window: 3m or 60d; default 3m")
    p.add_argument("--anchored", action="store_true",
                   help="every train window starts at --start (default: rolling)")
    p.add_argument("--metric", default="sharpe", help="metric that picks the best "
                   "combination on a train window (default sharpe)")
    p.add_argument("--out", type=Path, help="write folds.csv, equity.csv, fills.csv, "
                   "trades.csv, summary.json and config.toml into this folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_cluster_flag(p)
    p.set_defaults(func=_cmd_walkforward)


def _cmd_walkforward(args: argparse.Namespace) -> int:
    from engine.results.formatting import text_frame, text_table
    from engine.studies.folds import Window
    from engine.studies.walkforward import STAGES, FoldSpec, run_walk_forward

    check_metric(args.metric, "--metric")
    Window.parse(args.train, "--train")  # before any work: a bad window fails at once
    Window.parse(args.test, "--test")
    config = config_from_args(args)
    grid = grid_from_args(args, config)
    spec = FoldSpec(args.train, args.test, args.anchored)
    check_before_work(config, args.out)
    with ProgressBar(STAGES, enabled=not args.no_progress) as bar:
        result = run_walk_forward(config, grid, spec, args.metric, progress=bar,
                                  cluster=args.cluster)
    kind = "anchored" if spec.anchored else "rolling"
    print(f"{len(result.folds)} {kind} folds (train {spec.train}, test {spec.test}) by "
          f"{args.metric}, {config.start} .. {config.end}")
    print(text_frame(result.folds).to_string(index=False))
    print(f"walk-forward efficiency {result.wf_efficiency:.2f}")
    from engine.results.formatting import metric_rows

    print(text_table(metric_rows(result.metrics)))
    if args.out is not None:
        from engine.results.export import export_walk_forward, writing

        with writing(args.out):
            written = export_walk_forward(result, args.out)
        print(f"wrote {len(written)} files to {args.out}")
    return 0
