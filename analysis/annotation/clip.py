"""What coding needs to know of a session or a plain video: its id, names, frame rate, the
timestamp of every frame (seconds, on the LSL clock for a session; media time for a plain video)
and, for a session, its protocol markers (the frame index and the markers read in one pass)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.errors import MexlabError, SessionFormatError
from acquisition.session import read_sidecar
from acquisition.session_read.frame_clock import FrameClock
from acquisition.session_read.names import (
    DEPTH_NAME,
    MARKER_STREAM,
    RGB_FRAMES_STREAM,
    RGB_NAME,
    SIDECAR,
    XDF_NAME,
)


@dataclass
class Clip:
    session_id: str
    subject: str  # participant pseudonym ('' for a plain video)
    video_name: str  # the session folder's name, or the video file's stem
    fps: float
    frame_times: np.ndarray  # (n_frames,) seconds; frame_times[0] is the first frame
    folder: Path | None = None
    rgb: Path | None = None
    depth: Path | None = None
    meta: dict = field(default_factory=dict)
    markers: list = field(default_factory=list)  # (LSL time, JSON marker) of mexlab-markers, by time
    notes: list = field(default_factory=list)  # what was wrong reading the session (a cut XDF …)

    @property
    def n_frames(self) -> int:
        return int(self.frame_times.size)

    @property
    def clock(self) -> FrameClock:
        """The frame clock of this clip (frame n at ``frame_times[n]``)."""
        return FrameClock.of_times(self.frame_times, self.fps)

    def time_of(self, frame: int) -> float:
        """Seconds from the first frame (extrapolated at the fps beyond the known frames)."""
        t0 = float(self.frame_times[0]) if self.n_frames else 0.0  # no frame times: the clock is n / fps
        return float(self.clock.time_of(frame) - t0)

    def ms_of(self, frame: int) -> int:
        return int(round(self.time_of(frame) * 1000.0))

    def frame_at(self, seconds: float) -> int:
        """The frame shown at ``seconds`` from the first frame (nearest timestamp)."""
        t0 = float(self.frame_times[0]) if self.n_frames else 0.0
        return self.clock.nearest_frame(t0 + seconds)


def _read_xdf(xdf: Path, folder: Path) -> tuple[tuple[np.ndarray, float] | None, list[tuple[float, dict]], list[str]]:
    """The frame index (every frame's timestamp, fps), the JSON markers of a session's XDF and notes,
    read through the crash-tolerant reader and the session's stream cache (the tracks read the
    same; an hour-long XDF is parsed once): a cut file gives what it holds; an unreadable one
    gives (None, [], [why])."""
    from acquisition.session_read.streams import markers as read_markers
    from acquisition.session_read.streams import read_streams

    try:
        rec = read_streams(xdf, select=[{"name": RGB_FRAMES_STREAM}, {"name": MARKER_STREAM}], kept_in=folder)
    except MexlabError as exc:  # unreadable: fall back to the video's own times
        return None, [], [f"{exc}; frame times taken from the video"]
    markers = [
        (t, fields) for t, _e, fields, name in read_markers(rec.streams) if name == MARKER_STREAM and fields
    ]  # a JSON object (mexlab's own markers)
    clock = rec.frame_clock()
    index = (clock.grid(), clock.fps) if clock is not None else None
    return index, markers, list(rec.notes)


def video_id(path: Path) -> str:
    return "video-" + hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:24]


def open_clip(path: Path | str) -> Clip:
    """A session folder (``session.json``) or a plain video file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise SessionFormatError(f"{path}: no such session folder or video file")
    if path.is_dir():
        if not (path / SIDECAR).is_file():
            raise SessionFormatError(f"{path}: not a mexlab session folder (no {SIDECAR})")
        meta = read_sidecar(path)
        files = meta.get("files") or {}
        rgb = path / files.get("rgb", RGB_NAME)
        depth = path / files.get("depth", DEPTH_NAME)
        fps = float(((meta.get("modes") or {}).get("rgb") or {}).get("fps") or 30.0)
        xdf = path / files.get("xdf", XDF_NAME)
        got, markers, notes = _read_xdf(xdf, path) if xdf.is_file() else (None, [], [])
        if got is not None:
            times, fps = got
        elif rgb.is_file():
            times = _video_times(rgb)
        else:
            times = np.zeros(0)
        return Clip(
            session_id=str(meta.get("session_id") or path.name),
            subject=str(meta.get("participant") or ""),
            video_name=path.name,
            fps=fps,
            frame_times=times,
            folder=path,
            rgb=rgb if rgb.is_file() else None,
            depth=depth if depth.is_file() else None,
            meta=meta,
            markers=markers,
            notes=notes,
        )
    times = _video_times(path)
    fps = 1.0 / float(np.median(np.diff(times))) if times.size > 1 else 30.0
    return Clip(session_id=video_id(path), subject="", video_name=path.stem, fps=fps, frame_times=times, rgb=path)


def _video_times(path: Path) -> np.ndarray:
    from acquisition.session_read.video import frame_times

    return frame_times(path)
