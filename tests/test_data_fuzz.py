"""Fuzzing the stock-file readers: random and mutated parquet and CSV files.

Every outcome is a correct load or a ``DataError`` naming the file; never a hang, another
exception or a wrong bar. A valid file must load bar for bar; a mutated one
either fails naming the file or loads bars that obey every rule of SPEC §1.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data.reader import read_file
from engine.data.validate import TICK, ValidBars, validate
from engine.errors import DataError

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FAR_END = int(np.datetime64("2100-01-01", "D").astype(np.int64))
HANG_GUARD_S = 60.0
SUFFIXES = (".parquet", ".csv")


@st.composite
def stock_frames(draw: st.DrawFn) -> pd.DataFrame:
    """A valid stock file's rows: unique dates in file order, consistent OHLC, some days
    without volume (suspended) and their prices NaN."""
    n = draw(st.integers(1, 25))
    offsets = draw(st.lists(st.integers(0, 4000), min_size=n, max_size=n, unique=True))
    cents = st.integers(1, 100_000)
    close = np.array(draw(st.lists(cents, min_size=n, max_size=n))) / 100
    open_ = np.array(draw(st.lists(cents, min_size=n, max_size=n))) / 100
    up = np.array(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))) / 100
    down = np.array(draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))) / 100
    volume = np.array(draw(st.lists(st.sampled_from([0, 100, 12_300, 9_999_900]),
                                    min_size=n, max_size=n)), dtype=float)
    volume[draw(st.integers(0, n - 1))] = 1000.0  # at least one traded day
    high = np.round(np.maximum(open_, close) + up, 2)
    low = np.maximum(np.round(np.minimum(open_, close) - down, 2), 0.01)
    frame = pd.DataFrame({
        "date": pd.Timestamp("2010-01-04") + pd.to_timedelta(offsets, unit="D"),
        "open": open_, "high": high, "low": low, "close": close, "volume": volume})
    frame.loc[volume == 0, ["open", "high", "low", "close"]] = np.nan
    return frame


def _write(frame: pd.DataFrame, folder: Path, suffix: str) -> Path:
    path = folder / f"000001_SZ{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@contextmanager
def _no_hang(seconds: float = HANG_GUARD_S) -> Iterator[None]:
    """Turn a reader that hangs into a test failure (POSIX; elsewhere a plain block).
    The limit is generous: it only catches a hang, it never measures speed."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def hung(signum: int, frame: object) -> None:
        raise AssertionError(f"a reader hung for {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load(path: Path) -> ValidBars:
    """Read and validate one file; a DataError must name it (and is raised)."""
    try:
        with _no_hang():
            bars = validate([read_file(path)], FAR_END, "forward")
    except DataError as exc:
        assert exc.file == str(path) and path.name in str(exc), str(exc)
        raise
    for error in bars.errors.values():
        assert error.file == str(path) and str(error).startswith(path.name), str(error)
        raise error
    return bars


def _assert_lawful(bars: ValidBars) -> None:
    """Bars that passed validation obey SPEC §1 (what a mutation may not smuggle in)."""
    v = {name: bars.column(name) for name in bars.values}
    for name in ("open", "high", "low", "close", "volume"):
        assert np.isfinite(v[name]).all() and (v[name] > 0).all(), name
    assert (np.maximum(v["open"], v["close"]) - v["high"] <= TICK + 1e-9).all()
    assert (v["low"] - np.minimum(v["open"], v["close"]) <= TICK + 1e-9).all()
    assert (np.diff(bars.dates) > 0).all()


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(frame=stock_frames())
def test_a_valid_random_file_loads_bar_for_bar(suffix: str, frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        bars = _load(_write(frame, Path(folder), suffix))
    traded = frame[frame["volume"] > 0].sort_values("date")
    expected = traded["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    np.testing.assert_array_equal(bars.dates, expected)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(bars.column(name), traded[name].to_numpy())


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few random flips, cuts, insertions or overwrites."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            chunk = draw(st.binary(min_size=1, max_size=16))
            out[at:at + len(chunk)] = chunk
    return bytes(out)


#: Cell texts a hand-edited or badly exported CSV holds.
HOSTILE_CELLS = ["", "inf", "-inf", "nan", "NaN", "1e309", "-1", "0", "abc", "１２", "2024-13-01",
                 "20240230", "9" * 40, "1,5", " 3.5 ", "null", "None", "\"", "TRUE"]


@st.composite
def csv_mutations(draw: st.DrawFn, frame: pd.DataFrame) -> str:
    """The frame as CSV text with hostile cells, a renamed or doubled header, or a
    ragged row."""
    lines = frame.to_csv(index=False).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        row = draw(st.integers(0, len(lines) - 1))
        cells = lines[row].split(",")
        kind = draw(st.sampled_from(["cell", "cell", "ragged", "header"]))
        if kind == "cell":
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(HOSTILE_CELLS))
        elif kind == "ragged":
            cells = cells[:draw(st.integers(0, len(cells)))]
        else:
            header = lines[0].split(",")
            header[draw(st.integers(0, len(header) - 1))] = draw(
                st.sampled_from(["close", "Close", "vol", "date", "x", ""]))
            lines[0] = ",".join(header)
            continue
        lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _outcome_is_lawful(path: Path) -> None:
    try:
        bars = _load(path)
    except DataError:
        return
    _assert_lawful(bars)


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(data=st.data(), frame=stock_frames())
def test_a_mutated_file_loads_lawful_bars_or_fails_naming_it(suffix: str, data: st.DataObject,
                                                             frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(frame, Path(folder), suffix)
        path.write_bytes(data.draw(byte_mutations(path.read_bytes())))
        _outcome_is_lawful(path)


@FUZZ
@given(data=st.data(), frame=stock_frames())
def test_hostile_csv_cells_load_lawful_bars_or_fail_naming_the_file(
        data: st.DataObject, frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "000001_SZ.csv"
        path.write_text(data.draw(csv_mutations(frame)), encoding="utf-8")
        _outcome_is_lawful(path)


@FUZZ
@given(blob=st.binary(max_size=300))
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_random_bytes_fail_naming_the_file(suffix: str, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"000001_SZ{suffix}"
        path.write_bytes((b"PAR1" if suffix == ".parquet" else b"") + blob)
        _outcome_is_lawful(path)


def _odd_columns(n: int) -> dict[str, pa.Array]:
    """Columns of types a stock file should not have, each of ``n`` values."""
    return {
        "list": pa.array([[1.0]] * n), "struct": pa.array([{"a": 1}] * n),
        "bytes": pa.array([b"\xff\xfe"] * n), "bool": pa.array([True] * n),
        "time": pa.array(range(n), pa.time64("us")),
        "duration": pa.array(range(n), pa.duration("s")),
        "null": pa.nulls(n), "huge int": pa.array([2**62] * n),
        "decimal": pa.array([10**30] * n, pa.decimal128(38, 0)),
        "dictionary": pa.array(["1.5"] * n).dictionary_encode(),
        "far timestamp": pa.array([2**62] * n, pa.timestamp("ns")),
        "float": pa.array([20240102.5] * n), "text": pa.array(["x"] * n),
    }


@FUZZ
@given(frame=stock_frames(), column=st.sampled_from(["date", "open", "high", "low", "close",
                                                     "volume", "name", "list_date",
                                                     "pre_close", "is_st", "adj_factor"]),
       kind=st.sampled_from(sorted(_odd_columns(1))))
def test_a_parquet_column_of_any_type_loads_lawful_bars_or_fails_naming_the_file(
        frame: pd.DataFrame, column: str, kind: str) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    odd = _odd_columns(len(frame))[kind]
    at = table.schema.get_field_index(column)
    table = table.set_column(at, column, odd) if at >= 0 else table.append_column(column, odd)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "000001_SZ.parquet"
        pq.write_table(table, path)
        _outcome_is_lawful(path)
