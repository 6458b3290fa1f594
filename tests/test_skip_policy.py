"""The suite's own tooling: the skip policy (tests/skip_policy.py: with MEXLAB_REQUIRE_ALL=1 a skip
fails, with the reason) and make test-fast's collection (tests/conftest.py: a module its own marks
deselect is not imported)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SAMPLE = '''
import pytest

def test_runs():
    assert True

def test_needs_postgres():
    pytest.skip("no PostgreSQL server binaries found")

@pytest.mark.skipif(True, reason="../shared is absent")
def test_needs_shared():
    pass

@pytest.fixture
def namespace():
    pytest.skip("needs root and iproute2 to make a network namespace")

def test_in_namespace(namespace):
    pass

def test_lucky():
    pytest.skip("could not find a dead pid")

@pytest.mark.xfail(reason="known")
def test_known_failure():
    assert False
'''


def _run(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "MEXLAB_REQUIRE_ALL"}
    env["PYTHONPATH"] = str(REPO)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the hook under test (Qt and the rest load slowly)
    if require is not None:
        env["MEXLAB_REQUIRE_ALL"] = require
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rfEs",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.skip_policy",
            "test_sample.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_skips_fail_where_every_test_must_run(tmp_path):
    r = _run(tmp_path, "1")
    out = r.stdout
    assert r.returncode == 1, out
    # a skip in the test body fails it; one at set-up (skipif, a fixture) is an error: both fail the run
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors" in out, out
    assert "FAILED test_sample.py::test_needs_postgres" in out, out
    for name in ("test_needs_shared", "test_in_namespace"):
        assert f"ERROR test_sample.py::{name}" in out, out
    assert "MEXLAB_REQUIRE_ALL=1): no PostgreSQL server binaries found" in out
    assert "../shared is absent" in out and "needs root and iproute2" in out
    assert "could not find a dead pid" in out  # tolerated: still a skip, and listed


def test_skips_stay_skips_elsewhere(tmp_path):
    for require in (None, "0"):
        r = _run(tmp_path, require)
        assert r.returncode == 0, r.stdout
        assert "1 passed, 4 skipped, 1 xfailed" in r.stdout, r.stdout
        assert "SKIPPED [1] test_sample.py" in r.stdout  # -rs lists every one with its reason


# ------------------------------------------------------------------ make test-fast: modules not imported
class _Config:
    def __init__(self, expr):
        self.expr = expr

    def getoption(self, name, default=None):
        assert name == "markexpr"
        return self.expr


FAST = "not (slow or gui or lsl or labrecorder or rig or postgres or netns or privileged or face_model or learning)"


def test_modules_deselected_by_their_own_marks_are_not_imported(tmp_path):
    from tests.conftest import pytest_ignore_collect

    def module(name, head):
        p = tmp_path / name
        p.write_text(f"import pytest\n\n{head}\n\ndef test_x():\n    pass\n")
        return p

    gui = module("test_a.py", "pytestmark = [pytest.mark.gui, pytest.mark.lsl]")
    single = module("test_b.py", "pytestmark = pytest.mark.learning")
    pure = module("test_c.py", "")
    shared = module("test_d.py", "pytestmark = [pytest.mark.shared]")
    assert pytest_ignore_collect(gui, _Config(FAST)) is True
    assert pytest_ignore_collect(single, _Config(FAST)) is True
    assert pytest_ignore_collect(pure, _Config(FAST)) is None
    assert pytest_ignore_collect(shared, _Config(FAST)) is None  # 'shared' is not left out
    # a test in the module may add a mark the expression selects: the module is collected
    assert pytest_ignore_collect(gui, _Config("gui")) is None
    assert pytest_ignore_collect(pure, _Config("gui")) is None
    assert pytest_ignore_collect(shared, _Config("gui or postgres")) is None
    assert pytest_ignore_collect(gui, _Config("not lsl")) is True
    assert pytest_ignore_collect(gui, _Config("")) is None  # no -m: everything is collected
