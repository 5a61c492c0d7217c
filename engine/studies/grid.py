"""A sweep's grid: the fields it may vary, values from CLI text, the combinations."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from decimal import Decimal, DecimalException

from engine.config import BacktestConfig
from engine.errors import ConfigError

#: Config fields a grid may vary: every numeric field (also those that take a rule word
#: instead, such as ``lot_size``), except the worker count.
GRID_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(BacktestConfig)
    if str(f.type) in ("int", "float", "int | str", "float | str"))
#: Always in the table of an RSI sweep, swept or not.
RSI_FIELDS = ("period", "oversold", "overbought")


#: Most values one range gives (``0:1:1e-9`` would be a billion combinations).
MAX_RANGE_VALUES = 1_000_000


def parse_values(text: str, name: str | None = None) -> list[float]:
    """Values of a CLI grid argument: ``start:stop:step`` (inclusive) or ``a,b,c``.

    Decimal arithmetic keeps ``0.1:0.3:0.1`` at exactly 0.1, 0.2, 0.3. Every value is a
    finite number (``inf`` and ``nan`` are errors, as is a value beyond a float's range)
    and a range gives at most ``MAX_RANGE_VALUES``. Errors start with ``name`` (the flag
    or field the text came from) when it is given.
    """
    where = f"{name} {text!r}" if name else repr(text)
    try:
        if ":" in text:
            start, stop, step = (Decimal(part) for part in text.split(":"))
            _check_finite(where, (start, stop, step), name)
            if step <= 0 or stop < start:
                raise ValueError
            count = int((stop - start) / step) + 1
            if count > MAX_RANGE_VALUES:
                raise ConfigError(f"{where} gives {count:,} values, more than "
                                  f"{MAX_RANGE_VALUES:,}; use a larger step", field=name)
            values = [start + i * step for i in range(count)]
        else:
            values = [Decimal(part) for part in text.split(",") if part.strip()]
            _check_finite(where, values, name)
    except (DecimalException, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where} is not a range start:stop:step (step > 0, stop >= start) "
                          "or a comma-separated list of numbers", field=name) from exc
    if not values:
        raise ConfigError(f"{where} gives no values", field=name)
    return [int(v) if v == v.to_integral_value() else float(v) for v in values]


def _check_finite(where: str, values: Iterable[Decimal], name: str | None) -> None:
    """A ConfigError unless every value is a finite number a float can hold."""
    for value in values:
        if not (value.is_finite() and math.isfinite(float(value))):
            raise ConfigError(f"{where}: {value} is not a finite number; values must be "
                              "finite (no inf or nan) and within a float's range", field=name)


def check_field(name: str, params: Iterable[str] = ()) -> None:
    """Raise ``ConfigError`` unless ``name`` is a config field a grid may vary or one of
    the strategy's numeric parameters ``params``."""
    params = tuple(params)
    if name not in GRID_FIELDS and name not in params:
        extra = f"; the strategy's parameters: {', '.join(params)}" if params else ""
        raise ConfigError(f"cannot sweep {name!r}; sweepable fields: {', '.join(GRID_FIELDS)}"
                          + extra, field=name)


def expand_grid(grid: Mapping[str, Iterable[float]], params: Iterable[str] = ()
                ) -> tuple[dict[str, tuple[float, ...]], list[dict[str, float]]]:
    """The checked grid and its combinations (the first field varies slowest).
    ``params``: the strategy's parameters that may be varied besides the fields."""
    params = tuple(params)
    checked: dict[str, tuple[float, ...]] = {}
    for name, values in grid.items():
        check_field(name, params)
        checked[name] = tuple(dict.fromkeys(values))
        if not checked[name]:
            raise ConfigError(f"no values to sweep for {name}", field=name)
    combos = [dict(zip(checked, values, strict=True))
              for values in itertools.product(*checked.values())]
    return checked, combos
