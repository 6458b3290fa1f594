"""The encoders in processes of their own (acquisition/video_process.py, the GUI's recordings): every
frame of a camera file arrives bit-identical and in order with a Python thread hogging the GIL of the
recorder's process; the frame index names only frames the files hold; a killed encoder is reported."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

from acquisition.recorder import Recorder
from acquisition.sources import RecordConfig
from acquisition.video_process import VideoWriterProcess
from acquisition.video_writer import QueuedFrame
from tests.helpers_camera import make_camera_file

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder]


def _spin(stop):  # a Python thread that wants the GIL all the time (a busy GUI thread)
    x = 0
    while not stop.is_set():
        x += 1


def test_camera_file_through_encoder_processes_every_frame_identical(tmp_path):
    db3 = tmp_path / "cam.db3"
    rgbs, depths, _ = make_camera_file(db3, 30, width=320, height=240, seed=5)
    stop = threading.Event()
    spin = threading.Thread(target=_spin, args=(stop,), daemon=True)
    spin.start()
    try:
        out = tmp_path / "s"
        rec = Recorder(
            RecordConfig(
                out=out, source="camera-file", camera_file=db3, register=False, encoder_process=True, drain_s=0.6
            )
        )
        rec.prepare()
        rec.start()
        assert all(isinstance(w, VideoWriterProcess) for w in rec.writers.values())
        while rec.should_stop() is None:
            stop.wait(0.05)
        meta = rec.stop("end of camera file")
    finally:
        stop.set()
        spin.join(2)
    with av.open(str(out / "rgb.mkv")) as c:
        got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(out / "depth.mkv")) as c:
        gotd = [f.to_ndarray() for f in c.decode(video=0)]
    assert len(got) == len(rgbs) and all(np.array_equal(a, b) for a, b in zip(got, rgbs))
    assert len(gotd) == len(depths) and all(np.array_equal(a, b) for a, b in zip(gotd, depths))
    assert meta["status"] == "complete" and meta["dropped_frames"] == 0
    assert meta["counts"]["rgb"]["frames_written"] == 30
    index = next(s for s in meta["streams"] if s["name"] == "mexlab-rgb-frames")
    assert index["samples"] == 30


def test_encoder_process_killed_is_reported_not_hidden(tmp_path):
    written = []
    w = VideoWriterProcess(tmp_path / "v.mkv", 64, 48, 30, "rgb", lambda i, item: written.append(i), max_queue=4)
    w.start()
    img = np.zeros((48, 64, 3), np.uint8)
    assert w.offer(QueuedFrame(img, 1, 0.0, 0.0), block=True, timeout=10)
    deadline = 100
    while not written and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    assert written == [0]
    w._proc.kill()
    w._proc.join(5)
    threading.Event().wait(0.3)
    assert w.stats.error and "ended unexpectedly" in w.stats.error
    assert not w.offer(QueuedFrame(img, 2, 0.0, 0.0))
    w.finish(timeout=5)
