"""Writes a generated universe in the layouts users keep real data in: TongDaXin vipdoc,
a TongDaXin installation (vipdoc and its ex-rights table), a qlib provider folder, one
long parquet file, AkShare per-stock CSVs, TongDaXin exports.

Each layout holds the generated bars exactly, so every layout loads to bit-identical
prices: prices are whole cents, which TongDaXin's fen integers hold exactly; qlib's
float32 holds the cents to within far less than half a cent, and its reader rounds
``$price / $factor`` back to the cent. Each stock's ``$factor`` is a power of two, so
forward adjustment by it is exact too; so are the installation's 10-for-10 bonuses
(factor 1/2), whose raw prices before each ex-date are the generated ones doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.data.layouts import tdx_gbbq
from engine.data.layouts.tdx import DAY_RECORD
from engine.util.atomic import write_through

_FACTORS = (1.0, 2.0, 0.5)


def write_tdx(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """``vipdoc/{sh,sz,bj}/lday/<ex><code>.day``: 32-byte records, prices in fen."""
    paths = []
    for code, frame in frames.items():
        exchange = code[7:].lower()
        folder = out_dir / "vipdoc" / exchange / "lday"
        folder.mkdir(parents=True, exist_ok=True)
        records = np.zeros(len(frame), dtype=DAY_RECORD)
        records["date"] = frame["date"].dt.strftime("%Y%m%d").astype(np.uint32)
        for name in ("open", "high", "low", "close"):
            records[name] = np.rint(frame[name].to_numpy() * 100.0)
        records["volume"] = frame["volume"].to_numpy()
        records["amount"] = frame["close"].to_numpy() * frame["volume"].to_numpy()
        path = folder / f"{exchange}{code[:6]}.day"
        write_through(path, partial(_write_bytes, records.tobytes()))
        paths.append(path)
    return paths


def write_tdx_install(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """A TongDaXin installation: ``vipdoc`` of raw (unadjusted) bars and the ex-rights
    table ``T0002/hq_cache/gbbq`` that adjusts them back to the generated bars (SPEC §1).

    Two stocks in three have a 10-for-10 bonus (送转, f3 = 10) in the middle of their
    bars, every other one dated the day after the bar before its ex-rights bar (an
    ex-date without a bar when that is a weekend); the raw prices before the ex-date are
    doubled, so the table's ``pre_close`` is the generated close before it and forward
    adjustment gives the generated prices exactly (limits decided on the raw prices may
    differ from the generated bars' by half a cent). The table also holds events that
    change nothing: share-capital changes (category 5) of every stock and a cash
    dividend of a code outside the universe."""
    raw_frames, events = {}, []
    for j, (code, frame) in enumerate(frames.items()):
        events.append(_gbbq_event(code, frame["date"].iloc[0], 5, 0.0, 1e4, 0.0, 1.2e4))
        raw, cut = frame.copy(), len(frame) // 2
        if j % 3 and cut:
            for name in ("open", "high", "low", "close"):
                raw.loc[raw.index[:cut], name] *= 2.0
            ex_date = frame["date"].iloc[cut] if j % 3 == 1 else (
                frame["date"].iloc[cut - 1] + pd.Timedelta(days=1))
            events.append(_gbbq_event(code, ex_date, tdx_gbbq.EX_RIGHTS, 0.0, 0.0, 10.0, 0.0))
        raw_frames[code] = raw
    events.append(_gbbq_event("600999.SH" if "600999.SH" not in frames else "601999.SH",
                              next(iter(frames.values()))["date"].iloc[-1],
                              tdx_gbbq.EX_RIGHTS, 1.5, 0.0, 0.0, 0.0))
    table = np.array(sorted(events, key=lambda e: (e[0], e[1], e[2])), dtype=tdx_gbbq.RECORD)
    folder = out_dir.joinpath(*tdx_gbbq.INSTALLATION_PATH[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    write_through(folder / tdx_gbbq.INSTALLATION_PATH[-1],
                  partial(_write_bytes, tdx_gbbq.encipher(table)))
    return write_tdx(out_dir, raw_frames)


def _gbbq_event(code: str, date: pd.Timestamp, category: int, *values: float) -> tuple:
    """One ex-rights table record (``tdx_gbbq.RECORD``) as a tuple."""
    return (tdx_gbbq.MARKETS.index(code[7:]), code[:6].encode(), int(date.strftime("%Y%m%d")),
            category, *values)


def write_qlib(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """``calendars/day.txt``, ``instruments/all.txt`` and ``features/<inst>/*.day.bin``
    (float32, the start index first, NaN on days without a bar), prices times ``$factor``.
    Returns the instruments' features folders."""
    calendar = pd.DatetimeIndex(sorted(set().union(*(f["date"] for f in frames.values()))))
    for sub in ("calendars", "instruments", "features"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    days = calendar.strftime("%Y-%m-%d")
    write_through(out_dir / "calendars" / "day.txt",
                     lambda p: p.write_text("".join(f"{d}\n" for d in days), "utf-8"))
    instruments, paths = [], []
    for j, (code, frame) in enumerate(frames.items()):
        name = f"{code[7:]}{code[:6]}"
        index = calendar.get_indexer(frame["date"])
        first, last = int(index[0]), int(index[-1])
        instruments.append(f"{name}\t{days[first]}\t{days[last]}\n")
        factor = _FACTORS[j % len(_FACTORS)]
        fields = {c: frame[c].to_numpy() * factor for c in ("open", "high", "low", "close")}
        fields["volume"] = frame["volume"].to_numpy() / factor
        fields["factor"] = np.full(len(frame), factor)
        folder = out_dir / "features" / name.lower()
        folder.mkdir(exist_ok=True)
        for field, values in fields.items():
            dense = np.full(last - first + 1, np.nan, dtype="<f4")
            dense[index - first] = values
            data = np.concatenate([np.array([first], "<f4"), dense]).tobytes()
            path = folder / f"{field}.day.bin"
            write_through(path, partial(_write_bytes, data))
        paths.append(folder)
    write_through(out_dir / "instruments" / "all.txt",
                     lambda p: p.write_text("".join(instruments), "utf-8"))
    return paths


def write_long(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """One ``bars.parquet`` with every stock's rows and a ``ts_code`` column."""
    table = pa.Table.from_pandas(pd.concat(frames.values(), ignore_index=True),
                                 preserve_index=False, nthreads=1)
    path = out_dir / "bars.parquet"
    write_through(path, partial(pq.write_table, table, compression="zstd"))
    return [path]


_AKSHARE = {"date": "日期", "ts_code": "股票代码", "open": "开盘", "close": "收盘",
            "high": "最高", "low": "最低", "volume": "成交量"}


def write_akshare(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """AkShare's ``stock_zh_a_hist`` CSVs: Chinese headers, bare-code file names and codes."""
    paths = []
    for code, frame in frames.items():
        out = frame.rename(columns=_AKSHARE)[list(_AKSHARE.values())].copy()
        out["日期"] = frame["date"].dt.strftime("%Y-%m-%d")
        out["股票代码"] = code[:6]
        out["成交额"] = frame["close"] * frame["volume"]
        path = out_dir / f"{code[:6]}.csv"
        write_through(path, partial(_to_csv, out))
        paths.append(path)
    return paths


_TDX_EXPORT_HEADER = "日期\t开盘\t最高\t最低\t收盘\t成交量\t成交额"


def write_tdx_export(out_dir: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """TongDaXin's 数据导出 files: ``SH#600000.txt`` in GBK, a title line saying 不复权
    (the generated prices are unadjusted), the header, tab-separated rows dated
    ``YYYY/MM/DD`` and the closing ``数据来源:通达信`` line, with Windows line ends."""
    paths = []
    for code, frame in frames.items():
        rows = pd.DataFrame({
            "date": frame["date"].dt.strftime("%Y/%m/%d"),
            **{name: frame[name].map("{:.2f}".format) for name in ("open", "high", "low",
                                                                    "close")},
            "volume": frame["volume"].astype(np.int64).astype(str),
            "amount": (frame["close"] * frame["volume"]).map("{:.2f}".format)})
        lines = [f"{code[:6]} 股票{code[:6]} 日线 不复权", _TDX_EXPORT_HEADER,
                 *("\t".join(row) for row in rows.itertuples(index=False, name=None)),
                 "数据来源:通达信", ""]
        path = out_dir / f"{code[7:]}#{code[:6]}.txt"
        write_through(path, partial(_write_bytes, "\r\n".join(lines).encode("gbk")))
        paths.append(path)
    return paths


def _write_bytes(data: bytes, path: Path) -> None:
    path.write_bytes(data)


def _to_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


WRITERS: dict[str, Callable[[Path, dict[str, pd.DataFrame]], list[Path]]] = {
    "tdx": write_tdx, "tdx-install": write_tdx_install, "qlib": write_qlib, "long": write_long,
    "akshare": write_akshare, "tdx-export": write_tdx_export}
