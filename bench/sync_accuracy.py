"""Timing accuracy of a recording.

1. An external LSL outlet pushes samples with known timestamps; mexlab records it (LabRecorderCLI);
   the recorded timestamps (as pyxdf loads them, clock offsets applied) are compared with the known
   ones (goal: error <= 0.1 ms).
2. The simulated rig records video; each frame's timestamp in the frame-index stream is compared with
   the rig's true capture time (goal: error <= 1 ms).

    .venv/bin/python bench/sync_accuracy.py [--duration 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pylsl
import pyxdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acquisition.session_read.names import XDF_NAME, frame_index_stream  # noqa: E402


def external_outlet(work: Path, duration: float, env: dict) -> dict:
    name = f"bench-ext-{os.getpid()}"
    info = pylsl.StreamInfo(name, "EMG", 2, 1000.0, pylsl.cf_double64, name)
    outlet = pylsl.StreamOutlet(info)
    t0 = pylsl.local_clock() + 0.5
    stop = threading.Event()

    def pump():
        i = 0
        while not stop.is_set():
            due = int((pylsl.local_clock() - t0) * 1000)
            while i < due:
                ts = t0 + i / 1000.0
                outlet.push_sample([float(i), ts], ts)  # the sample carries its own true time
                i += 1
            stop.wait(0.002)

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    session = work / "ext"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "record",
            "--no-camera",
            "--lsl",
            name,
            "--duration",
            str(duration),
            "--out",
            str(session),
            "--quiet",
        ],
        check=True,
        env=env,
    )
    stop.set()
    th.join()
    streams, _ = pyxdf.load_xdf(str(session / XDF_NAME), dejitter_timestamps=False)
    s = next(x for x in streams if x["info"]["name"][0] == name)
    truth = np.asarray(s["time_series"])[:, 1]
    err = np.abs(np.asarray(s["time_stamps"]) - truth) * 1000.0
    return {"samples": int(len(err)), "median_ms": float(np.median(err)), "max_ms": float(err.max())}


def simulated_frames(work: Path, duration: float, env: dict) -> dict:
    session = work / "sim"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "record",
            "--simulate",
            "--duration",
            str(duration),
            "--out",
            str(session),
            "--quiet",
        ],
        check=True,
        env=env,
    )
    streams, _ = pyxdf.load_xdf(str(session / XDF_NAME), dejitter_timestamps=False)
    out = {}
    with open(session / "sim_capture_times.csv", newline="") as fh:
        truth = {int(r["frame"]): float(r["true_capture_lsl"]) for r in csv.DictReader(fh)}
    for video in ("rgb", "depth"):
        s = next(x for x in streams if x["info"]["name"][0] == frame_index_stream(video))
        frames = np.asarray(s["time_series"])[:, 0].astype(int)
        ts = np.asarray(s["time_stamps"])
        t = np.array([truth[f] for f in frames])
        err = np.abs(ts - t) * 1000.0
        out[video] = {"frames": int(len(err)), "median_ms": float(np.median(err)), "max_ms": float(err.max())}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=20.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mexlab-sync-"))
    env = dict(os.environ, MEXLAB_DB=f"sqlite:///{work / 'catalog.sqlite'}")
    result = {
        "external_outlet": external_outlet(work, args.duration, env),
        "frame_index_vs_capture": simulated_frames(work, args.duration, env),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
