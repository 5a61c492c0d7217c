"""Exceptions the engine raises at its boundary, each naming what to fix."""

from __future__ import annotations

from pathlib import Path


def _rebuild(cls: type[BacktestError], args: tuple[object, ...],
             state: dict[str, object]) -> BacktestError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class BacktestError(Exception):
    """Base class of every error the engine reports to a user.

    Errors pickle with their attributes (``file``, ``field``, ...), so an error raised
    in a worker process reaches the caller as itself.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


class DataError(BacktestError):
    """A data file, stock list or stock code is unusable.

    ``file``, ``code``, ``field`` and ``row`` locate the problem so callers (CLI,
    GUI) can show it without parsing the message.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        code: str | None = None,
        field: str | None = None,
        row: str | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = str(file) if file is not None else None
        self.code = code
        self.field = field
        self.row = row
        self.rule = rule


class ConfigError(BacktestError, ValueError):
    """A configuration value is invalid; ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Cancelled(BacktestError):  # noqa: N818 (a state, not a fault)
    """The caller cancelled the run; no partial result is returned."""


class ClusterError(BacktestError):
    """A Dask cluster cannot be used: a bad address, Dask missing, the scheduler out of
    reach or lost during a job; ``address`` names the cluster."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class StrategyError(BacktestError):
    """A strategy file cannot be used: it does not load, lacks ``NAME``, ``PARAMS`` or
    ``signals``, returns the wrong arrays, raises, or looks ahead (SPEC §3b). ``file``
    names the file and ``line`` the line of the fault, where there is one."""

    def __init__(self, message: str, *, file: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
