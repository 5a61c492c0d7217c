"""Dependencies only point down (issue 22): the project's import graph has no cycle.

The graph is read from the source with ``ast``, not by importing anything. Its nodes are
the modules under ``engine/`` and ``gui/`` (a package's ``__init__.py`` is the package's
module). What counts as an edge:

* every ``import a.b`` and ``from a.b import c`` that runs: at module level and inside
  functions and classes alike (a function-level import is a real dependency, only a
  later one). Imports in the body of ``if TYPE_CHECKING:`` are left out: they never
  execute (the ``else:`` branch of such an ``if`` does, and counts);
* ``from a.b import c`` goes to the module ``a.b.c`` where that is a module file, else
  to ``a.b`` (``c`` is a name defined there); relative imports resolve the same way;
* importing ``engine.data.loader`` also imports the packages ``engine`` and
  ``engine.data``, but that is no edge to their ``__init__``: every module would
  otherwise meet every other through ``engine/__init__.py``.

Imports of anything outside the project are kept apart, per module, for the other rules
checked here: the engine never imports Qt or the GUI, and only ``engine/kernels/*``
imports numba.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "gui")

#: Top-level names of the Qt bindings and of the plotting library built on them.
QT = frozenset({"PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qtpy"})


@dataclass
class ImportGraph:
    """Edges between project modules, and each module's imports from outside."""

    edges: dict[str, set[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree`` outside an ``if TYPE_CHECKING:`` body."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> ImportGraph:
    """The import graph of the ``packages`` (folders under ``root``), per the module
    docstring's rules."""
    files = {_module_name(root, path): path
             for package in packages for path in sorted((root / package).rglob("*.py"))}
    graph = ImportGraph()

    def resolve(module: str, targets: set[str], external: set[str]) -> None:
        if module in files:
            targets.add(module)
        elif module.split(".")[0] in files:  # a missing project module: its nearest parent
            while module not in files:
                module = module.rpartition(".")[0]
            targets.add(module)
        else:
            external.add(module)

    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        external: set[str] = set()
        is_package = path.name == "__init__.py"
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    resolve(alias.name, targets, external)
                continue
            base = node.module or ""
            if node.level:  # relative: from the package this module is in (or is)
                anchor = name.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[:len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                resolve(submodule if submodule in files else base, targets, external)
        targets.discard(name)
        graph.edges[name] = targets
        graph.external[name] = external
    return graph


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted,
    so every import cycle is one entry listing the modules caught in it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long chain of imports cannot reach the recursion limit.
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(cycles)


def assert_no_cycles(edges: dict[str, set[str]]) -> None:
    """Fails listing each cycle's modules and the imports between them."""
    lines = []
    for members in import_cycles(edges):
        inside = set(members)
        lines.append("cycle: " + ", ".join(members))
        lines.extend(f"    {module} -> {target}" for module in members
                     for target in sorted(edges[module] & inside))
    assert not lines, "import cycles (break them by passing things in):\n" + "\n".join(lines)


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return import_graph(ROOT)


def test_the_graph_sees_every_module_and_known_imports(graph: ImportGraph) -> None:
    assert "engine" in graph.edges and "engine.kernels.simulate_nb" in graph.edges
    assert "gui.main_window" in graph.edges
    assert len(graph.edges) == sum(
        1 for package in PACKAGES for _ in (ROOT / package).rglob("*.py"))
    assert "numba" in graph.external["engine.kernels.simulate_nb"]
    assert any(target.startswith("engine.") for target in graph.edges["gui.main_window"])


def test_no_import_cycle(graph: ImportGraph) -> None:
    assert_no_cycles(graph.edges)


def test_the_engine_never_imports_qt_or_the_gui(graph: ImportGraph) -> None:
    offenders = {module: sorted(
        target for target in graph.external[module] if target.split(".")[0] in QT)
        for module in graph.edges if module.split(".")[0] == "engine"}
    assert not {module: qt for module, qt in offenders.items() if qt}
    into_gui = {module: sorted(target for target in targets if target.split(".")[0] == "gui")
                for module, targets in graph.edges.items() if module.split(".")[0] == "engine"}
    assert not {module: gui for module, gui in into_gui.items() if gui}


def test_only_the_kernels_import_numba(graph: ImportGraph) -> None:
    importers = {module for module, external in graph.external.items()
                 if any(target.split(".")[0] == "numba" for target in external)}
    assert importers  # the kernels do
    assert {module for module in importers if not module.startswith("engine.kernels.")} == set()


# ------------------------------------------------------------- the check itself


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_planted_cycle_is_found(tmp_path: Path) -> None:
    _write(tmp_path, {
        "fake/__init__.py": "",
        "fake/a.py": "from fake import b\n",
        "fake/b.py": "def later():\n    import fake.a\n",  # inside a function: still counts
        "fake/c.py": "import fake.a\n",  # depends on the cycle, is not in it
    })
    graph = import_graph(tmp_path, ["fake"])
    assert graph.edges["fake.a"] == {"fake.b"}  # the submodule, not the package
    assert import_cycles(graph.edges) == [["fake.a", "fake.b"]]
    with pytest.raises(AssertionError, match=r"cycle: fake\.a, fake\.b\n.*fake\.a -> fake\.b"):
        assert_no_cycles(graph.edges)


def test_relative_imports_and_longer_cycles_are_found(tmp_path: Path) -> None:
    _write(tmp_path, {
        "fake/__init__.py": "from .sub import x\n",
        "fake/sub/__init__.py": "x = 1\n",
        "fake/sub/one.py": "from . import two\n",
        "fake/sub/two.py": "from ..sub.three import y\n",
        "fake/sub/three.py": "from fake.sub.one import z\ny = 2\n",
    })
    edges = import_graph(tmp_path, ["fake"]).edges
    assert edges["fake"] == {"fake.sub"}
    assert import_cycles(edges) == [["fake.sub.one", "fake.sub.three", "fake.sub.two"]]


def test_type_checking_imports_and_parent_packages_make_no_edge(tmp_path: Path) -> None:
    _write(tmp_path, {
        "fake/__init__.py": "from fake.deep.leaf import name\n",
        "fake/deep/__init__.py": "",
        "fake/deep/leaf.py": (
            "from typing import TYPE_CHECKING\n"
            "import numba\n"
            "if TYPE_CHECKING:\n    import fake\nelse:\n    import fake.other\n"),
        "fake/other.py": "",
    })
    graph = import_graph(tmp_path, ["fake"])
    assert graph.edges["fake"] == {"fake.deep.leaf"}  # not fake.deep's __init__ too
    assert graph.edges["fake.deep.leaf"] == {"fake.other"}  # the else branch runs
    assert graph.external["fake.deep.leaf"] == {"typing", "numba"}
    assert import_cycles(graph.edges) == []
