"""Warnings said once per process: a folder loaded again (each scan, bar count and run
reloads it) must not print the same warning to the terminal each time."""

from __future__ import annotations

import logging
import threading

#: Distinct messages remembered at most; past that, the oldest are forgotten first.
REMEMBERED = 1024

_said: dict[tuple[str, str, str], None] = {}
_lock = threading.Lock()


def warn_once(log: logging.Logger, message: str, about: str = "") -> None:
    """``log.warning(message)`` unless this process has said it to ``log`` before about
    the same thing (``about``: e.g. the folder or the data's fingerprint; the same words
    about another folder are said again)."""
    key = (log.name, about, message)
    with _lock:
        if key in _said:
            return
        _said[key] = None
        if len(_said) > REMEMBERED:
            del _said[next(iter(_said))]
    log.warning(message)
