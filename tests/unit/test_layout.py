"""The layout is the architecture: imports run one way, tools -> local_stack -> jobs ->
connectors, and no module imports itself back through others. Read from the source (every
import, also those inside functions), so a new arrow the wrong way fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.unit

# higher imports lower, never the other way round
LAYERS = {"tools": 4, "local_stack": 3, "jobs": 2, "connectors": 1}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the project's modules it imports (a package import counts as its
    ``__init__``; ``from pkg import name`` as ``pkg.name`` where that is a module)."""
    files = [f for pkg in LAYERS for f in (REPO_ROOT / pkg).rglob("*.py")]
    modules = {_module(f) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        found: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in LAYERS:
                    while name not in modules and "." in name:
                        name = name.rsplit(".", 1)[0]
                    if name in modules:
                        found.add(name)
        me = _module(f)
        graph[me] = found - {me}
    return graph


def test_imports_run_one_way():
    wrong = [(a, b) for a, targets in _imports().items() for b in targets
             if LAYERS[b.split(".")[0]] > LAYERS[a.split(".")[0]]]
    assert not wrong, f"imports against the layers: {sorted(wrong)}"


def test_the_product_imports_neither_tooling_nor_the_local_stack():
    product = {m: t for m, t in _imports().items() if m.split(".")[0] in ("jobs", "connectors")}
    assert "jobs.counters.main" in product and "connectors.events" in product
    wrong = [(a, b) for a, targets in product.items() for b in targets
             if b.split(".")[0] not in ("jobs", "connectors")]
    assert not wrong, wrong


def test_no_import_loops():
    graph = _imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not loops, f"modules that import each other: {loops}"
