"""The tracks under the Annotate video, without Qt: which streams are drawn, their data on the
coding time axis (seconds from the first video frame), their units, what could not be drawn and
why (:attr:`TrackSet.notes`), and the time window the tracks show (:class:`TrackWindow`).

:func:`load_tracks` assembles them from a session: the spotted intervals of
``analysis/spotting.json``, the AU proxies of the cached spotting features, the first EMG stream
(one track per channel), ECG with the heart rate derived from it, EDA, and the protocol markers.
The widget (:class:`app.gui.widgets.annotate_tracks.Tracks`) draws a :class:`TrackSet` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import MexlabError
from analysis.annotation.clip import Clip
from analysis.annotation.workspace_model import track_label

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

KINDS = ("series", "lines", "intervals", "markers")
HR_VERSION = 1  # of the heart-rate series kept beside a session's streams
COLOURS = {"emg": (30, 60, 160), "ecg": (170, 30, 30), "hr": (200, 80, 0), "eda": (20, 130, 60)}


@dataclass
class Track:
    """One track: ``series`` (``t``, ``values``), ``lines`` (``t``, ``lines``: several named
    series), ``intervals`` (``spans``: (t0, t1, type, text)) or ``markers`` (``markers``: (t, text));
    times in s from the first video frame. ``stream`` and ``unit``: where the data come from."""

    kind: str
    label: str
    t: np.ndarray | None = None
    values: np.ndarray | None = None
    lines: dict[str, np.ndarray] = field(default_factory=dict)
    spans: list[tuple[float, float, str, str]] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    colour: tuple[int, int, int] | str = "k"
    stream: str | None = None
    unit: str | None = None
    #: ``t`` holds ``t_offset`` + seconds from the first frame (a long stream's LSL timestamps,
    #: memory-mapped, are not copied to be shifted): draw ``t - t_offset``
    t_offset: float = 0.0

    def seconds(self) -> np.ndarray:
        """The times of ``t`` in s from the first frame (a copy: for a window, slice ``t`` first)."""
        return np.asarray(self.t) - self.t_offset

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"track kind {self.kind!r} (one of {', '.join(KINDS)})")


@dataclass
class TrackSet:
    """The tracks of one session, in drawing order, and the notes on what is missing."""

    tracks: list[Track] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fps: float = 30.0

    def labels(self) -> list[str]:
        return [t.label for t in self.tracks]

    def get(self, label: str) -> Track | None:
        return next((t for t in self.tracks if t.label == label), None)

    def add_series(
        self,
        label: str,
        t: ArrayLike,
        values: ArrayLike,
        colour: str = "k",
        stream: str | None = None,
        unit: str | None = None,
        t_offset: float = 0.0,
    ) -> Track:
        tr = Track(
            "series",
            label,
            _floats(t),
            _floats(values),
            colour=colour,
            stream=stream,
            unit=unit,
            t_offset=float(t_offset),
        )
        self.tracks.append(tr)
        return tr


def _floats(a: ArrayLike) -> np.ndarray:
    """``a`` as a floating array, not copied when it is one (a memory-mapped float32 EMG channel)."""
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(float)


def _samples(s) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps, values (n, channels))`` of a stream: memory-mapped when it was spilled."""
    return s.spilled.mapped() if s.spilled is not None else (s.timestamps, s.data)


def _heart_rate(clip: Clip, s) -> tuple[np.ndarray, np.ndarray]:
    """``(LSL t, bpm)`` of an ECG stream, kept beside the session's streams once computed (an hour
    of ECG takes seconds to analyse; opening the session again should not)."""
    from acquisition.atomic import atomic_path
    from acquisition.session_read.stream_cache import cache_dir

    kept = None
    if clip.folder is not None and s.spilled is not None and s.spilled.stamps.parent == cache_dir(clip.folder):
        safe = "".join(c if c.isalnum() else "_" for c in s.name)
        kept = s.spilled.stamps.parent / f"hr-v{HR_VERSION}-{safe}.npz"
        try:
            with np.load(kept) as z:
                return z["t"], z["bpm"]
        except (OSError, ValueError, KeyError):
            pass
    from analysis.physio.ecg import analyse_cardiac  # neurokit2: only when not kept

    hr = analyse_cardiac(s, "ecg")
    t, bpm = np.asarray(hr.hr_t, float), np.asarray(hr.hr_bpm, float)
    if kept is not None:
        try:
            with atomic_path(kept) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, t=t, bpm=bpm)
        except OSError:
            pass  # a help, not a requirement
    return t, bpm


def _unit(stream, i: int) -> str | None:
    units = stream.units or []
    return units[i] if i < len(units) else None


def load_tracks(clip: Clip) -> TrackSet:
    """The tracks of ``clip``'s session (an empty set for a plain video): spotted intervals, AU
    proxies, EMG per channel, ECG and HR, EDA, markers; a note for each that is missing and why."""
    from analysis.annotation.session_tracks import au_traces, spotted_intervals

    ts = TrackSet(fps=float(clip.fps))
    if clip.folder is None:
        return ts
    from analysis.session_data import load

    data = load(clip.folder, kept=True)  # an hour of EMG memory-mapped, not read
    t0 = float(clip.frame_times[0]) if clip.n_frames else data.start
    try:
        spans = spotted_intervals(clip)
    except MexlabError as exc:
        spans = []
        ts.notes.append(str(exc))
    if spans:
        ts.tracks.append(
            Track("intervals", "spotted", spans=[(s.t0, s.t1, s.type, f"{s.type} {s.aus}".strip()) for s in spans])
        )
    else:
        ts.notes.append("spotted: no analysis/spotting.json (run Spot in Analyze)")
    t, aus, note = au_traces(clip)
    if aus:
        ts.tracks.append(Track("lines", "AU proxies (0-1)", t=np.asarray(t, float), lines=aus))
    elif note:
        ts.notes.append(note)
    for s in data.of_kind("emg")[:1]:
        st, values = _samples(s)
        for i, lab in enumerate(s.labels):
            name = lab if lab.upper().startswith("EMG") else f"EMG {lab}"
            ts.add_series(
                track_label(name, _unit(s, i)), st, values[:, i], COLOURS["emg"], s.name, _unit(s, i), t_offset=t0
            )
    for s in data.of_kind("ecg")[:1]:
        st, values = _samples(s)
        ts.add_series(
            track_label("ECG", _unit(s, 0)), st, values[:, 0], COLOURS["ecg"], s.name, _unit(s, 0), t_offset=t0
        )
        try:
            hr_t, bpm = _heart_rate(clip, s)
            ts.add_series("HR (bpm)", hr_t, bpm, COLOURS["hr"], s.name, "bpm", t_offset=t0)
        except MexlabError as exc:  # heart rate is a help, not a requirement: say why it is missing
            ts.notes.append(f"no HR track: {exc}")
    for s in data.of_kind("eda")[:1]:
        st, values = _samples(s)
        ts.add_series(
            track_label("EDA", _unit(s, 0)), st, values[:, 0], COLOURS["eda"], s.name, _unit(s, 0), t_offset=t0
        )
    ts.tracks.append(Track("markers", "markers", markers=[(m.time - t0, m.event) for m in data.markers]))
    return ts


class TrackWindow:
    """The time window (s from the first frame) the tracks show. :meth:`show` puts ``t`` near the
    left edge; :meth:`follow` keeps the playhead in view: it recentres the window (keeping the
    width the user zoomed to) only when the playhead leaves its middle 80 %."""

    WIDTH_S = 6.0

    def __init__(self, width_s: float = WIDTH_S):
        self.width_s = float(width_s)
        self.x0, self.x1 = -0.1 * self.width_s, 0.9 * self.width_s
        self.following = True

    @property
    def range(self) -> tuple[float, float]:
        return self.x0, self.x1

    def show(self, t: float) -> tuple[float, float]:
        self.x0, self.x1 = t - 0.1 * self.width_s, t + 0.9 * self.width_s
        return self.range

    def follow(self, t: float, view: tuple[float, float] | None = None) -> tuple[float, float] | None:
        """The new window for playhead ``t`` (``view``: the range shown now, if the user panned or
        zoomed), or None when ``t`` is inside the middle of the window and nothing moves."""
        if view is not None:
            self.x0, self.x1 = float(view[0]), float(view[1])
        if not self.following:
            return None
        w = self.x1 - self.x0 if self.x1 - self.x0 > 0.05 else self.width_s
        if self.x0 + 0.1 * w <= t <= self.x1 - 0.1 * w:
            return None
        self.x0, self.x1 = t - w / 2, t + w / 2
        return self.range
