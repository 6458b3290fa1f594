"""What coding needs to know of a session or a plain video: its id, names, frame rate, the
timestamp of every frame (seconds, on the LSL clock for a session; media time for a plain video)
and, for a session, its protocol markers (the frame index and the markers read in one pass)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.errors import SessionFormatError
from acquisition.session import SIDECAR, XDF_NAME, read_sidecar
from analysis.session_data import FRAME_INDEX_STREAM, MARKER_STREAM, parse_marker


@dataclass
class Clip:
    session_id: str
    subject: str              # participant pseudonym ('' for a plain video)
    video_name: str           # the session folder's name, or the video file's stem
    fps: float
    frame_times: np.ndarray   # (n_frames,) seconds; frame_times[0] is the first frame
    folder: Path | None = None
    rgb: Path | None = None
    depth: Path | None = None
    meta: dict = field(default_factory=dict)
    markers: list = field(default_factory=list)   # (LSL time, JSON marker) of mexlab-markers, by time

    @property
    def n_frames(self) -> int:
        return int(self.frame_times.size)

    def time_of(self, frame: int) -> float:
        """Seconds from the first frame (extrapolated at the fps beyond the known frames)."""
        n = self.n_frames
        if n == 0:
            return frame / self.fps
        if 0 <= frame < n:
            return float(self.frame_times[frame] - self.frame_times[0])
        last = 0 if frame < 0 else n - 1
        return float(self.frame_times[last] - self.frame_times[0] + (frame - last) / self.fps)

    def ms_of(self, frame: int) -> int:
        return int(round(self.time_of(frame) * 1000.0))

    def frame_at(self, seconds: float) -> int:
        """The frame shown at ``seconds`` from the first frame (nearest timestamp)."""
        rel = self.frame_times - self.frame_times[0] if self.n_frames else np.zeros(0)
        if rel.size == 0 or seconds > rel[-1] + 1.0 / self.fps:
            return int(round(seconds * self.fps)) if rel.size == 0 else \
                self.n_frames - 1 + int(round((seconds - rel[-1]) * self.fps))
        i = int(np.searchsorted(rel, seconds))
        if i > 0 and (i == rel.size or abs(rel[i - 1] - seconds) <= abs(rel[i] - seconds)):
            i -= 1
        return i


def _read_xdf(xdf: Path) -> tuple[tuple[np.ndarray, float] | None, list[tuple[float, dict]]]:
    """The frame index (every frame's timestamp, fps) and the JSON markers of a session's XDF, read
    in one pass; (None, []) for an unreadable or cut file."""
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(xdf), select_streams=[{"name": FRAME_INDEX_STREAM}, {"name": MARKER_STREAM}],
                                    dejitter_timestamps=False, synchronize_clocks=True)
    except Exception:  # noqa: BLE001 - unreadable or cut XDF: fall back to the fps
        return None, []
    index, markers = None, []
    for s in streams:
        if s["info"]["name"][0] == MARKER_STREAM:
            for t, v in zip(s["time_stamps"], s["time_series"]):
                _event, fields = parse_marker(v[0]) if len(v) else ("", {})
                if fields:                                   # a JSON object (mexlab's own markers)
                    markers.append((float(t), fields))
        elif len(s["time_stamps"]):
            frames = np.asarray(s["time_series"])[:, 0].astype(int)
            ts = np.asarray(s["time_stamps"], dtype=float)
            fps = float(s["info"]["nominal_srate"][0] or 30.0)
            order = np.argsort(frames)
            index = np.interp(np.arange(int(frames.max()) + 1), frames[order], ts[order]), fps
    return index, sorted(markers, key=lambda x: x[0])


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
        rgb = path / files.get("rgb", "rgb.mkv")
        depth = path / files.get("depth", "depth.mkv")
        fps = float(((meta.get("modes") or {}).get("rgb") or {}).get("fps") or 30.0)
        xdf = path / files.get("xdf", XDF_NAME)
        got, markers = _read_xdf(xdf) if xdf.is_file() else (None, [])
        if got is not None:
            times, fps = got
        elif rgb.is_file():
            times = _video_times(rgb)
        else:
            times = np.zeros(0)
        return Clip(session_id=str(meta.get("session_id") or path.name), subject=str(meta.get("participant") or ""),
                    video_name=path.name, fps=fps, frame_times=times, folder=path,
                    rgb=rgb if rgb.is_file() else None, depth=depth if depth.is_file() else None, meta=meta,
                    markers=markers)
    times = _video_times(path)
    fps = 1.0 / float(np.median(np.diff(times))) if times.size > 1 else 30.0
    return Clip(session_id=video_id(path), subject="", video_name=path.stem, fps=fps,
                frame_times=times, rgb=path)


def _video_times(path: Path) -> np.ndarray:
    import av

    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            pts = [p.pts for p in c.demux(s) if p.pts is not None]
            return np.sort(np.asarray(pts, dtype=float)) * float(s.time_base)
    except (av.FFmpegError, IndexError) as exc:
        raise SessionFormatError(f"{path}: not a readable video ({exc})") from None
