"""Arrow columns made straight from NumPy buffers, zero-copy where Arrow's layout allows.

``pyarrow.array`` imports pandas the first time it is called (to check whether its
input is a pandas object), which costs a fresh process half a second. A run's result
tables are made here instead, with ``pyarrow.Array.from_buffers``, so a plain
``backtest run`` never imports pandas; the columns convert to exactly the DataFrame
dtypes the tables always had (``timestamp[s]`` -> ``datetime64[s]``, ``large_string`` ->
``str``, dictionary -> Categorical).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

#: Arrow type of each NumPy number kind and size.
_NUMBER_TYPES: dict[str, pa.DataType] = {
    "i1": pa.int8(), "i2": pa.int16(), "i4": pa.int32(), "i8": pa.int64(),
    "u1": pa.uint8(), "u2": pa.uint16(), "u4": pa.uint32(), "u8": pa.uint64(),
    "f4": pa.float32(), "f8": pa.float64(),
}


def _buffer(values: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.ascontiguousarray(values))


def numbers(values: np.ndarray) -> pa.Array:
    """A NumPy array of numbers, booleans or datetimes as an Arrow column of that type
    (datetime64 of any unit as a timestamp of the same unit). No nulls: NaN stays a
    value, as in the DataFrame."""
    values = np.asarray(values)
    n = int(values.size)
    if values.dtype.kind == "b":
        packed = np.packbits(values.reshape(-1), bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), n, [None, _buffer(packed)])
    if values.dtype.kind == "M":
        unit = np.datetime_data(values.dtype)[0]
        return pa.Array.from_buffers(pa.timestamp(unit), n,
                                     [None, _buffer(values.view(np.int64))])
    key = f"{values.dtype.kind}{values.dtype.itemsize}"
    if key not in _NUMBER_TYPES:
        raise TypeError(f"no Arrow number column for NumPy dtype {values.dtype}")
    return pa.Array.from_buffers(_NUMBER_TYPES[key], n, [None, _buffer(values)])


def strings(values: Sequence[str] | np.ndarray) -> pa.Array:
    """Text values as an Arrow ``large_string`` column."""
    encoded = [str(v).encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.Array.from_buffers(pa.large_string(), len(encoded),
                                 [None, _buffer(offsets), pa.py_buffer(b"".join(encoded))])


def picked_strings(index: np.ndarray, labels: Sequence[str]) -> pa.Array:
    """``labels[index]`` as an Arrow ``large_string`` column, each label encoded once
    (a stock-code column from stock indices)."""
    index = np.asarray(index, dtype=np.int64)
    encoded = [str(label).encode() for label in labels]
    width = max((len(e) for e in encoded), default=0) or 1
    table = np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(-1, width)
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)[index]
    offsets = np.zeros(index.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows = table[index]
    data = rows[np.arange(rows.shape[1]) < lengths[:, None]]  # row-major: row by row
    return pa.Array.from_buffers(pa.large_string(), int(index.size),
                                 [None, _buffer(offsets), _buffer(data)])


def categories(index: np.ndarray, labels: Sequence[str]) -> pa.DictionaryArray:
    """Codes into ``labels`` as an Arrow dictionary column (a pandas Categorical whose
    categories are ``labels``, in that order)."""
    codes = np.asarray(index).astype(np.int8)
    return pa.DictionaryArray.from_buffers(pa.dictionary(pa.int8(), pa.large_string()),
                                           int(codes.size), [None, _buffer(codes)],
                                           strings(labels))


def record_batch(columns: Mapping[str, pa.Array | np.ndarray]) -> pa.RecordBatch:
    """Columns (Arrow arrays, or NumPy arrays made into ``numbers``) as one record batch
    in the given order."""
    arrays = [c if isinstance(c, pa.Array) else numbers(c) for c in columns.values()]
    return pa.record_batch(arrays, names=list(columns))
