"""Helpers of the Flower deployment tests (tests/analysis/test_federated_deploy.py and
test_federated_tls.py): a free loopback port, the environment of a `mexlab fl` process, starting
one in its own process group, stopping a group, and reading a run's status.json."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from tests.helpers_paths import MEXLAB, REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fl_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_HOME": str(tmp / "flwr-home"),
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def start_mexlab(args, tmp: Path, name: str):
    out = open(tmp / f"{name}.err", "wb")
    return subprocess.Popen(
        MEXLAB + args, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=fl_env(tmp), start_new_session=True
    )


def kill_group(p, sig=signal.SIGKILL):
    """Signal a process we started and everything below it (Flower's helpers included)."""
    import psutil

    try:
        root = psutil.Process(p.pid)
        tree = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for q in tree:
        try:
            q.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def read_status(out: Path) -> dict:
    try:
        return json.loads((out / "status.json").read_text())
    except (OSError, ValueError):
        return {}
