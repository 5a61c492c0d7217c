"""Deterministic, vectorized generator of realistic synthetic A-share daily bars."""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.rules.rulebook import board_indices, limit_prices, limit_widths
from engine.util.atomic import write_through

__all__ = ["MAX_STOCKS", "generate_frames", "generate_universe", "trading_calendar"]

log = logging.getLogger(__name__)

#: Largest universe the code pools can fill without reusing a code.
MAX_STOCKS = 10_000

_FIRST_CODE = "000001.SZ"
_COLUMNS = ("ts_code", "date", "open", "high", "low", "close", "volume")

# Probabilities and scales of the return model. Returns are nearly unpredictable
# (no cycle an RSI rule could farm): fat-tailed shocks whose volatility clusters
# (GARCH) and jumps between calm and busy regimes, plus weak few-day momentum.
# Those, not any oscillation, make RSI(14) leave its 30/70 zones about 4 times a
# year, with daily volatility about 2-2.5%, and leave an RSI strategy a small edge.
_P_IPO, _P_DELIST, _P_SUSPEND = 0.10, 0.05, 0.20
_P_LIMIT_UP_OPEN, _P_LIMIT_DOWN_OPEN = 0.006, 0.005
_MARKET_SD, _IDIO_SD = 0.011, 0.021  # daily, before each stock's beta and board scale
_MARKET_PULL = 0.004  # share of the market's log level pulled back to its start each day
_MARKET_TREND_SD, _MARKET_TREND_PHI = 0.0005, 0.98  # slow market drift regimes
_TAIL_DF = 3.0  # Student-t degrees of freedom of the daily shocks
_GARCH_ALPHA, _GARCH_BETA, _GARCH_CAP = 0.08, 0.90, 25.0
_REGIME_DAYS, _REGIME_SD = 10.0, 0.5  # mean length and log-scale spread of volatility regimes
_MOMENTUM_SD, _MOMENTUM_PHI = 0.004, 0.75  # short-lived per-stock trends (lag-1 autocorr ~0.06)
_DRIFT_MEAN, _DRIFT_SD = 0.0, 2e-4  # per-stock daily drift of the price (not its log)
_INTRADAY_SD = 0.02
_MIN_PRICE = 2.0
_MAX_LOTS = 40_000_000.0

# Chinese New Year's day per year; the exchanges close from its eve for about a week.
_SPRING_FESTIVAL = {
    2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10), 2014: (1, 31),
    2015: (2, 19), 2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5),
    2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10),
    2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13),
    2030: (2, 3), 2031: (1, 23), 2032: (2, 11), 2033: (1, 31), 2034: (2, 19),
    2035: (2, 8),
}  # fmt: skip


@dataclass(frozen=True)
class _Board:
    """One listing board: its share of the universe, code prefixes and volatility."""

    share: float
    prefixes: tuple[str, ...]
    prefix_weights: tuple[float, ...]
    exchange: str
    vol_scale: float


_BOARDS = (
    _Board(0.30, ("600", "601", "603", "605"), (0.6, 0.1, 0.25, 0.05), "SH", 1.0),  # SH main
    _Board(0.28, ("000", "001", "002"), (0.3, 0.05, 0.65), "SZ", 1.0),  # SZ main
    _Board(0.20, ("300", "301"), (0.75, 0.25), "SZ", 1.25),  # ChiNext
    _Board(0.15, ("688", "689"), (0.97, 0.03), "SH", 1.3),  # STAR
    _Board(0.07, ("43", "83", "87", "920"), (0.1, 0.4, 0.3, 0.2), "BJ", 1.4),  # Beijing
)


@dataclass(frozen=True)
class _Bars:
    """Dense (n_days, n_stocks) bars; ``traded`` marks the days a stock has a row."""

    traded: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _to_date(value: str | datetime.date) -> datetime.date:
    return pd.Timestamp(value).date()


def _holidays(year: int) -> set[datetime.date]:
    """Approximate exchange holidays of one year.

    Dragon Boat and Mid-Autumn are placed a fixed number of days after the lunar
    new year, which ignores leap months: right to within about a month.
    """
    new_year = datetime.date(year, *_SPRING_FESTIVAL.get(year, (2, 5)))
    days = {new_year + datetime.timedelta(days=k) for k in (*range(-1, 7), 123, 222)}
    days |= {datetime.date(year, 1, 1), datetime.date(year, 4, 4)}
    days |= {datetime.date(year, 5, d) for d in range(1, 6)}
    days |= {datetime.date(year, 10, d) for d in range(1, 8)}
    return days


def trading_calendar(start: str | datetime.date, end: str | datetime.date) -> pd.DatetimeIndex:
    """Weekdays in [start, end] minus approximate Chinese exchange holidays."""
    first, last = _to_date(start), _to_date(end)
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    days = pd.bdate_range(first, last)
    closed = set().union(*(_holidays(y) for y in range(first.year, last.year + 1)))
    return days[~days.isin(pd.to_datetime(sorted(closed)))].as_unit("ns")


def _board_counts(n: int) -> np.ndarray:
    """Split n stocks over the boards by their shares (largest remainders)."""
    raw = np.array([b.share for b in _BOARDS]) * n
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _make_codes(n_stocks: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Unique canonical codes, sorted, starting with 000001.SZ, and their boards' vol scales."""
    listing = [(_FIRST_CODE, _BOARDS[1].vol_scale)]
    for board, count in zip(_BOARDS, _board_counts(n_stocks - 1), strict=True):
        sizes = [10 ** (6 - len(p)) for p in board.prefixes]
        pool = np.concatenate([int(p) * size + np.arange(size)
                               for p, size in zip(board.prefixes, sizes, strict=True)])
        # Each prefix keeps its share of the board however many codes it has (BJ's 920
        # segment has a tenth of the codes of 43/83/87).
        weight = np.concatenate([np.full(size, w * (max(sizes) / size))
                                 for w, size in zip(board.prefix_weights, sizes, strict=True)])
        weight[pool <= 1] = 0.0  # 000000 does not exist; 000001 is already taken
        picked = rng.choice(pool, size=count, replace=False, p=weight / weight.sum())
        listing += [(f"{c:06d}.{board.exchange}", board.vol_scale) for c in picked]
    listing.sort()
    return [code for code, _ in listing], np.array([scale for _, scale in listing])


def _trading_mask(n_days: int, n_stocks: int, rng: np.random.Generator) -> np.ndarray:
    """Which (day, stock) cells have a bar: IPOs, delistings and suspension episodes."""
    u = rng.random((3, n_stocks))
    # Short windows get no events; the familiar first stock trades every day
    eventful = np.full(n_stocks, n_days >= 60)
    eventful[0] = False
    ipo, delist = (u[0] < _P_IPO) & eventful, (u[1] < _P_DELIST) & eventful
    first = np.where(ipo, (rng.random(n_stocks) * 0.6 * n_days).astype(int) + 1, 0)
    lo = np.maximum(first + n_days // 5, int(0.4 * n_days))
    last = np.where(delist, lo + (rng.random(n_stocks) * (n_days - 2 - lo)).astype(int), n_days - 1)
    days = np.arange(n_days)[:, None]
    traded = (days >= first) & (days <= last)

    # Up to three suspension episodes of 1-20 bars, strictly inside the listed span
    episodes = rng.integers(1, 4, n_stocks) * ((u[2] < _P_SUSPEND) & eventful)
    length = rng.integers(1, 21, (3, n_stocks))
    span = last - first
    length = np.where(np.arange(3)[:, None] < episodes, np.minimum(length, span - 2), 0).clip(0)
    begin = first + 1 + (rng.random((3, n_stocks)) * (span - 1 - length)).astype(int)
    active = (length > 0).astype(int)
    edges = np.zeros((n_days + 1, n_stocks), int)
    cols = np.broadcast_to(np.arange(n_stocks), begin.shape)
    np.add.at(edges, (begin, cols), active)
    np.add.at(edges, (begin + length, cols), -active)
    return traded & (np.cumsum(edges[:-1], axis=0) == 0)


def _ar1(n_days: int, phi: float, sd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) per column with persistence ``phi`` and standard deviation ``sd``."""
    shocks = rng.standard_normal((n_days, sd.size)) * (sd * np.sqrt(1.0 - phi**2))
    out = np.empty_like(shocks)
    out[0] = rng.standard_normal(sd.size) * sd
    for t in range(1, n_days):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _fat_tails(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(_TAIL_DF, shape) / np.sqrt(_TAIL_DF / (_TAIL_DF - 2.0))


def _garch(z: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """GARCH(1,1) shocks of unit unconditional variance from unit-variance draws (days first).

    A big shock raises the next days' volatility; squared shocks are capped so one
    extreme t draw cannot set off a runaway volatility spike.
    """
    omega = 1.0 - alpha - beta
    h = np.ones(z.shape[1:])
    out = np.empty_like(z)
    for t in range(z.shape[0]):
        out[t] = np.sqrt(h) * z[t]
        h = omega + alpha * np.minimum(out[t] ** 2, _GARCH_CAP) + beta * h
    return out


def _regimes(n_days: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Volatility multipliers that jump to a fresh lognormal level every ~_REGIME_DAYS days.

    The levels have mean square 1, so regimes leave the average variance unchanged.
    """
    switch = rng.random((n_days, n)) < 1.0 / _REGIME_DAYS
    switch[0] = True
    since = np.maximum.accumulate(np.where(switch, np.arange(n_days)[:, None], 0), axis=0)
    level = np.exp(rng.standard_normal((n_days, n)) * _REGIME_SD - _REGIME_SD**2)
    return np.take_along_axis(level, since, axis=0)


def _market_level(n_days: int, rng: np.random.Generator) -> np.ndarray:
    """Log level of the market factor: fat-tailed GARCH shocks plus slow drift regimes,
    pulled gently back towards its start so the index ranges rather than runs away."""
    one = np.ones(1)
    shocks = _garch(_fat_tails(rng, (n_days, 1)), _GARCH_ALPHA * one, _GARCH_BETA * one)[:, 0]
    trend = _ar1(n_days, _MARKET_TREND_PHI, _MARKET_TREND_SD * one, rng)[:, 0]
    level = np.empty(n_days)
    last = 0.0
    for t, step in enumerate(shocks * _MARKET_SD + trend):
        last = (1.0 - _MARKET_PULL) * last + step
        level[t] = last
    return level


def _target_log_prices(
    n_days: int, limit: np.ndarray, vol: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log price each stock would reach without limits, and its limit-open event flags.

    Market factor (shared by all stocks through a beta) + idiosyncratic returns with
    fat tails, GARCH clustering and volatility regimes + weak momentum that fades in
    a few days + a small per-stock drift + rare persistent jumps of about one limit
    move, which open at the limit. Nothing in it oscillates, so RSI signals earn
    little beyond the luck of the draw.
    """
    n = limit.size
    market = _market_level(n_days, rng)
    beta = rng.uniform(0.6, 1.4, n)
    idio_sd = _IDIO_SD * vol
    alpha = rng.uniform(0.5, 1.5, n) * _GARCH_ALPHA
    garch = _garch(_fat_tails(rng, (n_days, n)), alpha, np.minimum(_GARCH_BETA, 0.985 - alpha))
    idio = garch * _regimes(n_days, n, rng) * idio_sd
    idio += _ar1(n_days, _MOMENTUM_PHI, _MOMENTUM_SD * vol, rng)
    # Take out half the long-run variance and the jumps' average, so that the price
    # itself (not its log) drifts by about _DRIFT_MEAN a day: no free ride for holders
    momentum_var = (_MOMENTUM_SD * vol) ** 2 * (1 + _MOMENTUM_PHI) / (1 - _MOMENTUM_PHI)
    jump_drift = np.log1p(limit) * 0.7 * (_P_LIMIT_UP_OPEN - _P_LIMIT_DOWN_OPEN)
    drift = rng.normal(_DRIFT_MEAN, _DRIFT_SD, n) - 0.5 * (idio_sd**2 + momentum_var) - jump_drift

    event = rng.random((n_days, n))
    up_open = event < _P_LIMIT_UP_OPEN
    down_open = (event >= _P_LIMIT_UP_OPEN) & (event < _P_LIMIT_UP_OPEN + _P_LIMIT_DOWN_OPEN)
    jump_size = np.log1p(limit) * rng.uniform(0.3, 1.1, (n_days, n))
    jumps = jump_size * (up_open.astype(float) - down_open)

    start_price = np.exp(rng.normal(np.log(12.0), 0.8, n).clip(np.log(3.0), np.log(300.0)))
    log_price = np.log(start_price) + np.cumsum(idio + jumps + drift, axis=0)
    log_price += beta * market[:, None]
    return log_price, up_open, down_open


def _simulate_closes(
    target: np.ndarray, traded: np.ndarray, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Closes that track ``target`` but stay within each bar's price limits (``limit``:
    the width L of each day and stock).

    Returns closes plus each bar's previous close, limit-down and limit-up (all
    NaN on a stock's first bar). Sequential over days only.
    """
    close, prev = np.full(target.shape, np.nan), np.full(target.shape, np.nan)
    down, up = np.full(target.shape, np.nan), np.full(target.shape, np.nan)
    last = np.full(target.shape[1], np.nan)
    wanted = np.round(target, 2)
    for t in range(target.shape[0]):
        prev[t] = last
        up[t], down[t] = limit_prices(last, limit[t])
        day = np.where(np.isnan(last), np.maximum(wanted[t], 0.01), wanted[t].clip(down[t], up[t]))
        close[t] = np.where(traded[t], day, np.nan)
        last = np.where(traded[t], day, last)
    return close, prev, down, up


def _simulate(codes: list[str], vol: np.ndarray, days: np.ndarray,
              rng: np.random.Generator) -> _Bars:
    """All bars of all stocks on ``days`` (days since 1970) as dense arrays; ``vol`` scales
    each stock's volatility. Prices keep to each board's limits of the day (no ST)."""
    n, n_days = len(codes), days.size
    boards = np.broadcast_to(board_indices(codes), (n_days, n))
    limit = limit_widths(boards, np.broadcast_to(days[:, None], (n_days, n)),
                         np.zeros((n_days, n), dtype=bool))
    traded = _trading_mask(n_days, n, rng)
    log_target, up_open, down_open = _target_log_prices(n_days, limit[-1], vol, rng)
    # Lift whole paths that would sink too low: keeps every price well above 1 yuan
    low_point = np.where(traded, log_target, np.inf).min(axis=0)
    log_target += np.maximum(np.log(_MIN_PRICE) - low_point, 0.0)
    close, prev, down, up = _simulate_closes(np.exp(log_target), traded, limit)

    first_bar = np.isnan(prev)
    prev = np.where(first_bar, close, prev)
    down = np.where(first_bar, 0.01, down)
    up = np.where(first_bar, np.inf, up)
    sigma = _INTRADAY_SD * vol
    move = np.log(close / prev)
    gap = 0.4 * move + rng.standard_normal(close.shape) * (0.4 * sigma)
    open_ = np.round(prev * np.exp(gap), 2).clip(down, up)
    open_ = np.where(up_open & ~first_bar, up, np.where(down_open & ~first_bar, down, open_))

    wick = np.abs(rng.standard_normal((2, *close.shape))) * (0.5 * sigma)
    high = np.minimum(np.round(np.fmax(open_, close) * np.exp(wick[0]), 2), up)
    low = np.maximum(np.round(np.fmin(open_, close) * np.exp(-wick[1]), 2), down)

    # Shares traded: a per-stock level, busier on big moves
    base_volume = np.exp(rng.normal(np.log(5e6), 1.0, n))
    activity = np.exp(rng.normal(0.0, 0.3, close.shape)) * (1.0 + 15.0 * np.abs(move))
    # Capped below 2**32 shares, the most a TongDaXin record holds.
    volume = np.clip(np.round(base_volume * activity / 100.0), 1.0, _MAX_LOTS) * 100.0
    return _Bars(traded, open_, high, low, close, volume)


def _to_frames(codes: list[str], dates: pd.DatetimeIndex, bars: _Bars) -> dict[str, pd.DataFrame]:
    """Split dense arrays into one DataFrame per stock, rows only where it traded."""
    date_values = dates.to_numpy()
    columns = {name: np.ascontiguousarray(getattr(bars, name).T) for name in _COLUMNS[2:]}
    traded = np.ascontiguousarray(bars.traded.T)
    frames = {}
    for j, code in enumerate(codes):
        rows = traded[j]
        data = {"ts_code": np.full(int(rows.sum()), code, dtype=object), "date": date_values[rows]}
        data |= {name: values[j][rows] for name, values in columns.items()}
        data["volume"] = data["volume"].astype(np.int64)
        frames[code] = pd.DataFrame(data)
    return frames


def generate_frames(
    n_stocks: int,
    start: str | datetime.date,
    end: str | datetime.date,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Generate a synthetic universe in memory.

    Returns canonical code (``'000001.SZ'`` first, then sorted) -> DataFrame with
    columns ``ts_code, date, open, high, low, close, volume``: one row per bar,
    dates on a shared approximate exchange calendar, prices rounded to 0.01 and
    within the stock's daily price limits, volume in shares (> 0). The same
    arguments always give identical frames.
    """
    if not 1 <= n_stocks <= MAX_STOCKS:
        raise ValueError(f"n_stocks must be between 1 and {MAX_STOCKS}, got {n_stocks}")
    dates = trading_calendar(start, end)
    if dates.empty:
        raise ValueError(f"no trading days between {start} and {end}")
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    codes, vol = _make_codes(n_stocks, rng)
    days = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    frames = _to_frames(codes, dates, _simulate(codes, vol, days, rng))
    elapsed = time.perf_counter() - began
    log.info("generated %d stocks x %d days in %.2f s", n_stocks, len(dates), elapsed)
    return frames


def generate_universe(
    out_dir: Path | str,
    n_stocks: int,
    start: str | datetime.date,
    end: str | datetime.date,
    seed: int = 0,
    layout: str = "per-stock",
) -> list[Path]:
    """Generate a universe and write it as a data folder in ``layout``.

    ``per-stock`` writes one zstd parquet per stock named like ``000001_SZ.parquet``;
    the other layouts are those of ``engine.datagen.layouts.WRITERS`` (TongDaXin, qlib,
    one long file, AkShare CSVs). Every layout also gets ``stock_list.txt`` (one canonical
    code per line) in ``out_dir``, created if missing. Returns the written data files.
    """
    from engine.datagen.layouts import WRITERS

    if layout != "per-stock" and layout not in WRITERS:
        raise ValueError(f"layout must be one of per-stock, {', '.join(WRITERS)}, not "
                         f"{layout!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = generate_frames(n_stocks, start, end, seed)
    began = time.perf_counter()
    paths = _write_per_stock(out_dir, frames) if layout == "per-stock" else WRITERS[layout](
        out_dir, frames)
    stock_list = "".join(f"{code}\n" for code in frames)
    write_through(out_dir / "stock_list.txt", lambda p: p.write_text(stock_list, "utf-8"))
    log.info("wrote %d files to %s in %.2f s", len(paths), out_dir, time.perf_counter() - began)
    return paths


def _write_per_stock(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    paths = []
    for code, frame in frames.items():
        path = out_dir / f"{code.replace('.', '_')}.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
        write_through(path, partial(pq.write_table, table, compression="zstd"))
        paths.append(path)
    stale = sorted(set(out_dir.glob("*.parquet")) - set(paths))
    if stale:
        log.warning(
            "%s also holds %d parquet files not in this universe, e.g. %s",
            out_dir,
            len(stale),
            stale[0].name,
        )
    return paths
