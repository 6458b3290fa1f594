"""``mexlab rig``: the simulated participant on its own, as LSL outlets and/or a camera file."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB, parse_mode


def add_parser(sub) -> None:
    p = sub.add_parser(
        "rig",
        help="run the simulated participant's LSL outlets, or write a camera file",
        description="Publish mexlab-sim-EMG/ECG/EDA on the network like real amplifiers "
        "(until Ctrl+C or --duration), or write a RealSense .db3 camera file.",
    )
    p.add_argument("--duration", type=float, metavar="S")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--write-camera-file",
        type=Path,
        metavar="FILE.db3",
        help="write a RealSense camera file of --duration seconds (default 10) and exit",
    )
    p.add_argument("--rgb", metavar="WxH@FPS")
    p.add_argument("--depth", metavar="WxH@FPS")
    p.set_defaults(func=run)


MAX_CAMERA_FILE_S = 600.0  # a camera file of the rig: minutes, not hours (about 2 GB a minute at 848x480)


def run(args) -> int:
    from acquisition.sim.schedule import MAX_SCHEDULE_S
    from app.commands._bounds import seconds

    seconds(args.duration, "--duration", maximum=MAX_SCHEDULE_S, who="the simulated participant")
    from acquisition.lsl_config import quiet_liblsl

    quiet_liblsl()  # before liblsl's first call (it reads its configuration once)
    rgb = parse_mode(args.rgb, "--rgb") if args.rgb else DEFAULT_RGB
    depth = parse_mode(args.depth, "--depth") if args.depth else DEFAULT_DEPTH
    if args.write_camera_file:
        return write_camera_file_cmd(args, rgb, depth)
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


def write_camera_file_cmd(args, rgb, depth) -> int:
    """Check the target (folder, name, room on the disk) before librealsense touches it, write to a
    temporary name in the same folder and rename: a failed or killed write leaves no half file."""
    import os
    import shutil

    from acquisition.errors import OutputError
    from acquisition.sim.camera_file import write_camera_file
    from app.commands._bounds import seconds

    path = Path(args.write_camera_file)
    duration = seconds(args.duration or 10.0, "--duration", maximum=MAX_CAMERA_FILE_S, who="a camera file of the rig")
    if path.suffix.lower() not in (".db3", ".bag"):
        raise OutputError(f"--write-camera-file {path}: a RealSense camera file ends in .db3 (or .bag)")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"--write-camera-file {path}: the folder {folder} does not exist")
    if path.exists():
        raise OutputError(f"--write-camera-file {path}: already exists (not overwritten)")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"--write-camera-file {path}: the folder {folder} is not writable")
    n = int(round(duration * rgb.fps))
    need = n * (rgb.width * rgb.height * 3 + depth.width * depth.height * 2)
    free = shutil.disk_usage(folder).free
    if need > free:
        raise OutputError(
            f"--write-camera-file {path}: {n} frames need about {need / 2**20:,.0f} MB and "
            f"{folder} has {free / 2**20:,.0f} MB free"
        )

    def progress(k, total):
        if k % 30 == 0 or k == total:
            print(f"\rwriting frame {k}/{total}", end="", file=sys.stderr, flush=True)

    tmp = folder / f".{path.name}.partial{path.suffix}"
    try:
        out = write_camera_file(tmp, n, rgb, depth, seed=args.seed, progress=progress)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"--write-camera-file {path}: cannot be written ({exc.strerror or exc})") from None
    except RuntimeError as exc:  # librealsense's recorder
        raise OutputError(f"--write-camera-file {path}: librealsense could not write it ({exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    print(file=sys.stderr)
    print(f"wrote {path}: {n} colour + {n} depth frames at {rgb} ({out['frames']} written)")
    return 0
