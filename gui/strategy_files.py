"""The strategies the window offers and what each takes: the built-ins, the files of a
strategies folder described from their source (``engine.strategies.describe``, no code
run), each description kept until its file changes on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath

from engine.config import BacktestConfig
from engine.errors import BacktestError, StrategyError
from engine.strategies.catalog import BUILTINS, ParamValue, is_file
from engine.strategies.describe import StrategyInfo, describe_file

#: The repository's example strategies, next to the app (the folder listed by default).
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "strategies"


@dataclass(frozen=True)
class StrategyParams:
    """A strategy's parameters as the window shows them: defaults by name, the allowed
    words of those that take words, and why the strategy cannot be used ("" when it can)."""

    defaults: dict[str, ParamValue] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    problem: str = ""

    def numeric(self) -> dict[str, int | float]:
        """The parameters that take numbers (a sweep's axes), with their defaults."""
        return {name: value for name, value in self.defaults.items()
                if isinstance(value, int | float) and not isinstance(value, bool)}


_described: dict[Path, tuple[tuple[int, int], StrategyInfo]] = {}


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_mtime_ns, stat.st_size)


def describe(path: Path) -> StrategyInfo:
    """The file's ``NAME`` and ``PARAMS`` (or its one-line error), read again only when the
    file changed on disk since it was last read."""
    stamp = _stamp(path)
    known = _described.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    info = describe_file(path)
    _described[path] = (stamp, info)
    return info


def strategy_params(strategy: str) -> StrategyParams:
    """The parameters of ``strategy`` (a built-in's name or a file's path)."""
    if not is_file(strategy):
        return StrategyParams(dict(BUILTINS[strategy].defaults))
    info = describe(Path(strategy))
    return StrategyParams(dict(info.defaults), dict(info.choices), info.error or "")


def sweep_axes(config: BacktestConfig) -> dict[str, int | float]:
    """The strategy's numeric parameters a sweep of ``config`` may vary, with the values
    ``config`` gives them."""
    numeric = strategy_params(config.strategy).numeric()
    given = config.strategy_params()
    out: dict[str, int | float] = {}
    for name, default in numeric.items():
        value = given.get(name, default)
        out[name] = value if isinstance(value, int | float) else default
    return out


def strategy_title(strategy: str) -> str:
    """How the chooser names ``strategy``: a built-in's title, a file's ``NAME`` and file
    name ("RSI above its trend (rsi_trend.py)"), or a file that cannot be described."""
    if not is_file(strategy):
        return BUILTINS[strategy].title
    path = Path(strategy)
    info = describe(path)
    if info.error:
        return f"{path.name} (cannot be used)"
    return f"{info.name} ({path.name})"


def error_line(exc: BacktestError) -> str:
    """The one line the error panel shows for ``exc``; a strategy file's fault names the
    file, and the line where it has one, when its message does not already."""
    if not isinstance(exc, StrategyError):
        return str(exc)
    message = " ".join(str(exc).split())
    if not exc.file:
        return message
    name = PurePath(exc.file.replace("\\", "/")).name
    where = [] if name in message else [f"file {name}"]
    if exc.line is not None and f"line {exc.line}" not in message:
        where.append(f"line {exc.line}")
    return f"{message} ({', '.join(where)})" if where else message
