"""Frames lost when the recording's process is busy (issue 10): the simulated rig recorded at
848x480@30 colour + depth while Python threads of the same process hold the GIL (what the GUI thread,
pyqtgraph and live spotting do in the desktop application) and busy processes load the CPU, with the
encoders in threads (before) or in processes of their own (``encoder_process``, the GUI's now).

    nice -n 10 .venv/bin/python bench/record_busy_process.py --seconds 20 --gil-threads 2 --load 2
    # the rig's renderer in a thread (before) and in its own process (now), GUI's encoders:
    nice -n 10 .venv/bin/python bench/record_busy_process.py --seconds 30 --encoders process --rig-render both

Prints one JSON line per run: dropped frames by cause (camera counter gap = the rig's renderer fell
> 0.5 s behind; before issue 10's fix it ran in the recording process; queue overflow = an encoder's
3-s queue was full), where the rig rendered, its skipped exposures and ms/frame, encode ms/frame and
the load average before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _spin(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(1000):
            x += 1


def _rig_renders_in(where: str) -> None:
    """The rig's camera renders in a process of its own (now) or in a thread of the recording's process
    (before issue 10's fix): SimulatedRig builds whichever class acquisition.sim.camera names."""
    import acquisition.sim.camera as camera

    base = getattr(camera, "_BenchBase", camera.SimulatedCamera)
    camera._BenchBase = base
    if where == "process":
        camera.SimulatedCamera = base
        return

    class InThread(base):
        def __init__(self, *a, **k):
            super().__init__(*a, **dict(k, render_process=False))

    camera.SimulatedCamera = InThread


def run_once(encoders: str, seconds: float, gil_threads: int, work: Path, rig_render: str = "process") -> dict:
    from acquisition.recorder import Recorder
    from acquisition.sources import RecordConfig

    _rig_renders_in(rig_render)

    load0 = os.getloadavg()[0]
    out = work / f"s-{encoders}-{time.monotonic_ns()}"
    rec = Recorder(
        RecordConfig(
            out=out, source="simulate", duration=seconds, register=False, encoder_process=encoders == "process"
        )
    )
    rec.prepare()
    stop = threading.Event()
    hogs = [threading.Thread(target=_spin, args=(stop,), daemon=True) for _ in range(gil_threads)]
    for h in hogs:
        h.start()
    try:
        rec.start()
        while rec.should_stop() is None:
            time.sleep(0.1)
        encode_ms = {
            k: round(1000 * w.stats.encode_seconds / max(1, w.stats.frames_written), 1) for k, w in rec.writers.items()
        }
        cam = rec.rig.camera
        render = {
            "rig_render": getattr(cam, "render_where", "thread"),
            "rig_frames_skipped": cam.frames_skipped,
            "rig_render_ms_mean": round(1000 * cam.render_seconds / max(1, cam.frames_generated), 1),
        }
        meta = rec.stop("duration reached")
    finally:
        stop.set()
        for h in hogs:
            h.join(2)
    return {
        "encoders": encoders,
        "seconds": seconds,
        "gil_threads": gil_threads,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "dropped_frames": meta["dropped_frames"],
        "by_video": {
            k: [v["dropped_counter_gap"], v["dropped_queue_overflow"], v["frames_written"]]
            for k, v in meta["counts"].items()
        },
        "encode_ms_per_frame": encode_ms,
        **render,
        "load_average": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--gil-threads", type=int, default=2, help="Python threads spinning in the recording process")
    ap.add_argument("--load", type=int, default=0, metavar="N", help="N busy processes beside it")
    ap.add_argument("--runs", type=int, default=1, help="runs of each (alternating thread, process)")
    ap.add_argument(
        "--rig-render",
        choices=("both", "thread", "process"),
        default="process",
        help="the rig's renderer in its own process (now), in a thread (before issue 10), or both in turn",
    )
    ap.add_argument(
        "--encoders",
        choices=("both", "thread", "process"),
        default="both",
        help="encoders in threads, in processes of their own (the GUI's), or both in turn",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mexlab-busybench-"))
    busy = f"import time\nend = time.monotonic() + {(args.seconds + 30) * 2 * args.runs}\nwhile time.monotonic() < end: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", busy]) for _ in range(args.load)]
    try:
        for _ in range(args.runs):
            encs = ("thread", "process") if args.encoders == "both" else (args.encoders,)
            renders = ("thread", "process") if args.rig_render == "both" else (args.rig_render,)
            for enc, where in ((e, r) for e in encs for r in renders):
                res = run_once(enc, args.seconds, args.gil_threads, work, where)
                res["busy_processes"] = args.load
                print(json.dumps(res), flush=True)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
