"""Write a RealSense camera file (``.db3``; rosbag2, as librealsense 2.59 records) from the rig.

The rig's software device is wrapped in an ``rs.recorder``, exactly as a real camera would be, so the
file is a genuine RealSense recording that any librealsense tool (and ``mexlab record
--camera-file``) plays back. Frames are rendered as fast as possible with timestamps at the nominal
frame rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from acquisition.errors import OutputError
from acquisition.realsense.devices import require_rs
from acquisition.realsense.modes import DEFAULT_DEPTH, DEFAULT_RGB, Mode


class _FixedClock:
    """A WallToLsl stand-in whose offset is zero: camera ms = seconds × 1000."""

    def to_wall_ms(self, lsl_s: float) -> float:
        return lsl_s * 1000.0


def write_camera_file(
    path: Path,
    n_frames: int,
    rgb: Mode = DEFAULT_RGB,
    depth: Mode = DEFAULT_DEPTH,
    seed: int = 0,
    progress: Callable[[int, int], object] | None = None,
    t0_ms: float = 1_700_000_000_000.0,
) -> dict:
    """Record ``n_frames`` frames of the simulated participant into ``path`` (.db3 or .bag)."""
    from acquisition.sim.camera import SimulatedCamera
    from acquisition.sim.schedule import make_schedule

    rs = require_rs()
    path = Path(path)
    if path.exists():
        raise OutputError(f"{path} already exists")
    if path.suffix.lower() not in (".db3", ".bag"):
        raise OutputError(f"{path}: a RealSense camera file ends in .db3 (or .bag)")
    fps = float(rgb.fps)
    schedule = make_schedule(n_frames / fps + 5.0, fps=fps, seed=seed)
    cam = SimulatedCamera(schedule, rgb, depth, _FixedClock(), seed=seed, render_process=False)  # renders here
    recorder = rs.recorder(str(path), cam.device)
    sensors = {s.get_info(rs.camera_info.name): s for s in recorder.query_sensors()}
    color, depth_s = sensors["RGB Camera"], sensors["Stereo Module"]
    color.open(cam._color_profile)
    depth_s.open(cam._depth_profile)
    got = {"rgb": 0, "depth": 0}
    color.start(lambda f: got.__setitem__("rgb", got["rgb"] + 1))
    depth_s.start(lambda f: got.__setitem__("depth", got["depth"] + 1))
    t0 = t0_ms / 1000.0
    for k in range(n_frames):
        img, pose = cam.face.render(k, schedule)
        d = cam.depth.render(cam._scale_pose(pose), cam.face.au_coefficients(k, schedule))
        ts = (t0 + k / fps) * 1000.0
        cam._inject(cam._color_sensor, cam._color_profile, img, 3, rgb.width, ts, k + 1)
        cam._inject(cam._depth_sensor, cam._depth_profile, d, 2, depth.width, ts, k + 1)
        if progress is not None:
            progress(k + 1, n_frames)
    deadline = time.monotonic() + 10
    while min(got.values()) < n_frames and time.monotonic() < deadline:
        time.sleep(0.01)
    for s in (color, depth_s):
        s.stop()
        s.close()
    del recorder, color, depth_s, sensors
    return {"path": str(path), "frames": n_frames, "delivered": dict(got), "schedule": schedule}
