"""Where things are, for every test: the repository, the reference files in ../shared, and the
command line that runs `mexlab` (the venv's interpreter, not a script in a particular venv)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
#: `mexlab ARGS` is ``MEXLAB + [ARGS]``: the same entry point as the installed console script
MEXLAB = [sys.executable, "-m", "app.cli"]
#: Flower's own `flwr` CLI (its console script ``flwr = flwr.cli.app:app``)
FLWR = [sys.executable, "-m", "flwr.cli.app"]


def shared_file(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"reference file {path} is absent (../shared is not next to this checkout)")
    return path
