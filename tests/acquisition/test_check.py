"""`mexlab check` (acquisition.check) on real files: the shared LabRecorder files, recordings made
here through LabRecorderCLI from real LSL outlets, and session folders with real FFV1 videos."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pylsl
import pytest

from acquisition.check import INTERRUPTED_PROBLEM, IN_PROGRESS_PROBLEM, check_path, format_check
from acquisition.errors import MexlabError, SessionFormatError
from acquisition.session import FORMAT, process_identity, write_sidecar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers_lsl import make_outlet, push_regular, record, unique_name  # noqa: E402

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
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
    assert set(report) == {"path", "status", "status_detail", "ok", "problems", "health", "duration_s",
                           "duration_from", "streams", "videos"}
    assert report["status"] in ("complete", "aborted", "interrupted", "unknown")
    assert report["ok"] == (not report["problems"])
    # one verdict: ok exactly when check says OK, every problem a reason
    assert set(report["health"]) == {"verdict", "reasons"}
    assert (report["health"]["verdict"] == "ok") == report["ok"]
    assert sorted(report["health"]["reasons"]) == sorted(report["problems"])
    for s in report["streams"]:
        assert set(s) == {
            "name", "type", "channel_count", "nominal_srate", "effective_srate",
            "sample_count", "first_timestamp", "last_timestamp", "gaps",
        }
    for v in report["videos"]:
        assert {"name", "frames_in_file", "frames_in_index", "missing_frames"} <= set(v) <= {
            "name", "frames_in_file", "frames_in_index", "missing_frames", "width", "height",
            "first_timestamp", "last_timestamp"}
    assert json.loads(json.dumps(report)) == report


# ------------------------------------------------------------------------------------------------
# the shared LabRecorder files


def test_minimal_xdf():
    report = check_path(shared_xdf("minimal.xdf"))
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    data = stream_named(report, "SendDataC")
    assert (data["type"], data["channel_count"], data["nominal_srate"]) == ("EEG", 3, 10.0)
    assert data["sample_count"] == 9
    assert data["gaps"] == 0
    assert data["effective_srate"] == pytest.approx(10.0)
    assert data["first_timestamp"] == pytest.approx(5.0)
    assert data["last_timestamp"] == pytest.approx(5.8)
    markers = stream_named(report, "SendDataString")
    assert markers["sample_count"] == 9 and markers["channel_count"] == 1
    assert report["videos"] == []


def test_clock_resets_xdf():
    report = check_path(shared_xdf("clock_resets.xdf"))
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    eeg = stream_named(report, "BioSemi")
    assert eeg["sample_count"] == 27_815
    assert eeg["channel_count"] == 8 and eeg["nominal_srate"] == 100.0
    markers = stream_named(report, "MyMarkerStream")
    assert markers["sample_count"] == 175
    assert markers["gaps"] == 0  # irregular stream
    # pyxdf maps both sides of the sender's clock reset onto the recorder's clock: the time line
    # runs forward (raw timestamps would jump back by ~650,000 s) and spans the ~573 s recorded.
    assert 0 < eeg["last_timestamp"] - eeg["first_timestamp"] < 600
    assert 0 < markers["last_timestamp"] - markers["first_timestamp"] < 600
    # 10 gaps, not hundreds: 1 is the ~274 s pause in which the sender restarted (its clock
    # reset), 9 are 21-36 ms intervals (this device really runs at ~93 Hz, so 2 nominal periods
    # is under 2 of its own).
    assert eeg["gaps"] == 10
    assert 90 < eeg["effective_srate"] < 95


def test_empty_streams_xdf():
    report = check_path(shared_xdf("empty_streams.xdf"))
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    counts = sorted(s["sample_count"] for s in report["streams"])
    assert counts == [0, 0, 1, 10]
    for s in report["streams"]:
        if s["sample_count"] == 0:
            assert s["first_timestamp"] is None and s["last_timestamp"] is None
            assert s["effective_srate"] is None and s["gaps"] == 0
    data = stream_named(report, "Data stream: test stream 0 counter")
    assert data["sample_count"] == 10 and data["gaps"] == 0
    assert data["effective_srate"] == pytest.approx(1.0, rel=1e-3)


def test_truncated_xdf_is_interrupted_and_readable(tmp_path):
    source = shared_xdf("clock_resets.xdf").read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(source[: int(len(source) * 0.6)])  # ends inside a chunk, no footers
    report = check_path(cut)
    assert_shape(report)
    assert report["status"] == "interrupted" and not report["ok"]
    assert report["problems"][0] == INTERRUPTED_PROBLEM
    eeg = stream_named(report, "BioSemi")
    assert 10_000 < eeg["sample_count"] < 27_815


def test_damaged_chunk_is_skipped_and_reported(tmp_path):
    data = bytearray(shared_xdf("clock_resets.xdf").read_bytes())
    # walk the chunks and break the length field of the 200th Samples chunk
    pos, samples_chunks = 4, []
    while pos < len(data):
        nbytes = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + nbytes], "little")
        if int.from_bytes(data[pos + 1 + nbytes : pos + 3 + nbytes], "little") == 3:
            samples_chunks.append(pos)
        pos += 1 + nbytes + length
    data[samples_chunks[200]] = 7  # not a valid length-field size (1, 4 or 8)
    damaged = tmp_path / "damaged.xdf"
    damaged.write_bytes(bytes(data))
    report = check_path(damaged)
    assert_shape(report)
    assert not report["ok"]
    assert any("damaged" in p and "malformed chunk" in p for p in report["problems"])
    # reading resumed at the next boundary chunk: the footers were reached, samples were lost
    assert report["status"] == "complete"
    eeg = stream_named(report, "BioSemi")
    assert 20_000 < eeg["sample_count"] < 27_815
    assert any("'BioSemi'" in p and "missing" in p for p in report["problems"])


# ------------------------------------------------------------------------------------------------
# recordings made here with LabRecorderCLI


def test_labrecorder_recording_counts_one_gap(tmp_path):
    srate, n = 500.0, 1000  # 2 s
    emg = make_outlet(unique_name("emg"), "EMG", 2, srate)
    markers = make_outlet(unique_name("markers"), "Markers", 1, 0.0, "string")
    pushed = {}

    def body():
        markers.push_sample(["start"])
        # samples 400..449 (0.1 s) are never pushed: exactly one gap of 0.102 s
        pushed["emg"], _ = push_regular(emg, srate, n, channel_count=2, skip=range(400, 450))
        markers.push_sample(["gap-was-here"])
        markers.push_sample(["end"])

    path = record(tmp_path / "rec.xdf", [emg, markers], body)
    report = check_path(path)
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    s = stream_named(report, emg.get_info().name())
    assert pushed["emg"] == 950
    assert s["sample_count"] == 950
    assert s["gaps"] == 1
    assert (s["type"], s["channel_count"], s["nominal_srate"]) == ("EMG", 2, 500.0)
    assert s["effective_srate"] == pytest.approx(500.0, rel=1e-3)
    assert s["last_timestamp"] - s["first_timestamp"] == pytest.approx(999 / srate, abs=1e-3)
    m = stream_named(report, markers.get_info().name())
    assert m["sample_count"] == 3 and m["gaps"] == 0 and m["nominal_srate"] == 0.0


def test_killed_labrecorder_is_interrupted(tmp_path):
    emg = make_outlet(unique_name("emg"), "EMG", 2, 500.0)

    def body():
        push_regular(emg, 500.0, 500, channel_count=2)

    path = record(tmp_path / "killed.xdf", [emg], body, kill=True)
    report = check_path(path)
    assert_shape(report)
    assert report["status"] == "interrupted" and not report["ok"]
    assert INTERRUPTED_PROBLEM in report["problems"]
    s = stream_named(report, emg.get_info().name())
    assert 0 < s["sample_count"] <= 500 and s["gaps"] == 0
    assert "interrupted" in format_check(report)


# ------------------------------------------------------------------------------------------------
# session folders


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
        "mexlab-rgb-frames", "VideoFrameIndex", 3, 30.0, "double64",
        source_id=f"mexlab-{session_id}-rgb",
        channel_labels=["frame", "camera_frame", "camera_timestamp_ms"],
        desc={"synchronization": {"can_drop_samples": "true"}, "video": {"file": "rgb.mkv"}},
    )
    markers = make_outlet(
        "mexlab-markers", "Markers", 1, 0.0, "string", source_id=f"mexlab-{session_id}-markers"
    )

    def body():
        t0 = pylsl.local_clock()
        markers.push_sample(["recording-start"], t0)
        for i in frames:
            index.push_sample([float(i), 1000.0 + i, 1.7e12 + i * 1000 / 30], t0 + i / 30)

    record(path, [index, markers], body)
    return {"session_id": session_id, "streams": ["mexlab-rgb-frames", "mexlab-markers"]}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One 20-frame rgb.mkv, a consistent frame index and one lacking frame 7 (both recorded)."""
    root = tmp_path_factory.mktemp("recorded")
    write_rgb_mkv(root / "rgb.mkv", N_FRAMES)
    # two LabRecorderCLI runs side by side: stopping one takes up to ~5 s (its clock-offset thread)
    with ThreadPoolExecutor(2) as pool:
        full = pool.submit(record_frame_index, root / "full.xdf", list(range(N_FRAMES)))
        lacking = pool.submit(
            record_frame_index, root / "lacking.xdf", [i for i in range(N_FRAMES) if i != 7]
        )
        return {"root": root, "full": full.result(), "lacking": lacking.result()}


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
            {"name": name, "type": "", "source_id": "", "channel_count": 1, "nominal_srate": 0.0,
             "role": "frame_index" if "frames" in name else "markers", "samples": 0, "gaps": 0}
            for name in stream_names
        ],
        "counts": {"rgb": {"frames_received": N_FRAMES, "frames_written": N_FRAMES,
                           "dropped_counter_gap": 0, "dropped_queue_overflow": 0}},
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


def test_consistent_session_is_ok(recorded, tmp_path):
    folder = make_session(recorded, tmp_path)
    report = check_path(folder)
    assert_shape(report)
    assert report["status"] == "complete" and report["ok"], report["problems"]
    assert [counts(v) for v in report["videos"]] == [
        {"name": "rgb.mkv", "frames_in_file": N_FRAMES, "frames_in_index": N_FRAMES,
         "missing_frames": 0}
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
    assert counts(video) == {"name": "rgb.mkv", "frames_in_file": N_FRAMES,
                             "frames_in_index": N_FRAMES - 1, "missing_frames": 1}
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
        recorded, tmp_path,
        files={"xdf": "recording.xdf", "rgb": "rgb.mkv", "depth": "depth.mkv"},
        dropped_frames=3,
        dropped_samples=12,
        counts={"rgb": {"frames_received": 23, "frames_written": 20,
                        "dropped_counter_gap": 2, "dropped_queue_overflow": 1}},
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
    folder = make_session(recorded, tmp_path, status="recording", host=socket.gethostname(),
                          pid=dead.pid, pid_create_time=1.0, stopped_at=None)
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
    assert [counts(v) for v in report["videos"]] == [{"name": "rgb.mkv", "frames_in_file": N_FRAMES,
                                                      "frames_in_index": None, "missing_frames": None}]
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


# ------------------------------------------------------------------------------------------------
# bad inputs


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "nope" / "recording.xdf"
    with pytest.raises(MexlabError) as err:
        check_path(missing)
    assert str(missing) in str(err.value)


def test_text_file_named_xdf(tmp_path):
    fake = tmp_path / "x.xdf"
    fake.write_text("hello, I am a text file\n")
    with pytest.raises(MexlabError) as err:
        check_path(fake)
    assert str(fake) in str(err.value) and "not an XDF file" in str(err.value)


@pytest.mark.parametrize("content", [b"", b"XD", b"XDF:", b"XDF:\x01\x40\x01\x00<?xml vers"])
def test_truncated_header(tmp_path, content):
    path = tmp_path / "short.xdf"
    path.write_bytes(content)
    with pytest.raises(MexlabError) as err:
        check_path(path)
    assert str(path) in str(err.value)


def test_folder_without_session_json(tmp_path):
    folder = tmp_path / "not-a-session"
    folder.mkdir()
    (folder / "recording.xdf").write_bytes(b"XDF:")
    with pytest.raises(MexlabError) as err:
        check_path(folder)
    assert str(folder) in str(err.value) and "session.json" in str(err.value)


def test_pyxdf_is_silenced(capfd, tmp_path):
    # clock_resets.xdf makes pyxdf warn ("Segments and clock-segments differ") on stderr
    check_path(shared_xdf("clock_resets.xdf"))
    out, err = capfd.readouterr()
    assert "pyxdf" not in err and "Segments" not in err, err
