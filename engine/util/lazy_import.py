"""Modules imported on first use, so a plain run never pays for what it does not touch.

pandas (0.4-1 s to import) and ``pyarrow.compute`` / ``.csv`` / ``.parquet`` serve the
cold paths: reading data files, building DataFrames, exporting. A cached ``backtest run``
needs none of them, so the modules on its path bind them with ``lazy_module``: a
stand-in whose first attribute access imports the real module (through the ordinary,
thread-safe import system: the read pool's threads may all touch it at once, which the
standard library's ``LazyLoader`` does not survive before Python 3.12). Written so that
type checkers see the real module::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = lazy_module("pandas")
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


class _Deferred(ModuleType):
    """Stands for the module of its name until an attribute is asked for."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(vars(module))  # later lookups find the names directly
        return getattr(module, attr)


def lazy_module(name: str) -> ModuleType:
    """The module ``name``: itself if already imported, else a stand-in that imports it
    at the first attribute access (a module that is not installed fails here, at once)."""
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    return _Deferred(name)
