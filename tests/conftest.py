"""Shared test set-up: a private catalog per test, the reference files in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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

