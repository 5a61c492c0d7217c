"""How the run store encodes a result: its tables as Arrow IPC blobs, its config, metrics
and lists as JSON text, its ``runs`` row, and the checksums that seal both.

Everything here is plain values in, plain values out; the SQL lives in
``engine.results.store`` (the ``RunStore``) and ``engine.results.store_schema`` (the
tables, versions and opening checks).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import xxhash

from engine.config import BacktestConfig
from engine.results.tables import AnyTable, BacktestResult, to_arrow

if TYPE_CHECKING:  # pandas is imported where a table is made: off a run's save
    import pandas as pd

#: ``frames.format`` of every stored table.
FRAME_FORMAT = "arrow-ipc"
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(
    compression="zstd" if pa.Codec.is_available("zstd") else None)
#: The ``runs`` columns sealed by its ``checksum`` (what the result is made of).
SEALED_COLUMNS = ("created", "n_stocks", "start_date", "end_date", "period", "oversold",
                  "overbought", "capital_mode", "fill", "total_return", "sharpe",
                  "max_drawdown", "trades", "fingerprint", "config", "metrics", "timings",
                  "codes", "warnings")


def run_checksum(values: Sequence[Any]) -> str:
    """xxh3-64 (hex) of a run's ``SEALED_COLUMNS`` values, in that order."""
    return xxhash.xxh3_64_hexdigest(json.dumps(list(values), ensure_ascii=False).encode())


def frame_checksum(role: str, name: str, n_rows: int, data: bytes) -> str:
    """xxh3-64 (hex) of a stored table's bytes together with what they are."""
    digest = xxhash.xxh3_64(f"{role}\0{name}\0{n_rows}\0".encode())
    digest.update(data)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} value {value!r}")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def encode_frame(frame: AnyTable) -> bytes:
    """A table as one Arrow IPC stream of one record batch (exact values; a DataFrame's
    dtypes are kept in the pandas metadata, and an Arrow table's types map to the same
    pandas dtypes: ``engine.results.tables``)."""
    # One record batch, even for an empty table: it carries the categories of an empty
    # categorical column, which a table without chunks would lose.
    batch = _one_batch(to_arrow(frame))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=_IPC_OPTIONS) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def _one_batch(table: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
    """``table`` as a single record batch (a loaded table is one already)."""
    if isinstance(table, pa.RecordBatch):
        return table
    batches = table.to_batches()
    if len(batches) == 1:
        return batches[0]
    if table.num_rows:
        return table.combine_chunks().to_batches()[0]
    return pa.RecordBatch.from_pylist([], schema=table.schema)


def decode_table(data: bytes) -> pa.Table:
    """The table ``encode_frame`` wrote, in Arrow form."""
    return pa.ipc.open_stream(data).read_all()


def decode_frame(data: bytes) -> pd.DataFrame:
    """The table ``encode_frame`` wrote, as a DataFrame."""
    return decode_table(data).to_pandas()


def _float_or_none(value: Any) -> float | None:
    """A metric as an SQL REAL (NaN and missing both become NULL)."""
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else value


def run_row(result: BacktestResult, name: str, notes: str) -> dict[str, Any]:
    """The ``runs`` columns of a result, with the ``checksum`` of its sealed ones."""
    c, m = result.config, result.metrics
    row: dict[str, Any] = {
        "name": name, "notes": notes,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "n_stocks": len(result.codes), "start_date": c.start.isoformat(),
        "end_date": c.end.isoformat(), "period": c.period, "oversold": c.oversold,
        "overbought": c.overbought, "capital_mode": c.capital_mode, "fill": c.fill,
        "total_return": _float_or_none(m.get("total_return")),
        "sharpe": _float_or_none(m.get("sharpe")),
        "max_drawdown": _float_or_none(m.get("max_drawdown")),
        "trades": int(m.get("trades", 0)),
        "fingerprint": result.fingerprint, "config": _dumps(c.to_dict()),
        "metrics": _dumps(m), "timings": _dumps(result.timings),
        "codes": _dumps(list(result.codes)), "warnings": _dumps(list(result.warnings)),
    }
    row["checksum"] = run_checksum([row[name] for name in SEALED_COLUMNS])
    return row


def decode_result(row: Mapping[str, Any], tables: dict[str, pa.Table]) -> BacktestResult:
    """The result ``run_row`` and ``encode_frame`` stored: ``row`` holds its
    ``SEALED_COLUMNS``, ``tables`` its decoded tables by name."""
    config, metrics, timings, fingerprint, codes, warnings = (
        row[name] for name in ("config", "metrics", "timings", "fingerprint", "codes",
                               "warnings"))
    return BacktestResult(
        config=BacktestConfig.from_dict(json.loads(config)),
        codes=tuple(json.loads(codes)), tables=tables, metrics=json.loads(metrics),
        timings=json.loads(timings), fingerprint=fingerprint,
        warnings=tuple(json.loads(warnings)))
