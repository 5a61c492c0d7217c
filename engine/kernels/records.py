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


class ExitReason(IntEnum):
    """Why a position was closed (SPEC §3c); when several apply on one bar, the lowest
    code names it. ``END``: still open when the run ends."""

    SIGNAL = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2
    TRAILING_STOP = 3
    MAX_HOLD = 4
    END = 5


#: ``fill_dt.exit_reason`` of a buy (no exit).
NO_EXIT = -1

EXIT_NAMES: dict[ExitReason, str] = {
    ExitReason.SIGNAL: "signal",
    ExitReason.STOP_LOSS: "stop_loss",
    ExitReason.TAKE_PROFIT: "take_profit",
    ExitReason.TRAILING_STOP: "trailing_stop",
    ExitReason.MAX_HOLD: "max_hold",
    ExitReason.END: "end",
}

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
#: ``cash_after`` is the pool's cash (shared mode) or the sleeve's cash (per-stock mode);
#: ``exit_reason`` is a sell's ``ExitReason`` (``NO_EXIT`` for a buy).
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
        ("exit_reason", np.int8),
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
