"""Shared test set-up: a private catalog and settings folder per test, the skip policy
(tests/skip_policy.py: on CI a skip fails), the session-wide PostgreSQL server (``pg_server``) and
the markers a test gets from the fixtures it uses."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

try:
    from tests.skip_policy import pytest_runtest_makereport  # noqa: F401  (hook: on CI a skip fails)
except ImportError:  # tests/ run as a plain folder
    from skip_policy import pytest_runtest_makereport  # noqa: F401

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# the paths (REPO, SHARED, shared_file) and `mexlab`'s command line are in tests/helpers_paths.py


@pytest.fixture(autouse=True)
def gc_in_the_gui_thread(request):
    """Qt tests: no cyclic garbage collection while the test runs, and a full one in the main thread
    before and after. A collection triggered in a worker thread (a pre-flight's, a recording's)
    once freed an earlier test's window there, and Qt's object locks against the GIL deadlocked the
    whole run (CI, 2026-12-02); `mexlab gui` collects only in the GUI thread for the same reason."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()


@pytest.fixture(autouse=True)
def private_settings(tmp_path_factory, monkeypatch):
    """Every test gets its own settings folder; nothing reads or writes the user's real settings."""
    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def private_catalog(tmp_path_factory, monkeypatch):
    """Every test gets its own SQLite catalog; nothing touches the user's real one."""
    db = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    monkeypatch.setenv("MEXLAB_DB", f"sqlite:///{db}")
    return f"sqlite:///{db}"


@pytest.fixture(scope="session")
def pg_server():
    """A running PostgreSQL server for the whole test session (skips when there is none); the
    server machinery is in tests/pg_server.py."""
    try:
        from tests.pg_server import running_server
    except ImportError:  # tests/ run as a plain folder
        from pg_server import running_server

    yield from running_server()


#: markers a test gets from a fixture it uses, directly or through another fixture (the rest are set
#: per module with ``pytestmark``): Qt, the PostgreSQL server, and the fixtures that record a session
#: from the simulated rig through LabRecorder (tests/helpers_physio.py, tests/helpers_badinput.py and
#: the ``session_dir`` of the annotation tests)
RIG = ("rig", "labrecorder")
FIXTURE_MARKS = {
    "qtbot": ("gui",),
    "pg_server": ("postgres",),
    "record_early": RIG,
    "study": RIG,
    "recorded_session": RIG,
    "session_dir": RIG,
    "protocol_session": RIG,
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, marks in FIXTURE_MARKS.items():
            if fixture in getattr(item, "fixturenames", ()):
                for mark in marks:
                    item.add_marker(mark)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(isinstance(v, str) and v.startswith("postgres") for v in params.values()):
            item.add_marker("postgres")  # a catalog test run against the PostgreSQL server


def _module_marks(path: Path) -> set[str] | None:
    """The names in a test module's top-level ``pytestmark = [pytest.mark.x, ...]``, read without
    importing it (None when it has none or it cannot be read)."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            items = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            return {i.attr for i in items if isinstance(i, ast.Attribute)}
    return None


def pytest_ignore_collect(collection_path, config):
    """With ``-m EXPR`` (make test-fast), a module whose own marks already deselect every test in it,
    whatever marks its tests add, is not imported at all (torch, Qt and MediaPipe take seconds)."""
    expr = config.getoption("markexpr", "")
    if not expr or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    marks = _module_marks(collection_path)
    if not marks:
        return None
    import itertools

    try:
        from _pytest.mark.expression import Expression  # pytest's own -m parser (private: guarded)

        compiled = Expression.compile(expr)
    except Exception:  # noqa: BLE001 - a bad expression pytest reports itself; another pytest
        return None
    import re

    named = set(re.findall(r"[A-Za-z_]\w*", expr)) - {"and", "or", "not"}  # all the expression looks at
    others = sorted(named - marks)
    if len(others) > 16:
        return None
    for n in range(len(others) + 1):
        for extra in itertools.combinations(others, n):
            have = marks | set(extra)
            if compiled.evaluate(lambda name, have=have, **kw: name in have):
                return None  # some test in it could still be selected: collect it
    return True
