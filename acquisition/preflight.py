"""The pre-flight before Start: exactly what will be recorded, each with a status light: the cameras,
the required LSL streams and (with the simulated rig) the rig's own streams, measured for a second;
free disk and how many minutes of recording it holds. Streams of other programs are listed as not
recorded and not judged. A required stream that is missing blocks Start; one that delivers nothing
(dead: 0 Hz) blocks Start unless the experimenter overrides it. Qt-free; the GUI runs it in a worker
thread."""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pylsl

from acquisition.lsl_config import quiet_liblsl
from acquisition.lsl_streams import FoundStream, StreamRequest, list_streams
from acquisition.realsense.modes import Mode

if TYPE_CHECKING:
    import pyrealsense2 as rs

# bytes per pixel and frame of each colour codec on a camera-like picture (the rig's rendering with
# +-2 levels of sensor noise, bench/codec_compare.py, docs/benchmarks.md): FFV1 14.9 MB/s and
# lossless H.264 RGB 17.0 MB/s at 848x480@30, rounded up; depth (FFV1 gray16le) ~0.6 bytes/pixel
RGB_BYTES_PER_PIXEL = {"ffv1": 1.25, "x264rgb-intra": 1.45, "x264rgb": 1.3}
DEPTH_BYTES_PER_PIXEL = 0.6
RATE_TOLERANCE = 0.05


@dataclass
class StreamStatus:
    stream: FoundStream
    measured_srate: float | None
    required: bool = False
    role: str = "required"  # required | rig (the simulated rig's own, measured on a test run) | other

    @property
    def dead(self) -> bool:
        """A regular stream that delivered nothing while measured."""
        return self.stream.nominal_srate > 0 and not self.measured_srate

    @property
    def light(self) -> str:
        """green (flowing at its rate), amber (rate mismatch), red (dead), grey (not recorded)."""
        if self.role == "other":
            return "grey"
        if self.dead:
            return "red"
        return "amber" if self.mismatch else "green"

    @property
    def mismatch(self) -> bool:
        nominal = self.stream.nominal_srate
        if nominal <= 0 or self.measured_srate is None:
            return False
        return abs(self.measured_srate - nominal) > RATE_TOLERANCE * nominal

    def describe(self) -> str:
        meas = "" if self.measured_srate is None else f", measured {self.measured_srate:.1f} Hz"
        flag = (
            " — DEAD (no samples)"
            if self.dead and self.role != "other"
            else (" — RATE MISMATCH" if self.mismatch and self.role != "other" else "")
        )
        tag = {"required": " [required]", "rig": " [simulated rig]", "other": " [not recorded]"}[self.role]
        return f"{self.stream.describe()}{meas}{flag}{tag}"


@dataclass
class PreflightReport:
    cameras: list[dict] = field(default_factory=list)
    camera_error: str | None = None
    streams: list[StreamStatus] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    free_bytes: int = 0
    bytes_per_s: float = 0.0
    rate_source: str = ""  # where bytes_per_s comes from (earlier sessions, or an estimate)
    problems: list[str] = field(default_factory=list)
    others: list[StreamStatus] = field(default_factory=list)  # on the network, not recorded
    catalog: str | None = None  # "reachable" or the error
    preview: dict = field(default_factory=dict)  # {"rgb": HxWx3 uint8, "depth": HxW uint16}: what the camera sees

    @property
    def dead(self) -> list[StreamStatus]:
        return [s for s in self.streams if s.dead]

    def ready(self, override_dead: bool = False) -> bool:
        """Start may go ahead: no problem, and no dead stream unless the experimenter overrides."""
        return not self.problems and (override_dead or not self.dead)

    @property
    def minutes_free(self) -> float:
        return float("inf") if self.bytes_per_s <= 0 else self.free_bytes / self.bytes_per_s / 60.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = []
        if self.camera_error:
            out.append(f"cameras: {self.camera_error}")
        for c in self.cameras:
            out.append(f"camera: {c['name']} #{c['serial']} firmware {c['firmware']} {c['usb']}")
            out.append(f"  colour modes: {', '.join(c['rgb_modes']) or 'none'}")
            out.append(f"  depth modes: {', '.join(c['depth_modes']) or 'none'}")
        for s in self.streams:
            out.append(f"[{s.light}] lsl: {s.describe()}")
        if self.catalog:
            out.append(f"catalog: {self.catalog}")
        for s in self.others:
            out.append(f"[grey] other program: {s.stream.describe()} — not recorded")
        for s in self.dead:
            out.append(f"DEAD: {s.stream.name} delivered no sample in the measurement; Start needs an override")
        mins = self.minutes_free
        out.append(
            f"disk: {self.free_bytes / 1e9:.1f} GB free"
            + ("" if mins == float("inf") else f", about {mins:.0f} min of recording")
            + (
                f" at {self.bytes_per_s / 1e6:.1f} MB/s ({self.rate_source})"
                if self.rate_source and mins != float("inf")
                else ""
            )
        )
        out += [f"PROBLEM: {p}" for p in self.problems]
        return out


def measure_rates(streams: list[FoundStream], seconds: float = 1.0) -> dict[str, float | None]:
    """Samples per second seen on each stream over ``seconds`` (in parallel)."""
    out: dict[str, float | None] = {}

    def one(s: FoundStream):
        inlet = None
        try:
            # recover=False: a stream whose program has gone must not leave a reconnecting inlet behind
            inlet = pylsl.StreamInlet(s.info, max_buflen=5, recover=False)
            inlet.open_stream(timeout=2.0)
            inlet.pull_chunk(timeout=0.0)  # discard anything queued
            n = 0
            t0 = time.monotonic()
            stamps_first = stamps_last = None
            while time.monotonic() - t0 < seconds:
                _, ts = inlet.pull_chunk(timeout=0.1)
                if ts:
                    stamps_first = ts[0] if stamps_first is None else stamps_first
                    stamps_last = ts[-1]
                    n += len(ts)
            if n > 1 and stamps_last > stamps_first:
                out[s.uid] = (n - 1) / (stamps_last - stamps_first)
            else:
                out[s.uid] = 0.0 if s.nominal_srate > 0 else None
            inlet.close_stream()
        except Exception:
            out[s.uid] = None
        finally:
            del inlet  # destroyed here, in this thread, never later by the GUI thread's garbage collector

    threads = [threading.Thread(target=one, args=(s,), daemon=True) for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5)
    return out


def recording_bytes_per_s(rgb: Mode | None, depth: Mode | None, colour_codec: str | None = None) -> float:
    from acquisition.video_writer import colour_codec_name

    b = 0.0
    if rgb is not None:
        b += rgb.width * rgb.height * rgb.fps * RGB_BYTES_PER_PIXEL[colour_codec_name(colour_codec)]
    if depth is not None:
        b += depth.width * depth.height * depth.fps * DEPTH_BYTES_PER_PIXEL
    return b + 200_000  # XDF: EMG, physiology, indices


def measured_bytes_per_s(
    folder: Path,
    rgb: Mode | None,
    depth: Mode | None,
    latest: int = 5,
    min_s: float = 5.0,
    colour_codec: str | None = None,
) -> tuple[float, int] | None:
    """(bytes per second, sessions used) that recordings of these modes and this colour codec actually
    wrote: the highest rate of the ``latest`` complete sessions in ``folder`` (each folder's files
    over its duration; sessions shorter than ``min_s`` left out; sessions that name no codec were
    FFV1); None when there is none. A lossless file's size depends on the picture (a face fills a
    frame differently from the rig's), so a lab's own sessions say better than a constant how long
    its disk lasts."""
    from acquisition.video_writer import colour_codec_name

    codec = colour_codec_name(colour_codec)
    want = {
        "rgb": None if rgb is None else [rgb.width, rgb.height, rgb.fps],
        "depth": None if depth is None else [depth.width, depth.height, depth.fps],
    }
    found = []
    try:
        sidecars = list(Path(folder).glob("*/session.json"))
    except OSError:
        return None
    for sc in sidecars:
        try:
            meta = json.loads(sc.read_text(encoding="utf-8"))
            modes = meta.get("modes") or {}
            got = {
                k: (None if not modes.get(k) else [modes[k]["width"], modes[k]["height"], modes[k]["fps"]])
                for k in want
            }
            dur = float(meta.get("duration_s") or 0)
            if meta.get("status") != "complete" or got != want or dur < min_s:
                continue
            if rgb is not None and (meta.get("codecs") or {}).get("rgb", "ffv1") != codec:
                continue
            size = sum(p.stat().st_size for p in sc.parent.iterdir() if p.is_file() and not p.name.startswith("."))
            found.append((sc.stat().st_mtime, size / dur))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # a session folder mexlab cannot read says nothing about rates
    if not found:
        return None
    rates = [r for _, r in sorted(found, reverse=True)[:latest]]
    return max(rates), len(rates)


def _rig_probe(fps: int):
    """The simulated rig's own outlets, on a short test run (a unique prefix: nothing else matches)."""
    import secrets

    from acquisition.sim.outlets import SimOutlets
    from acquisition.sim.schedule import make_schedule

    probe = SimOutlets(
        make_schedule(30.0, fps=float(fps), seed=0),
        prefix="mexlab-sim",
        source_prefix=f"mexlab-sim-preflight-{secrets.token_hex(4)}",
    )
    probe.start(pylsl.local_clock())
    return probe


def run_preflight(
    required: list[str],
    out_folder: Path,
    rgb: Mode | None,
    depth: Mode | None,
    wait: float = 1.0,
    measure_s: float = 1.0,
    min_minutes: float = 5.0,
    look_for_cameras: bool = True,
    simulate: bool = False,
    colour_codec: str | None = None,
) -> PreflightReport:
    quiet_liblsl()
    rep = PreflightReport()
    probe = _rig_probe(rgb.fps if rgb else 30) if simulate else None
    try:
        _check_streams(rep, required, wait, measure_s, probe)
    finally:
        if probe is not None:
            probe.stop()
            probe.close()
    _check_disk_and_cameras(rep, out_folder, rgb, depth, min_minutes, look_for_cameras, colour_codec)
    return rep


def _check_streams(rep: PreflightReport, required: list[str], wait: float, measure_s: float, probe) -> None:
    reqs = [StreamRequest.parse(r) for r in required]
    found = list_streams(wait=wait)
    rig_ids = {st["source_id"] for st in probe.streams.values()} if probe is not None else set()
    own = [s for s in found if s.source_id in rig_ids]
    if probe is not None and len(own) < len(rig_ids):  # not heard yet: ask for each by its source_id
        for sid in rig_ids - {s.source_id for s in own}:
            own += [FoundStream.from_info(i) for i in pylsl.resolve_byprop("source_id", sid, minimum=1, timeout=3.0)]
    req = [s for s in found if s.source_id not in rig_ids and any(getattr(s, r.prop) == r.value for r in reqs)]
    chosen = req + own
    rates = measure_rates(chosen, measure_s) if chosen else {}
    rep.streams = [StreamStatus(s, rates.get(s.uid), True, "required") for s in req]
    rep.streams += [StreamStatus(s, rates.get(s.uid), False, "rig") for s in own]
    rep.others = [
        StreamStatus(s, None, False, "other")
        for s in found
        if s.source_id not in rig_ids
        and all(s.uid != c.uid for c in chosen)
        and not s.source_id.startswith("mexlab-sim-preflight-")
    ]
    for r in reqs:
        if not any(getattr(s, r.prop) == r.value for s in req):
            rep.missing.append(str(r))
            rep.problems.append(f"required LSL stream {r} is not on the network")
    if probe is not None and len(own) < len(rig_ids):
        rep.problems.append("the simulated rig's streams cannot be seen on LSL (is the network interface down?)")
    for st in rep.streams:
        if not st.dead and st.mismatch:
            rep.problems.append(
                f"{st.stream.name}: measured {st.measured_srate:.1f} Hz, nominal {st.stream.nominal_srate:g} Hz"
            )


def _check_disk_and_cameras(
    rep: PreflightReport,
    out_folder: Path,
    rgb,
    depth,
    min_minutes: float,
    look_for_cameras: bool,
    colour_codec: str | None = None,
) -> None:
    if look_for_cameras:
        try:
            from acquisition.realsense.devices import list_devices

            rep.cameras = [d.as_dict() for d in list_devices()]
        except Exception as exc:
            rep.camera_error = str(exc)
    probe = Path(out_folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    rep.free_bytes = shutil.disk_usage(probe).free
    measured = measured_bytes_per_s(Path(out_folder), rgb, depth, colour_codec=colour_codec)
    if measured is not None:
        rep.bytes_per_s, n = measured
        rep.rate_source = f"the {n} latest session(s) of these modes in {out_folder}"
    else:
        rep.bytes_per_s = recording_bytes_per_s(rgb, depth, colour_codec)
        rep.rate_source = "an estimate for these modes (no earlier session of them in the output folder)"
    if rep.minutes_free < min_minutes:
        rep.problems.append(
            f"only {rep.minutes_free:.1f} min of recording fit on the disk of {probe} (at least {min_minutes:g} min asked)"
        )


def rig_preview(rgb: Mode, depth: Mode, seed: int = 0) -> dict:
    """The simulated rig's first colour and depth frames (what its camera will show at Start)."""
    from acquisition.sim.camera import check_sim_modes
    from acquisition.sim.depth import DepthRenderer
    from acquisition.sim.face import FaceRenderer
    from acquisition.sim.schedule import make_schedule

    check_sim_modes(rgb, depth)
    schedule = make_schedule(10.0, fps=float(rgb.fps), seed=seed)
    img, pose = FaceRenderer(rgb.width, rgb.height, seed=seed).render(0, schedule)
    if (depth.width, depth.height) != (rgb.width, rgb.height):
        import dataclasses

        sx, sy = depth.width / rgb.width, depth.height / rgb.height
        x0, y0, x1, y1 = pose.face_box
        pose = dataclasses.replace(
            pose, tx=pose.tx * sx, ty=pose.ty * sy, face_box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy)
        )
    return {"rgb": img, "depth": DepthRenderer(depth.width, depth.height).render(pose)}


def camera_file_preview(path: Path, rgb: Mode | None = None, depth: Mode | None = None, timeout: float = 5.0) -> dict:
    """A camera file's first colour and depth frames (what Start will record first), read through
    the same playback path as the recording; a mode the file does not hold is refused here, before
    Start, with the modes it offers. Keys: the streams the file holds ("rgb", "depth")."""
    from acquisition.realsense.camera import open_camera_file

    return camera_preview(open_camera_file(Path(path)), "playback", rgb, depth, timeout)


def live_camera_preview(
    serial: str | None = None, rgb: Mode | None = None, depth: Mode | None = None, timeout: float = 5.0
) -> dict:
    """A connected RealSense camera's first colour and depth frames in the modes Start will record
    (the camera is opened, started and stopped again, as the recording will open it); a mode the
    camera does not offer, or no camera, is refused here with the recording's own message."""
    from acquisition.realsense.devices import open_live

    return camera_preview(open_live(serial), "live", rgb, depth, timeout)


def camera_preview(device: rs.device, kind: str, rgb: Mode | None, depth: Mode | None, timeout: float = 5.0) -> dict:
    """The first frame of each stream of ``device`` (a librealsense device of the recording's
    ``kind``), read through the recording's own camera class; keys "rgb", "depth"."""
    from acquisition.clock import WallToLsl
    from acquisition.realsense.camera import RealSenseCamera

    cam = RealSenseCamera(device, kind, rgb, depth, WallToLsl())
    got: dict = {}
    done = threading.Event()
    lock = threading.Lock()

    def on_frame(frame) -> None:
        with lock:
            got.setdefault(frame.stream, frame.image)
            if set(got) >= set(cam.streams):
                done.set()

    cam.start(on_frame)
    try:
        done.wait(timeout)
    finally:
        cam.stop()
    with lock:
        return dict(got)
