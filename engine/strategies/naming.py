"""How a run's strategy and exits are named in run names, the CLI and the window
("RSI 14 30/70", "MA cross 5/20 · stop 8%"); light, so the window may import it."""

from __future__ import annotations

from pathlib import PurePath

from engine.config import BacktestConfig
from engine.strategies.catalog import BUILTINS, is_file


def strategy_label(config: BacktestConfig) -> str:
    """The strategy and its parameters, then the exits that are on."""
    if is_file(config.strategy):
        stem = PurePath(config.strategy.replace("\\", "/")).stem
        given = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in config.params)
        label = f"{stem} {given}".strip()
    else:
        label = BUILTINS[config.strategy].label(config.strategy_params())
    return " · ".join((label, *exit_labels(config)))


def exit_labels(config: BacktestConfig) -> list[str]:
    """The exits of SPEC §3c that are on, e.g. ``["stop 8%", "hold 20 bars"]``."""
    out = []
    for name, word in (("stop_loss", "stop"), ("take_profit", "take profit"),
                       ("trailing_stop", "trailing stop")):
        value = getattr(config, name)
        if value:
            out.append(f"{word} {value * 100:g}%")
    if config.max_hold:
        out.append(f"hold {config.max_hold} bars")
    return out
