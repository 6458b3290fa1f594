"""`mexlab check` (acquisition.check) on session folders with real FFV1 videos and frame indexes
recorded through LabRecorderCLI (the ``recorded`` fixture of conftest.py): consistent, lacking
frames, truncated, inconsistent with session.json, interrupted or in progress, unreadable parts."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest

from acquisition.check import IN_PROGRESS_PROBLEM, INTERRUPTED_PROBLEM, check_path, format_check
from acquisition.errors import SessionFormatError
from acquisition.session import process_identity, write_sidecar
from tests.helpers_check import N_FRAMES, assert_shape, counts, make_session, stream_named

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder, pytest.mark.shared]


# ------------------------------------------------------------------------------------------------
# session folders


def test_consistent_session_is_ok(recorded, tmp_path):
    folder = make_session(recorded, tmp_path)
    report = check_path(folder)
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    assert [counts(v) for v in report["videos"]] == [
        {"name": "rgb.mkv", "frames_in_file": N_FRAMES, "frames_in_index": N_FRAMES, "missing_frames": 0}
    ]
    assert (report["videos"][0]["width"], report["videos"][0]["height"]) == (64, 48)
    assert report["health"] == {"verdict": "ok", "reasons": []}
    index = stream_named(report, "mexlab-rgb-frames")
    assert index["type"] == "VideoFrameIndex" and index["channel_count"] == 3
    assert index["sample_count"] == N_FRAMES and index["gaps"] == 0
    assert stream_named(report, "mexlab-markers")["sample_count"] == 1
    text = format_check(report)
    assert "rgb.mkv" in text and "mexlab-rgb-frames" in text and "problems: none" in text


def test_index_lacking_a_frame_is_not_ok(recorded, tmp_path):
    report = check_path(make_session(recorded, tmp_path, "lacking"))
    assert_shape(report)
    assert not report["ok"]
    (video,) = report["videos"]
    assert counts(video) == {
        "name": "rgb.mkv",
        "frames_in_file": N_FRAMES,
        "frames_in_index": N_FRAMES - 1,
        "missing_frames": 1,
    }
    assert report["health"]["verdict"] == "bad"
    assert any(p.startswith("rgb.mkv:") for p in report["problems"])
    assert "rgb.mkv" in format_check(report)


def test_truncated_video_counts_complete_frames(recorded, tmp_path):
    folder = make_session(recorded, tmp_path)
    video = folder / "rgb.mkv"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])  # as a crash would leave it: no cues, a cut packet
    report = check_path(folder)
    assert_shape(report)
    (v,) = report["videos"]
    assert 0 < v["frames_in_file"] < N_FRAMES
    # random 64x48 frames are all about the same size: half the file holds about half of them
    assert abs(v["frames_in_file"] - N_FRAMES // 2) <= 2
    assert v["frames_in_index"] == N_FRAMES
    assert v["missing_frames"] == N_FRAMES - v["frames_in_file"]
    assert not report["ok"]


def test_session_problems(recorded, tmp_path):
    folder = make_session(
        recorded,
        tmp_path,
        files={"xdf": "recording.xdf", "rgb": "rgb.mkv", "depth": "depth.mkv"},
        dropped_frames=3,
        dropped_samples=12,
        counts={
            "rgb": {"frames_received": 23, "frames_written": 20, "dropped_counter_gap": 2, "dropped_queue_overflow": 1}
        },
    )
    meta = json.loads((folder / "session.json").read_text())
    meta["streams"].append({"name": "mexlab-sim-EMG", "role": "input"})
    write_sidecar(folder, meta)
    report = check_path(folder)
    assert_shape(report)
    assert not report["ok"] and report["status"] == "complete"
    problems = "\n".join(report["problems"])
    assert "depth.mkv is named in session.json but missing" in problems
    assert "'mexlab-sim-EMG' listed in session.json is absent from recording.xdf" in problems
    assert "3 RGB frames dropped (13 %; 2 missed by the camera, 1 by a full queue)" in problems
    assert "12 LSL sample(s) lost" in problems
    assert report["health"]["verdict"] == "bad"
    names = [v["name"] for v in report["videos"]]
    assert names == ["rgb.mkv", "depth.mkv"]
    depth = report["videos"][1]
    assert depth["frames_in_file"] is None


def test_interrupted_and_in_progress_sessions(recorded, tmp_path):
    # a sidecar left at "recording" whose writer is gone: interrupted
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = make_session(
        recorded,
        tmp_path,
        status="recording",
        host=socket.gethostname(),
        pid=dead.pid,
        pid_create_time=1.0,
        stopped_at=None,
    )
    report = check_path(folder)
    assert_shape(report)
    assert report["status"] == "interrupted" and not report["ok"]
    assert INTERRUPTED_PROBLEM in report["problems"]

    # the writer (this process) still alive: not a status of the report, so "unknown"
    shutil.rmtree(folder)
    folder = make_session(recorded, tmp_path, status="recording", **process_identity())
    report = check_path(folder)
    assert_shape(report)
    assert report["status"] == "unknown" and not report["ok"]
    assert report["problems"][0].startswith(IN_PROGRESS_PROBLEM)


def test_session_without_xdf(recorded, tmp_path):
    folder = make_session(recorded, tmp_path)
    (folder / "recording.xdf").unlink()
    report = check_path(folder)
    assert_shape(report)
    assert not report["ok"]
    assert "recording.xdf is missing" in report["problems"]
    assert report["streams"] == []
    assert [counts(v) for v in report["videos"]] == [
        {"name": "rgb.mkv", "frames_in_file": N_FRAMES, "frames_in_index": None, "missing_frames": None}
    ]
    assert report["health"]["verdict"] == "bad" and "recording.xdf is missing" in report["health"]["reasons"]


def test_unreadable_xdf_in_session_is_a_problem(recorded, tmp_path):
    folder = make_session(recorded, tmp_path)
    (folder / "recording.xdf").write_text("not xdf at all\n")
    report = check_path(folder)
    assert not report["ok"]
    assert any("recording.xdf" in p and "not an XDF file" in p for p in report["problems"])


def test_unreadable_video_raises(recorded, tmp_path):
    folder = make_session(recorded, tmp_path)
    (folder / "rgb.mkv").write_text("this is not a video\n")
    with pytest.raises(SessionFormatError) as err:
        check_path(folder)
    assert str(folder / "rgb.mkv") in str(err.value)
