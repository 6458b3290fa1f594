"""Recording throughput on this machine: the simulated rig at RGB 848x480@30 + depth 848x480@30 +
EMG 8 ch @ 2 kHz + ECG + EDA for several minutes.

Reports dropped frames and samples (goal 0), CPU use of mexlab and LabRecorderCLI as a share of the
whole machine (goal <= 60 %), encoder headroom = the encoders' maximum fps / camera fps (goal >= 2), and
MB/s written. Prints a JSON summary and a markdown row for docs/benchmarks.md.

    .venv/bin/python bench/record_throughput.py [--duration 300] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acquisition.session_read.names import SIDECAR  # noqa: E402


def encoder_max_fps(n: int = 150) -> dict:
    """The encoders' maximum rate: colour and depth frames of the rig fed as fast as they are taken,
    each video in its own encoder thread as during a recording (frames rendered beforehand)."""
    from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB
    from acquisition.sim.depth import DepthRenderer
    from acquisition.sim.face import FaceRenderer
    from acquisition.sim.schedule import make_schedule
    from acquisition.video_writer import QueuedFrame, VideoWriterThread

    sched = make_schedule(n / 30 + 5, fps=30, seed=3)
    face, depth = (
        FaceRenderer(DEFAULT_RGB.width, DEFAULT_RGB.height),
        DepthRenderer(DEFAULT_DEPTH.width, DEFAULT_DEPTH.height),
    )
    frames = []
    for k in range(n):
        img, pose = face.render(k, sched)
        frames.append((img.copy(), depth.render(pose).copy()))
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for name, kinds in (("rgb_only", ("rgb",)), ("depth_only", ("depth",)), ("both", ("rgb", "depth"))):
            writers = {
                k: VideoWriterThread(Path(d) / f"{name}-{k}.mkv", 848, 480, 30, k, lambda i, q: None, max_queue=n + 1)
                for k in kinds
            }
            for w in writers.values():
                w.start()
            t = time.perf_counter()
            for img, dimg in frames:
                for k, w in writers.items():
                    w.offer(QueuedFrame(img if k == "rgb" else dimg, 0, 0.0, 0.0), block=True)
            for w in writers.values():
                w.finish()
            out[name] = n / (time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--encoder-only", action="store_true", help="only measure the encoders' maximum rate")
    args = ap.parse_args()
    if args.encoder_only:
        enc = encoder_max_fps()
        print(
            json.dumps(
                {"encoder_max_fps": enc, "encoder_headroom": enc["both"] / 30.0, "load_average": os.getloadavg()},
                indent=2,
            )
        )
        return 0
    work = Path(args.out or tempfile.mkdtemp(prefix="mexlab-bench-"))
    session = work / f"throughput-{int(time.time())}"
    env = dict(os.environ, MEXLAB_DB=f"sqlite:///{work / 'catalog.sqlite'}")
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "record",
        "--simulate",
        "--duration",
        str(args.duration),
        "--out",
        str(session),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    samples = []
    ncpu = psutil.cpu_count()
    last = {}
    t_start = time.monotonic()
    while proc.poll() is None:
        time.sleep(2.0)
        try:
            procs = [ps] + ps.children(recursive=True)
            total = 0.0
            now = {}
            for p in procs:
                try:
                    ct = p.cpu_times()
                    now[p.pid] = ct.user + ct.system
                except psutil.Error:
                    pass
            t = time.monotonic()
            if last:
                dt = t - last["t"]
                total = sum(v - last["cpu"].get(pid, v) for pid, v in now.items())
                samples.append(100.0 * total / dt / ncpu)
            last = {"t": t, "cpu": now}
        except psutil.Error:
            break
    wall = time.monotonic() - t_start
    out, err = proc.communicate()
    if proc.returncode != 0:
        print(err, file=sys.stderr)
        return 1
    meta = json.loads((session / SIDECAR).read_text())
    check = subprocess.run(
        [sys.executable, "-m", "app.cli", "check", str(session), "--json"], capture_output=True, text=True, env=env
    )
    report = json.loads(check.stdout)
    size = sum(p.stat().st_size for p in session.iterdir() if p.is_file())
    enc = encoder_max_fps()
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.node()} {platform.machine()}, {ncpu} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "duration_s": meta["duration_s"],
        "frames": {k: v["frames_written"] for k, v in meta["counts"].items()},
        "dropped_frames": meta["dropped_frames"],
        "dropped_samples": meta["dropped_samples"],
        "check_ok": report["ok"],
        "check_problems": report["problems"],
        "streams": {s["name"]: s["sample_count"] for s in report["streams"]},
        "cpu_percent_of_machine_median": statistics.median(samples) if samples else None,
        "cpu_percent_of_machine_p95": float(np.percentile(samples, 95)) if samples else None,
        "encoder_max_fps": enc,
        "encoder_headroom": enc["both"] / 30.0,
        "load_average_during": os.getloadavg(),
        "mb_per_s": size / 1e6 / meta["duration_s"],
        "wall_s": wall,
    }
    print(json.dumps(result, indent=2))
    print(
        f"| {result['date']} | {meta['duration_s']:.0f} s | {result['dropped_frames']} | {result['dropped_samples']} | "
        f"{result['cpu_percent_of_machine_median']:.0f} % (p95 {result['cpu_percent_of_machine_p95']:.0f} %) | "
        f"{result['encoder_headroom']:.2f} | {result['mb_per_s']:.1f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
