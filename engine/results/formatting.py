"""Metric labels, and the one formatter of values and table columns for CLI, GUI and export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from engine.results.metric_registry import EXTRA, RUN_METRICS
from engine.util.words import BOOLEAN_WORDS, DISPLAY_NAMES, counted

if TYPE_CHECKING:  # pandas is imported where a table is formatted: off a run's path
    import pandas as pd

    from engine.results.tables import BacktestResult

#: (key, label, kind) of every run metric, from ``engine.results.metric_registry``; kind
#: is one of ``KINDS``.
METRICS: tuple[tuple[str, str, str], ...] = tuple(
    (m.key, m.label, m.kind) for m in RUN_METRICS)
#: Metrics only some results have (a walk-forward's), shown after ``METRICS`` when present.
EXTRA_METRICS: tuple[tuple[str, str, str], ...] = tuple((m.key, m.label, m.kind) for m in EXTRA)
MISSING = "—"

#: Format spec of each numeric kind (Python's ``format``; rounding is that of the exact
#: binary value, ties to even). Prices of funds take ``FUND_PRICE_SPEC`` instead.
#: pct: fractions as percent, 0.12345 -> 12.35%. rate: cost rates, quoted to a tenth of a
#: basis point (万2.5 = 0.025%). ratio: plain numbers, 2 decimals. money: yuan, 2 decimals.
#: price: yuan per share, 2 decimals (the A-share tick). shares, int, days: whole numbers.
NUMBER_SPECS: dict[str, str] = {
    "pct": ",.2%", "rate": ",.3%", "ratio": ",.2f", "money": ",.2f", "price": ",.2f",
    "shares": ",.0f", "int": ",.0f", "days": ",.0f",
}
#: Funds (ETFs, LOFs) trade in ticks of 0.001 yuan.
FUND_PRICE_SPEC = ",.3f"
#: Every kind: the numeric ones, "date" (YYYY-MM-DD), "time" (YYYY-MM-DD HH:MM), "text".
KINDS: tuple[str, ...] = (*NUMBER_SPECS, "date", "time", "text")
NUMERIC_KINDS = frozenset(NUMBER_SPECS)
#: Below this magnitude a float holds every integer exactly.
_EXACT_LIMIT = 2.0 ** 53
#: Integers formatted as arrays stay below this magnitude (int64, with room to spare).
_INT_LIMIT = 2 ** 62
#: Six-digit code prefixes of funds by exchange: Shanghai 50/51/52/56/58, Shenzhen 15/16/18.
FUND_PREFIXES: dict[str, tuple[str, ...]] = {
    "SH": ("50", "51", "52", "56", "58"), "SZ": ("15", "16", "18")}

#: Display kind of the result tables' columns by name: fills, trades, rejections
#: (``engine.results.tables``), equity, coverage (``engine.data.summary``), stock detail
#: (``engine.run.drill_down``), the run list (``engine.results.store``), comparison and
#: sweep tables (their config fields and every ``METRICS`` key). A name applies only where
#: the column's dtype fits its kind (the trades' boolean ``open`` is not a price); other
#: columns go by dtype (``column_kind``).
COLUMN_KINDS: dict[str, str] = {
    **{key: kind for key, _, kind in (*METRICS, *EXTRA_METRICS)},
    **dict.fromkeys(("price", "entry_price", "exit_price", "open", "high", "low", "close"),
                    "price"),
    **dict.fromkeys(("commission", "tax", "transfer_fee", "pnl", "cash_after", "equity", "cash",
                     "positions_value", "benchmark", "notional", "initial_capital",
                     "min_commission"), "money"),
    **dict.fromkeys(("shares", "volume"), "shares"),
    **dict.fromkeys(("return", "drawdown", "limit", "position_pct", "risk_free_rate"), "pct"),
    **dict.fromkeys(("commission_rate", "stamp_tax_rate", "transfer_fee_rate", "slippage"),
                    "rate"),
    "created": "time",
    "id": "text",  # a run id names a run; it is not a count
}


def price_decimals(code: Any) -> int:
    """Decimals of a price of ``code`` (``510300.SH``): 3 for funds (``FUND_PREFIXES``),
    else 2."""
    text = str(code)
    return 3 if text.startswith(FUND_PREFIXES.get(text[-2:].upper(), ())) else 2


def _spec(kind: str, code: Any = None) -> str:
    if kind == "price" and code is not None and price_decimals(code) == 3:
        return FUND_PRICE_SPEC
    return NUMBER_SPECS[kind]


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (whose comparison raises)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def format_value(value: Any, kind: str, code: Any = None) -> str:
    """Text of one value of ``kind`` (one of ``KINDS``; see ``NUMBER_SPECS``).

    None, NaN and NaT show as ``MISSING``; dates (datetime64, Timestamp, date) as
    YYYY-MM-DD whatever the kind ("time": YYYY-MM-DD HH:MM; ISO text is cut to that);
    a price of a fund ``code`` gets 3 decimals; booleans and text are shown as they are.
    """
    if _missing(value):
        return MISSING
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    if isinstance(value, dt.date):
        if kind == "time" and isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        return value.strftime("%Y-%m-%d")
    if kind == "time":
        return str(value)[:16].replace("T", " ")
    if kind in NUMERIC_KINDS and isinstance(value, Real | np.number) and not isinstance(
            value, bool | np.bool_):
        spec = _spec(kind, code)
        if isinstance(value, Integral | np.integer) and spec.endswith(".0f"):
            spec = spec.replace(".0f", "d")  # exact, however large
        return format(value + 0, spec)  # + 0: no "-0.00" for a negative zero
    return str(value)


def column_kind(name: str, dtype: np.dtype) -> str:
    """Display kind of a column: its ``COLUMN_KINDS`` entry where the dtype fits it, else
    by dtype: datetime -> "date", integer -> "int", other numbers -> "ratio" (2 decimals),
    booleans and anything else -> "text". Object columns keep their named kind (each
    value is then formatted by ``format_value``, which shows non-numbers as text)."""
    named = COLUMN_KINDS.get(name)
    if dtype.kind == "b":
        return "text"
    if dtype.kind == "M":
        return named if named in ("date", "time") else "date"
    if dtype.kind in "iuf":
        if named in NUMERIC_KINDS or named == "text":
            return named
        return "ratio" if dtype.kind == "f" else "int"
    return named or "text"


def _digits(magnitude: np.ndarray, negative: np.ndarray, decimals: int,
            suffix: str) -> np.ndarray:
    """Text of ``±magnitude / 10**decimals`` with thousands separators and ``suffix``
    ("-1,234.56%"), built as a grid of characters so no value goes through Python."""
    whole, fraction = np.divmod(magnitude, 10 ** decimals)
    # The characters right to left, each with the rows that have it (None: all rows).
    chars: list[tuple[Any, np.ndarray | None]] = [(ord(c), None) for c in reversed(suffix)]
    for _ in range(decimals):
        fraction, digit = np.divmod(fraction, 10)
        chars.append((digit + 48, None))
    chars += [(ord("."), None)] if decimals else []
    rest = whole
    for k in range(len(str(int(whole.max()))) if whole.size else 1):
        present = whole >= 10 ** k if k else None
        if k and k % 3 == 0:
            chars.append((ord(","), present))
        rest, digit = np.divmod(rest, 10)
        chars.append((digit + 48, present))
    width = len(chars) + 1  # and a sign
    grid = np.zeros((whole.size, width), dtype=np.uint32)  # UCS-4, as numpy's str dtype
    length = np.zeros(whole.size, dtype=np.int64)
    for j, (code, present) in enumerate(chars):
        grid[:, width - 1 - j] = code if present is None else np.where(present, code, 0)
        length += 1 if present is None else present
    signed = np.flatnonzero(negative)
    grid[signed, width - 1 - length[signed]] = ord("-")
    length += negative
    out = np.empty(whole.size, dtype=object)
    sizes = np.flatnonzero(np.bincount(length))
    for size in sizes.tolist():  # rows of one length are one block of fixed-width str
        rows = slice(None) if sizes.size == 1 else np.flatnonzero(length == size)
        out[rows] = np.ascontiguousarray(grid[rows, width - size:]).view(f"U{size}").ravel()
    return out


def _format_numbers(values: np.ndarray, spec: str) -> np.ndarray:
    """``format(v, spec)`` of each value (a ``NUMBER_SPECS`` spec) as an object array.

    Integers, and floats whose scaled value is clear of a rounding tie, are formatted as
    arrays; the few near a tie (where the float product may round the other way than
    the exact value), non-finite and huge ones go through ``format`` itself.
    """
    decimals = int(spec[spec.index(".") + 1:-1])
    percent = spec.endswith("%")
    if values.dtype.kind in "iu" and not percent and not decimals:
        if not values.size or -_INT_LIMIT < values.min() <= values.max() < _INT_LIMIT:
            wide = values.astype(np.int64)
            return _digits(np.abs(wide), wide < 0, 0, "")
        out = np.empty(values.size, dtype=object)
        out[:] = [format(v, ",d") for v in values.tolist()]
        return out
    x = values.astype(np.float64) + 0.0  # -0.0 -> 0.0, as in format_value
    y = x * 100.0 if percent else x  # what format's "%" does
    scaled = y * 10.0 ** decimals
    magnitude = np.abs(scaled)
    with np.errstate(invalid="ignore"):
        clear = (magnitude < _EXACT_LIMIT) & (
            np.abs(magnitude - np.floor(magnitude) - 0.5) > 4 * np.spacing(magnitude))
    out = _digits(np.rint(np.where(clear, magnitude, 0.0)).astype(np.int64),
                  clear & np.signbit(y), decimals, "%" if percent else "")
    rest = np.flatnonzero(~clear & ~np.isnan(x))  # NaN is the caller's (MISSING)
    out[rest] = [format(v, spec) for v in x[rest].tolist()]
    return out


def _fund_rows(codes: np.ndarray) -> np.ndarray:
    """True in the rows whose code is a fund (``price_decimals`` 3), each code tested once."""
    import pandas as pd

    index, distinct = pd.factorize(codes)
    funds = np.array([price_decimals(c) == 3 for c in distinct] + [False], dtype=bool)
    return funds[index]  # a missing code (index -1) is not a fund


def _format_prices(values: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
    if codes is None:
        return _format_numbers(values, NUMBER_SPECS["price"])
    fund = _fund_rows(codes)
    out = np.empty(values.size, dtype=object)
    out[~fund] = _format_numbers(values[~fund], NUMBER_SPECS["price"])
    out[fund] = _format_numbers(values[fund], FUND_PRICE_SPEC)
    return out


def _format_dates(values: np.ndarray, kind: str) -> np.ndarray:
    """Dates as YYYY-MM-DD ("time": YYYY-MM-DD HH:MM), each distinct one formatted once."""
    unit: Literal["m", "D"] = "m" if kind == "time" else "D"
    ticks = values.astype(f"datetime64[{unit}]")
    known = ~np.isnat(ticks)
    out = np.full(values.size, MISSING, dtype=object)
    if not known.any():
        return out
    number = ticks[known].view(np.int64)
    low, high = int(number.min()), int(number.max())
    if high - low < max(number.size, 4096):  # every tick of the span: a lookup, no sort
        distinct, index = np.arange(low, high + 1), number - low
    else:
        distinct, index = np.unique(number, return_inverse=True)
    text = np.datetime_as_string(distinct.astype(f"datetime64[{unit}]"), unit=unit)
    if kind == "time":
        text = np.char.replace(text, "T", " ")
    out[known] = text.astype(object)[index.reshape(-1)]
    return out


def format_column(name: str, values: np.ndarray,
                  codes: np.ndarray | Sequence[Any] | None = None) -> np.ndarray:
    """Display text of a table column (object array of str, one per value).

    A column of the engine's words (a rule value, a rejection or exit reason: named in
    ``engine.util.words.DISPLAY_NAMES``) reads in its display names, a yes/no column as
    ``BOOLEAN_WORDS`` says ("open" / "closed"; others "yes" / "no"). Otherwise the kind
    comes from ``column_kind(name, values.dtype)``; a price column gets 3 decimals in the
    rows whose ``codes`` entry is a fund (``price_decimals``). Numbers and dates are
    formatted an array at a time, the same as ``format_value`` would one by one.
    """
    values = np.asarray(values)
    kind = column_kind(name, values.dtype)
    if values.dtype.kind == "b":  # yes/no, or the column's own words ("open", "closed")
        yes, no = BOOLEAN_WORDS.get(name, ("yes", "no"))
        return np.where(values, yes, no).astype(object)
    words = DISPLAY_NAMES.get(name)
    if words is not None and values.dtype.kind in "OUS":  # the engine's words, as said
        return np.array([MISSING if _missing(v) else words.get(str(v), str(v))
                         for v in values.tolist()], dtype=object)
    if values.dtype.kind in "iuf" and kind in NUMERIC_KINDS:
        if kind == "price":
            out = _format_prices(values, None if codes is None else np.asarray(codes))
        else:
            out = _format_numbers(values, NUMBER_SPECS[kind])
        if values.dtype.kind == "f":
            out[np.isnan(values)] = MISSING
        return out
    if values.dtype.kind == "M":
        return _format_dates(values, kind)
    out = np.empty(values.size, dtype=object)
    if kind == "price" and codes is not None:
        out[:] = [format_value(v, kind, c) for v, c in zip(values.tolist(), list(codes),
                                                          strict=True)]
    else:
        keep = kind != "time"  # text is shown as it is, except that times are cut
        out[:] = [v if keep and type(v) is str else format_value(v, kind)
                  for v in values.tolist()]
    return out


def format_frame(frame: pd.DataFrame) -> list[np.ndarray]:
    """Display text of every column of ``frame`` (``format_column``), in column order;
    prices take their decimals from the frame's ``code`` column, if it has one. A
    categorical column (other than prices) formats each category once."""
    import pandas as pd

    codes = frame["code"].to_numpy() if "code" in frame.columns else None
    texts = []
    for i, name in enumerate(frame.columns):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype) and (
                COLUMN_KINDS.get(str(name)) != "price"):
            categories = format_column(str(name), column.cat.categories.to_numpy())
            texts.append(np.append(categories, MISSING)[column.cat.codes.to_numpy()])
        else:
            texts.append(format_column(str(name), column.to_numpy(), codes))
    return texts


def text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as its display text (``format_frame``), same columns and index: a table
    to print."""
    import pandas as pd

    text = pd.DataFrame(dict(enumerate(format_frame(frame))), index=frame.index)
    text.columns = frame.columns
    return text


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) for every known metric, in display order, then the
    ``EXTRA_METRICS`` the result has."""
    return ([(label, format_value(metrics.get(key), kind)) for key, label, kind in METRICS]
            + [(label, format_value(metrics[key], kind)) for key, label, kind in EXTRA_METRICS
               if key in metrics])


def trade_counts(result: BacktestResult) -> str:
    """What a run did, in words: "128 fills, 59 closed trades and 10 still open, 7,244
    rejections, 1 stock excluded" (the open round trips are no closed trade)."""
    closed = int(result.metrics.get("trades", 0) or 0)
    still_open = result.count("trades") - closed
    parts = [counted(result.count("fills"), "fill"),
             counted(closed, "closed trade") + (f" and {still_open:,} still open"
                                                if still_open else ""),
             counted(result.count("rejections"), "rejection")]
    if result.count("excluded"):
        parts.append(counted(result.count("excluded"), "stock") + " excluded")
    return ", ".join(parts)


def diagnostics_text(diagnostics: dict[str, float]) -> str:
    """Two lines on whether the best combination is luck: deflated Sharpe and PBO."""
    dsr, pbo = diagnostics.get("deflated_sharpe"), diagnostics.get("pbo")
    trials = int(diagnostics.get("trials", 0))
    never = int(diagnostics.get("never_traded", 0))  # counted beside the trials (SPEC §7)
    best = f"best of {trials} combinations" + (f", {never} never traded," if never else "")
    return (f"deflated Sharpe {format_value(dsr, 'ratio')}: the chance the {best} "
            "beats what luck alone gives that many tries (near 1: not luck)\n"
            f"PBO {format_value(pbo, 'pct')}: how often the in-sample best lands in the "
            "bottom half out of sample (near 0: robust, 50% or more: overfit)")


def text_table(rows: list[tuple[str, str]]) -> str:
    """Two aligned columns as plain text."""
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"{label:<{width}}  {value:>16}" for label, value in rows)


class PackedText:
    """One column's display text as a single string plus offsets.

    A list of 100,000 strings takes ~100 ms to unpickle, in one call that holds the GIL;
    this takes ~1 ms, so text formatted in a worker process reaches a window's thread
    without stalling it. Indexing gives one cell's text; a sequence of ints, an array.
    """

    __slots__ = ("_data", "_offsets")

    def __init__(self, values: Sequence[str] | np.ndarray) -> None:
        self._data = "".join(values)
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        self._offsets = np.concatenate((np.zeros(1, np.int64), np.cumsum(lengths)))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int | np.integer):
            start, end = self._offsets[index], self._offsets[index + 1]
            return self._data[start:end]
        rows = np.arange(len(self))[index]
        out = np.empty(len(rows), dtype=object)
        out[:] = [self[int(i)] for i in rows]
        return out

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def lengths(self) -> np.ndarray:
        """Characters of each cell's text."""
        return np.diff(self._offsets)


def pack_text(text: Sequence[np.ndarray]) -> list[PackedText]:
    """``format_frame``'s columns packed for sending to another process."""
    return [PackedText(column) for column in text]


#: Display text of one column: as ``format_frame`` makes it, or packed.
TextColumn = np.ndarray | PackedText
