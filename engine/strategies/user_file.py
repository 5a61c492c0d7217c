"""A user's strategy file (SPEC §3b): a Python file with ``NAME``, ``PARAMS`` and
``signals(bars, params)``.

A ``StrategyFile`` carries the file's source text, not just its path: pickled into a
worker process or onto a Dask worker it runs there without the user's path. The module
is built once per distinct source (a changed file is a new module) from the file itself
where it is at hand, else from a copy of the source in a temporary folder, so that a
numba ``cache=True`` in the file works everywhere.

Every fault is a ``StrategyError`` of one line that names the file, and the line for an
exception raised in it; never a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
import tempfile
import threading
import traceback
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from engine.errors import DataError, StrategyError
from engine.strategies.base import Bars, Signals
from engine.strategies.catalog import ParamValue, check_param_value
from engine.util.atomic import write_through
from engine.util.text import decode_text

_modules: dict[str, ModuleType] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class StrategyFile:
    """A user's strategy file: its path as the user gave it, and its source text."""

    path: str
    source: str

    @property
    def file_name(self) -> str:
        """The file's name, as messages show it."""
        return Path(self.path).name

    @functools.cached_property
    def digest(self) -> str:
        """A hash of the source: equal sources give equal strategies (computed once; a
        sweep asks for each combination)."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    # -- the Strategy interface (engine.strategies.base) ---------------------------
    @property
    def name(self) -> str:
        """The file's ``NAME``."""
        return str(self.module().NAME)

    per_column = False
    checks_lookahead = True

    def defaults(self) -> dict[str, ParamValue]:
        """``PARAMS`` with each default (the first word of a tuple of words)."""
        return {k: (v[0] if isinstance(v, tuple) else v) for k, v in self.module().PARAMS.items()}

    def choices(self) -> dict[str, tuple[str, ...]]:
        """The allowed words of the parameters that take words."""
        return {k: v for k, v in self.module().PARAMS.items() if isinstance(v, tuple)}

    def params(self, given: Mapping[str, object]) -> dict[str, ParamValue]:
        """The defaults with ``given`` applied, each checked against its default's kind."""
        declared = self.module().PARAMS
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise StrategyError(f"strategy file {self.file_name} has no parameter "
                                f"{unknown[0]!r}; its parameters: "
                                f"{', '.join(declared) or 'none'}", file=self.path)
        return {name: check_param_value(self.file_name, name, given[name], default)
                if name in given else (default[0] if isinstance(default, tuple) else default)
                for name, default in declared.items()}

    def indicator_key(self, params: Mapping[str, ParamValue]) -> Hashable:
        """Every parameter: a user's signals may depend on any of them."""
        return tuple(sorted(params.items()))

    def indicators(self, bars: Bars, params: Mapping[str, ParamValue]
                   ) -> tuple[np.ndarray, ...]:
        """The file's ``signals(bars, params)``, checked: ``(buy, sell, score)``."""
        return tuple(self.call(bars, params))

    def signals(self, indicators: tuple[np.ndarray, ...], bars: Bars, start_index: int,
                params: Mapping[str, ParamValue]) -> Signals:
        """The file's signals without those on days without a bar or before the run."""
        buy, sell, score = indicators
        keep = np.array(bars.tradable, dtype=bool)
        keep[:start_index] = False
        return Signals(buy & keep, sell & keep, score)

    # -- loading and calling -------------------------------------------------------
    def module(self) -> ModuleType:
        """The file's module, built once per source."""
        key = self.digest
        with _lock:
            module = _modules.get(key)
            if module is None:
                module = _load(self)
                _modules[key] = module
        return module

    def call(self, bars: Bars, params: Mapping[str, ParamValue]) -> Signals:
        """Run ``signals(bars, params)`` and check what it returns."""
        function = self.module().signals
        try:
            out = function(bars, dict(params))
        except Exception as exc:  # the user's code: any fault is theirs
            raise self.fault(exc, "signals() raised") from None
        return _checked(self, out, bars)

    def fault(self, exc: BaseException, what: str) -> StrategyError:
        """A one-line error for ``exc`` raised in the file, naming its line."""
        line = _line_in(exc, self)
        where = f"{self.file_name} line {line}" if line else self.file_name
        text = str(exc).splitlines()[0] if str(exc) else ""
        return StrategyError(f"strategy file {where}: {what}: {type(exc).__name__}"
                             + (f": {text}" if text else ""), file=self.path, line=line)


def read_strategy_file(path: str | Path) -> StrategyFile:
    """The strategy file at ``path`` (UTF-8, else GB18030); an error naming it if it
    cannot be read."""
    path = Path(path)
    if path.suffix.lower() != ".py":
        raise StrategyError(f"strategy file {path.name}: not a Python file (.py)",
                            file=str(path))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StrategyError(f"strategy file {path} not found; check the path or pick the "
                            "file again", file=str(path)) from None
    except OSError as exc:
        raise StrategyError(f"strategy file {path} cannot be read: {exc.strerror}",
                            file=str(path)) from None
    try:
        source = decode_text(data, path, f"strategy file {path.name}")
    except DataError as exc:
        raise StrategyError(str(exc), file=str(path)) from None
    strategy = StrategyFile(str(path), source)
    strategy.module()  # loads and checks it now, so faults show when it is chosen
    return strategy


def _module_file(strategy: StrategyFile) -> Path:
    """A file holding the strategy's source: the user's own when it still holds that
    source, else a copy under the temporary folder named by the source's hash."""
    own = Path(strategy.path)
    try:
        if own.is_file() and decode_text(own.read_bytes(), own) == strategy.source:
            return own
    except (OSError, DataError):
        pass
    stem = own.stem if own.stem.isidentifier() else "strategy"
    copy = Path(tempfile.gettempdir()) / "backtest-strategies" / strategy.digest[:20] / (
        stem + ".py")
    if not copy.is_file():
        copy.parent.mkdir(parents=True, exist_ok=True)
        data = strategy.source.encode("utf-8")
        write_through(copy, lambda target: target.write_bytes(data))
    return copy


def _load(strategy: StrategyFile) -> ModuleType:
    """Import the strategy's module and check that it defines what SPEC §3b asks."""
    path = _module_file(strategy)
    name = f"_backtest_strategy_{strategy.digest[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover (a .py path always has one)
        raise StrategyError(f"strategy file {strategy.file_name} cannot be imported",
                            file=strategy.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba and pickle look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise StrategyError(f"strategy file {strategy.file_name} line {exc.lineno}: "
                            f"syntax error: {exc.msg}", file=strategy.path,
                            line=exc.lineno) from None
    except Exception as exc:  # the user's code
        sys.modules.pop(name, None)
        raise strategy.fault(exc, "does not load") from None
    _check_module(strategy, module)
    return module


def _check_module(strategy: StrategyFile, module: ModuleType) -> None:
    where = f"strategy file {strategy.file_name}"
    for attr in ("NAME", "PARAMS", "signals"):
        if not hasattr(module, attr):
            raise StrategyError(f"{where} has no {attr}; a strategy file defines NAME, "
                                "PARAMS and signals(bars, params)", file=strategy.path)
    if not isinstance(module.NAME, str) or not module.NAME.strip():
        raise StrategyError(f"{where}: NAME must be a non-empty text", file=strategy.path)
    if not isinstance(module.PARAMS, Mapping):
        raise StrategyError(f"{where}: PARAMS must be a dict of parameter names and "
                            "defaults", file=strategy.path)
    for key, default in module.PARAMS.items():
        ok = (isinstance(default, int | float | bool) and not _nonfinite(default)) or (
            isinstance(default, tuple) and default and all(isinstance(w, str) for w in default))
        if not isinstance(key, str) or not key.isidentifier() or not ok:
            raise StrategyError(f"{where}: PARAMS[{key!r}] = {default!r}: a parameter's "
                                "default is a number, true/false, or a tuple of words",
                                file=strategy.path)
    if not callable(module.signals):
        raise StrategyError(f"{where}: signals must be a function signals(bars, params)",
                            file=strategy.path)


def _nonfinite(value: Any) -> bool:
    return isinstance(value, float) and not np.isfinite(value)


def _cell(bars: Bars, day: int, stock: int) -> str:
    """Names a cell of the bars: ``000001.SZ on 2024-03-05``."""
    return f"{bars.codes[stock]} on {np.datetime_as_string(bars.dates[day], unit='D')}"


def _checked(strategy: StrategyFile, out: Any, bars: Bars) -> Signals:
    """``(buy, sell[, score])`` as bool, bool and float64 arrays of the bars' shape."""
    shape = bars.shape
    where = f"strategy file {strategy.file_name}: signals()"
    if not isinstance(out, tuple | list) or len(out) not in (2, 3):
        raise StrategyError(f"{where} must return (buy, sell) or (buy, sell, score), not "
                            f"{type(out).__name__}", file=strategy.path)
    arrays = []
    for label, value in zip(("buy", "sell", "score"), out, strict=False):
        array = np.asarray(value)
        if array.shape != shape:
            raise StrategyError(f"{where} returned {label} of shape {array.shape}; it must "
                                f"be (days, stocks) = {shape}", file=strategy.path)
        if label == "score":
            if not np.issubdtype(array.dtype, np.number) or array.dtype.kind == "c":
                raise StrategyError(f"{where} returned score of type {array.dtype}; it must "
                                    "be numbers", file=strategy.path)
            arrays.append(np.asarray(array, dtype=np.float64))
        else:
            arrays.append(_as_bool(where, label, array, strategy, bars))
    if len(arrays) == 2:
        arrays.append(np.zeros(shape))  # equal priority: buys go in code order
    buy, sell, score = arrays
    bad = buy & ~np.isfinite(score)
    if bad.any():
        day, stock = np.argwhere(bad)[0]
        raise StrategyError(f"{where} returned a score of {score[day, stock]} on a buy "
                            f"signal ({_cell(bars, day, stock)}); a buy's score must be a "
                            "finite number", file=strategy.path)
    return Signals(buy, sell, score)


def _as_bool(where: str, label: str, array: np.ndarray, strategy: StrategyFile,
             bars: Bars) -> np.ndarray:
    """A bool array, or 0/1 numbers as one; NaN or other values are an error."""
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array)
    if array.dtype.kind in "iuf":
        ok = (array == 0) | (array == 1)
        if ok.all():
            return np.ascontiguousarray(array == 1)
        day, stock = np.argwhere(~ok)[0]
        raise StrategyError(f"{where} returned {label} = {array[day, stock]} for "
                            f"{_cell(bars, day, stock)}; {label} must be true/false (a bool "
                            "array)", file=strategy.path)
    raise StrategyError(f"{where} returned {label} of type {array.dtype}; it must be a bool "
                        "array", file=strategy.path)


def _line_in(exc: BaseException, strategy: StrategyFile) -> int | None:
    """The line of the innermost frame of ``exc`` that lies in the strategy's file."""
    line = None
    names = {str(_module_file(strategy)), strategy.path}
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in names or Path(frame.filename).name == Path(strategy.path).name:
            line = frame.lineno
    return line
