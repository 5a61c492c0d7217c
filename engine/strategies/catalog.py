"""What a strategy is called and which parameters it takes (SPEC §3), without its code.

The configuration, the CLI and the window read this module to validate and show a
strategy's parameters; it imports no kernel, so the window's process stays free of numba.
The computation is in ``engine.strategies.builtin`` (the built-ins) and
``engine.strategies.user_file`` (a user's file).

A strategy is named by ``BacktestConfig.strategy``: a built-in name (``rsi``,
``ma_cross``, ``breakout``) or the path of a user's Python file (``*.py``). The RSI
strategy's parameters are the configuration's own fields (``period``, ``oversold``,
``overbought``, ``rsi_method``); every other strategy's are in ``BacktestConfig.params``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.errors import ConfigError

#: A parameter's value: the kinds ``PARAMS`` defaults may have (SPEC §3b).
ParamValue = int | float | bool | str


@dataclass(frozen=True)
class BuiltinStrategy:
    """A built-in strategy: its name, title, parameters with defaults, and the rule that
    checks a set of values (returns the first broken rule's message, or None)."""

    name: str
    title: str
    defaults: Mapping[str, ParamValue]
    check: Callable[[Mapping[str, ParamValue]], str | None]
    #: Parameters whose values change the indicator (a sweep computes it once per value).
    indicator_params: tuple[str, ...]
    #: How a run of it is named, from its parameters (``"MA cross 5/20"``).
    label: Callable[[Mapping[str, ParamValue]], str]


def _check_rsi(p: Mapping[str, ParamValue]) -> str | None:
    if not 2 <= int(p["period"]) <= 500:
        return "period must be between 2 and 500"
    if not 0 < float(p["oversold"]) < 100:
        return "oversold must be between 0 and 100 (exclusive)"
    if not float(p["oversold"]) < float(p["overbought"]) < 100:
        return f"overbought must be above oversold ({float(p['oversold']):g}) and below 100"
    if p["rsi_method"] not in ("wilder", "sma"):
        return "rsi_method must be one of wilder, sma"
    return None


def _check_ma_cross(p: Mapping[str, ParamValue]) -> str | None:
    if not 2 <= int(p["fast"]) < int(p["slow"]) <= 500:
        return f"fast and slow must satisfy 2 <= fast < slow <= 500 (fast {p['fast']}, " \
               f"slow {p['slow']})"
    return None


def _check_breakout(p: Mapping[str, ParamValue]) -> str | None:
    if not 2 <= int(p["window"]) <= 500:
        return "window must be between 2 and 500"
    return None


BUILTINS: dict[str, BuiltinStrategy] = {
    "rsi": BuiltinStrategy(
        "rsi", "RSI crossing",
        {"period": 14, "oversold": 30.0, "overbought": 70.0, "rsi_method": "wilder"},
        _check_rsi, ("period", "rsi_method"),
        lambda p: f"RSI {p['period']} {float(p['oversold']):g}/{float(p['overbought']):g}"
                  + ("" if p["rsi_method"] == "wilder" else f" {p['rsi_method']}")),
    "ma_cross": BuiltinStrategy(
        "ma_cross", "Moving-average cross", {"fast": 5, "slow": 20}, _check_ma_cross,
        ("fast", "slow"), lambda p: f"MA cross {p['fast']}/{p['slow']}"),
    "breakout": BuiltinStrategy(
        "breakout", "Channel breakout", {"window": 20}, _check_breakout, ("window",),
        lambda p: f"Breakout {p['window']}"),
}
#: Parameters of the RSI strategy that are configuration fields of their own.
RSI_FIELDS = ("period", "oversold", "overbought", "rsi_method")


def is_file(strategy: str) -> bool:
    """Whether ``strategy`` names a user's strategy file rather than a built-in."""
    return strategy not in BUILTINS


def check_param_value(strategy: str, name: str, value: object, default: object) -> ParamValue:
    """``value`` as the kind of ``default`` (an int stays whole, a float takes an int, a
    bool only a bool, words only one of the allowed words); a ConfigError naming the
    strategy and the parameter otherwise."""
    where = f"strategy {strategy}: parameter {name} = {value!r}"
    if isinstance(default, tuple):
        if value not in default:
            raise ConfigError(f"{where}: must be one of {', '.join(map(str, default))}",
                              field=name)
        return str(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false", field=name)
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be text", field=name)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: must be a number", field=name)
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: must be a finite number", field=name)
    if isinstance(default, int):
        if not float(value).is_integer():
            raise ConfigError(f"{where}: must be a whole number", field=name)
        return int(value)
    return float(value)


def builtin_params(strategy: BuiltinStrategy,
                   given: Mapping[str, object]) -> dict[str, ParamValue]:
    """The built-in's parameters: its defaults with ``given`` applied and checked."""
    unknown = sorted(set(given) - set(strategy.defaults))
    if unknown:
        raise ConfigError(f"strategy {strategy.name} has no parameter {unknown[0]!r}; its "
                          f"parameters: {', '.join(strategy.defaults)}", field=unknown[0])
    values = {name: check_param_value(strategy.name, name, given.get(name, default), default)
              for name, default in strategy.defaults.items()}
    problem = strategy.check(values)
    if problem is not None:
        raise ConfigError(f"strategy {strategy.name}: {problem}",
                          field=next(iter(strategy.defaults)))
    return values
