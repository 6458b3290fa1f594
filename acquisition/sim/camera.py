"""The simulated RealSense camera: an ``rs.software_device`` fed by the synthetic participant.

It has the sensors of a D400 camera ("RGB Camera" with an rgb8 stream, "Stereo Module" with a z16
stream and a depth-units option), so the recorder opens it through the same code as hardware.
Frame k is rendered in a process of its own (:mod:`acquisition.sim.render_process`: a busy recording
process, with its GUI thread, live spotting and encoders, no longer starves the renderer of the
interpreter lock); an injection thread here waits for its capture time ``t0 + k / fps`` (LSL clock),
stamps it in the global time domain (host milliseconds, as a D400 with global time enabled does) and
injects it. If the renderer falls behind by more than ``CATCH_UP_S``, frames are skipped and the
camera's frame counter jumps, as a real camera's does when its buffers overflow, so the recorder sees
and counts it. If the render process dies, :attr:`SimulatedCamera.error` names it and no frame follows.

``render_process=False`` renders in the injection thread instead (the behaviour before issue 10; what
:func:`acquisition.sim.camera_file.write_camera_file`, which renders as fast as it can with no clock,
needs, through :attr:`SimulatedCamera.face` and :attr:`SimulatedCamera.depth`).
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
    from acquisition.sim.depth import DepthRenderer
    from acquisition.sim.face import FaceRenderer
    from acquisition.sim.render_process import FrameRenderer
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
        self,
        schedule: Schedule,
        rgb: Mode,
        depth: Mode,
        clock: WallToLsl,
        seed: int = 0,
        serial: str = "SIM-0001",
        render_process: bool = True,
    ):
        check_sim_modes(rgb, depth)
        rs = require_rs()
        self.rs = rs
        self.schedule = schedule
        self.clock = clock
        self.seed = int(seed)
        self.rgb_mode, self.depth_mode = rgb, depth
        self._renderer = None  # in this process: built on first use (render_process=False, camera files)
        self._render_proc = None
        if render_process:
            from acquisition.sim.render_process import RenderProcess

            # built now (as the renderers were in this process), so that frame 0 is ready at the start
            self._render_proc = RenderProcess(schedule, rgb, depth, seed=seed, catch_up_s=CATCH_UP_S, name=SIM_NAME)
            try:
                self._render_proc.wait_ready()
            except BaseException:
                self._render_proc.close()
                raise
        else:
            self.renderer  # noqa: B018 - built now, not at the first frame
        self.render_where = "process" if render_process else "thread"
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
        self.error: str | None = None  # the render process died or failed: no frame follows

    @property
    def renderer(self) -> FrameRenderer:
        """The renderers in this process (built on first use)."""
        if self._renderer is None:
            from acquisition.sim.render_process import FrameRenderer

            self._renderer = FrameRenderer(self.schedule, self.rgb_mode, self.depth_mode, seed=self.seed)
        return self._renderer

    @property
    def face(self) -> FaceRenderer:
        return self.renderer.face

    @property
    def depth(self) -> DepthRenderer:
        return self.renderer.depth

    @property
    def render_pid(self) -> int | None:
        """The render process's id (None when rendering in this process)."""
        return self._render_proc.pid if self._render_proc is not None else None

    def check(self) -> None:
        """Raise the camera's failure (a DeviceError naming it), if any."""
        if self.error:
            from acquisition.errors import DeviceError

            raise DeviceError(self.error)

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
        f.pixels = pixels  # copied by pyrealsense2: the caller may reuse its buffer at once
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
        """Frame 0 is captured at ``t0_lsl``. DeviceError if the render process has failed."""
        self._t0 = t0_lsl
        if self._render_proc is not None:
            self._render_proc.start(t0_lsl)
        target = self._run_process if self._render_proc is not None else self._run
        self._thread = threading.Thread(target=target, name="mexlab-sim-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop injecting; end the render process and free its memory (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._render_proc is not None:
            self._render_proc.close()

    def _inject_pair(self, rgb: np.ndarray, depth: np.ndarray, k: int, due: float) -> None:
        ts_ms = self.clock.to_wall_ms(due)
        self._inject(self._color_sensor, self._color_profile, rgb, 3, self.rgb_mode.width, ts_ms, k)
        self._inject(self._depth_sensor, self._depth_profile, depth, 2, self.depth_mode.width, ts_ms, k)
        self.capture_times.append((k, due))
        self.frames_generated += 1

    def _run_process(self) -> None:
        """Inject the frames the render process made, each at its capture time."""
        from acquisition.errors import DeviceError

        proc = self._render_proc
        period = 1.0 / float(self.rgb_mode.fps)
        last = -1
        # the LSL clock is the monotonic clock; read through time.monotonic, which, unlike a ctypes call
        # into liblsl, does not let go of the interpreter lock (in a busy process each let-go costs a wait)
        to_lsl = pylsl.local_clock() - time.monotonic()
        try:
            while not self._stop.is_set():
                got = proc.next_frame(0.1)
                if got is None:
                    break  # the schedule's last frame
                if got is False:
                    continue
                slot, k, seconds = got
                self.render_seconds += seconds
                self.frames_skipped += k - last - 1  # exposures the renderer was too late for
                last = k
                due = self._t0 + k * period
                wait = due - (time.monotonic() + to_lsl)
                if wait > 0 and self._stop.wait(wait):
                    break
                rgb, depth = proc.views(slot)
                self._inject_pair(rgb, depth, k, due)
                del rgb, depth
                proc.release(slot)
        except DeviceError as exc:
            if not self._stop.is_set():
                self.error = str(exc)

    def _run(self) -> None:
        """Render in this thread (``render_process=False``)."""
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
            rgb, depth = self.renderer.render(k)
            self.render_seconds += time.perf_counter() - t_render
            self._inject_pair(rgb, depth, k, due)
            k += 1

    def _scale_pose(self, pose):
        from acquisition.sim.render_process import scale_pose

        return scale_pose(pose, self.rgb_mode, self.depth_mode)
