"""``mexlab rig``: the simulated participant on its own, as LSL outlets and/or a camera file."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from acquisition.errors import MexlabError
from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB, parse_mode


def add_parser(sub) -> None:
    p = sub.add_parser("rig", help="run the simulated participant's LSL outlets, or write a camera file",
                       description="Publish mexlab-sim-EMG/ECG/EDA on the network like real amplifiers "
                                   "(until Ctrl+C or --duration), or write a RealSense .db3 camera file.")
    p.add_argument("--duration", type=float, metavar="S")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write-camera-file", type=Path, metavar="FILE.db3",
                   help="write a RealSense camera file of --duration seconds (default 10) and exit")
    p.add_argument("--rgb", metavar="WxH@FPS")
    p.add_argument("--depth", metavar="WxH@FPS")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.duration is not None and not args.duration > 0:
        raise MexlabError(f"--duration {args.duration:g}: must be a positive number of seconds")
    rgb = parse_mode(args.rgb, "--rgb") if args.rgb else DEFAULT_RGB
    depth = parse_mode(args.depth, "--depth") if args.depth else DEFAULT_DEPTH
    if args.write_camera_file:
        from acquisition.sim.camera_file import write_camera_file

        n = int(round((args.duration or 10.0) * rgb.fps))

        def progress(k, total):
            if k % 30 == 0 or k == total:
                print(f"\rwriting frame {k}/{total}", end="", file=sys.stderr, flush=True)

        out = write_camera_file(args.write_camera_file, n, rgb, depth, seed=args.seed, progress=progress)
        print(file=sys.stderr)
        print(f"wrote {out['path']}: {n} colour + {n} depth frames at {rgb}")
        return 0
    import pylsl

    from acquisition.sim.rig import SimulatedRig

    rig = SimulatedRig(rgb, depth, duration_s=args.duration, seed=args.seed, camera=False)
    stop = {"flag": False}
    signal.signal(signal.SIGINT, lambda *a: stop.__setitem__("flag", True))
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__("flag", True))
    rig.start(pylsl.local_clock())
    names = ", ".join(i.name() for i in rig.outlets.infos())
    print(f"simulated participant on LSL: {names} (Ctrl+C stops)", file=sys.stderr)
    t0 = time.monotonic()
    while not stop["flag"] and (args.duration is None or time.monotonic() - t0 < args.duration):
        time.sleep(0.1)
    rig.stop()
    return 0
