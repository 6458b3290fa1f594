"""Every public function and method of the three libraries (acquisition/, analysis/, protocols/) has type
hints: an annotation on each parameter (``*args`` and ``**kwargs`` included) and a return annotation.

Read from the source with :mod:`ast` (nothing is imported). Public means: a name not starting with ``_``,
in a module whose own name does not start with ``_`` (a package's ``__init__.py`` is the package itself
and counts), defined at module level or in a public class at module level (nested classes of public
classes too). Exempt: ``self``/``cls`` (the first parameter of a method; ``cls`` of a classmethod or
metaclass method), functions and classes defined inside a function, dunder methods except ``__init__``,
whose parameters are checked but whose return (always ``None``) is not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ("acquisition", "analysis", "protocols")

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def public_modules(library: str) -> list[Path]:
    """The library's modules, less private ones (``_x.py``) and those in private packages."""
    found = []
    for path in sorted((REPO / library).rglob("*.py")):
        parts = path.relative_to(REPO).parts
        if any(part.startswith("_") for part in parts[:-1]):
            continue
        if path.name.startswith("_") and path.name != "__init__.py":
            continue
        found.append(path)
    return found


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _decorator_names(node: FunctionNode) -> set[str]:
    names = set()
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def missing_hints(node: FunctionNode, *, method: bool) -> list[str]:
    """What the function lacks: parameter names without annotations, and ``return``."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    if method and "staticmethod" not in _decorator_names(node) and positional:
        positional = positional[1:]  # self / cls
    params = [*positional, *args.kwonlyargs]
    if args.vararg is not None:
        params.append(args.vararg)
    if args.kwarg is not None:
        params.append(args.kwarg)
    missing = [arg.arg for arg in params if arg.annotation is None]
    if node.returns is None and node.name != "__init__":
        missing.append("return")
    return missing


def _checked(name: str) -> bool:
    return name == "__init__" or not name.startswith("_")


def unhinted_in_module(path: Path, root: Path = REPO) -> list[str]:
    """``file:line name (missing: ...)`` for every public function or method in the module lacking hints."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root).as_posix()
    problems = []

    def visit_class(cls: ast.ClassDef, prefix: str) -> None:
        for item in cls.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _checked(item.name):
                missing = missing_hints(item, method=True)
                if missing:
                    problems.append(
                        f"{rel}:{item.lineno} {prefix}{cls.name}.{item.name} (missing: {', '.join(missing)})"
                    )
            elif isinstance(item, ast.ClassDef) and not item.name.startswith("_"):
                visit_class(item, f"{prefix}{cls.name}.")

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            missing = missing_hints(node, method=False)
            if missing:
                problems.append(f"{rel}:{node.lineno} {node.name} (missing: {', '.join(missing)})")
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            visit_class(node, "")
    return problems


@pytest.mark.parametrize("library", LIBRARIES)
def test_public_functions_have_type_hints(library: str) -> None:
    modules = public_modules(library)
    assert modules, f"no modules found in {library}/"
    problems = [problem for path in modules for problem in unhinted_in_module(path)]
    assert not problems, f"{len(problems)} public function(s) in {library}/ lack type hints:\n" + "\n".join(problems)


def test_the_check_finds_what_it_should(tmp_path: Path) -> None:
    """The checker itself: it flags unhinted public code and passes what is exempt."""
    source = '''
def public(a, *args, b: int = 1, **kwargs): pass
def hinted(a: int, *args: str, **kwargs: float) -> None: pass
def _private(a): pass
class Thing:
    def __init__(self, x): pass
    def method(self, y: int): pass
    @staticmethod
    def static(z) -> None: pass
    @classmethod
    def make(cls) -> "Thing": pass
    def __repr__(self): pass
    def _helper(self, q): pass
    class Inner:
        def deep(self) -> None: pass
        def bare(self): pass
class _Hidden:
    def shown(self, v): pass
def outer() -> None:
    def nested(w): pass
'''
    module = tmp_path / "mod.py"
    module.write_text(source, encoding="utf-8")
    found = [line.split(" ", 1)[1] for line in unhinted_in_module(module, root=tmp_path)]
    assert found == [
        "public (missing: a, args, kwargs, return)",
        "Thing.__init__ (missing: x)",
        "Thing.method (missing: return)",
        "Thing.static (missing: z)",
        "Thing.Inner.bare (missing: return)",
    ]
