"""Recording LSL inputs and camera files: every sample and frame arrives bit-identical, with its time."""

from __future__ import annotations

import json
import threading

import av
import numpy as np
import pylsl
import pytest
import pyxdf

from app.cli import main
from tests.helpers_camera import make_camera_file
from tests.helpers_lsl import make_outlet, unique_name

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder]


def _load(path):
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def test_lsl_samples_bit_identical_with_timestamps(tmp_path):
    name = unique_name("emg")
    outlet = make_outlet(name, "EMG", 4, 1000.0, "float32")
    rng = np.random.default_rng(1)
    n_total = 9000
    data = rng.standard_normal((n_total, 4)).astype(np.float32) * 100
    t0 = pylsl.local_clock() + 0.2
    stamps = t0 + np.arange(n_total) / 1000.0
    stop = threading.Event()

    def pump():
        i = 0
        while i < n_total and not stop.is_set():
            due = int((pylsl.local_clock() - t0) * 1000)
            if due > i:
                j = min(due, n_total)
                for k in range(i, j):  # push_sample keeps each sample's own timestamp
                    outlet.push_sample(data[k], stamps[k])
                i = j
            stop.wait(0.005)

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    out = tmp_path / "s"
    try:
        rc = main(["record", "--no-camera", "--lsl", name, "--duration", "3", "--out", str(out), "--quiet"])
    finally:
        stop.set()
        th.join()
    assert rc == 0
    s = _load(out / "recording.xdf")[name]
    got, ts = np.asarray(s["time_series"]), np.asarray(s["time_stamps"])
    assert len(got) >= 2800  # ~3 s at 1 kHz, all of it
    i0 = int(np.argmin(np.abs(stamps - ts[0])))
    assert np.array_equal(got, data[i0 : i0 + len(got)])  # contiguous, nothing lost, bit-identical
    assert np.array_equal(ts, stamps[i0 : i0 + len(got)])  # the very timestamps pushed
    meta = json.loads((out / "session.json").read_text())
    assert meta["status"] == "complete"
    assert meta["dropped_samples"] == 0
    entry = next(e for e in meta["streams"] if e["name"] == name)
    assert entry["role"] == "input" and entry["gaps"] == 0


@pytest.mark.parametrize("skip", [(), (17,)])
def test_camera_file_every_frame_bit_identical(tmp_path, skip):
    db3 = tmp_path / "cam.db3"
    rgbs, depths, stamps = make_camera_file(db3, 40, skip=skip, seed=len(skip))
    out = tmp_path / "s"
    rc = main(["record", "--camera-file", str(db3), "--out", str(out), "--quiet"])
    assert rc == 0
    with av.open(str(out / "rgb.mkv")) as c:
        got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(out / "depth.mkv")) as c:
        gotd = [f.to_ndarray() for f in c.decode(video=0)]
    assert len(got) == len(rgbs) == len(gotd)
    assert all(np.array_equal(a, b) for a, b in zip(got, rgbs))
    assert all(np.array_equal(a, b) for a, b in zip(gotd, depths))
    streams = _load(out / "recording.xdf")
    idx = streams["mexlab-rgb-frames"]
    series = np.asarray(idx["time_series"])
    assert idx["info"]["type"][0] == "VideoFrameIndex"
    assert list(series[:, 0]) == list(range(len(rgbs)))  # frame number in the file
    assert np.allclose(series[:, 2], stamps)  # camera timestamps
    # LSL times keep the file's spacing (one timestamp per frame, on one clock)
    assert np.allclose(np.diff(idx["time_stamps"]), np.diff(stamps) / 1000.0, atol=1e-6)
    desc = idx["info"]["desc"][0]
    assert desc["synchronization"][0]["can_drop_samples"][0] == "true"
    assert desc["video"][0]["codec"][0] == "x264rgb-intra"  # what the file holds, said in the XDF
    assert streams["mexlab-depth-frames"]["info"]["desc"][0]["video"][0]["codec"][0] == "ffv1"
    meta = json.loads((out / "session.json").read_text())
    assert meta["source"] == "camera-file"
    assert meta["codecs"] == {"rgb": "x264rgb-intra", "depth": "ffv1"}
    with av.open(str(out / "rgb.mkv")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    assert meta["counts"]["rgb"]["dropped_counter_gap"] == len(skip)
    assert meta["dropped_frames"] == 2 * len(skip)
    assert meta["modes"]["rgb"] == {"width": 424, "height": 240, "fps": 30, "format": "rgb8"}
    assert meta["intrinsics"]["rgb"]["fx"] == pytest.approx(600.0)
    assert meta["depth_units_m"] == pytest.approx(0.001)
    # markers bracket the video
    marks = streams["mexlab-markers"]
    events = [json.loads(m[0])["event"] for m in marks["time_series"]]
    assert events == ["recording_start", "recording_stop"]
    assert marks["time_stamps"][0] <= idx["time_stamps"][0] and marks["time_stamps"][1] >= idx["time_stamps"][-1]


def test_camera_file_duration_shorter_than_file(tmp_path):
    db3 = tmp_path / "cam.db3"
    make_camera_file(db3, 90, width=320, height=240)
    out = tmp_path / "s"
    assert main(["record", "--camera-file", str(db3), "--duration", "1", "--out", str(out), "--quiet"]) == 0
    meta = json.loads((out / "session.json").read_text())
    n = meta["counts"]["rgb"]["frames_written"]
    assert 20 <= n <= 45  # about one second of a three-second file
    assert meta["stop_reason"] == "duration reached"
