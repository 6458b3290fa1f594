"""kill -9 of the whole process group in the middle of a recording: files stay readable up to at most
1 s before the kill, and check + catalog report the session as interrupted, with its true duration read
from the files (written into session.json)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pylsl
import pytest
import pyxdf

from acquisition.catalog import Catalog
from acquisition.check import INTERRUPTED_PROBLEM
from tests.helpers_camera import make_camera_file
from tests.helpers_lsl import make_outlet, unique_name

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder]


def test_sigkill_process_group(tmp_path, private_catalog):
    db3 = tmp_path / "cam.db3"
    make_camera_file(db3, 300, width=320, height=240)  # 10 s of video
    emg_name = unique_name("emg")
    outlet = make_outlet(emg_name, "EMG", 8, 2000.0)
    stop = threading.Event()

    def pump():
        n = 0
        t0 = pylsl.local_clock()
        while not stop.is_set():
            due = int((pylsl.local_clock() - t0) * 2000)
            if due > n:
                outlet.push_chunk(np.full((due - n, 8), 1.0, np.float32), t0 + (due - 1) / 2000.0)
                n = due
            stop.wait(0.005)

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "record",
            "--camera-file",
            str(db3),
            "--lsl",
            emg_name,
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                meta = json.loads((out / "session.json").read_text())
                if meta.get("counts", {}).get("rgb", {}).get("frames_written", 0) >= 90:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("recording did not get going: " + proc.stderr.read1().decode())
        time.sleep(0.5)
        kill_lsl = pylsl.local_clock()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        th.join()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # nothing of the group survives (LabRecorderCLI included)
    for _ in range(50):
        alive = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
        if not alive:
            break
        time.sleep(0.1)
    assert alive == []

    streams, _ = pyxdf.load_xdf(str(out / "recording.xdf"), synchronize_clocks=False, dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    emg_last = by_name[emg_name]["time_stamps"][-1]
    idx = by_name["mexlab-rgb-frames"]
    assert kill_lsl - emg_last <= 1.0, f"EMG ends {kill_lsl - emg_last:.2f} s before the kill"
    assert kill_lsl - idx["time_stamps"][-1] <= 1.0, "frame index ends more than 1 s before the kill"

    # the video is readable up to the kill: its last frame was captured within 1 s of it
    with av.open(str(out / "rgb.mkv")) as c:
        n_file = sum(1 for _ in c.decode(video=0))
    frames = np.asarray(idx["time_series"])[:, 0].astype(int)
    stamps = idx["time_stamps"]
    last_in_file = min(n_file - 1, int(frames.max()))
    t_last = stamps[np.nonzero(frames == last_in_file)[0][0]]
    assert kill_lsl - t_last <= 1.0, f"video ends {kill_lsl - t_last:.2f} s before the kill"
    assert n_file >= 90

    before = json.loads((out / "session.json").read_text())
    assert before["status"] == "recording"  # what the killed process left
    check = subprocess.run(
        [sys.executable, "-m", "app.cli", "check", str(out), "--json"], capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in check.stderr
    report = json.loads(check.stdout)
    assert report["status"] == "interrupted"
    assert check.returncode != 0
    # the true duration comes from the files, not from the last checkpoint of the sidecar
    last = max(max(s["time_stamps"][-1] for s in streams if len(s["time_stamps"])), idx["time_stamps"][-1])
    true_s = last - before["started_lsl"]
    assert report["duration_from"] == "files"
    assert report["duration_s"] == pytest.approx(true_s, abs=0.01)
    assert report["duration_s"] >= before["duration_s"]
    assert kill_lsl - before["started_lsl"] - report["duration_s"] <= 1.0
    # ... and is written into session.json, now 'interrupted' (the checkpoint's value kept beside it)
    after = json.loads((out / "session.json").read_text())
    assert after["status"] == "interrupted" and after["duration_s"] == report["duration_s"]
    assert after["checkpoint_duration_s"] == before["duration_s"] and after["recovered_at"]
    cat = Catalog(private_catalog)
    rows = cat.list_sessions()
    cat.close()
    mine = [r for r in rows if r["folder"].endswith("/s")]
    assert [r["status"] for r in mine] == ["interrupted"]
    assert mine[0]["duration_s"] == report["duration_s"]
    assert mine[0]["health"] == report["health"]
    assert mine[0]["health"]["verdict"] == "warning", mine[0]["health"]
    assert mine[0]["health"]["reasons"][0] == INTERRUPTED_PROBLEM
