"""The skip policy (tests/skip_policy.py): with MEXLAB_REQUIRE_ALL=1 a skip fails, with the reason."""

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
    if require is not None:
        env["MEXLAB_REQUIRE_ALL"] = require
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
                           "-p", "tests.skip_policy", "test_sample.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


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
    assert "could not find a dead pid" in out        # tolerated: still a skip, and listed


def test_skips_stay_skips_elsewhere(tmp_path):
    for require in (None, "0"):
        r = _run(tmp_path, require)
        assert r.returncode == 0, r.stdout
        assert "1 passed, 4 skipped, 1 xfailed" in r.stdout, r.stdout
        assert "SKIPPED [1] test_sample.py" in r.stdout     # -rs lists every one with its reason
