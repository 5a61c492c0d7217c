"""Run configuration: every field of SPEC §1-7, validated on construction, TOML in and out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePath
from typing import Any

import tomli_w

from engine.errors import ConfigError, DataError
from engine.strategies.catalog import BUILTINS, RSI_FIELDS, ParamValue, builtin_params, is_file
from engine.util.text import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CHOICES: dict[str, tuple[str, ...]] = {
    "layout": ("auto", "per-stock", "tdx", "qlib", "long", "tdx-export"),  # LAYOUT_CHOICES
    "rsi_method": ("wilder", "sma"),
    "fill": ("next_open", "close"),
    "capital_mode": ("shared", "per_stock"),
    "adjust": ("forward", "none"),
    "on_bad_stock": ("fail", "skip"),
    "listing": ("list_date", "first_bar"),
    "lookahead_check": ("on", "off"),
}
#: Fields that take a number or a word: the word selects the exchange's rule (SPEC §4).
RULE_WORDS: dict[str, str] = {
    "stamp_tax_rate": "schedule",
    "transfer_fee_rate": "schedule",
    "lot_size": "board",
}


#: Largest ``initial_capital`` (CNY 1 trillion). Share counts are int64 in the kernels,
#: clamped at ``simulate_nb.MAX_SHARES`` (2**53, 9.0e15): at this bound a buy at the
#: lowest price (0.01) is at most 1e14 shares, so sizing is never clamped, and cash
#: keeps a resolution finer than 0.001 (the float64 ulp at 1e12 is 1.2e-4), so every
#: cent of a fill is exact. Without a bound, ``--capital 1e30`` used to overflow the
#: share count and reject every buy as ``lot`` with exit status 0.
MAX_CAPITAL = 1e12


#: Largest whole number a config field may hold: the kernels' int64 (share counts, lots,
#: position counts). ``--max-positions 1e20`` used to fail in numba's typing.
INT64_MAX = 2**63 - 1


def _is_whole(value: int | float) -> bool:
    """True for an int, or a float without a fraction (``float(10**400)`` would raise)."""
    return isinstance(value, int) or float(value).is_integer()


def _int_as_float(value: int, name: str) -> float:
    """An int given for a float field, as a float; one beyond a float's range is an
    error naming ``name`` (``float(10**400)`` raises OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(f"{name} = {_shown(value)}: must be a finite number",
                          field=name) from None


def _shown(value: Any) -> str:
    """``repr(value)`` as a user reads it: a date as ``2022-08-01`` (not
    ``datetime.date(2022, 8, 1)``), an int beyond int64 in short: 1e+20, or its bit count
    where a float cannot hold it (the repr of a 5,000-digit int raises ValueError)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
        try:
            return f"{float(value):g}"
        except OverflowError:
            return f"a {value.bit_length()}-bit whole number"
    return repr(value)


def parse_date(value: Any, name: str = "date") -> dt.date:
    """A date from a date, a datetime, or text written ``2011-01-04`` or ``20110104``;
    a ConfigError naming ``name`` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ConfigError(f"{name} {value!r} is not a date; use YYYY-MM-DD or YYYYMMDD",
                          field=name) from exc


@dataclass(frozen=True)
class BacktestConfig:
    """Everything that defines a run; defaults are the spec's (A-share rules on).

    ``stocks`` is None (every stock file in ``data_dir``), a stock-list file path, or
    a tuple of codes. ``layout`` is "auto" (detected from the folder's contents) or the
    folder's layout. ``workers`` is "auto" or a positive integer. ``stamp_tax_rate``
    and ``transfer_fee_rate`` are "schedule" (the rates in force on each fill's date)
    or a number; ``lot_size`` is "board" (the lot rule of each stock's board) or a
    number of shares for every board. ``listing`` says which bar is a new listing's
    first: the file's ``list_date`` or, with "first_bar", the file's first bar.
    """

    data_dir: Path = Path("data/sample")
    #: A built-in strategy (``rsi``, ``ma_cross``, ``breakout``) or a strategy file's path.
    strategy: str = "rsi"
    #: The strategy's parameters, other than the RSI's own fields below (SPEC §3): given
    #: as a mapping, kept as sorted (name, value) pairs.
    params: tuple[tuple[str, ParamValue], ...] = ()
    stocks: str | tuple[str, ...] | None = None
    layout: str = "auto"
    start: dt.date = dt.date(2023, 2, 4)
    end: dt.date = dt.date(2026, 2, 4)
    period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0
    rsi_method: str = "wilder"
    fill: str = "next_open"
    capital_mode: str = "shared"
    initial_capital: float = 1_000_000.0
    position_pct: float = 0.10
    max_positions: int = 10
    commission_rate: float = 0.0003
    min_commission: float = 5.0
    stamp_tax_rate: float | str = "schedule"
    transfer_fee_rate: float | str = "schedule"
    slippage: float = 0.0
    lot_size: int | str = "board"
    price_limits: bool = True
    adjust: str = "forward"
    on_bad_stock: str = "fail"
    listing: str = "list_date"
    workers: str | int = "auto"
    risk_free_rate: float = 0.0
    #: Exits for any strategy (SPEC §3c); 0 turns each off.
    stop_loss: float = 0.0
    take_profit: float = 0.0
    trailing_stop: float = 0.0
    max_hold: int = 0
    #: Whether a strategy file's signals are checked for look-ahead (SPEC §3b).
    lookahead_check: str = "on"
    benchmark: str | None = None
    #: TongDaXin ex-rights table (``gbbq``) to adjust ``.day`` bars with; None: the one
    #: beside ``vipdoc`` in an installation, if any (SPEC §1).
    tdx_gbbq: str | None = None
    cache_dir: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.data_dir, str | PurePath):
            raise ConfigError(f"data_dir must be a folder path, not {self.data_dir!r}",
                              field="data_dir")
        set_(self, "data_dir", Path(os.fspath(self.data_dir)))
        if self.cache_dir is not None:
            set_(self, "cache_dir", Path(os.fspath(self.cache_dir)))
        set_(self, "start", parse_date(self.start, "start"))
        set_(self, "end", parse_date(self.end, "end"))
        if isinstance(self.stocks, list | tuple):
            set_(self, "stocks", tuple(str(s) for s in self.stocks))
        elif isinstance(self.stocks, PurePath):
            set_(self, "stocks", os.fspath(self.stocks))
        if isinstance(self.tdx_gbbq, PurePath):
            set_(self, "tdx_gbbq", os.fspath(self.tdx_gbbq))
        self._coerce_strategy()
        self._coerce_numbers()
        self._validate()

    def _coerce_strategy(self) -> None:
        """``strategy`` as text, ``params`` as sorted pairs. The RSI's parameters given in
        ``params`` become its fields; a built-in's are checked here, a file's when the file
        is read (``engine.strategies.resolve``)."""
        if isinstance(self.strategy, PurePath):
            object.__setattr__(self, "strategy", os.fspath(self.strategy))
        if not isinstance(self.strategy, str) or not self.strategy.strip():
            raise ConfigError(f"strategy must be {', '.join(BUILTINS)} or the path of a "
                              f"strategy file (.py), not {self.strategy!r}", field="strategy")
        name = self.strategy.strip()
        if name.lower() in BUILTINS:
            name = name.lower()
        elif not name.lower().endswith(".py"):
            raise ConfigError(f"strategy {name!r} is neither a built-in strategy "
                              f"({', '.join(BUILTINS)}) nor a strategy file (.py)",
                              field="strategy")
        object.__setattr__(self, "strategy", name)
        given = dict(self.params.items() if isinstance(self.params, Mapping) else self.params)
        if name == "rsi":  # its parameters are its fields (coerced and checked after this)
            for key in RSI_FIELDS:
                if key in given:
                    object.__setattr__(self, key, given.pop(key))
        if not is_file(name):
            if name != "rsi":
                given = builtin_params(BUILTINS[name], given)
            elif given:
                builtin_params(BUILTINS[name], given)  # names the unknown parameter
        for key, value in given.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ConfigError(f"parameter name {key!r} is not a name", field="params")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"parameter {key} = {value!r}: must be a finite number",
                                  field=key)
            if not isinstance(value, int | float | str):
                raise ConfigError(f"parameter {key} = {value!r}: must be a number, true or "
                                  "false, or a word", field=key)
        object.__setattr__(self, "params", tuple(sorted(given.items())))

    def strategy_params(self) -> dict[str, ParamValue]:
        """The strategy's parameter values by name: the RSI's fields, or ``params``."""
        if self.strategy == "rsi":
            return {name: getattr(self, name) for name in RSI_FIELDS}
        return dict(self.params)

    def _coerce_rule_words(self) -> None:
        """``RULE_WORDS`` fields: the word (any case) or a number (whole for lot_size)."""
        for name, word in RULE_WORDS.items():
            value = getattr(self, name)
            whole = name == "lot_size"
            if isinstance(value, str) and value.strip().lower() == word:
                object.__setattr__(self, name, word)
            elif (isinstance(value, bool) or not isinstance(value, int | float)
                  or (whole and not _is_whole(value))):
                wanted = "a whole number" if whole else "a number"
                raise ConfigError(f"{name} must be {wanted} or {word!r}, not "
                                  f"{_shown(value)}", field=name)
            else:
                object.__setattr__(self, name, int(value) if whole else
                                   _int_as_float(value, name) if isinstance(value, int)
                                   else float(value))

    def _coerce_numbers(self) -> None:
        self._coerce_rule_words()
        for f in fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": float, "bool": bool}.get(str(f.type))
            if kind is None:
                continue
            ok = isinstance(value, bool) if kind is bool else (
                isinstance(value, int | float) and not isinstance(value, bool)
                and (kind is float or _is_whole(value)))
            if not ok:
                wanted = {int: "a whole number", float: "a number", bool: "true or false"}[kind]
                raise ConfigError(f"{f.name} must be {wanted}, not {_shown(value)}",
                                  field=f.name)
            if kind is float and isinstance(value, int):
                value = _int_as_float(value, f.name)
            object.__setattr__(self, f.name, kind(value))

    def _validate(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"{name} = {_shown(getattr(self, name))}: {rule}",
                                  field=name)

        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float):
                need(math.isfinite(value), f.name, "must be a finite number")
            elif isinstance(value, int) and not isinstance(value, bool):
                need(-INT64_MAX <= value <= INT64_MAX, f.name,
                     f"must be a whole number of at most {INT64_MAX} (the kernels count "
                     "in 64-bit integers)")
        need(self.benchmark is None or (isinstance(self.benchmark, str)
                                        and bool(self.benchmark.strip())), "benchmark",
             "must be an index code (000300.SH) or a file of daily closes, or empty for "
             "the equal-weight benchmark")
        need(self.tdx_gbbq is None or (isinstance(self.tdx_gbbq, str)
                                       and bool(self.tdx_gbbq.strip())), "tdx_gbbq",
             "must be the path of a TongDaXin gbbq file, or empty to use the one beside "
             "vipdoc")
        need(isinstance(self.stocks, str | tuple) or self.stocks is None, "stocks",
             "must be a stock-list file, a list of codes, or empty for all stocks")
        for name, allowed in CHOICES.items():
            need(getattr(self, name) in allowed, name, f"must be one of {', '.join(allowed)}")
        need(2 <= self.period <= 500, "period", "must be between 2 and 500")
        need(0 < self.oversold < 100, "oversold", "must be between 0 and 100 (exclusive)")
        need(self.oversold < self.overbought < 100, "overbought",
             f"must be above oversold ({self.oversold:g}) and below 100")
        need(self.start <= self.end, "start", f"must not be after end ({self.end})")
        need(0 < self.initial_capital <= MAX_CAPITAL, "initial_capital",
             f"must be positive and at most {MAX_CAPITAL:.0e} (share counts are 64-bit "
             "integers)")
        need(0 < self.position_pct <= 1, "position_pct", "must be in (0, 1]")
        need(self.max_positions >= 1, "max_positions", "must be at least 1")
        need(0 <= self.commission_rate < 0.1, "commission_rate", "must be in [0, 0.1)")
        need(self.min_commission >= 0, "min_commission", "must not be negative")
        for name in ("stamp_tax_rate", "transfer_fee_rate"):
            value = getattr(self, name)
            need(value == "schedule" or 0 <= value < 0.1, name,
                 "must be 'schedule' or a rate in [0, 0.1)")
        need(0 <= self.slippage < 0.1, "slippage", "must be in [0, 0.1)")
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            need(0 <= getattr(self, name) < 1, name,
                 "must be a fraction in (0, 1), e.g. 0.08 for 8%, or 0 for none")
        need(self.max_hold >= 0, "max_hold", "must be a number of bars >= 1, or 0 for none")
        need(self.lot_size == "board" or (isinstance(self.lot_size, int)
                                          and self.lot_size >= 1),
             "lot_size", "must be 'board' or at least 1")
        need(self.workers == "auto" or (isinstance(self.workers, int)
                                        and not isinstance(self.workers, bool)
                                        and self.workers >= 1),
             "workers", "must be 'auto' or a whole number >= 1")

    def __reduce__(self) -> tuple[Any, tuple[type[BacktestConfig], dict[str, Any]]]:
        """Pickled as plain values, paths as text: a ``WindowsPath`` in a Dask task cannot
        be unpickled on a Linux worker (nor a ``PosixPath`` on Windows)."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state.update({k: os.fspath(v) for k, v in state.items() if isinstance(v, PurePath)})
        return _config_from_state, (type(self), state)

    def replace(self, **changes: Any) -> BacktestConfig:
        """A copy with some fields changed (validated again). A name that is no field
        but one of the strategy's parameters changes that parameter (sweeps vary them
        like fields). For a strategy file, the RSI's field names (``period``, ...) are
        its parameters too: the RSI's fields mean nothing to it, and a file may name a
        parameter ``period``."""
        known = {f.name for f in fields(self)}
        if is_file(os.fspath(changes.get("strategy", self.strategy)).strip().lower()):
            known -= set(RSI_FIELDS)
        extra = {k: changes.pop(k) for k in list(changes) if k not in known}
        if changes.get("strategy", self.strategy) != self.strategy and "params" not in changes:
            changes["params"] = ()  # another strategy: its own defaults
        if extra:
            params = dict(changes.get("params", self.params))
            params.update(extra)
            changes["params"] = tuple(params.items())
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML/JSON-friendly values (dates as ISO text, paths as text, None left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif f.name == "params":
                if not value:
                    continue
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BacktestConfig:
        """Build from a mapping; an unknown key is an error that names it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown configuration field {unknown[0]!r}; known fields: "
                              f"{', '.join(sorted(known))}", field=unknown[0])
        return cls(**dict(values))

    def to_toml(self) -> str:
        """The configuration as TOML text."""
        return tomli_w.dumps(self.to_dict())

    def save(self, path: Path | str) -> None:
        """Write the configuration to a TOML file."""
        Path(path).write_text(self.to_toml(), encoding="utf-8")

    @classmethod
    def from_toml(cls, text: str) -> BacktestConfig:
        """Parse TOML text written by ``to_toml`` (or by hand)."""
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration is not valid TOML: {exc}") from exc

    @classmethod
    def load(cls, path: Path | str) -> BacktestConfig:
        """Read a TOML file written by ``save`` (or by hand); relative paths stay relative.

        The file is UTF-8 with or without a BOM (Notepad's "UTF-8"), else GB18030 (GBK)."""
        path = Path(path)
        try:
            values = tomllib.loads(read_text(path))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"configuration {path.name} cannot be read: {exc}") from exc
        except DataError as exc:
            raise ConfigError(f"configuration {exc}") from exc
        return cls.from_dict(values)


def _config_from_state(cls: type[BacktestConfig], state: dict[str, Any]) -> BacktestConfig:
    """A configuration from the plain values ``BacktestConfig.__reduce__`` pickled."""
    return cls(**state)
