"""Facial EMG as evidence for spotting: a burst on a muscle raises the score of a candidate in the
face region that muscle moves.

Channel → muscle → AU map: from the EMG stream's ``desc/channels/channel`` (``label``, ``muscle``,
and ``au`` or ``aus`` with AUs joined by ``+``) when present, else :data:`DEFAULT_MAP` by channel
label, which matches the simulated rig's electrode montage (``acquisition/sim/physio.py``).

Processing per channel: 20 Hz high-pass (4th-order Butterworth, zero phase), 50 ms RMS envelope
(piece by piece, :func:`channel_envelope`: a session's EMG is read from its stream cache, so an hour
of it is never in memory), robust z-score (median, MAD) over the recording, sampled at each video frame's LSL time (from the
``mexlab-rgb-frames`` index stream, :mod:`acquisition.session_read.frame_clock`). A candidate whose regions belong to a channel's AUs gets
``score × (1 + gain · min(z / z_full, 1))`` from the channel's peak z in ``[onset − lead, offset]``
when that peak reaches ``z_min``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.spotting.regions import AU_REGIONS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from acquisition.session_read.streams import Stream

#: label → (muscle, AUs): the simulated rig's montage (acquisition.sim.physio.EMG_CHANNELS).
DEFAULT_MAP: dict[str, tuple[str, tuple[str, ...]]] = {
    "EMG1": ("frontalis medialis", ("AU1",)),
    "EMG2": ("frontalis lateralis", ("AU2",)),
    "EMG3": ("corrugator supercilii", ("AU4",)),
    "EMG4": ("orbicularis oculi", ("AU6", "AU7")),
    "EMG5": ("levator labii superioris", ("AU9", "AU10")),
    "EMG6": ("zygomaticus major", ("AU12", "AU14")),
    "EMG7": ("depressor anguli oris", ("AU15", "AU20")),
    "EMG8": ("mentalis", ("AU17", "AU24")),
}


MARGIN_S = 2.0  # of signal filtered on each side of a piece of the envelope, then dropped


@dataclass
class EmgParams:
    highpass_hz: float = 20.0
    rms_s: float = 0.05
    z_min: float = 5.0
    z_full: float = 20.0
    gain: float = 1.0
    lead_s: float = 0.1


@dataclass
class EmgChannel:
    label: str
    muscle: str
    aus: tuple[str, ...]

    @property
    def regions(self) -> set[str]:
        return {r for au in self.aus for r in AU_REGIONS.get(au, ())}


@dataclass
class EmgEvidence:
    channels: list[EmgChannel]
    z: np.ndarray  # (n_frames, n_channels) robust z of the RMS envelope
    notes: list[str] = field(default_factory=list)

    def boost(
        self, regions: Iterable[str], onset: int, offset: int, fps: float, p: EmgParams
    ) -> tuple[float, list[tuple[str, float]]]:
        """``(factor, [(label, z), …])`` for a candidate in ``regions`` over ``onset..offset``."""
        a = max(0, onset - int(round(p.lead_s * fps)))
        b = min(len(self.z), offset + 1)
        best, hits = 0.0, []
        if b <= a:
            return 1.0, hits
        regions = set(regions)
        for c, ch in enumerate(self.channels):
            if not (ch.regions & regions):
                continue
            z = float(np.nanmax(self.z[a:b, c]))
            if z >= p.z_min:
                hits.append((ch.label, round(z, 1)))
                best = max(best, z)
        if not hits:
            return 1.0, hits
        return 1.0 + p.gain * min(best / p.z_full, 1.0), hits


def _first(v, default=None):
    if isinstance(v, list):
        v = v[0] if v else None
    return default if v in (None, "") else v


def channel_map(info: dict, n: int) -> list[EmgChannel]:
    """The channels of an EMG stream (from its XDF header ``info``)."""
    desc = _first(info.get("desc"))
    chans = _first(desc.get("channels")) if isinstance(desc, dict) else None
    lst = chans.get("channel", []) if isinstance(chans, dict) else []
    out = []
    for i in range(n):
        ch = lst[i] if i < len(lst) and isinstance(lst[i], dict) else {}
        label = str(_first(ch.get("label"), f"EMG{i + 1}"))
        muscle = _first(ch.get("muscle"))
        aus = _first(ch.get("au")) or _first(ch.get("aus"))
        if aus:
            aus_t = tuple(a.strip().upper() for a in str(aus).replace(",", "+").split("+") if a.strip())
        else:
            muscle_d, aus_t = DEFAULT_MAP.get(label, (None, ()))
            muscle = muscle or muscle_d
        out.append(EmgChannel(label, str(muscle or "?"), aus_t))
    return out


def _envelope(x: np.ndarray, fs: float, p: EmgParams) -> np.ndarray:
    """RMS envelope of each column of ``x`` (n, channels) after the high-pass."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    if fs > 2.5 * p.highpass_hz and len(x) > 30:
        sos = butter(4, p.highpass_hz, btype="highpass", fs=fs, output="sos")
        x = sosfiltfilt(sos, x, axis=0)
    k = max(1, int(round(p.rms_s * fs)))
    return np.sqrt(uniform_filter1d(x * x, size=k, axis=0, mode="nearest"))


def _robust_z(env: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(median, 1.4826 MAD)`` of each column of ``env``."""
    med = np.median(env, axis=0)
    return med, np.maximum(1.4826 * np.median(np.abs(env - med), axis=0), 1e-9)


def envelope_z(x: np.ndarray, fs: float, p: EmgParams) -> np.ndarray:
    """Robust z-score of the RMS envelope of each column of ``x`` (n, channels)."""
    env = _envelope(x, fs, p)
    med, mad = _robust_z(env)
    return (env - med) / mad


def channel_envelope(stream: Stream, c: int, fs: float, p: EmgParams, size: int | None = None) -> np.ndarray:
    """The envelope of channel ``c`` of a session stream (in memory or spilled to files), computed
    piece by piece (``size`` samples, default :data:`analysis.physio.chunks.WINDOW`) with
    :data:`MARGIN_S` of signal more on each side, then dropped: the high-pass's and the RMS window's
    edge effects die out within it, so the pieces equal the whole channel's envelope to float
    precision, and an hour of 8-channel EMG is never in memory at once (one channel's envelope is:
    ~29 MB per hour at 2 kHz)."""
    from analysis.physio import chunks

    margin = int(np.ceil(MARGIN_S * fs))
    out = np.empty(stream.n_samples, dtype=np.float32)
    for start, stop, lo, _, vals in chunks.windows(stream, size=size, margin=margin):
        env = _envelope(np.asarray(vals[:, c : c + 1], dtype=np.float64), fs, p)[:, 0]
        out[start:stop] = env[start - lo : stop - lo]
    return out


def _stamps(stream: Stream, a: int, b: int) -> np.ndarray:
    """The timestamps of samples ``a`` to ``b`` (from the spill file when the stream is spilled)."""
    if stream.spilled is not None:
        return stream.spilled.read_stamps(a, b)
    return np.asarray(stream.timestamps[a:b], dtype=np.float64)


def _robust_z_pieces(env: np.ndarray, size: int | None = None) -> tuple[float, float]:
    """:func:`_robust_z` of one channel's envelope (float32), without a float64 copy of it: the
    median and the MAD as exact order statistics of pieces (:func:`analysis.physio.chunks.median`,
    the values of :func:`numpy.median`)."""
    from analysis.physio import chunks

    n, size = env.size, size or chunks.WINDOW

    def pieces():
        return (env[i : i + size].astype(np.float64) for i in range(0, n, size))

    med = chunks.median(pieces, n)

    def deviations():
        return (np.abs(x - med) for x in pieces())

    return med, max(1.4826 * chunks.median(deviations, n), 1e-9)


class FrameBrackets:
    """Where each frame time falls among a stream's samples — ``np.interp(frames, timestamps, y,
    left=nan, right=nan)`` for any per-sample ``y``, found by reading the timestamps piece by piece
    (an hour of EMG timestamps is 58 MB; they are never all in memory)."""

    def __init__(self, j: np.ndarray, dx: np.ndarray, dxp: np.ndarray) -> None:
        self.j, self.dx, self.dxp = j, dx, dxp  # j < 0: outside the samples (nan)

    @classmethod
    def of(cls, stream: Stream, frames: np.ndarray, size: int | None = None) -> FrameBrackets:
        from analysis.physio import chunks

        x = np.asarray(frames, dtype=np.float64)
        j = np.full(x.size, -1, dtype=np.int64)
        dx, dxp = np.zeros(x.size), np.ones(x.size)
        n, size = stream.n_samples, size or chunks.WINDOW
        for start in range(0, max(n - 1, 0), size):
            stop = min(n - 1, start + size)  # the intervals start..stop (one sample shared with the next piece)
            ts = _stamps(stream, start, stop + 1)
            last = stop == n - 1
            sel = np.flatnonzero((j < 0) & (x >= ts[0]) & ((x <= ts[-1]) if last else (x < ts[-1])))
            if not sel.size:
                continue
            k = np.minimum(np.searchsorted(ts, x[sel], side="right") - 1, ts.size - 2)
            j[sel], dx[sel], dxp[sel] = start + k, x[sel] - ts[k], ts[k + 1] - ts[k]
        if n == 1:
            t = _stamps(stream, 0, 1)
            hit = x == t[0]
            j[hit], dx[hit] = 0, 0.0
        return cls(j, dx, dxp)

    def interp(self, y: np.ndarray) -> np.ndarray:
        """``y`` (one value per sample) at the frames, linear between samples; nan outside."""
        out = np.full(self.j.size, np.nan)
        ok = self.j >= 0
        j = self.j[ok]
        a = y[j].astype(np.float64)
        b = y[np.minimum(j + 1, y.size - 1)].astype(np.float64)
        dxp = self.dxp[ok]
        slope = np.divide(b - a, dxp, out=np.zeros_like(a), where=dxp > 0)
        out[ok] = slope * self.dx[ok] + a
        return out


def load_emg(xdf: Path, n_frames: int, p: EmgParams | None = None) -> EmgEvidence | None:
    """EMG evidence of a session's XDF, on the frames of ``rgb.mkv``; None without EMG. The XDF is
    read through the crash-tolerant reader (a file cut by a crash gives what it holds); an
    unreadable one, or one without a frame index, gives evidence without channels and a note."""
    from acquisition.errors import MexlabError
    from acquisition.session_read.names import RGB_FRAMES_STREAM
    from acquisition.session_read.streams import read_streams

    p = p or EmgParams()
    from acquisition.session_read.names import SIDECAR

    folder = Path(xdf).parent if (Path(xdf).parent / SIDECAR).is_file() else None
    try:  # a session's XDF through its stream cache: an hour of EMG stays in files
        if folder is not None:
            rec = read_streams(xdf, select=[{"type": "EMG"}, {"name": RGB_FRAMES_STREAM}], kept_in=folder)
        else:
            rec = read_streams(xdf, select=[{"type": "EMG"}, {"name": RGB_FRAMES_STREAM}])
    except MexlabError as exc:  # an XDF that cannot be read: spot without EMG, and say so
        return EmgEvidence([], np.zeros((n_frames, 0)), [f"{xdf}: EMG not used ({exc})"])
    emg = [s for s in rec.of_type("EMG") if s.n_samples and s.is_numeric]
    if not emg:
        return None
    clock = rec.frame_clock()
    if clock is None:
        return EmgEvidence(
            [], np.zeros((n_frames, 0)), [f"{xdf}: EMG not used (no {RGB_FRAMES_STREAM} index to place frames)"]
        )
    s = emg[0]
    if s.fs:
        fs = s.fs
    else:
        t0, t1 = _stamps(s, 0, 1)[0], _stamps(s, s.n_samples - 1, s.n_samples)[0]
        fs = (s.n_samples - 1) / max(t1 - t0, 1e-9)
    chans = channel_map(s.info, s.n_channels)
    at = FrameBrackets.of(s, clock.grid(n_frames))
    zf = np.empty((n_frames, s.n_channels), dtype=np.float32)
    for c in range(s.n_channels):  # one channel's envelope in memory at a time, in float32
        env = channel_envelope(s, c, fs, p)
        med, mad = _robust_z_pieces(env)
        zf[:, c] = (at.interp(env) - med) / mad
    notes = list(rec.notes)  # a cut or damaged file: said, and read up to its end
    return EmgEvidence(chans, zf, notes)
