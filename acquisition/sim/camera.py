"""The simulated RealSense camera: an ``rs.software_device`` fed by the synthetic participant.

It has the sensors of a D400 camera ("RGB Camera" with an rgb8 stream, "Stereo Module" with a z16
stream and a depth-units option), so the recorder opens it through the same code as hardware.
A generator thread renders frame k at the capture time ``t0 + k / fps`` (LSL clock), stamps it in the
global time domain (host milliseconds, as a D400 with global time enabled does) and injects it.
If rendering falls behind by more than ``CATCH_UP_S``, frames are skipped and the camera's frame
counter jumps, as a real camera's does when its buffers overflow, so the recorder sees and counts it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from acquisition.realsense.devices import require_rs
from acquisition.realsense.modes import Mode

if TYPE_CHECKING:
    from acquisition.clock import WallToLsl
    from acquisition.sim.schedule import Schedule

SIM_NAME = "mexlab simulated participant (software device)"

# the modes of the D435 the rig imitates (librealsense 2.59 lists these for an Intel RealSense D435):
# colour rgb8 and depth z16, width x height -> frame rates
D400_RGB_MODES = {
    (1920, 1080): (6, 15, 30),
    (1280, 720): (6, 15, 30),
    (960, 540): (6, 15, 30, 60),
    (848, 480): (6, 15, 30, 60),
    (640, 480): (6, 15, 30, 60),
    (640, 360): (6, 15, 30, 60),
    (424, 240): (6, 15, 30, 60),
    (320, 240): (6, 30, 60),
    (320, 180): (6, 30, 60),
}
D400_DEPTH_MODES = {
    (1280, 720): (6, 15, 30),
    (848, 480): (6, 15, 30, 60, 90),
    (640, 480): (6, 15, 30, 60, 90),
    (640, 360): (6, 15, 30, 60, 90),
    (480, 270): (6, 15, 30, 60, 90),
    (424, 240): (6, 15, 30, 60, 90),
}


def _mode_list(table: dict) -> str:
    return ", ".join(f"{w}x{h}@{'/'.join(str(f) for f in fps)}" for (w, h), fps in table.items())


def check_sim_modes(rgb: Mode, depth: Mode) -> None:
    """Refuse, like a D400 would, a mode the camera does not offer (naming the ones it does); the rig
    renders colour and depth of one instant together, so both run at one frame rate."""
    from acquisition.errors import DeviceError

    for what, mode, table in (("colour", rgb, D400_RGB_MODES), ("depth", depth, D400_DEPTH_MODES)):
        if mode.fps not in table.get((mode.width, mode.height), ()):
            raise DeviceError(
                f"{SIM_NAME}: {what} mode {mode} is not offered by the D400 it imitates; "
                f"{what} modes: {_mode_list(table)}"
            )
    if rgb.fps != depth.fps:
        raise DeviceError(
            f"{SIM_NAME}: colour at {rgb.fps} fps and depth at {depth.fps} fps: the simulated rig "
            "renders both of one instant together; give both the same frame rate"
        )


# a camera exposes on its own clock and its driver buffers frames: a briefly late renderer catches up
# (frames keep their true capture times); only a stall longer than this loses exposures
CATCH_UP_S = 0.5


def _intrinsics(rs, mode: Mode):
    intr = rs.intrinsics()
    intr.width, intr.height = mode.width, mode.height
    intr.ppx, intr.ppy = mode.width / 2.0, mode.height / 2.0
    # a D435 colour camera: about 69 x 42 degrees field of view
    intr.fx = intr.fy = mode.width / (2 * np.tan(np.radians(69.0 / 2)))
    intr.model = rs.distortion.brown_conrady
    intr.coeffs = [0.0, 0.0, 0.0, 0.0, 0.0]
    return intr


class SimulatedCamera:
    def __init__(
        self, schedule: Schedule, rgb: Mode, depth: Mode, clock: WallToLsl, seed: int = 0, serial: str = "SIM-0001"
    ):
        from acquisition.sim.depth import DepthRenderer
        from acquisition.sim.face import FaceRenderer

        check_sim_modes(rgb, depth)
        rs = require_rs()
        self.rs = rs
        self.schedule = schedule
        self.clock = clock
        self.rgb_mode, self.depth_mode = rgb, depth
        self.face = FaceRenderer(rgb.width, rgb.height, seed=seed)
        self.depth = DepthRenderer(depth.width, depth.height, face=self.face)  # depth moves with the AUs
        sd = rs.software_device()
        self._color_sensor = sd.add_sensor("RGB Camera")
        self._depth_sensor = sd.add_sensor("Stereo Module")
        self._color_profile = self._add_stream(self._color_sensor, rs.stream.color, rgb, rs.format.rgb8, 3, 0)
        self._depth_profile = self._add_stream(self._depth_sensor, rs.stream.depth, depth, rs.format.z16, 2, 1)
        self._depth_sensor.add_read_only_option(rs.option.depth_units, 0.001)
        sd.register_info(rs.camera_info.name, SIM_NAME)
        sd.register_info(rs.camera_info.serial_number, serial)
        sd.register_info(rs.camera_info.firmware_version, "sim-1")
        sd.register_info(rs.camera_info.product_line, "D400")
        self.device = sd
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.frames_generated = 0
        self.frames_skipped = 0
        self.capture_times: list[tuple[int, float]] = []  # (frame, true capture time on the LSL clock)
        self.render_seconds = 0.0

    def _add_stream(self, sensor, stype, mode: Mode, fmt, bpp: int, uid: int):
        rs = self.rs
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = stype, 0, uid
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = mode.width, mode.height, mode.fps, bpp, fmt
        vs.intrinsics = _intrinsics(rs, mode)
        return sensor.add_video_stream(vs).as_video_stream_profile()

    def _inject(self, sensor, profile, pixels: np.ndarray, bpp: int, width: int, ts_ms: float, k: int) -> None:
        rs = self.rs
        f = rs.software_video_frame()
        f.pixels = pixels
        f.bpp = bpp
        f.stride = width * bpp
        f.timestamp = ts_ms
        f.domain = rs.timestamp_domain.global_time
        f.frame_number = k
        f.profile = profile
        if bpp == 2:
            f.depth_units = 0.001
        sensor.on_video_frame(f)

    def start(self, t0_lsl: float) -> None:
        self._t0 = t0_lsl
        self._thread = threading.Thread(target=self._run, name="mexlab-sim-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        fps = float(self.rgb_mode.fps)
        period = 1.0 / fps
        k = 0
        n_frames = getattr(self.schedule, "n_frames", None)
        while not self._stop.is_set():
            if n_frames is not None and k >= n_frames:
                break
            due = self._t0 + k * period
            now = pylsl.local_clock()
            if now < due:
                time.sleep(due - now)
            elif now - due > CATCH_UP_S:  # far behind (the machine stalled): the exposure is lost
                k += 1
                self.frames_skipped += 1
                continue
            t_render = time.perf_counter()
            rgb, pose = self.face.render(k, self.schedule)
            depth = self.depth.render(self._scale_pose(pose), self.face.au_coefficients(k, self.schedule))
            self.render_seconds += time.perf_counter() - t_render
            ts_ms = self.clock.to_wall_ms(due)
            self._inject(self._color_sensor, self._color_profile, rgb, 3, self.rgb_mode.width, ts_ms, k)
            self._inject(self._depth_sensor, self._depth_profile, depth, 2, self.depth_mode.width, ts_ms, k)
            self.capture_times.append((k, due))
            self.frames_generated += 1
            k += 1

    def _scale_pose(self, pose):
        if (self.depth_mode.width, self.depth_mode.height) == (self.rgb_mode.width, self.rgb_mode.height):
            return pose
        import dataclasses

        sx = self.depth_mode.width / self.rgb_mode.width
        sy = self.depth_mode.height / self.rgb_mode.height
        x0, y0, x1, y1 = pose.face_box
        return dataclasses.replace(
            pose, tx=pose.tx * sx, ty=pose.ty * sy, face_box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy)
        )
