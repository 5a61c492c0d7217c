"""Slow, obvious plain-Python versions of SPEC §3-6, and the random universes the
jitted kernels are checked against them on.

Everything here is written straight from the SPEC with loops, lists and dicts; the
exchange's rules by date (§4) are restated here from the spec's tables; it shares no
code with ``engine``. Floating-point operations
are spelled the way the SPEC states them, so results must match the kernels bit
for bit. Sums are explicit loops because ``sum()`` of floats is compensated from
Python 3.12 on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

NAN = float("nan")


# --------------------------------------------------------------------------- RSI


def _rsi_value(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0:
        return 100.0 if avg_gain > 0 else 50.0
    return 100 - 100 / (1 + avg_gain / avg_loss)


def _in_order_sum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total = total + v
    return total


def rsi_of_bars(closes: list[float], period: int, method: str) -> list[float]:
    """RSI of one stock's bar sequence (no gaps): NaN for the first ``period`` bars."""
    gains: list[float] = []
    losses: list[float] = []
    out: list[float] = []
    avg_gain = avg_loss = NAN
    for i, c in enumerate(closes):
        if i > 0:
            d = c - closes[i - 1]
            gains.append(max(d, 0.0))
            losses.append(max(-d, 0.0))
        if i < period:
            out.append(NAN)
            continue
        if method == "sma":
            avg_gain = _in_order_sum(gains[-period:]) / period
            avg_loss = _in_order_sum(losses[-period:]) / period
        elif i == period:
            avg_gain = _in_order_sum(gains) / period
            avg_loss = _in_order_sum(losses) / period
        else:
            avg_gain = (avg_gain * (period - 1) + gains[-1]) / period
            avg_loss = (avg_loss * (period - 1) + losses[-1]) / period
        out.append(_rsi_value(avg_gain, avg_loss))
    return out


def rsi_reference(
    close: np.ndarray, tradable: np.ndarray, period: int, method: str = "wilder"
) -> np.ndarray:
    """RSI on every stock's own bars; NaN on days without a bar."""
    out = np.full(close.shape, NAN)
    for s in range(close.shape[1]):
        days = [t for t in range(close.shape[0]) if tradable[t, s]]
        values = rsi_of_bars([float(close[t, s]) for t in days], period, method)
        for t, v in zip(days, values, strict=True):
            out[t, s] = v
    return out


def signals_reference(
    rsi: np.ndarray, tradable: np.ndarray, start_index: int, oversold: float, overbought: float
) -> tuple[np.ndarray, np.ndarray]:
    """Threshold crossings between each bar and the same stock's previous bar."""
    buy = np.zeros(rsi.shape, dtype=bool)
    sell = np.zeros(rsi.shape, dtype=bool)
    for s in range(rsi.shape[1]):
        days = [t for t in range(rsi.shape[0]) if tradable[t, s]]
        for prev_t, t in itertools.pairwise(days):
            if t < start_index:
                continue
            before, now = float(rsi[prev_t, s]), float(rsi[t, s])
            buy[t, s] = before <= oversold and now > oversold
            sell[t, s] = before >= overbought and now < overbought
    return buy, sell


# ------------------------------------------------------------ the rules by date (§4)

_STAMP = [  # (from, rate, both sides)
    (dt.date(1, 1, 1), 0.004, True), (dt.date(2001, 11, 16), 0.002, True),
    (dt.date(2005, 1, 24), 0.001, True), (dt.date(2007, 5, 30), 0.003, True),
    (dt.date(2008, 4, 24), 0.001, True), (dt.date(2008, 9, 19), 0.001, False),
    (dt.date(2023, 8, 28), 0.0005, False),
]
_TRANSFER = [(dt.date(1, 1, 1), 0.0), (dt.date(2015, 8, 1), 0.00002),
             (dt.date(2022, 4, 29), 0.00001)]


def _in_force(table: list, day: dt.date) -> tuple:
    row = table[0]
    for candidate in table:
        if candidate[0] <= day:
            row = candidate
    return row


def stamp_rate(setting: float | str, day: dt.date | None, side: str) -> float:
    """Stamp tax rate of a fill: the schedule's on ``day``, or an explicit rate on sells."""
    if setting != "schedule":
        return float(setting) if side == "sell" else 0.0
    assert day is not None
    _, rate, both = _in_force(_STAMP, day)
    return rate if side == "sell" or both else 0.0


def transfer_rate(setting: float | str, day: dt.date | None) -> float:
    """Transfer fee rate of a fill (both sides)."""
    if setting != "schedule":
        return float(setting)
    assert day is not None
    return _in_force(_TRANSFER, day)[1]


def board(code: str) -> str:
    """main, chinext, star or bj, by code prefix and exchange."""
    number, exchange = code.split(".")
    if exchange == "BJ":
        return "bj"
    if exchange == "SZ" and number[:3] in ("300", "301", "302"):
        return "chinext"
    if exchange == "SH" and number[:3] in ("688", "689"):
        return "star"
    return "main"


def limit_width(code: str, day: dt.date, st: bool) -> float:
    """L of SPEC §4's table."""
    kind = board(code)
    if kind == "main":
        return 0.05 if st and day <= dt.date(2026, 7, 5) else 0.10
    if kind == "chinext":
        if day <= dt.date(2020, 8, 21):
            return 0.05 if st else 0.10
        return 0.20
    return 0.20 if kind == "star" else 0.30


def free_listing_bars(code: str, listing_day: dt.date) -> int:
    """Bars without limits from a new listing's first bar on."""
    kind = board(code)
    since = {"star": dt.date(2019, 7, 22), "chinext": dt.date(2020, 8, 24),
             "main": dt.date(2023, 4, 10), "bj": dt.date(2021, 11, 15)}[kind]
    if listing_day < since:
        return 0
    return 1 if kind == "bj" else 5


def half_up_limit(ref: float, width: float, up: bool) -> float:
    """``floor(ref * (1 +/- L) * 100 + 0.500001) / 100``, as SPEC §4 spells it."""
    factor = (1.0 + width) if up else (1.0 - width)
    return math.floor(ref * factor * 100 + 0.500001) / 100


def lot_rule(code: str, lot_size: int | str) -> tuple[int, int]:
    """(minimum, step) of a buy's shares."""
    if lot_size != "board":
        return int(lot_size), int(lot_size)
    return {"star": (200, 1), "bj": (100, 1)}.get(board(code), (100, 100))


@dataclass
class StockFile:
    """One stock's bars as a file holds them (rows in date order, traded bars only)."""

    code: str
    dates: list[dt.date]
    close: list[float]
    pre_close: list[float] | None = None
    st: list[bool] | None = None
    list_date: dt.date | None = None
    own_limits: tuple[list[float], list[float]] | None = None


def limits_of_stock(f: StockFile, listing: str = "list_date") -> tuple[list[float], list[float]]:
    """Limit-up and limit-down of each bar of ``f`` (NaN: no limit)."""
    if f.own_limits is not None:
        return list(f.own_limits[0]), list(f.own_limits[1])
    n = len(f.dates)
    free = set()
    start = 0 if listing == "first_bar" else (
        f.dates.index(f.list_date) if f.list_date in f.dates else None)
    if start is not None:
        free = set(range(start, start + free_listing_bars(f.code, f.dates[start])))
    up, down = [NAN] * n, [NAN] * n
    for i in range(1, n):
        if i in free:
            continue
        ref = f.close[i - 1]
        if f.pre_close is not None and not math.isnan(f.pre_close[i]):
            ref = f.pre_close[i]
        width = limit_width(f.code, f.dates[i], bool(f.st[i]) if f.st is not None else False)
        up[i], down[i] = half_up_limit(ref, width, True), half_up_limit(ref, width, False)
    return up, down


# -------------------------------------------------------------------- simulation


@dataclass
class Params:
    """Run settings with the SPEC's defaults, except that the hand-computed tests' costs
    (a flat 0.0005 stamp tax on sells, no transfer fee, 100-share lots) are the default;
    "schedule" and "board" select the dated rules."""

    fill: str = "next_open"
    mode: str = "shared"
    initial_capital: float = 1_000_000.0
    position_pct: float = 0.10
    max_positions: int = 10
    commission_rate: float = 0.0003
    min_commission: float = 5.0
    stamp_tax_rate: float | str = 0.0005
    transfer_fee_rate: float | str = 0.0
    slippage: float = 0.0
    lot_size: int | str = 100
    price_limits: bool = True


@dataclass
class Book:
    """A cash pool with the stocks it may trade (all stocks, or one sleeve)."""

    stocks: list[int]
    cash: float
    positions: dict[int, dict[str, int]] = field(default_factory=dict)
    pending_sells: dict[int, int] = field(default_factory=dict)  # stock -> order day
    buy_orders: list[tuple[int, float]] = field(default_factory=list)  # (stock, rsi)
    last_close: dict[int, float] = field(default_factory=dict)
    fills: list[tuple] = field(default_factory=list)
    rejections: list[tuple] = field(default_factory=list)


SELL, BUY = "sell", "buy"


def _commission(notional: float, p: Params) -> float:
    return max(p.commission_rate * notional, p.min_commission)


def _day(m: dict, t: int) -> dt.date | None:
    return m["dates"][t] if "dates" in m else None


def _code(m: dict, s: int) -> str:
    return m["codes"][s] if "codes" in m else f"{600000 + s}.SH"


def _shares_to_buy(price: float, target: float, cash: float, p: Params, lots: tuple[int, int],
                   stamp: float, fee: float) -> int:
    minimum, step = lots
    shares = math.floor(target / price) // step * step
    while shares >= minimum:
        notional = shares * price
        cost = notional + _commission(notional, p) + stamp * notional + fee * notional
        if notional <= target and cost <= cash:
            return shares
        shares -= step
    return 0


def _try_sell(book: Book, m: dict, t: int, s: int, order_day: int, p: Params) -> None:
    if not m["tradable"][t, s]:
        if t == order_day:
            book.rejections.append((t, s, SELL, "suspended"))
        return
    if t <= book.positions[s]["entry"]:
        book.rejections.append((t, s, SELL, "t+1"))
        return
    bar_price = float(m["close"][t, s] if p.fill == "close" else m["open"][t, s])
    if p.price_limits and bar_price <= float(m["down_limit"][t, s]):
        book.rejections.append((t, s, SELL, "limit_down"))
        return
    shares = book.positions.pop(s)["shares"]
    del book.pending_sells[s]
    price = bar_price * (1 - p.slippage)
    notional = shares * price
    commission = _commission(notional, p)
    tax = stamp_rate(p.stamp_tax_rate, _day(m, t), SELL) * notional
    fee = transfer_rate(p.transfer_fee_rate, _day(m, t)) * notional
    book.cash += notional - commission - tax - fee
    book.fills.append((t, s, SELL, shares, price, commission, tax, book.cash, fee))


def _try_buy(book: Book, m: dict, t: int, s: int, target: float, p: Params) -> None:
    if p.mode == "shared" and len(book.positions) >= p.max_positions:
        book.rejections.append((t, s, BUY, "max_positions"))
        return
    if not m["tradable"][t, s]:
        book.rejections.append((t, s, BUY, "suspended"))
        return
    bar_price = float(m["close"][t, s] if p.fill == "close" else m["open"][t, s])
    if p.price_limits and bar_price >= float(m["up_limit"][t, s]):
        book.rejections.append((t, s, BUY, "limit_up"))
        return
    price = bar_price * (1 + p.slippage)
    if p.mode == "per_stock":
        target = book.cash
    stamp = stamp_rate(p.stamp_tax_rate, _day(m, t), BUY)
    fee_rate = transfer_rate(p.transfer_fee_rate, _day(m, t))
    lots = lot_rule(_code(m, s), p.lot_size)
    shares = _shares_to_buy(price, target, book.cash, p, lots, stamp, fee_rate)
    if shares == 0:
        book.rejections.append((t, s, BUY, "lot"))
        return
    notional = shares * price
    commission = _commission(notional, p)
    tax, fee = stamp * notional, fee_rate * notional
    book.cash -= notional + commission + tax + fee
    book.positions[s] = {"shares": shares, "entry": t}
    book.fills.append((t, s, BUY, shares, price, commission, tax, book.cash, fee))


def _take_signals(book: Book, m: dict, t: int, order_day: int, sells: bool, buys: bool) -> None:
    for s in book.stocks:
        if sells and m["sell"][t, s] and s in book.positions and s not in book.pending_sells:
            book.pending_sells[s] = order_day
        if buys and m["buy"][t, s] and s not in book.positions:
            book.buy_orders.append((s, float(m["rsi"][t, s])))


def _run_book(book: Book, m: dict, start_index: int, p: Params) -> list[tuple[float, float]]:
    """Play the book through the run; return (cash, positions value) per run day."""
    n_days = m["close"].shape[0]
    history: list[tuple[float, float]] = []
    prev_equity = book.cash
    for t in range(start_index, n_days):
        if p.fill == "close":
            _take_signals(book, m, t, t, sells=True, buys=False)
        for s in sorted(book.pending_sells):
            _try_sell(book, m, t, s, book.pending_sells[s], p)
        if p.fill == "close":
            _take_signals(book, m, t, t, sells=False, buys=True)
        orders = sorted(book.buy_orders, key=lambda order: (order[1], order[0]))
        book.buy_orders = []
        for s, _ in orders:
            _try_buy(book, m, t, s, p.position_pct * prev_equity, p)
        if p.fill == "next_open" and t + 1 < n_days:
            _take_signals(book, m, t, t + 1, sells=True, buys=True)
        for s in book.stocks:
            if m["tradable"][t, s]:
                book.last_close[s] = float(m["close"][t, s])
        positions_value = 0.0
        for s in sorted(book.positions):
            positions_value += book.positions[s]["shares"] * book.last_close[s]
        history.append((book.cash, positions_value))
        prev_equity = book.cash + positions_value
    return history


@dataclass
class RefResult:
    equity: np.ndarray
    cash: np.ndarray
    positions_value: np.ndarray
    fills: list[tuple]
    rejections: list[tuple]


def simulate_reference(m: dict, start_index: int, p: Params) -> RefResult:
    """Run SPEC §4-6 on market dict ``m`` (open, close, up_limit, down_limit, tradable,
    rsi, buy, sell; ``dates`` and ``codes`` where the costs follow the schedule or the
    lots the board). Records are ``(day, stock, side, ...)`` tuples with the side and
    reason as names; a fill is (day, stock, side, shares, price, commission, tax,
    cash_after, transfer_fee)."""
    n_stocks = m["close"].shape[1]
    if p.mode == "shared":
        books = [Book(list(range(n_stocks)), p.initial_capital)]
    else:
        sleeve = p.initial_capital / n_stocks
        books = [Book([s], sleeve) for s in range(n_stocks)]
    histories = [_run_book(book, m, start_index, p) for book in books]
    n_run = m["close"].shape[0] - start_index
    equity, cash, value = np.zeros(n_run), np.zeros(n_run), np.zeros(n_run)
    for d in range(n_run):
        for history in histories:  # in stock order
            c, v = history[d]
            cash[d] += c
            value[d] += v
            equity[d] += c + v
    fills = [f for book in books for f in book.fills]
    rejections = [r for book in books for r in book.rejections]
    if p.mode == "per_stock":
        # Same day: all sells first, then all buys, each in stock order.
        fills.sort(key=lambda f: (f[0], f[2] == BUY, f[1]))
        rejections.sort(key=lambda r: (r[0], r[2] == BUY, r[1]))
    return RefResult(equity, cash, value, fills, rejections)


# -------------------------------------------------------------- random universes


@dataclass
class Universe:
    """Aligned arrays as the data layer produces them."""

    open_: np.ndarray
    close: np.ndarray
    prev_close: np.ndarray
    tradable: np.ndarray
    limit_pct: np.ndarray


def _stock_bars(rng: np.random.Generator, n_days: int, limit: float, level: float):
    """One stock's opens/closes (NaN off-bar), with IPO, delisting and suspensions."""
    has_bar = np.ones(n_days, dtype=bool)
    if rng.random() < 0.3:
        has_bar[: rng.integers(1, n_days // 3)] = False  # IPO inside the window
    if rng.random() < 0.2:
        has_bar[n_days - rng.integers(1, n_days // 4) :] = False  # delisted
    for t in range(n_days):
        if rng.random() < 0.04:
            has_bar[t : t + rng.integers(1, 6)] = False  # suspension
    opens, closes = np.full(n_days, NAN), np.full(n_days, NAN)
    prev = NAN
    log_level = math.log(level)
    for t in np.flatnonzero(has_bar):
        if math.isnan(prev):
            c = round(level * math.exp(rng.normal(0, 0.1)), 2)
            opens[t], closes[t], prev = c, c, c
            continue
        up, down = round(prev * (1 + limit), 2), round(prev * (1 - limit), 2)
        pull = 0.3 * (log_level - math.log(prev))  # mean reversion
        c = round(prev * math.exp(pull + rng.normal(0, 0.6 * limit)), 2)
        u = rng.random()
        o = up if u < 0.06 else down if u < 0.12 else round(prev * (1 + rng.normal(0, 0.01)), 2)
        opens[t] = min(max(o, down, 0.01), up)
        closes[t] = min(max(c, down, 0.01), up)
        prev = closes[t]
    return opens, closes


def random_universe(seed: int, n_days: int = 120, n_stocks: int = 10) -> Universe:
    """Random walks with mean reversion and 2-decimal prices; the last stock copies
    stock 1, so their RSIs tie and the priority tie-break by code is exercised."""
    rng = np.random.default_rng(seed)
    limit_pct = rng.choice([0.10, 0.20, 0.30], size=n_stocks)
    limit_pct[-1] = limit_pct[1]
    open_ = np.full((n_days, n_stocks), NAN)
    close = np.full((n_days, n_stocks), NAN)
    for s in range(n_stocks - 1):
        level = 700.0 if s == 0 else float(rng.choice([3.0, 10.0, 40.0]))
        open_[:, s], close[:, s] = _stock_bars(rng, n_days, float(limit_pct[s]), level)
    open_[:, -1], close[:, -1] = open_[:, 1], close[:, 1]
    tradable = ~np.isnan(close)
    prev_close = np.full((n_days, n_stocks), NAN)
    for s in range(n_stocks):
        last = NAN
        for t in range(n_days):
            if tradable[t, s]:
                prev_close[t, s], last = last, close[t, s]
    return Universe(open_, close, prev_close, tradable, limit_pct)


def limits_from_prev_close(prev_close: np.ndarray,
                           limit_pct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Limit planes of a universe with one width per stock (NaN without a previous close)."""
    up, down = np.full(prev_close.shape, NAN), np.full(prev_close.shape, NAN)
    for (t, s), ref in np.ndenumerate(prev_close):
        if not math.isnan(ref):
            up[t, s] = half_up_limit(float(ref), float(limit_pct[s]), True)
            down[t, s] = half_up_limit(float(ref), float(limit_pct[s]), False)
    return up, down
