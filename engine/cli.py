"""Headless command line: ``backtest datagen``, ``backtest check`` (more subcommands follow)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from engine.errors import BacktestError

log = logging.getLogger("backtest")

DEMO_START = "2022-08-01"
DEMO_END = "2026-02-04"


def _add_datagen(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datagen", help="write a synthetic A-share universe (one parquet per stock)")
    p.add_argument("out", type=Path, help="folder to write into (created if missing)")
    p.add_argument("--stocks", type=int, default=500, help="number of stocks (default 500)")
    p.add_argument("--start", default=DEMO_START, help=f"first date (default {DEMO_START})")
    p.add_argument("--end", default=DEMO_END, help=f"last date (default {DEMO_END})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_datagen)


def _cmd_datagen(args: argparse.Namespace) -> int:
    from engine.datagen import generate_universe

    if args.stocks < 1:
        raise BacktestError(f"--stocks must be at least 1, not {args.stocks}")
    t0 = time.perf_counter()
    paths = generate_universe(args.out, args.stocks, args.start, args.end, seed=args.seed)
    print(f"wrote {len(paths)} stock files to {args.out} in {time.perf_counter() - t0:.2f} s")
    return 0


def _add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="load and validate a data folder, print what it holds")
    p.add_argument("data", type=Path, help="data folder (one parquet/CSV file per stock)")
    p.add_argument("--stocks", default=None,
                   help="stock-list file or codes separated by commas (default: all files)")
    p.add_argument("--start", default="1990-01-01", help="first date of the run window")
    p.add_argument("--end", default="2100-01-01", help="last date of the run window")
    p.add_argument("--adjust", choices=("forward", "none"), default="forward")
    p.add_argument("--on-bad-stock", choices=("fail", "skip"), default="fail")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from engine.data import load_market_data

    data = load_market_data(args.data, args.stocks, args.start, args.end, adjust=args.adjust,
                            on_bad_stock=args.on_bad_stock, use_cache=not args.no_cache)
    run_dates = data.run_dates
    print(f"{data.n_stocks} stocks, {run_dates.size} trading days in the window "
          f"({run_dates[0]} .. {run_dates[-1]}), {data.start_index} warm-up days before it")
    print(f"loaded in {data.timings['total'] * 1000:.0f} ms "
          f"({'aligned cache' if data.from_cache else 'files'}); fingerprint {data.fingerprint}")
    for message in data.warnings:
        print(f"warning: {message}")
    for row in data.excluded.itertuples():
        print(f"excluded: {row.code}: {row.reason}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``backtest`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="backtest", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_datagen(sub)
    _add_check(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``backtest``: returns the exit code (0 ok, 2 bad input or parameters)."""
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
