"""One code path for every RealSense source: a live camera, a camera file, or a software device.

:class:`RealSenseCamera` opens the colour and depth sensors of an ``rs.device`` at the chosen modes and
delivers every frame to a callback as ``CameraFrame`` (a copy of the pixels, the camera's frame counter
and timestamp, and the capture time mapped onto the LSL clock). The simulated rig is an
``rs.software_device``, so the recorder handles it exactly like hardware.

Live cameras: global time on (timestamps on the host clock), auto-exposure priority off (the frame rate
stays fixed when the scene darkens). Camera files play non-real-time and are paced here, so every frame
of the file is delivered, at the file's own rhythm, starting when the recording starts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pylsl

from acquisition.clock import WallToLsl
from acquisition.errors import CameraFileError, DeviceError
from acquisition.realsense.devices import describe_device, require_rs
from acquisition.realsense.modes import Mode

if TYPE_CHECKING:
    import pyrealsense2 as rs


_KEPT_SOFTWARE_SENSORS: list = []  # the simulated rig's sensors, never stopped (see RealSenseCamera.stop)


@dataclass
class CameraFrame:
    stream: str  # "rgb" | "depth"
    image: np.ndarray
    camera_frame: int
    camera_timestamp_ms: float
    lsl_time: float
    file_index: int | None = None  # its frame number in the video file, set by the recorder once queued


def _intrinsics_dict(vprof) -> dict:
    i = vprof.get_intrinsics()
    return {
        "width": i.width,
        "height": i.height,
        "fx": i.fx,
        "fy": i.fy,
        "ppx": i.ppx,
        "ppy": i.ppy,
        "model": str(i.model).split(".")[-1],
        "coeffs": list(i.coeffs),
    }


def open_camera_file(path: Path) -> rs.device:
    """Load a ``.db3`` / ``.bag`` RealSense recording as a playback device."""
    rs = require_rs()
    path = Path(path)
    if not path.exists():
        raise CameraFileError(f"camera file {path}: no such file")
    if not path.is_file():
        raise CameraFileError(f"camera file {path}: not a file")
    if not os.access(path, os.R_OK):
        raise CameraFileError(f"camera file {path}: not readable (permissions)")
    if path.suffix.lower() not in (".db3", ".bag"):
        raise CameraFileError(f"camera file {path}: expected a RealSense recording (.db3 or .bag), got '{path.suffix}'")
    try:
        dev = rs.context().load_device(str(path))
        playback = dev.as_playback()
        playback.set_real_time(False)
        sensors = dev.query_sensors()
    except RuntimeError as exc:
        raise CameraFileError(f"camera file {path}: not a readable RealSense recording ({exc})") from None
    if not any(s.get_stream_profiles() for s in sensors):
        raise CameraFileError(f"camera file {path}: holds no video streams")
    return dev


class RealSenseCamera:
    """Colour + depth from one device. ``kind`` is ``live``, ``playback`` or ``software``."""

    def __init__(self, device: rs.device, kind: str, rgb: Mode | None, depth: Mode | None, clock: WallToLsl):
        self.rs = require_rs()
        self.device = device
        self.kind = kind
        self.clock = clock
        self._on_frame: Callable[[CameraFrame], None] | None = None
        self._sensors: list = []
        self._profiles: dict[str, object] = {}
        self.depth_units_m: float | None = None
        self.finished = threading.Event()  # a camera file reached its end
        self._playback = device.as_playback() if kind == "playback" else None
        self._anchor_lock = threading.Lock()
        self._anchor: tuple[float, float] | None = None  # (camera ms, lsl s) for non-global domains
        self._busy = 0  # frame callbacks running now (stop waits for them: no frame arrives after stop)
        self._busy_lock = threading.Lock()
        self._choose_profiles(rgb, depth)

    # -- choosing modes -------------------------------------------------------------------------
    def _choose_profiles(self, rgb: Mode | None, depth: Mode | None) -> None:
        rs = self.rs
        wanted = {"rgb": (rs.stream.color, rgb, (rs.format.rgb8,)), "depth": (rs.stream.depth, depth, (rs.format.z16,))}
        for key, (stype, mode, formats) in wanted.items():
            offers = []
            for sensor in self.device.query_sensors():
                for prof in sensor.get_stream_profiles():
                    if prof.stream_type() != stype or not prof.is_video_stream_profile():
                        continue
                    v = prof.as_video_stream_profile()
                    offers.append((sensor, v))
            if not offers:
                if self.kind == "playback":
                    continue  # a file without this stream: record what it holds
                raise DeviceError(f"{self._name()}: has no {key} stream")
            if self.kind == "playback" and mode is None:
                match = [o for o in offers if o[1].format() in formats] or offers
            else:
                mode = mode or Mode(848, 480, 30)
                match = [
                    o
                    for o in offers
                    if (o[1].width(), o[1].height(), o[1].fps()) == (mode.width, mode.height, mode.fps)
                    and o[1].format() in formats
                ]
            if not match:
                have = sorted(
                    {f"{v.width()}x{v.height()}@{v.fps()} {str(v.format()).split('.')[-1]}" for _, v in offers}
                )
                raise DeviceError(
                    f"{self._name()}: {key} mode {mode} (format {formats[0]}) is not supported; "
                    f"modes offered: {', '.join(have)}"
                )
            sensor, prof = match[0]
            if prof.format() not in formats:
                raise DeviceError(
                    f"{self._name()}: {key} stream is {prof.format()}, mexlab records rgb8 colour and z16 depth"
                )
            self._profiles[key] = (sensor, prof)
        if not self._profiles:
            raise DeviceError(f"{self._name()}: neither a colour nor a depth stream is available")

    def _name(self) -> str:
        d = describe_device(self.device)
        return f"{d.name or 'RealSense device'}" + (f" #{d.serial}" if d.serial else "")

    @property
    def streams(self) -> list[str]:
        return list(self._profiles)

    def mode(self, key: str) -> Mode:
        v = self._profiles[key][1]
        return Mode(v.width(), v.height(), v.fps())

    def describe(self) -> dict:
        """Devices, modes and intrinsics for session.json."""
        d = describe_device(self.device)
        dev = {"name": d.name, "serial": d.serial, "firmware": d.firmware, "product_line": d.product_line}
        if self.kind == "playback":
            dev["file"] = self._playback.file_name()
        modes = {k: self.mode(k).as_dict(str(p.format()).split(".")[-1]) for k, (_, p) in self._profiles.items()}
        intr = {}
        for k, (_, p) in self._profiles.items():
            try:
                intr[k] = _intrinsics_dict(p)
            except RuntimeError:
                intr[k] = None
        return {"devices": [dev], "modes": modes, "intrinsics": intr}

    # -- running --------------------------------------------------------------------------------
    def _configure_live(self) -> None:
        rs = self.rs
        for sensor in {id(s): s for s, _ in self._profiles.values()}.values():
            for opt, val in ((rs.option.global_time_enabled, 1), (rs.option.auto_exposure_priority, 0)):
                try:
                    if sensor.supports(opt) and not sensor.is_option_read_only(opt):
                        sensor.set_option(opt, val)
                except RuntimeError:
                    pass

    def _read_depth_units(self) -> None:
        rs = self.rs
        if "depth" not in self._profiles:
            return
        sensor = self._profiles["depth"][0]
        try:
            if sensor.supports(rs.option.depth_units):
                self.depth_units_m = float(sensor.get_option(rs.option.depth_units))
        except RuntimeError:
            pass
        if self.depth_units_m is None:
            self.depth_units_m = 0.001

    def start(self, on_frame: Callable[[CameraFrame], None]) -> None:
        self._on_frame = on_frame
        if self.kind == "live":
            self._configure_live()
        self._read_depth_units()
        by_sensor: dict[int, tuple[object, list]] = {}
        for key, (sensor, prof) in self._profiles.items():
            by_sensor.setdefault(id(sensor), (sensor, []))[1].append((key, prof))
        try:
            for sensor, items in by_sensor.values():
                sensor.open([p for _, p in items] if len(items) > 1 else items[0][1])
                self._sensors.append(sensor)
            # a playback device starts reading when its FIRST sensor starts, and a frame read before its
            # own sensor has started is dropped for good (the depth video of a file then lacked its first
            # frame, every frame shifted by one): hold the file until every sensor is started
            if self._playback is not None:
                self._playback.pause()
            self._t_start = pylsl.local_clock()
            for i, sensor in enumerate(self._sensors):
                sensor.start(self._callback)
                if i == 0 and self._after_first_start is not None:
                    self._after_first_start()
            if self._playback is not None:
                self._t_start = pylsl.local_clock()
                self._playback.resume()
        except RuntimeError as exc:
            self.stop()
            raise DeviceError(f"{self._name()}: cannot start streaming ({exc})") from None
        if self._playback is not None:
            threading.Thread(target=self._watch_playback, name="mexlab-playback-watch", daemon=True).start()

    def _watch_playback(self) -> None:
        rs = self.rs
        t0 = time.monotonic()
        seen_playing = False
        while not self.finished.is_set():
            status = self._playback.current_status()
            if status == rs.playback_status.playing:
                seen_playing = True
            elif status == rs.playback_status.stopped and (seen_playing or time.monotonic() - t0 > 5):
                self.finished.set()
                return
            time.sleep(0.02)

    def _to_lsl(self, ts_ms: float, domain) -> float:
        rs = self.rs
        if self.kind != "playback" and domain in (rs.timestamp_domain.global_time, rs.timestamp_domain.system_time):
            return self.clock.to_lsl(ts_ms)
        # hardware clock or a file: keep the camera's spacing, anchored at the first frame
        with self._anchor_lock:
            if self._anchor is None:
                self._anchor = (ts_ms, self._t_start if self.kind == "playback" else pylsl.local_clock())
            ms0, lsl0 = self._anchor
        return lsl0 + (ts_ms - ms0) / 1000.0

    _callback_enabled = True

    def _callback(self, frame) -> None:
        if not self._callback_enabled:
            return
        with self._busy_lock:
            self._busy += 1
        try:
            self._deliver(frame)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _deliver(self, frame) -> None:
        rs = self.rs
        try:
            stype = frame.get_profile().stream_type()
            key = "rgb" if stype == rs.stream.color else "depth" if stype == rs.stream.depth else None
            if key is None or key not in self._profiles:
                return
            ts = frame.get_timestamp()
            lsl_time = self._to_lsl(ts, frame.get_frame_timestamp_domain())
            image = np.array(frame.get_data(), copy=True)
            cf = CameraFrame(key, image, int(frame.get_frame_number()), float(ts), lsl_time)
            if self.kind == "playback":
                # pace the file at its own rhythm; the playback thread waits for us (nothing dropped)
                delay = lsl_time - pylsl.local_clock()
                if delay > 0:
                    time.sleep(min(delay, 1.0))
            if self._on_frame is not None:
                self._on_frame(cf)
        except Exception as exc:  # noqa: BLE001 - never let an exception kill librealsense's thread
            self.error = f"frame callback failed: {exc!r}"

    error: str | None = None
    # tests: called between the first and the second sensor's start (a pre-empted start thread)
    _after_first_start: Callable[[], None] | None = None

    def stop(self) -> None:
        if self.kind == "software":
            # The simulated rig's software sensors are not stopped: stopping one (librealsense's
            # software_sensor::stop) destroyed its frame callback in a double free that aborted the
            # process in GUI recordings with live spotting (2026-12-02, cause not found). The rig has
            # stopped injecting (Recorder.stop), so no frame follows; the sensors are kept for the
            # life of the process (one pair per simulated recording).
            self._callback_enabled = False
            _KEPT_SOFTWARE_SENSORS.extend(self._sensors)
            self._sensors = []
        for sensor in self._sensors:
            try:
                sensor.stop()
            except RuntimeError:
                pass
        for sensor in self._sensors:
            try:
                sensor.close()
            except RuntimeError:
                pass
        self._sensors = []
        # sensor.stop() can return while a callback still runs (a paced file frame): wait for it, so
        # every frame is handed over before the recorder drains its writers
        deadline = time.monotonic() + 3.0
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.005)
        self.finished.set() if self.kind == "playback" else None
