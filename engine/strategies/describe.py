"""What a strategy file offers, read without running it: its ``NAME`` and ``PARAMS``
(SPEC §3b), for the window's strategy list and fields.

The file is parsed (``ast``), not imported, so listing a folder of strategies neither
runs the user's code nor imports numba in the window's process. ``NAME`` and ``PARAMS``
must then be literals, as SPEC §3b's examples write them; a file whose ``PARAMS`` is
computed is described with ``error`` set, and still runs (the engine imports it).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import DataError
from engine.strategies.catalog import ParamValue
from engine.util.text import decode_text


@dataclass(frozen=True)
class StrategyInfo:
    """A strategy file as the window lists it: its path, ``NAME``, the parameters'
    defaults, the allowed words of those that take words, and a one-line ``error`` when
    the file cannot be described (then ``name`` is the file's name)."""

    path: Path
    name: str
    defaults: dict[str, ParamValue] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None


def list_strategy_files(folder: Path) -> list[Path]:
    """The ``*.py`` files of ``folder`` (not those starting with ``_``), by name; none
    when the folder does not exist."""
    try:
        return sorted((p for p in folder.iterdir()
                       if p.suffix.lower() == ".py" and not p.name.startswith("_")
                       and p.is_file()), key=lambda p: p.name.lower())
    except OSError:
        return []


def describe_file(path: Path) -> StrategyInfo:
    """``NAME`` and ``PARAMS`` of the strategy file at ``path``, read from its source."""
    try:
        source = decode_text(path.read_bytes(), path, f"strategy file {path.name}")
        tree = ast.parse(source, filename=str(path))
    except OSError as exc:
        return StrategyInfo(path, path.name, error=f"{path.name} cannot be read: "
                                                   f"{exc.strerror}")
    except DataError as exc:
        return StrategyInfo(path, path.name, error=str(exc))
    except SyntaxError as exc:
        return StrategyInfo(path, path.name, error=f"strategy file {path.name} line "
                                                   f"{exc.lineno}: syntax error: {exc.msg}")
    values = _literals(tree, ("NAME", "PARAMS"))
    name, params = values.get("NAME"), values.get("PARAMS")
    if not isinstance(name, str) or not name.strip():
        return StrategyInfo(path, path.name, error=f"strategy file {path.name}: NAME is not "
                                                   "a text written as a literal")
    if not isinstance(params, dict) or not all(_is_default(v) for v in params.values()):
        return StrategyInfo(path, name, error=f"strategy file {path.name}: PARAMS is not a "
                                              "literal dict of numbers, true/false or tuples "
                                              "of words")
    defaults = {str(k): (v[0] if isinstance(v, tuple) else v) for k, v in params.items()}
    choices = {str(k): v for k, v in params.items() if isinstance(v, tuple)}
    return StrategyInfo(path, name, defaults, choices)


def _is_default(value: object) -> bool:
    if isinstance(value, tuple):
        return bool(value) and all(isinstance(word, str) for word in value)
    return isinstance(value, int | float | bool)


def _literals(tree: ast.Module, names: tuple[str, ...]) -> dict[str, object]:
    """The literal values assigned to ``names`` at the module's top level (``NAME = ...``,
    ``NAME, PARAMS = ..., ...``); the last assignment wins, a non-literal is left out."""
    found: dict[str, object] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            pairs: list[tuple[ast.expr, ast.expr]] = []
            if isinstance(target, ast.Name):
                pairs = [(target, node.value)]
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) \
                    and len(target.elts) == len(node.value.elts):
                pairs = list(zip(target.elts, node.value.elts, strict=True))
            for name_node, value_node in pairs:
                if isinstance(name_node, ast.Name) and name_node.id in names:
                    try:
                        found[name_node.id] = ast.literal_eval(value_node)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        found.pop(name_node.id, None)
    return found
