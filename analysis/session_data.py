"""One recording, read for analysis: its streams, its markers and its micro-expression events.

:func:`load` takes a session folder (``session.json`` + ``recording.xdf``) or any XDF file and
returns a :class:`SessionData`:

* ``streams``: every stream of the XDF as a :class:`Stream` (name, LSL type, nominal sampling rate,
  channel labels and units from ``desc/channels/channel``, samples and their LSL timestamps);
* ``markers``: the JSON markers of ``mexlab-markers`` (and of any other string stream of type
  ``Markers``; a marker that is not a JSON object keeps its text as ``event``), sorted by time;
* ``me_events``: the micro- and macro-expressions of the session, from
  ``analysis/spotting.json`` if present, else from ``ground_truth.csv`` (rows of type micro or
  macro). Their frame numbers (frames of ``rgb.mkv``) are placed on the LSL clock through the
  frame-index stream ``mexlab-rgb-frames``; a session without video (the simulated rig recorded
  with ``--no-camera``) uses ``t0_lsl`` and ``fps`` of ``ground_truth_physio.json`` instead.

All times are seconds on the LSL clock, as in the XDF. Errors the user can cause (a missing path,
a file that is not XDF, a stream named that does not exist) raise
:class:`~acquisition.errors.MexlabError` subclasses with one message naming the file or stream.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquisition.errors import SessionFormatError, StreamNotFoundError
from acquisition.session import is_session_folder, read_sidecar
from acquisition.session_read.frame_clock import FrameClock
from acquisition.session_read.names import (
    GROUND_TRUTH_NAME,
    GROUND_TRUTH_PHYSIO_NAME,
    MARKER_STREAM,
    RGB_FRAMES_STREAM,
    SIDECAR,
    SPOTTING_FILE,
    XDF_NAME,
)
from acquisition.session_read.streams import Stream, parse_marker, read_streams
from acquisition.session_read.streams import markers as _marker_tuples

FRAME_INDEX_STREAM = RGB_FRAMES_STREAM
ME_TYPES = ("micro", "macro")
__all__ = [
    "FRAME_INDEX_STREAM",
    "MARKER_STREAM",
    "SPOTTING_FILE",
    "STREAM_TYPES",
    "Marker",
    "MeEvent",
    "SessionData",
    "Stream",
    "load",
    "parse_marker",
    "read_spotting",
    "video_shortfall",
]

#: LSL stream types of each kind of signal (compared case-insensitively).
STREAM_TYPES: dict[str, tuple[str, ...]] = {
    "ecg": ("ECG", "EKG"),
    "ppg": ("PPG", "BVP", "PLETH"),
    "eda": ("EDA", "GSR"),
    "emg": ("EMG",),
}


@dataclass
class Marker:
    time: float
    event: str
    fields: dict
    stream: str

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


@dataclass
class MeEvent:
    onset: float  # LSL seconds
    apex: float
    offset: float
    onset_frame: int
    apex_frame: int
    offset_frame: int
    type: str  # micro | macro
    aus: str = ""
    score: float | None = None
    source: str = ""  # the file it came from

    @property
    def duration_s(self) -> float:
        return self.offset - self.onset


@dataclass
class SessionData:
    path: Path
    xdf: Path
    folder: Path | None
    meta: dict
    streams: list[Stream]
    markers: list[Marker] = field(default_factory=list)
    me_events: list[MeEvent] = field(default_factory=list)
    me_source: str | None = None  # file the ME events came from; None: no ME events known
    notes: list[str] = field(default_factory=list)

    @property
    def session_id(self) -> str:
        return str(self.meta.get("session_id") or self.xdf.stem)

    @property
    def participant(self) -> str | None:
        return self.meta.get("participant")

    @property
    def protocol(self) -> str | None:
        """session.json "protocol", else the "protocol" field of the first marker that has one."""
        if self.meta.get("protocol"):
            return str(self.meta["protocol"])
        for m in self.markers:
            if m.get("protocol"):
                return str(m.get("protocol"))
        return None

    @property
    def label(self) -> str:
        return self.folder.name if self.folder is not None else self.xdf.name

    @property
    def start(self) -> float:
        """LSL time the recording started (sidecar), else the first sample of any stream."""
        if isinstance(self.meta.get("started_lsl"), (int, float)):
            return float(self.meta["started_lsl"])
        firsts = [_ends(s)[0] for s in self.streams if s.n_samples]
        return float(min(firsts)) if firsts else 0.0

    @property
    def end(self) -> float:
        if isinstance(self.meta.get("stopped_lsl"), (int, float)):
            return float(self.meta["stopped_lsl"])
        lasts = [_ends(s)[1] for s in self.streams if s.n_samples]
        return float(max(lasts)) if lasts else self.start

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end - self.start)

    def stream(self, name: str) -> Stream:
        """The stream named ``name`` (or with that source_id); StreamNotFoundError otherwise."""
        for match in (
            lambda s: s.name == name,
            lambda s: s.source_id == name,
            lambda s: s.name.lower() == name.lower(),
        ):
            hits = [s for s in self.streams if match(s)]
            if hits:
                return max(hits, key=lambda s: s.n_samples)
        have = ", ".join(repr(s.name) for s in self.streams) or "none"
        raise StreamNotFoundError(f"{self.xdf}: no stream named {name!r} (streams: {have})")

    def of_kind(self, kind: str) -> list[Stream]:
        """Streams whose LSL type is one of ``STREAM_TYPES[kind]`` (most samples first)."""
        types = {t.lower() for t in STREAM_TYPES[kind]}
        found = [s for s in self.streams if s.type.lower() in types]
        return sorted(found, key=lambda s: -s.n_samples)

    def markers_of(self, *events: str) -> list[Marker]:
        return [m for m in self.markers if m.event in events]

    def frame_clock(self, fps_hint: float | None = None) -> FrameClock | None:
        """rgb.mkv frame number <-> LSL time from the frame-index stream; None without one."""
        from acquisition.session_read.streams import frame_clock

        return frame_clock(self.streams, "rgb", fps_hint)


def _ends(s: Stream) -> tuple[float, float]:
    """First and last timestamps of a stream with samples (in memory or spilled)."""
    if s.spilled is not None:
        return s.first_last
    return float(s.timestamps[0]), float(s.timestamps[-1])


# --------------------------------------------------------------------------------------------
def load(path: Path | str, *, spill_dir: Path | str | None = None, kept: bool = False) -> SessionData:
    """Read a session folder or an XDF file (see the module doc).

    ``spill_dir``: the samples of the streams sampled at 100 Hz or faster (EMG, ECG) are kept in
    files there instead of in memory (``Stream.spilled``; :mod:`analysis.physio.chunks` reads
    them piece by piece): what :func:`analysis.physio.analyse` does, so an hour-long session is
    analysed in bounded memory. Such a read is not cached.

    ``kept``: for a session folder, the same spilled read kept in the session's stream cache
    (:mod:`acquisition.session_read.stream_cache`): the first read of a long session parses its XDF
    once, later ones (Annotate, physio, report) open it in seconds. A plain XDF file is read as
    without it."""
    path = Path(path)
    if not path.exists():
        raise SessionFormatError(f"{path}: no such file or folder")
    folder = None
    meta: dict = {}
    if path.is_dir():
        if not is_session_folder(path):
            raise SessionFormatError(f"{path}: not a mexlab session folder (no {SIDECAR}) and not an XDF file")
        folder = path
    elif path.parent.joinpath(SIDECAR).is_file() and path.name == XDF_NAME:
        folder = path.parent  # the XDF of a session: read it as the session
    if folder is not None:
        meta = read_sidecar(folder)
        xdf = folder / (meta.get("files") or {}).get("xdf", XDF_NAME)
        if not xdf.is_file():
            raise SessionFormatError(f"{folder}: the session has no XDF file ({xdf.name} is missing)")
    else:
        xdf = path
    if kept and folder is not None:
        rec = read_streams(xdf, kept_in=folder)
    else:
        rec = read_streams(xdf, spill_dir=Path(spill_dir) if spill_dir is not None else None)
    data = SessionData(path=path, xdf=xdf, folder=folder, meta=meta, streams=list(rec.streams), notes=list(rec.notes))
    data.markers = _markers(data.streams)
    if folder is not None:
        _load_me_events(data)
    return data


def _markers(streams: list[Stream]) -> list[Marker]:
    return [Marker(time=t, event=e, fields=f, stream=n) for t, e, f, n in _marker_tuples(streams)]


# --------------------------------------------------------------------------------------------
# micro-expression events
def _frame_clock(data: SessionData, fps_hint: float | None) -> tuple[FrameClock | None, str | None]:
    """The clock of rgb.mkv's frames and None, or (None, why) when frames cannot be placed in time."""
    clock = data.frame_clock(fps_hint)
    if clock is not None:
        return clock, None
    gt_path = data.folder / GROUND_TRUTH_PHYSIO_NAME
    if gt_path.is_file():
        try:
            gt = json.loads(gt_path.read_text(encoding="utf-8"))
            t0, fps = float(gt["t0_lsl"]), float(gt.get("fps") or fps_hint)
        except (OSError, ValueError, KeyError, TypeError):
            return None, f"{gt_path.name} is unreadable or has no t0_lsl/fps"
        return FrameClock.linear(t0, fps, source=gt_path.name), None
    return None, f"the XDF has no frame-index stream {FRAME_INDEX_STREAM!r} (no video was recorded)"


def video_shortfall(meta: dict | None, key: str, n_read: int, video: Path) -> str | None:
    """A note when the session's video ``key`` (rgb, depth) gave fewer frames than the session
    recorded into it (``counts.<key>.frames_written`` of session.json, what the frame index holds):
    a truncated or damaged file that would otherwise be analysed in part without a word."""
    counts = ((meta or {}).get("counts") or {}).get(key)
    expected = counts.get("frames_written") if isinstance(counts, dict) else None
    if not isinstance(expected, int) or isinstance(expected, bool) or n_read >= expected:
        return None
    return (
        f"{Path(video).name} gave only {n_read} of the {expected} frames the session recorded "
        f"(session.json counts, as in the frame index): the file is truncated or damaged; frames "
        f"{n_read}-{expected - 1} were not analysed"
    )


def read_spotting(path: Path) -> tuple[list[dict], float | None]:
    """The interval rows and fps of a ``spotting.json``; one clear error when it is not one."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        rows = obj["intervals"]
        if not isinstance(rows, list):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SessionFormatError(
            f"{path}: not a spotting result (a JSON object with a list "
            f"'intervals' of {{onset, apex, offset, type}}): {exc}"
        ) from None
    fps = obj.get("fps")
    return rows, (float(fps) if isinstance(fps, (int, float)) else None)


def _read_ground_truth(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return [r for r in csv.DictReader(fh) if (r.get("type") or "").strip() in ME_TYPES]
    except (OSError, csv.Error) as exc:
        raise SessionFormatError(f"{path}: cannot be read ({exc})") from None


def _load_me_events(data: SessionData) -> None:
    spot, gt = data.folder / SPOTTING_FILE, data.folder / GROUND_TRUTH_NAME
    if spot.is_file():
        rows, fps = read_spotting(spot)
        source = SPOTTING_FILE
    elif gt.is_file():
        rows, fps, source = _read_ground_truth(gt), None, GROUND_TRUTH_NAME
    else:
        return
    clock, why = _frame_clock(data, fps)
    if clock is None:
        data.notes.append(f"the ME events of {source} cannot be placed in time: {why}")
        return
    events = []
    for i, r in enumerate(rows):
        try:
            on, ap, off = (int(float(r[k])) for k in ("onset", "apex", "offset"))
        except (KeyError, TypeError, ValueError):
            raise SessionFormatError(
                f"{data.folder / source}: interval {i + 1} lacks integer onset/apex/offset frame numbers"
            ) from None
        kind = str(r.get("type") or "micro").strip()
        if kind not in ME_TYPES:
            continue
        score = r.get("score")
        aus = r.get("aus") or ""
        aus = "+".join(map(str, aus)) if isinstance(aus, (list, tuple)) else str(aus)
        t_on, t_ap, t_off = (float(x) for x in clock.time_of([on, ap, off]))
        events.append(
            MeEvent(
                onset=t_on,
                apex=t_ap,
                offset=t_off,
                onset_frame=on,
                apex_frame=ap,
                offset_frame=off,
                type=kind,
                aus=aus,
                score=float(score) if isinstance(score, (int, float)) else None,
                source=source,
            )
        )
    data.me_events = sorted(events, key=lambda e: e.onset)
    data.me_source = source
