"""The pre-flight before Start: cameras, LSL streams with their measured rates, required streams,
rate mismatches, free disk and how many minutes of recording it holds. Qt-free; the GUI runs it in a
worker thread and the CLI prints it (``mexlab preflight``)."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pylsl

from acquisition.lsl_streams import FoundStream, StreamRequest, list_streams
from acquisition.realsense.modes import Mode

# bytes per second of FFV1 per pixel and frame, measured on the simulated rig and on camera noise
# (docs/benchmarks.md): colour ~1.1 bytes/pixel, depth ~0.6 bytes/pixel
RGB_BYTES_PER_PIXEL = 1.1
DEPTH_BYTES_PER_PIXEL = 0.6
RATE_TOLERANCE = 0.05


@dataclass
class StreamStatus:
    stream: FoundStream
    measured_srate: float | None
    required: bool = False

    @property
    def mismatch(self) -> bool:
        nominal = self.stream.nominal_srate
        if nominal <= 0 or self.measured_srate is None:
            return False
        return abs(self.measured_srate - nominal) > RATE_TOLERANCE * nominal

    def describe(self) -> str:
        meas = "" if self.measured_srate is None else f", measured {self.measured_srate:.1f} Hz"
        flag = " — RATE MISMATCH" if self.mismatch and self.required else ""
        return f"{self.stream.describe()}{meas}{flag}" + (" [required]" if self.required else "")


@dataclass
class PreflightReport:
    cameras: list[dict] = field(default_factory=list)
    camera_error: str | None = None
    streams: list[StreamStatus] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    free_bytes: int = 0
    bytes_per_s: float = 0.0
    problems: list[str] = field(default_factory=list)

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
            out.append(f"lsl: {s.describe()}")
        mins = self.minutes_free
        out.append(f"disk: {self.free_bytes / 1e9:.1f} GB free" + ("" if mins == float("inf") else f", about {mins:.0f} min of recording"))
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
        except Exception:  # noqa: BLE001 - a stream that vanished measures as silent
            out[s.uid] = None
        finally:
            del inlet  # destroyed here, in this thread, never later by the GUI thread's garbage collector

    threads = [threading.Thread(target=one, args=(s,), daemon=True) for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5)
    return out


def recording_bytes_per_s(rgb: Mode | None, depth: Mode | None) -> float:
    b = 0.0
    if rgb is not None:
        b += rgb.width * rgb.height * rgb.fps * RGB_BYTES_PER_PIXEL
    if depth is not None:
        b += depth.width * depth.height * depth.fps * DEPTH_BYTES_PER_PIXEL
    return b + 200_000  # XDF: EMG, physiology, indices


def run_preflight(required: list[str], out_folder: Path, rgb: Mode | None, depth: Mode | None,
                  wait: float = 1.0, measure_s: float = 1.0, min_minutes: float = 5.0,
                  look_for_cameras: bool = True) -> PreflightReport:
    rep = PreflightReport()
    if look_for_cameras:
        try:
            from acquisition.realsense.devices import list_devices

            rep.cameras = [d.as_dict() for d in list_devices()]
        except Exception as exc:  # noqa: BLE001 - report, don't fail the whole pre-flight
            rep.camera_error = str(exc)
    found = list_streams(wait=wait)
    reqs = [StreamRequest.parse(r) for r in required]
    rates = measure_rates(found, measure_s) if found else {}
    for s in found:
        is_req = any(getattr(s, r.prop) == r.value for r in reqs)
        rep.streams.append(StreamStatus(s, rates.get(s.uid), is_req))
    for r in reqs:
        if not any(getattr(s, r.prop) == r.value for s in found):
            rep.missing.append(str(r))
            rep.problems.append(f"required LSL stream {r} is not on the network")
    for st in rep.streams:
        if st.required and st.mismatch:  # other streams on the network are listed, not judged
            rep.problems.append(f"{st.stream.name}: measured {st.measured_srate:.1f} Hz, nominal {st.stream.nominal_srate:g} Hz")
    probe = Path(out_folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    rep.free_bytes = shutil.disk_usage(probe).free
    rep.bytes_per_s = recording_bytes_per_s(rgb, depth)
    if rep.minutes_free < min_minutes:
        rep.problems.append(f"only {rep.minutes_free:.1f} min of recording fit on the disk of {probe}")
    return rep
