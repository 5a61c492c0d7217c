"""Integer enums and structured record dtypes shared by the jitted kernels and Python."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Side(IntEnum):
    """Direction of a fill or a rejected order."""

    BUY = 0
    SELL = 1


class Reason(IntEnum):
    """Why an order was rejected (SPEC §4-5)."""

    LOT = 0
    LIMIT_UP = 1
    LIMIT_DOWN = 2
    SUSPENDED = 3
    T1 = 4
    MAX_POSITIONS = 5


#: Status code of a sell attempt that may go ahead (not a ``Reason``).
NO_REJECTION = -1

SIDE_NAMES: dict[Side, str] = {Side.BUY: "buy", Side.SELL: "sell"}

REASON_NAMES: dict[Reason, str] = {
    Reason.LOT: "lot",
    Reason.LIMIT_UP: "limit_up",
    Reason.LIMIT_DOWN: "limit_down",
    Reason.SUSPENDED: "suspended",
    Reason.T1: "t+1",
    Reason.MAX_POSITIONS: "max_positions",
}

#: One executed order. ``day`` is the row index into the aligned calendar arrays
#: (not the run-day index); ``stock`` is the column index (= code order).
#: ``tax`` is the stamp tax, ``transfer_fee`` the transfer fee (SPEC §4);
#: ``cash_after`` is the pool's cash (shared mode) or the sleeve's cash (per-stock mode).
fill_dt = np.dtype(
    [
        ("day", np.int64),
        ("stock", np.int64),
        ("side", np.int8),
        ("shares", np.int64),
        ("price", np.float64),
        ("commission", np.float64),
        ("tax", np.float64),
        ("transfer_fee", np.float64),
        ("cash_after", np.float64),
    ]
)

#: One rejected order attempt; ``reason`` holds a ``Reason`` code.
rejection_dt = np.dtype(
    [
        ("day", np.int64),
        ("stock", np.int64),
        ("side", np.int8),
        ("reason", np.int8),
    ]
)
