"""Make real RealSense camera files (.db3) in tests: an rs.software_device recorded by rs.recorder."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyrealsense2 as rs


def _profile(sensor, stype, w, h, fps, fmt, bpp, uid):
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid = stype, 0, uid
    vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = w, h, fps, bpp, fmt
    intr = rs.intrinsics()
    intr.width, intr.height, intr.ppx, intr.ppy, intr.fx, intr.fy = w, h, w / 2, h / 2, 600.0, 600.0
    intr.model = rs.distortion.brown_conrady
    intr.coeffs = [0.0] * 5
    vs.intrinsics = intr
    return sensor.add_video_stream(vs).as_video_stream_profile()


def make_camera_file(
    path: Path,
    n_frames: int,
    width: int = 424,
    height: int = 240,
    fps: int = 30,
    seed: int = 0,
    skip: tuple[int, ...] = (),
    depth: bool = True,
):
    """Write ``n_frames`` random colour (and depth) frames; return (rgb list, depth list, timestamps ms).

    Frames whose index is in ``skip`` are not written (the camera counter jumps there).
    """
    rng = np.random.default_rng(seed)
    dev = rs.software_device()
    cs = dev.add_sensor("RGB Camera")
    cprof = _profile(cs, rs.stream.color, width, height, fps, rs.format.rgb8, 3, 0)
    if depth:
        ds = dev.add_sensor("Stereo Module")
        dprof = _profile(ds, rs.stream.depth, width, height, fps, rs.format.z16, 2, 1)
        ds.add_read_only_option(rs.option.depth_units, 0.001)
    dev.register_info(rs.camera_info.name, "test software camera")
    dev.register_info(rs.camera_info.serial_number, "TEST-1")
    rec = rs.recorder(str(path), dev)
    sensors = rec.query_sensors()
    sensors[0].open(cprof)
    sensors[0].start(lambda f: None)
    if depth:
        sensors[1].open(dprof)
        sensors[1].start(lambda f: None)
    rgbs, depths, stamps = [], [], []
    t0 = 1_700_000_000_000.0
    for k in range(n_frames):
        img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        d = rng.integers(0, 65536, (height, width), dtype=np.uint16)
        if k in skip:
            continue
        ts = t0 + k * 1000.0 / fps
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride, f.timestamp = img, 3, width * 3, ts
        f.domain, f.frame_number, f.profile = rs.timestamp_domain.system_time, k + 1, cprof
        cs.on_video_frame(f)
        rgbs.append(img)
        stamps.append(ts)
        if depth:
            g = rs.software_video_frame()
            g.pixels, g.bpp, g.stride, g.timestamp = d, 2, width * 2, ts
            g.domain, g.frame_number, g.profile, g.depth_units = rs.timestamp_domain.system_time, k + 1, dprof, 0.001
            ds.on_video_frame(g)
            depths.append(d)
    time.sleep(0.2)
    for s in sensors:
        s.stop()
        s.close()
    del rec, sensors
    return rgbs, depths, stamps
