"""The streams of a recording, read through the crash-tolerant reader and nothing else.

:func:`read_streams` reads an XDF with :func:`acquisition.xdf_read.read_xdf_robust` (a file cut by a
crash is read up to its last complete chunk; clock resets handled; timestamps not dejittered) and
returns :class:`Recording`: every stream as a :class:`Stream` plus notes saying what was wrong with
the file. The last few files read are kept (keyed by path, size and modification time), so the
consumers of one session (its analysis, its clip, its EMG) read it once. A file that cannot be read
at all raises :class:`~acquisition.errors.SessionFormatError` naming it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.errors import StreamNotFoundError
from acquisition.session_read.frame_clock import FrameClock
from acquisition.session_read.names import (
    MARKER_STREAM,
    RGB_FRAMES_STREAM,
    frame_index_stream,
)


@dataclass
class Stream:
    name: str
    type: str
    source_id: str
    fs: float  # nominal sampling rate (0: irregular)
    channel_format: str
    labels: list[str]
    units: list[str | None]
    data: np.ndarray  # (n, channels): floating (as recorded), or object (strings)
    timestamps: np.ndarray  # (n,) LSL seconds
    info: dict = field(default_factory=dict, repr=False, compare=False)  # the XDF stream header
    #: the samples kept in files instead (``read_streams(spill_dir=…)``, acquisition.xdf_read.Spilled):
    #: then ``data`` and ``timestamps`` are empty and ``first_last`` holds the first and last timestamps
    spilled: Any = field(default=None, repr=False, compare=False)
    first_last: tuple[float, float] | None = field(default=None, repr=False, compare=False)

    @property
    def n_samples(self) -> int:
        return int(self.spilled.count) if self.spilled is not None else int(self.timestamps.size)

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[1]) if self.data.ndim == 2 else 1

    @property
    def is_numeric(self) -> bool:
        return self.channel_format != "string" and self.data.dtype != object

    @property
    def duration_s(self) -> float:
        if self.spilled is not None:
            return float(self.first_last[1] - self.first_last[0]) if self.n_samples > 1 else 0.0
        return float(self.timestamps[-1] - self.timestamps[0]) if self.n_samples > 1 else 0.0

    def describe(self) -> str:
        rate = f"{self.fs:g} Hz" if self.fs > 0 else "irregular"
        return f"{self.name!r} (type {self.type or '-'}, {rate}, {self.n_channels} channel(s))"

    def channel_index(self, channel: int | str) -> int:
        """A channel by 0-based index or label; a clear error when there is no such channel."""
        if isinstance(channel, str) and not channel.isdigit():
            if channel in self.labels:
                return self.labels.index(channel)
            raise StreamNotFoundError(
                f"stream {self.name!r} has no channel labelled {channel!r} (channels: {', '.join(self.labels)})"
            )
        i = int(channel)
        if not 0 <= i < self.n_channels:
            raise StreamNotFoundError(f"stream {self.name!r} has {self.n_channels} channel(s); there is no channel {i}")
        return i

    def channel_desc(self) -> list[dict]:
        """``desc/channels/channel`` of the header, one dict of first values per channel."""
        desc = first(self.info.get("desc"))
        chans = first(desc.get("channels")) if isinstance(desc, dict) else None
        lst = chans.get("channel", []) if isinstance(chans, dict) else []
        out = []
        for i in range(self.n_channels):
            ch = lst[i] if i < len(lst) and isinstance(lst[i], dict) else {}
            out.append({k: first(v) for k, v in ch.items()})
        return out


@dataclass
class Recording:
    """What :func:`read_streams` read from one XDF file."""

    path: Path
    streams: list[Stream]
    status: str  # complete | interrupted | unknown (acquisition.xdf_read)
    notes: list[str] = field(default_factory=list)

    def named(self, name: str) -> Stream | None:
        """The stream called ``name`` with the most samples, or None."""
        hits = [s for s in self.streams if s.name == name]
        return max(hits, key=lambda s: s.n_samples) if hits else None

    def of_type(self, *types: str) -> list[Stream]:
        """Streams whose LSL type is one of ``types`` (case-insensitive), most samples first."""
        want = {t.lower() for t in types}
        return sorted((s for s in self.streams if s.type.lower() in want), key=lambda s: -s.n_samples)

    def frame_clock(self, video: str = "rgb", fps_hint: float | None = None) -> FrameClock | None:
        return frame_clock(self.streams, video, fps_hint)

    def markers(self) -> list[tuple[float, str, dict, str]]:
        return markers(self.streams)


def first(value: Any, default: Any = None) -> Any:
    """The first element of a pyxdf header value (they are lists), or the value itself."""
    if isinstance(value, list):
        value = value[0] if value else None
    return default if value is None else value


def to_stream(raw: dict) -> Stream:
    """A pyxdf stream dict as a :class:`Stream`."""
    info = raw["info"]
    n_ch = int(first(info.get("channel_count"), 1) or 1)
    fmt = str(first(info.get("channel_format"), "float32"))
    labels: list[str] = []
    units: list[str | None] = []
    desc = first(info.get("desc"))
    chans = first(desc.get("channels")) if isinstance(desc, dict) else None
    chan_list = chans.get("channel", []) if isinstance(chans, dict) else []
    for i in range(n_ch):
        ch = chan_list[i] if i < len(chan_list) and isinstance(chan_list[i], dict) else {}
        labels.append(str(first(ch.get("label"), f"ch{i + 1}")))
        unit = first(ch.get("unit"))
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
        fs = float(first(info.get("nominal_srate"), 0.0))
    except (TypeError, ValueError):
        fs = 0.0
    spilled, first_last = raw.get("spilled"), None
    if spilled is not None and spilled.count:
        ends = spilled.stamps_at([0, spilled.count - 1])
        first_last = (float(ends[0]), float(ends[1]))
    return Stream(
        name=str(first(info.get("name"), "")),
        type=str(first(info.get("type"), "")),
        source_id=str(first(info.get("source_id"), "")),
        fs=fs,
        channel_format=fmt,
        labels=labels,
        units=units,
        data=data,
        timestamps=ts,
        info=info,
        spilled=spilled,
        first_last=first_last,
    )


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4
_LOCK = threading.Lock()


def _selected(stream: Stream, select: list[dict]) -> bool:
    got = {"name": stream.name, "type": stream.type, "source_id": stream.source_id}
    return any(all(got.get(k) == str(v) for k, v in e.items()) for e in select)


def read_streams(
    xdf: Path | str,
    select: list[dict] | None = None,
    use_cache: bool = True,
    spill_dir: Path | None = None,
    kept_in: Path | None = None,
) -> Recording:
    """Every stream of ``xdf`` (see the module doc), or those ``select`` describes (a list of
    ``{"name": …}``/``{"type": …}``: only their chunks are parsed); SessionFormatError when the file
    cannot be read. A selection is taken from a cached read of the whole file when there is one.
    ``spill_dir``: the samples of the streams at 100 Hz or faster stay in files there
    (:func:`acquisition.xdf_read.read_xdf_robust`; ``Stream.spilled``), for a long recording read in
    bounded memory; such a read is neither cached nor taken from the cache. ``kept_in``: the
    session folder of ``xdf``: the same spilled read, kept in the session's stream cache
    (:mod:`acquisition.session_read.stream_cache`) and taken from it while the XDF is unchanged."""
    from acquisition.xdf_read import read_xdf_robust

    xdf = Path(xdf)
    if spill_dir is not None or kept_in is not None:
        if kept_in is not None:
            from acquisition.session_read.stream_cache import read_kept

            got = read_kept(xdf, Path(kept_in))
            if select is not None:
                keep = [i for i, s in enumerate(got.streams) if _selected(to_stream(s), select)]
                got.streams = [got.streams[i] for i in keep]
                got.summaries = [got.summaries[i] for i in keep]
        else:
            got = read_xdf_robust(xdf, select=select, spill_dir=Path(spill_dir))
        notes = list(got.problems)
        if got.status == "interrupted":
            notes.append(f"{xdf.name}: the recording was interrupted; analysing what was recorded")
        return Recording(path=xdf, streams=[to_stream(s) for s in got.streams], status=got.status, notes=notes)
    sel = tuple(tuple(sorted(e.items())) for e in select) if select is not None else None
    try:
        st = xdf.stat()
        key = (str(xdf.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None  # read_xdf_robust says what is wrong
    if use_cache and key is not None:
        with _LOCK:
            for k in ((key, sel), (key, None)):
                if k in _CACHE:
                    _CACHE.move_to_end(k)
                    rec = _CACHE[k]
                    if k[1] is None and sel is not None:
                        rec = Recording(
                            rec.path, [s for s in rec.streams if _selected(s, select)], rec.status, list(rec.notes)
                        )
                    return rec
    got = read_xdf_robust(xdf, select=select)
    notes = list(got.problems)
    if got.status == "interrupted":
        notes.append(f"{xdf.name}: the recording was interrupted; analysing what was recorded")
    rec = Recording(path=xdf, streams=[to_stream(s) for s in got.streams], status=got.status, notes=notes)
    if key is not None:
        with _LOCK:
            _CACHE[(key, sel)] = rec
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return rec


def parse_marker(text: str) -> tuple[str, dict]:
    """``(event, fields)`` of one marker string: a JSON object with "event", else the plain text."""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return str(text), {}
    if isinstance(obj, dict):
        return str(obj.get("event", "")), obj
    return str(text), {}


def markers(streams: list[Stream]) -> list[tuple[float, str, dict, str]]:
    """``(time, event, fields, stream)`` of every marker of ``mexlab-markers`` and of any other
    string stream of type Markers, sorted by time."""
    out = []
    for s in streams:
        if s.channel_format != "string" or not (s.name == MARKER_STREAM or s.type.lower() == "markers"):
            continue
        for t, row in zip(s.timestamps, s.data):
            event, fields = parse_marker(row[0])
            out.append((float(t), event, fields, s.name))
    out.sort(key=lambda m: m[0])
    return out


def frame_clock(streams: list[Stream], video: str = "rgb", fps_hint: float | None = None) -> FrameClock | None:
    """The clock of a video's frames from its frame-index stream; None when it has no sample."""
    name = frame_index_stream(video)
    idx = [s for s in streams if s.name == name and s.is_numeric and s.n_samples]
    if not idx:
        return None
    s = max(idx, key=lambda s: s.n_samples)
    fps = s.fs if s.fs > 0 else (fps_hint or 30.0)
    return FrameClock.from_index(s.data[:, 0], s.timestamps, fps, source=f"stream {name}")


__all__ = [
    "RGB_FRAMES_STREAM",
    "Recording",
    "Stream",
    "first",
    "frame_clock",
    "markers",
    "parse_marker",
    "read_streams",
    "to_stream",
]
