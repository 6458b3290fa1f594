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

import numpy as np

from acquisition.errors import SessionFormatError, StreamNotFoundError
from acquisition.session import (GROUND_TRUTH_NAME, GROUND_TRUTH_PHYSIO_NAME, SIDECAR, XDF_NAME,
                                 is_session_folder, read_sidecar)

MARKER_STREAM = "mexlab-markers"
FRAME_INDEX_STREAM = "mexlab-rgb-frames"
SPOTTING_FILE = "analysis/spotting.json"
ME_TYPES = ("micro", "macro")

#: LSL stream types of each kind of signal (compared case-insensitively).
STREAM_TYPES: dict[str, tuple[str, ...]] = {
    "ecg": ("ECG", "EKG"),
    "ppg": ("PPG", "BVP", "PLETH"),
    "eda": ("EDA", "GSR"),
    "emg": ("EMG",),
}


@dataclass
class Stream:
    name: str
    type: str
    source_id: str
    fs: float                      # nominal sampling rate (0: irregular)
    channel_format: str
    labels: list[str]
    units: list[str | None]
    data: np.ndarray               # (n, channels): floating (as recorded), or object (strings)
    timestamps: np.ndarray         # (n,) LSL seconds

    @property
    def n_samples(self) -> int:
        return int(self.timestamps.size)

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[1]) if self.data.ndim == 2 else 1

    @property
    def is_numeric(self) -> bool:
        return self.channel_format != "string" and self.data.dtype != object

    @property
    def duration_s(self) -> float:
        return float(self.timestamps[-1] - self.timestamps[0]) if self.n_samples > 1 else 0.0

    def describe(self) -> str:
        rate = f"{self.fs:g} Hz" if self.fs > 0 else "irregular"
        return f"{self.name!r} (type {self.type or '-'}, {rate}, {self.n_channels} channel(s))"

    def channel_index(self, channel: int | str) -> int:
        """A channel by 0-based index or label; a clear error when there is no such channel."""
        if isinstance(channel, str) and not channel.isdigit():
            if channel in self.labels:
                return self.labels.index(channel)
            raise StreamNotFoundError(f"stream {self.name!r} has no channel labelled {channel!r} "
                                      f"(channels: {', '.join(self.labels)})")
        i = int(channel)
        if not 0 <= i < self.n_channels:
            raise StreamNotFoundError(f"stream {self.name!r} has {self.n_channels} channel(s); "
                                      f"there is no channel {i}")
        return i


@dataclass
class Marker:
    time: float
    event: str
    fields: dict
    stream: str

    def get(self, key: str, default=None):
        return self.fields.get(key, default)


@dataclass
class MeEvent:
    onset: float                   # LSL seconds
    apex: float
    offset: float
    onset_frame: int
    apex_frame: int
    offset_frame: int
    type: str                      # micro | macro
    aus: str = ""
    score: float | None = None
    source: str = ""               # the file it came from

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
    me_source: str | None = None   # file the ME events came from; None: no ME events known
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
        firsts = [s.timestamps[0] for s in self.streams if s.n_samples]
        return float(min(firsts)) if firsts else 0.0

    @property
    def end(self) -> float:
        if isinstance(self.meta.get("stopped_lsl"), (int, float)):
            return float(self.meta["stopped_lsl"])
        lasts = [s.timestamps[-1] for s in self.streams if s.n_samples]
        return float(max(lasts)) if lasts else self.start

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end - self.start)

    def stream(self, name: str) -> Stream:
        """The stream named ``name`` (or with that source_id); StreamNotFoundError otherwise."""
        for match in (lambda s: s.name == name, lambda s: s.source_id == name,
                      lambda s: s.name.lower() == name.lower()):
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


# --------------------------------------------------------------------------------------------
def load(path: Path | str) -> SessionData:
    """Read a session folder or an XDF file (see the module doc)."""
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
        folder = path.parent            # the XDF of a session: read it as the session
    if folder is not None:
        meta = read_sidecar(folder)
        xdf = folder / (meta.get("files") or {}).get("xdf", XDF_NAME)
        if not xdf.is_file():
            raise SessionFormatError(f"{folder}: the session has no XDF file ({xdf.name} is missing)")
    else:
        xdf = path
    raw, notes = _read_xdf(xdf)
    data = SessionData(path=path, xdf=xdf, folder=folder, meta=meta,
                       streams=[_stream(s) for s in raw], notes=notes)
    data.markers = _markers(data.streams)
    if folder is not None:
        _load_me_events(data)
    return data


def _read_xdf(xdf: Path) -> tuple[list, list[str]]:
    # acquisition.xdf_read reads XDF files robustly (a file cut by a crash is read up to its last
    # complete chunk; clock resets handled; timestamps not dejittered).
    from acquisition.xdf_read import read_xdf_robust as read_checked

    got = read_checked(xdf)
    notes = list(got.problems)
    if got.status == "interrupted":
        notes.append(f"{xdf.name}: the recording was interrupted; analysing what was recorded")
    return got.streams, notes


def _first(value, default=None):
    if isinstance(value, list):
        value = value[0] if value else None
    return default if value is None else value


def _stream(raw: dict) -> Stream:
    info = raw["info"]
    n_ch = int(_first(info.get("channel_count"), 1) or 1)
    fmt = str(_first(info.get("channel_format"), "float32"))
    labels: list[str] = []
    units: list[str | None] = []
    desc = _first(info.get("desc"))
    chans = _first(desc.get("channels")) if isinstance(desc, dict) else None
    chan_list = chans.get("channel", []) if isinstance(chans, dict) else []
    for i in range(n_ch):
        ch = chan_list[i] if i < len(chan_list) and isinstance(chan_list[i], dict) else {}
        labels.append(str(_first(ch.get("label"), f"ch{i + 1}")))
        unit = _first(ch.get("unit"))
        units.append(str(unit).strip() if unit not in (None, "") else None)
    ts = np.asarray(raw.get("time_stamps", []), dtype=np.float64).reshape(-1)
    series = raw.get("time_series")
    if fmt == "string":
        data = np.empty((len(series or []), n_ch), dtype=object)
        for i, row in enumerate(series or []):
            data[i, : len(row)] = row
    else:
        # kept in the stream's own numeric type (float32 for most devices): a long EMG recording
        # would double in memory as float64; the analyses convert one channel at a time
        data = np.asarray(series if series is not None else np.zeros((0, n_ch)))
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float64)
        data = data.reshape(len(ts), -1) if data.size else np.zeros((len(ts), n_ch))
    try:
        fs = float(_first(info.get("nominal_srate"), 0.0))
    except (TypeError, ValueError):
        fs = 0.0
    return Stream(name=str(_first(info.get("name"), "")), type=str(_first(info.get("type"), "")),
                  source_id=str(_first(info.get("source_id"), "")), fs=fs, channel_format=fmt,
                  labels=labels, units=units, data=data, timestamps=ts)


def parse_marker(text: str) -> tuple[str, dict]:
    """``(event, fields)`` of one marker string: a JSON object with "event", else the plain text."""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return str(text), {}
    if isinstance(obj, dict):
        return str(obj.get("event", "")), obj
    return str(text), {}


def _markers(streams: list[Stream]) -> list[Marker]:
    out = []
    for s in streams:
        if s.channel_format != "string" or not (s.name == MARKER_STREAM or s.type.lower() == "markers"):
            continue
        for t, row in zip(s.timestamps, s.data):
            event, fields = parse_marker(row[0])
            out.append(Marker(time=float(t), event=event, fields=fields, stream=s.name))
    out.sort(key=lambda m: m.time)
    return out


# --------------------------------------------------------------------------------------------
# micro-expression events
def _frame_clock(data: SessionData, fps_hint: float | None):
    """A function frame numbers -> LSL times, and a note saying how; (None, why) when impossible."""
    idx = [s for s in data.streams if s.name == FRAME_INDEX_STREAM and s.is_numeric and s.n_samples]
    if idx:
        s = max(idx, key=lambda s: s.n_samples)
        frames = s.data[:, 0]
        order = np.argsort(frames, kind="stable")
        frames, times = frames[order], s.timestamps[order]
        fps = s.fs if s.fs > 0 else (fps_hint or 30.0)

        def from_index(f):
            f = np.asarray(f, dtype=np.float64)
            t = np.interp(f, frames, times)
            # frames beyond the index (the last second before a crash): extrapolate at the fps
            t = np.where(f > frames[-1], times[-1] + (f - frames[-1]) / fps, t)
            return np.where(f < frames[0], times[0] - (frames[0] - f) / fps, t)

        return from_index, None
    gt_path = data.folder / GROUND_TRUTH_PHYSIO_NAME
    if gt_path.is_file():
        try:
            gt = json.loads(gt_path.read_text(encoding="utf-8"))
            t0, fps = float(gt["t0_lsl"]), float(gt.get("fps") or fps_hint)
        except (OSError, ValueError, KeyError, TypeError):
            return None, f"{gt_path.name} is unreadable or has no t0_lsl/fps"
        return (lambda f: t0 + np.asarray(f, dtype=np.float64) / fps), None
    return None, f"the XDF has no frame-index stream {FRAME_INDEX_STREAM!r} (no video was recorded)"


def video_shortfall(meta: dict | None, key: str, n_read: int, video: Path) -> str | None:
    """A note when the session's video ``key`` (rgb, depth) gave fewer frames than the session
    recorded into it (``counts.<key>.frames_written`` of session.json, what the frame index holds):
    a truncated or damaged file that would otherwise be analysed in part without a word."""
    counts = ((meta or {}).get("counts") or {}).get(key)
    expected = counts.get("frames_written") if isinstance(counts, dict) else None
    if not isinstance(expected, int) or isinstance(expected, bool) or n_read >= expected:
        return None
    return (f"{Path(video).name} gave only {n_read} of the {expected} frames the session recorded "
            f"(session.json counts, as in the frame index): the file is truncated or damaged; frames "
            f"{n_read}-{expected - 1} were not analysed")


def read_spotting(path: Path) -> tuple[list[dict], float | None]:
    """The interval rows and fps of a ``spotting.json``; one clear error when it is not one."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        rows = obj["intervals"]
        if not isinstance(rows, list):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SessionFormatError(f"{path}: not a spotting result (a JSON object with a list "
                                 f"'intervals' of {{onset, apex, offset, type}}): {exc}") from None
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
            raise SessionFormatError(f"{data.folder / source}: interval {i + 1} lacks integer "
                                     f"onset/apex/offset frame numbers") from None
        kind = str(r.get("type") or "micro").strip()
        if kind not in ME_TYPES:
            continue
        score = r.get("score")
        aus = r.get("aus") or ""
        aus = "+".join(map(str, aus)) if isinstance(aus, (list, tuple)) else str(aus)
        t_on, t_ap, t_off = (float(x) for x in clock([on, ap, off]))
        events.append(MeEvent(onset=t_on, apex=t_ap, offset=t_off, onset_frame=on, apex_frame=ap,
                              offset_frame=off, type=kind, aus=aus,
                              score=float(score) if isinstance(score, (int, float)) else None,
                              source=source))
    data.me_events = sorted(events, key=lambda e: e.onset)
    data.me_source = source
