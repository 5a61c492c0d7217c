"""One Qt signal naming convention in the window: snake_case, named for what happened."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from PySide6.QtCore import Signal

import gui

#: Past participles that do not end in "ed".
IRREGULAR = {"caught"}
NAME = re.compile(r"^_?[a-z]+(_[a-z]+)*$")


def _signals() -> dict[str, str]:
    """Every Signal declared in a gui module: "module.Class.name" -> name."""
    found = {}
    for info in pkgutil.iter_modules(gui.__path__):
        module = importlib.import_module(f"gui.{info.name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for attr, value in vars(cls).items():
                if isinstance(value, Signal):
                    found[f"{info.name}.{cls_name}.{attr}"] = attr
    return found


def test_the_window_declares_signals() -> None:
    assert len(_signals()) > 15


def test_every_signal_is_snake_case_and_names_what_happened() -> None:
    wrong = [where for where, name in _signals().items()
             if not NAME.match(name)
             or not (name.endswith("ed") or name.rsplit("_", 1)[-1] in IRREGULAR)]
    assert wrong == [], ("signals are snake_case past participles ('finished', "
                         f"'cell_clicked', 'run_requested'): {wrong}")
