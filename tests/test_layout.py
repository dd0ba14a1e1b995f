"""The package's shape: no import cycle, no module hidden by a function, seams in one place."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import einsql

ROOT = Path(einsql.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """The einsql modules ``path`` imports at run time (not under ``TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("einsql"):
            found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("einsql"))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {
        name: {m for m in _runtime_imports(path) if m in modules and m not in (name, "einsql")}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert graph.get("einsql.lower")
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]  # the check can fail


def test_the_expression_ir_imports_no_planner_and_drivers_no_lowering() -> None:
    graph = import_graph()
    assert "einsql.planner" not in graph["einsql.expr"]
    assert not graph["einsql.iteration"] & {"einsql.evaluation", "einsql.drivers"}
    assert "einsql.reference" not in graph["einsql.expr"]
    for name, imports in graph.items():
        if name.startswith("einsql.drivers"):
            assert not imports & {"einsql.lower", "einsql.expr_lower", "einsql.iteration_sql"}


def test_no_module_is_hidden_by_a_function_of_its_name() -> None:
    for info in pkgutil.iter_modules(einsql.__path__):
        module = importlib.import_module(f"einsql.{info.name}")
        attribute = getattr(einsql, info.name, module)
        assert attribute is module, f"einsql.{info.name} is {attribute!r}, not the module"
