"""Market data and result buffers shared with worker processes without pickling them.

Workers attach to a run's aligned arrays by memory-mapping the aligned cache entry the
parent loaded them from, or, when the data is not in the cache, through one
``multiprocessing.shared_memory`` block the parent fills once per run. Either way a
task carries only a small ``DataRef`` (paths or a block name, codes, calendar), never
the price arrays. Workers write large outputs (RSI, signals, sleeve equity) into
``SharedArrays`` blocks the parent created, so results travel back without pickling too.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from engine.data.align import PLANES, AlignedArrays
from engine.data.cache import CHECKSUM_FILE, DamagedEntryError, open_entry
from engine.data.loader import MarketData
from engine.errors import DataError

log = logging.getLogger(__name__)

#: (shape, dtype string) of each named array in a block.
Layout = dict[str, tuple[tuple[int, ...], str]]

_ALIGN = 64
_ATTACHED: OrderedDict[str, tuple[MarketData, SharedArrays | None]] = OrderedDict()
_KEEP_ATTACHED = 2


class SharedArrays:
    """Named arrays laid out in one shared-memory block.

    The parent creates the block (``create=True``) and finally ``unlink``s it; a worker
    attaches by ``handle()`` and ``close``s its view when done.
    """

    def __init__(self, layout: Layout, name: str | None = None) -> None:
        self.layout = layout
        offsets, size = {}, 0
        for key, (shape, dtype) in layout.items():
            offsets[key] = size
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            size += -(-nbytes // _ALIGN) * _ALIGN
        self._owner = name is None
        self._shm = shared_memory.SharedMemory(name=name, create=self._owner, size=max(size, 1))
        self.arrays: dict[str, np.ndarray] = {
            key: np.ndarray(shape, dtype=dtype, buffer=self._shm.buf, offset=offsets[key])
            for key, (shape, dtype) in layout.items()
        }

    @property
    def name(self) -> str:
        """The block's system-wide name."""
        return self._shm.name

    @property
    def nbytes(self) -> int:
        """Size of the block in bytes."""
        return self._shm.size

    def handle(self) -> tuple[str, Layout]:
        """What a worker needs to attach (see ``attach``)."""
        return self.name, self.layout

    @classmethod
    def attach(cls, handle: tuple[str, Layout]) -> SharedArrays:
        """Attach to a block created by another process."""
        name, layout = handle
        return cls(layout, name=name)

    def close(self) -> None:
        """Drop this process's view (the arrays must not be used afterwards)."""
        self.arrays.clear()
        try:
            self._shm.close()
        except BufferError:  # a numpy view still alive; the mapping goes with the process
            log.debug("shared block %s still has views; leaving it mapped", self.name)

    def unlink(self) -> None:
        """Close and destroy the block (parent only)."""
        self.close()
        if self._owner:
            with suppress(FileNotFoundError):
                self._shm.unlink()


@dataclass(frozen=True)
class DataRef:
    """How a worker finds a run's market data: a cache entry folder or a shared block.

    A cache entry holds everything (codes in ``meta.json``, the calendar), so its
    reference is a path and a few numbers; a shared block's reference adds the codes.
    """

    key: str
    kind: str  # "cache" or "shm"
    location: str
    start_index: int
    fingerprint: str
    shm_layout: Layout | None = None
    codes: tuple[str, ...] = ()


def share_market_data(data: MarketData) -> tuple[DataRef, SharedArrays | None]:
    """A reference workers can attach to, plus the shared block to unlink after the run
    (None when the data comes from the aligned cache, which needs no copy)."""
    written = None
    if data.cache_path is not None:
        # The checksum file's identity names this instance of the entry: a rebuilt entry
        # (after damage) has a new one, so no warm worker reuses its map of the old files.
        with suppress(OSError):  # the entry is gone (another process pruned it): copy
            written = (data.cache_path / CHECKSUM_FILE).stat()
    if data.cache_path is not None and written is not None:
        location = str(data.cache_path)
        key = f"cache:{location}:{data.fingerprint}:{written.st_ino}:{written.st_mtime_ns}"
        return DataRef(key=key, kind="cache", location=location,
                       start_index=data.start_index, fingerprint=data.fingerprint), None
    arrays = {"prices": data.arrays.prices, "tradable": data.arrays.tradable,
              "calendar": data.arrays.calendar}
    block = SharedArrays({k: (v.shape, v.dtype.str) for k, v in arrays.items()})
    for name, array in arrays.items():
        block.arrays[name][...] = array
    return DataRef(key=f"shm:{block.name}", kind="shm", location=block.name,
                   start_index=data.start_index, fingerprint=data.fingerprint,
                   shm_layout=block.layout, codes=data.codes), block


def _open(ref: DataRef) -> tuple[dict[str, np.ndarray], tuple[str, ...], SharedArrays | None]:
    """The arrays (prices, tradable, calendar), the codes and the block."""
    if ref.kind == "cache":
        try:
            aligned, meta = open_entry(Path(ref.location))
        except DamagedEntryError as exc:
            raise DataError(f"aligned cache entry {ref.location} changed after the run loaded "
                            f"it ({exc}); run again to rebuild it") from exc
        codes = tuple(meta["codes"])
        arrays = {"prices": aligned.prices, "tradable": aligned.tradable,
                  "calendar": aligned.calendar}
        return arrays, codes, None
    assert ref.shm_layout is not None
    block = SharedArrays.attach((ref.location, ref.shm_layout))
    for name in ("prices", "tradable"):
        block.arrays[name].flags.writeable = False  # the kernels' read-only signatures
    return dict(block.arrays), ref.codes, block


def attach_market_data(ref: DataRef) -> MarketData:
    """The run's ``MarketData`` in this (worker) process, attached once and then reused.

    A warm worker keeps the last few datasets mapped, so the next run on the same data
    attaches for free; an evicted shared block is closed (its owner has unlinked it).
    """
    if ref.key in _ATTACHED:
        _ATTACHED.move_to_end(ref.key)
        return _with_start(_ATTACHED[ref.key][0], ref.start_index)
    arrays, codes, block = _open(ref)
    prices, tradable, calendar = arrays["prices"], arrays["tradable"], arrays["calendar"]
    expected = (len(PLANES), calendar.size, len(codes))
    if prices.shape != expected or tradable.shape != expected[1:]:
        raise RuntimeError(f"shared market data at {ref.location} has shape {prices.shape}, "
                           f"expected {expected}; was the cache entry replaced?")
    data = MarketData(
        codes=codes, dates=calendar.astype("datetime64[D]"), start_index=ref.start_index,
        arrays=AlignedArrays(calendar, prices, tradable),
        files=(), excluded=(), warnings=(),
        fingerprint=ref.fingerprint, from_cache=ref.kind == "cache",
        cache_path=Path(ref.location) if ref.kind == "cache" else None,
    )
    _ATTACHED[ref.key] = (data, block)
    while len(_ATTACHED) > _KEEP_ATTACHED:
        _, (_, old) = _ATTACHED.popitem(last=False)
        if old is not None:
            old.close()
    return data


def _with_start(data: MarketData, start_index: int) -> MarketData:
    """``data`` for a run that starts at row ``start_index``: one cache entry (one end
    date) serves runs with different starts, so the start always comes from the ref."""
    return data if data.start_index == start_index else \
        dataclasses.replace(data, start_index=start_index)
