"""The flags the command groups share (``run``, ``sweep``, ``walkforward``, ``runs``), how
they are read into a config and a grid, and the checks of the folders they name."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.config import BacktestConfig
from engine.errors import BacktestError


def _workers(text: str) -> str | int:
    return text if text == "auto" else int(text)


def _word_or(word: str, kind: type) -> Any:
    """An argparse type: ``word`` itself, or a number of ``kind``."""
    def parse(text: str) -> Any:
        return word if text.strip().lower() == word else kind(text)
    parse.__name__ = f"{word} or {kind.__name__}"  # argparse names it in its errors
    return parse


# (flag, config field, type, help); None type = a switch that sets False.
RUN_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--data", "data_dir", Path, "data folder (per-stock files, TongDaXin vipdoc or exports, "
     "qlib, or a long file)"),
    ("--stocks", "stocks", str, "stock-list file or codes separated by commas (default: all)"),
    ("--layout", "layout", str, "data folder layout: auto (default), per-stock, tdx, qlib, "
     "long, tdx-export"),
    ("--start", "start", str, "first day of the run (YYYY-MM-DD)"),
    ("--end", "end", str, "last day of the run (YYYY-MM-DD)"),
    ("--strategy", "strategy", str, "NAME|PATH: rsi (default), ma_cross, breakout, or a "
     "strategy file (.py); its parameters: --param NAME=VALUE"),
    ("--period", "period", int, "RSI period (default 14)"),
    ("--oversold", "oversold", float, "buy when RSI leaves this level upwards (default 30)"),
    ("--overbought", "overbought", float, "sell when RSI leaves this level downwards (default 70)"),
    ("--rsi-method", "rsi_method", str, "wilder (default) or sma"),
    ("--fill", "fill", str, "next_open (default) or close"),
    ("--mode", "capital_mode", str, "shared (default) or per_stock"),
    ("--capital", "initial_capital", float, "initial capital (default 1,000,000; at most 1e12)"),
    ("--position-pct", "position_pct", float, "target per buy, share of equity (default 0.10)"),
    ("--max-positions", "max_positions", int, "most open positions, shared mode (default 10)"),
    ("--commission", "commission_rate", float, "commission rate (default 0.0003)"),
    ("--min-commission", "min_commission", float, "minimum commission per order (default 5)"),
    ("--stamp-tax", "stamp_tax_rate", _word_or("schedule", float),
     "RATE|schedule: stamp tax; a RATE applies to sells (default: the dated schedule)"),
    ("--transfer-fee", "transfer_fee_rate", _word_or("schedule", float),
     "RATE|schedule: transfer fee on both sides (default: the dated schedule)"),
    ("--slippage", "slippage", float, "slippage as a fraction of price (default 0)"),
    ("--lot-size", "lot_size", _word_or("board", int),
     "N|board: buys in multiples of N shares, or each board's lot rule (default board)"),
    ("--no-price-limits", "price_limits", None, "ignore daily price limits"),
    ("--listing", "listing", str, "list_date (default: the file's list_date column) or "
     "first_bar (a file's first bar is its listing day)"),
    ("--adjust", "adjust", str, "forward (default) or none"),
    ("--tdx-gbbq", "tdx_gbbq", str, "PATH: the TongDaXin ex-rights table (gbbq) that adjusts "
     ".day bars (default: T0002/hq_cache/gbbq beside vipdoc, if there is one)"),
    ("--on-bad-stock", "on_bad_stock", str, "fail (default) or skip"),
    ("--stop-loss", "stop_loss", float, "X: sell when the close is X (e.g. 0.08) below the "
     "entry price (default: off)"),
    ("--take-profit", "take_profit", float, "X: sell when the close is X above the entry price "
     "(default: off)"),
    ("--trailing-stop", "trailing_stop", float, "X: sell when the close is X below its highest "
     "close since the entry (default: off)"),
    ("--max-hold", "max_hold", int, "N: sell after N of the stock's bars (default: off)"),
    ("--lookahead-check", "lookahead_check", str, "on (default) or off: check a strategy "
     "file's signals for look-ahead"),
    ("--workers", "workers", _workers, "auto (default) or a number of processes"),
    ("--risk-free", "risk_free_rate", float, "annual risk-free rate for Sharpe/Sortino"),
    ("--benchmark", "benchmark", str, "CODE|PATH: an index in the data folder (000300.SH) "
     "or a file of daily closes (default: equal-weight buy and hold of the stocks)"),
    ("--cache-dir", "cache_dir", Path, "aligned-cache folder (default: user cache)"),
)


def add_run_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """The flags that define a run (shared by ``run`` and ``sweep``), except the config
    fields named in ``skip``."""
    parser.add_argument("--config", type=Path, help="read the run configuration from TOML; "
                        "flags given as well override it")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the strategy, e.g. --param fast=10 (repeatable)")
    for flag, name, kind, help_text in RUN_FLAGS:
        if name in skip:
            continue
        if kind is None:
            parser.add_argument(flag, dest=name, action="store_false", default=None,
                                help=help_text)
        else:
            parser.add_argument(flag, dest=name, type=kind, default=None, help=help_text)


def check_cache_folder(folder: Path | None) -> None:
    """Fail before any work when the aligned-cache folder (``folder``, else the default)
    cannot be written."""
    from engine.data.cache import default_cache_dir
    from engine.results.export import check_writable_folder

    check_writable_folder(folder or default_cache_dir(), "the aligned cache folder "
                          "(--cache-dir or $BACKTEST_CACHE_DIR)")


def check_before_work(config: BacktestConfig, out: Path | None) -> None:
    """Check the output folder and the cache folder of a run or sweep before it starts,
    so a bad path fails in a second, not after the whole run."""
    from engine.results.export import check_writable_folder

    if out is not None:
        check_writable_folder(out, "--out")
    check_cache_folder(config.cache_dir)


def config_from_args(args: argparse.Namespace) -> BacktestConfig:
    """A BacktestConfig from ``--config`` (if any) overridden by the flags given."""
    base = BacktestConfig.load(args.config) if args.config else BacktestConfig()
    changes = {name: getattr(args, name) for _, name, _, _ in RUN_FLAGS
               if getattr(args, name, None) is not None}
    params = dict(base.params) if changes.get("strategy", base.strategy) == base.strategy \
        else {}
    params.update(param_value(item) for item in getattr(args, "param", []))
    return base.replace(**changes, params=params)


def param_value(item: str) -> tuple[str, int | float | bool | str]:
    """``NAME=VALUE`` of ``--param``: the value as a whole number, a number, true/false or
    a word, as it reads."""
    name, sep, text = item.partition("=")
    name, text = name.strip().replace("-", "_"), text.strip()
    if not sep or not name or not text:
        raise BacktestError(f"--param {item!r}: use NAME=VALUE, e.g. --param fast=10")
    if text.lower() in ("true", "false"):
        return name, text.lower() == "true"
    for kind in (int, float):
        try:
            return name, kind(text)
        except ValueError:
            pass
    return name, text


def add_store_flag(parser: argparse.ArgumentParser) -> None:
    """``--store PATH``: the run store file (default ``$BACKTEST_STORE`` or the user's
    data folder)."""
    parser.add_argument("--store", type=Path, default=None,
                        help="run-history database (default: $BACKTEST_STORE, else "
                             "runs.sqlite in the user data folder)")


# Grid flags of ``backtest sweep``: (flag, config field, help).
GRID_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--period", "period", "RSI periods, start:stop:step (inclusive) or a,b,c"),
    ("--oversold", "oversold", "oversold levels, start:stop:step or a,b,c"),
    ("--overbought", "overbought", "overbought levels, start:stop:step or a,b,c"),
)

def add_grid_flags(parser: argparse.ArgumentParser) -> None:
    """The run flags, with the RSI fields taking value ranges, plus ``--grid``."""
    add_run_flags(parser, skip=tuple(name for _, name, _ in GRID_FLAGS))
    for flag, name, help_text in GRID_FLAGS:
        parser.add_argument(flag, dest=f"grid_{name}", default=None, help=help_text)
    parser.add_argument("--grid", action="append", default=[], metavar="FIELD=VALUES",
                        help="sweep any other numeric config field, e.g. "
                             "position_pct=0.05:0.2:0.05 (repeatable)")


def check_metric(metric: str, flag: str) -> None:
    """A BacktestError unless ``metric`` is a metric of SPEC §7."""
    from engine.results.formatting import METRICS

    if metric not in {key for key, _, _ in METRICS}:
        raise BacktestError(f"{flag} {metric!r}: no metric {metric!r}; choose one of "
                            + ", ".join(key for key, _, _ in METRICS))


def add_cluster_flag(parser: argparse.ArgumentParser) -> None:
    """``--cluster ADDRESS`` (sweeps and walk-forwards)."""
    parser.add_argument("--cluster", metavar="ADDRESS", default=None,
                        help="run the combinations on a Dask cluster: a scheduler's "
                             "tcp://host:8786, or local:N to start N worker processes here "
                             "(needs the cluster extra: pip install .[cluster])")


def grid_from_args(args: argparse.Namespace,
                   config: BacktestConfig | None = None) -> dict[str, list[float]]:
    """The grid of the flags made by ``add_grid_flags``; a BacktestError names a bad one.
    ``--grid`` may also vary the numeric parameters of ``config``'s strategy."""
    from engine.strategies.resolve import numeric_params, strategy_of
    from engine.studies.grid import check_field, parse_values

    params = numeric_params(config, strategy_of(config)) if config is not None else ()
    grid = {name: parse_values(getattr(args, f"grid_{name}"), flag)
            for flag, name, _ in GRID_FLAGS if getattr(args, f"grid_{name}") is not None}
    for item in args.grid:
        name, sep, values = item.partition("=")
        if not sep:
            raise BacktestError(f"--grid {item!r}: use FIELD=VALUES, e.g. slippage=0:0.002:0.001")
        name = name.strip().replace("-", "_")
        check_field(name, params)
        grid[name] = parse_values(values, f"--grid {name}")
    if not grid:
        raise BacktestError("nothing to sweep: give --period, --oversold, --overbought or --grid")
    return grid
