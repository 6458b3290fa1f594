"""Helpers of the `mexlab check` and session-health tests: the shared LabRecorder files, the checks
every report must pass, and session folders made from real recordings (the ``recorded`` fixture of
tests/acquisition/conftest.py records them with LabRecorderCLI)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest

from acquisition.session import FORMAT, write_sidecar
from tests.helpers_lsl import make_outlet, record
from tests.helpers_paths import SHARED

XDF_DIR = SHARED / "data" / "xdf"
N_FRAMES = 20


def shared_xdf(name: str) -> Path:
    path = XDF_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared folder ../shared is not beside the repo)")
    return path


def counts(video: dict) -> dict:
    """The frame counts of a report's video entry (without its size and times)."""
    return {k: video[k] for k in ("name", "frames_in_file", "frames_in_index", "missing_frames")}


def stream_named(report: dict, name: str) -> dict:
    matches = [s for s in report["streams"] if s["name"] == name]
    assert len(matches) == 1, [s["name"] for s in report["streams"]]
    return matches[0]


def assert_shape(report: dict) -> None:
    """The report has exactly the documented keys and survives JSON."""
    assert set(report) == {
        "path",
        "status",
        "status_detail",
        "ok",
        "problems",
        "health",
        "duration_s",
        "duration_from",
        "streams",
        "videos",
    }
    assert report["status"] in ("complete", "aborted", "interrupted", "unknown")
    assert report["ok"] == (not report["problems"])
    # one verdict: ok exactly when check says OK, every problem a reason
    assert set(report["health"]) == {"verdict", "reasons"}
    assert (report["health"]["verdict"] == "ok") == report["ok"]
    assert sorted(report["health"]["reasons"]) == sorted(report["problems"])
    for s in report["streams"]:
        assert set(s) == {
            "name",
            "type",
            "channel_count",
            "nominal_srate",
            "effective_srate",
            "sample_count",
            "first_timestamp",
            "last_timestamp",
            "gaps",
        }
    for v in report["videos"]:
        assert (
            {"name", "frames_in_file", "frames_in_index", "missing_frames"}
            <= set(v)
            <= {
                "name",
                "frames_in_file",
                "frames_in_index",
                "missing_frames",
                "width",
                "height",
                "first_timestamp",
                "last_timestamp",
            }
        )
    assert json.loads(json.dumps(report)) == report


def write_rgb_mkv(path: Path, n_frames: int) -> None:
    import av

    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        for _ in range(n_frames):
            image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def record_frame_index(path: Path, frames: list[int]) -> dict:
    """Record (LabRecorderCLI) a `mexlab-rgb-frames` index naming ``frames``, and markers."""
    session_id = uuid.uuid4().hex
    index = make_outlet(
        "mexlab-rgb-frames",
        "VideoFrameIndex",
        3,
        30.0,
        "double64",
        source_id=f"mexlab-{session_id}-rgb",
        channel_labels=["frame", "camera_frame", "camera_timestamp_ms"],
        desc={"synchronization": {"can_drop_samples": "true"}, "video": {"file": "rgb.mkv"}},
    )
    markers = make_outlet("mexlab-markers", "Markers", 1, 0.0, "string", source_id=f"mexlab-{session_id}-markers")

    def body():
        t0 = pylsl.local_clock()
        markers.push_sample(["recording-start"], t0)
        for i in frames:
            index.push_sample([float(i), 1000.0 + i, 1.7e12 + i * 1000 / 30], t0 + i / 30)

    record(path, [index, markers], body)
    return {"session_id": session_id, "streams": ["mexlab-rgb-frames", "mexlab-markers"]}


def sidecar(session_id: str, stream_names: list[str], **changes) -> dict:
    meta = {
        "format": FORMAT,
        "session_id": session_id,
        "participant": "P001",
        "protocol": None,
        "status": "complete",
        "host": "labpc-test",
        "pid": 1,
        "source": "simulate",
        "camera_file": None,
        "started_at": "2026-11-24T10:00:00+00:00",
        "stopped_at": "2026-11-24T10:00:01+00:00",
        "started_lsl": 0.0,
        "stopped_lsl": 1.0,
        "duration_s": 1.0,
        "devices": [],
        "modes": {"rgb": {"width": 64, "height": 48, "fps": 30, "format": "rgb8"}},
        "intrinsics": {},
        "depth_units_m": 0.001,
        "files": {"xdf": "recording.xdf", "rgb": "rgb.mkv", "depth": None},
        "streams": [
            {
                "name": name,
                "type": "",
                "source_id": "",
                "channel_count": 1,
                "nominal_srate": 0.0,
                "role": "frame_index" if "frames" in name else "markers",
                "samples": 0,
                "gaps": 0,
            }
            for name in stream_names
        ],
        "counts": {
            "rgb": {
                "frames_received": N_FRAMES,
                "frames_written": N_FRAMES,
                "dropped_counter_gap": 0,
                "dropped_queue_overflow": 0,
            }
        },
        "dropped_frames": 0,
        "dropped_samples": 0,
        "software": {},
    }
    meta.update(changes)
    return meta


def make_session(recorded, tmp_path: Path, which: str = "full", **changes) -> Path:
    folder = tmp_path / f"session-{which}"
    folder.mkdir()
    info = recorded[which]
    shutil.copyfile(recorded["root"] / f"{which}.xdf", folder / "recording.xdf")
    shutil.copyfile(recorded["root"] / "rgb.mkv", folder / "rgb.mkv")
    write_sidecar(folder, sidecar(info["session_id"], info["streams"], **changes))
    return folder
