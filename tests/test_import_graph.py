"""The three libraries (acquisition/, analysis/, protocols/) have no import circles, keep their layers,
and every one of their modules imports.

The graph is read from the source with :mod:`ast` (no module is run to build it): an edge A -> B for
every ``import B`` / ``from B import x`` in A that names a project module, where ``from P import m``
names the submodule ``P.m`` when there is one. Imports inside functions (the deferred imports the
architecture rules ask for: torch, Qt, flwr, a command's heavy parts) are not run at import time and
are kept apart: a circle among module-level imports is an error whatever it goes through, and the
layer rules (acquisition imports neither protocols nor analysis; protocols does not import analysis;
none of them imports app/) hold for both kinds.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ("acquisition", "analysis", "protocols")
PROJECT = (*LIBRARIES, "app")
#: what each library may not import (at module level or deferred)
FORBIDDEN = {
    "acquisition": ("protocols", "analysis", "app"),
    "protocols": ("analysis", "app"),
    "analysis": ("app",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(tops=LIBRARIES) -> dict[str, Path]:
    out = {}
    for top in tops:
        for path in sorted((REPO / top).rglob("*.py")):
            if "migrations" in path.parts:  # Alembic's scripts, run by Alembic, not imported
                continue
            out[module_name(path)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(module-level, deferred) project modules that module ``name`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level: set[str] = set()
    deferred: set[str] = set()

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        out = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            out.append(sub if sub in known else base)
        return out

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # never run
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in targets(child):
                    # `import a.b.c` names a.b.c; keep the longest known prefix
                    while target and target not in known:
                        target = target.rpartition(".")[0]
                    if target and target != name:
                        (deferred if in_function else top_level).add(target)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True)
            else:
                visit(child, in_function)

    visit(tree, False)
    return top_level, deferred


def build_graph(tops=LIBRARIES):
    modules = project_modules(PROJECT)
    known = set(modules)
    graph, deferred = {}, {}
    for name, path in modules.items():
        if name.split(".")[0] in tops:
            graph[name], deferred[name] = imports_of(name, path, known)
    return graph, deferred


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


# ------------------------------------------------------------------------------------------------ tests


def test_the_graph_reader_sees_a_circle(tmp_path):
    """The checker itself: a two-module circle and a relative import are found."""
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    pkg = tmp_path / "p.py"
    pkg.write_text(
        "from . import q\nfrom .r import x\nimport s.t\ndef f():\n    import u\nif TYPE_CHECKING:\n    import v\n"
    )
    top, late = imports_of("k.p", pkg, {"k.q", "k.r", "s", "s.t", "u", "v"})
    assert top == {"k.q", "k.r", "s.t"} and late == {"u"}


def test_no_import_circles_in_the_libraries():
    graph, _ = build_graph()
    assert len(graph) > 100  # every module of the three libraries was read
    cycles = find_cycles(graph)
    assert cycles == [], "module-level import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_circles_through_deferred_imports():
    """A circle closed by an import inside a function still ties the modules into one: none either
    (the last one, federated apps <-> runner, went when the simulation left runner.py)."""
    graph, deferred = build_graph()
    cycles = find_cycles({name: graph[name] | deferred[name] for name in graph})
    assert cycles == [], "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_libraries_keep_their_layers():
    graph, deferred = build_graph()
    bad = []
    for name in sorted(graph):
        top = name.split(".")[0]
        for kind, edges in (("imports", graph[name]), ("imports in a function", deferred[name])):
            for target in sorted(edges):
                if target.split(".")[0] in FORBIDDEN[top]:
                    bad.append(f"{name} {kind} {target}")
    assert bad == [], "layer rule broken: " + "; ".join(bad)


@pytest.mark.slow  # imports torch, MediaPipe, Flower … (~15 s on a quiet machine)
def test_every_library_module_imports():
    """Each module of the three libraries imports in a fresh interpreter (one process for all)."""
    names = sorted(project_modules())
    code = (
        "import importlib, sys\nbad = []\nfor n in sys.argv[1:]:\n"
        "    try:\n        importlib.import_module(n)\n"
        "    except Exception as exc:\n        bad.append(f'{n}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *names], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


if __name__ == "__main__":  # print the circles and layer breaks (deferred imports included)
    g, d = build_graph()
    print("module-level:", find_cycles(g))
    print("with deferred:", find_cycles({k: g[k] | d[k] for k in g}))
