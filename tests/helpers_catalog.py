"""Catalog test helpers: a session folder as `mexlab record` leaves one (with small dummy media
files), a pid nobody has, and an engine on a catalog URL. The ``db_url``/``catalog`` fixtures are
in tests/acquisition/conftest.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine

from acquisition import session as sessionfmt

FILE_SIZES = {"recording.xdf": 1000, "rgb.mkv": 2500, "depth.mkv": 4000, "ground_truth.csv": 64}


def dead_pid() -> int:
    """The pid of a process that has exited (and not been reused)."""
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        if not psutil.pid_exists(proc.pid):
            return proc.pid
    pytest.skip("could not find a dead pid")


def make_session(folder: Path, **fields) -> dict:
    """A session folder following docs/session-format.md, with small dummy media files."""
    folder.mkdir(parents=True, exist_ok=True)
    session_id = fields.pop("session_id", uuid.uuid4().hex)
    meta = {
        "format": sessionfmt.FORMAT,
        "session_id": session_id,
        "participant": "P001",
        "protocol": "baseline-v1",
        "status": "complete",
        "host": socket.gethostname(),
        "pid": 12345,
        "source": "simulate",
        "camera_file": None,
        "started_at": "2026-11-24T10:00:00.000000+00:00",
        "stopped_at": "2026-11-24T10:01:30.000000+00:00",
        "started_lsl": 1234.5,
        "stopped_lsl": 1324.5,
        "duration_s": 90.0,
        "devices": [{"name": "sim", "serial": "0", "firmware": "-", "product_line": "sim"}],
        "depth_units_m": 0.001,
        "files": {"xdf": "recording.xdf", "rgb": "rgb.mkv", "depth": "depth.mkv"},
        "streams": [
            {
                "name": "mexlab-sim-EMG",
                "type": "EMG",
                "source_id": "sim-emg",
                "channel_count": 8,
                "nominal_srate": 2000.0,
                "role": "input",
                "samples": 180000,
                "gaps": 0,
            },
            {
                "name": "mexlab-markers",
                "type": "Markers",
                "source_id": "mk",
                "channel_count": 1,
                "nominal_srate": 0.0,
                "role": "markers",
                "samples": 12,
                "gaps": 0,
            },
            {
                "name": "mexlab-rgb-frames",
                "type": "VideoFrameIndex",
                "source_id": f"mexlab-{session_id}-rgb",
                "channel_count": 3,
                "nominal_srate": 30.0,
                "role": "frame_index",
                "samples": 2700,
                "gaps": 1,
            },
        ],
        "dropped_frames": 2,
        "dropped_samples": 7,
    }
    meta.update(fields)
    for name, size in FILE_SIZES.items():
        (folder / name).write_bytes(b"\0" * size)
    sessionfmt.write_sidecar(folder, meta)
    return json.loads((folder / sessionfmt.SIDECAR).read_text())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def engine_of(url: str):
    return create_engine(url, connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {})
