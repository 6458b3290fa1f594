"""Shared test set-up: a private catalog per test, the reference files in ../shared, the skip policy
(tests/skip_policy.py: on CI a skip fails) and the markers a test gets from the fixtures it uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from tests.skip_policy import pytest_runtest_makereport  # noqa: F401  (hook: on CI a skip fails)
except ImportError:  # tests/ run as a plain folder
    from skip_policy import pytest_runtest_makereport  # noqa: F401

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_file(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"reference file {path} is absent (../shared is not next to this checkout)")
    return path


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
            item.add_marker("postgres")       # a catalog test run against the PostgreSQL server
