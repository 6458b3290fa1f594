"""Several mexlab processes opening a new catalog at once: one creates the schema, none fails."""

from __future__ import annotations

import os
import subprocess
import sys


def test_processes_create_one_catalog_together(tmp_path):
    env = dict(os.environ, MEXLAB_DB=f"sqlite:///{tmp_path / 'c.sqlite'}")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "sessions", "list"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1] for o in outs]
