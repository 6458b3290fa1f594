"""Heart beats, heart rate and time-domain HRV from an ECG or a PPG (pulse) signal (neurokit2).

ECG: ``nk.ecg_clean(method="neurokit")`` (0.5 Hz high-pass, 50 Hz powerline filter) then the
R peaks of ``nk.ecg_peaks(method="neurokit", correct_artifacts=True)`` (Lipponen & Tarvainen 2019
artifact correction) — called as its two steps, ``nk.ecg_findpeaks`` and
``nk.signal_fixpeaks(method="Kubios")``, without the signal-long table ``ecg_peaks`` also builds;
cleaning and R-peak search run on 5-min pieces of a long recording (:func:`ecg_peaks_in_pieces`),
so an hour of ECG is analysed in memory that does not grow with its length. PPG: ``nk.ppg_clean`` then ``nk.ppg_peaks`` (systolic peaks, Elgendi 2013).

Beat times are the LSL timestamps of the peak samples, so a stream with gaps still gives true
intervals. Inter-beat intervals outside 0.25-2.0 s (240-30 bpm) or spanning a gap are not used.
The heart rate at the midpoint of each valid interval is 60 / interval; ``hr_t``/``hr_bpm`` is that
series linearly interpolated on a 4 Hz grid from the first to the last beat. ``mean_hr_bpm`` is
60 / (mean valid interval). Time-domain HRV is ``nk.hrv_time`` of the peaks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analysis.physio.common import LABEL, analysis_rate, check_stream, fill_nan, gap_note, gaps, signal_of
from analysis.session_data import Stream

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

HR_GRID_HZ = 4.0
RR_MIN_S, RR_MAX_S = 0.25, 2.0
HRV_KEYS = ("MeanNN", "SDNN", "RMSSD", "SDSD", "pNN50", "pNN20", "MedianNN", "MinNN", "MaxNN")


@dataclass
class CardiacResult:
    kind: str  # "ecg" | "ppg"
    stream: str
    channel: str
    fs: float
    unit: str | None
    beat_times: np.ndarray  # LSL s
    hr_t: np.ndarray  # LSL s, 4 Hz grid
    hr_bpm: np.ndarray
    mean_hr_bpm: float
    hrv: dict  # HRV_<key> -> value (ms or %), from nk.hrv_time
    duration_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def n_beats(self) -> int:
        return int(self.beat_times.size)

    def hr_at(self, times: ArrayLike) -> np.ndarray:
        """Heart rate (bpm) at LSL time(s) ``times``; NaN outside the first..last beat."""
        t = np.asarray(times, dtype=np.float64)
        if self.hr_t.size < 2:
            return np.full(t.shape, np.nan)
        return np.interp(t, self.hr_t, self.hr_bpm, left=np.nan, right=np.nan)

    def mean_hr_between(self, t0: float, t1: float) -> float:
        """Mean heart rate over ``[t0, t1]`` (NaN when no HR is known there)."""
        if t1 <= t0:
            return float("nan")
        grid = np.linspace(t0, t1, max(2, int((t1 - t0) * HR_GRID_HZ) + 1))
        v = self.hr_at(grid)
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def to_json(self) -> dict:
        return {
            "stream": self.stream,
            "channel": self.channel,
            "kind": self.kind,
            "fs": self.fs,
            "unit": self.unit,
            "duration_s": round(self.duration_s, 3),
            "n_beats": self.n_beats,
            "mean_hr_bpm": _r(self.mean_hr_bpm, 2),
            "hr_min_bpm": _r(np.nanmin(self.hr_bpm), 2) if self.hr_bpm.size else None,
            "hr_max_bpm": _r(np.nanmax(self.hr_bpm), 2) if self.hr_bpm.size else None,
            "hrv": {k: _r(v, 3) for k, v in self.hrv.items()},
            "notes": list(self.notes),
        }


def _r(v, nd):
    v = float(v)
    return round(v, nd) if np.isfinite(v) else None


def detect_beats(x: np.ndarray, fs: float, kind: str = "ecg") -> np.ndarray:
    """Sample indices of the heart beats (R peaks of an ECG, systolic peaks of a PPG)."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "ecg":
            # what nk.ecg_peaks(clean, method="neurokit", correct_artifacts=True) does, without the
            # table of the whole signal's length it also builds, and on pieces of a long recording
            # (ecg_peaks_in_pieces): memory that does not grow with its length
            peaks = ecg_peaks_in_pieces(x, fs)
            _, peaks = nk.signal_fixpeaks(peaks, sampling_rate=fs, method="Kubios")
        elif kind == "ppg":
            clean = nk.ppg_clean(x, sampling_rate=fs)
            _, info = nk.ppg_peaks(clean, sampling_rate=fs)
            peaks = info["PPG_Peaks"]
        else:
            raise ValueError(f"kind must be 'ecg' or 'ppg', not {kind!r}")
    return np.unique(np.asarray(peaks, dtype=np.int64))


#: a long ECG is cleaned and searched for R peaks in pieces of this length, each with ECG_MARGIN_S of
#: signal more on both sides (the 0.5 Hz high-pass and the peak search's smoothing settle within it)
ECG_PIECE_S = 300.0
ECG_MARGIN_S = 10.0


def ecg_peaks_in_pieces(x: np.ndarray, fs: float, piece_s: float = ECG_PIECE_S) -> np.ndarray:
    """R-peak sample indices of ``x``: neurokit2's cleaning (``ecg_clean``, method neurokit) and
    R-peak search (``ecg_findpeaks``, method neurokit) run on pieces of ``piece_s`` seconds with
    :data:`ECG_MARGIN_S` more on each side, each piece keeping the peaks of its own span. A recording
    up to 1.5 pieces long is one piece, as the whole signal. The search's QRS threshold is then that
    of each 5-min piece instead of the whole recording's mean (it follows slow changes of the
    signal's amplitude); the cleaning equals the whole signal's within the margins."""
    import neurokit2 as nk

    n, step, margin = len(x), max(1, int(piece_s * fs)), int(ECG_MARGIN_S * fs)
    if n <= 1.5 * step:
        clean = nk.ecg_clean(fill_nan(np.array(x[0:n], dtype=np.float64)), sampling_rate=fs, method="neurokit")
        return np.asarray(nk.ecg_findpeaks(clean, sampling_rate=fs, method="neurokit")["ECG_R_Peaks"], np.int64)
    found = []
    starts = list(range(0, n, step))
    if n - starts[-1] < step // 2:  # no short last piece: its threshold would rest on a few beats
        starts.pop()
    for i, a in enumerate(starts):
        b = starts[i + 1] if i + 1 < len(starts) else n
        lo, hi = max(0, a - margin), min(n, b + margin)
        piece = fill_nan(np.array(x[lo:hi], dtype=np.float64))  # a copy: x may be read from a file
        clean = nk.ecg_clean(piece, sampling_rate=fs, method="neurokit")
        p = np.asarray(nk.ecg_findpeaks(clean, sampling_rate=fs, method="neurokit")["ECG_R_Peaks"], np.int64) + lo
        found.append(p[(p >= a) & (p < b)])
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def hrv_time(peaks: np.ndarray, fs: float) -> dict:
    """Time-domain HRV (``nk.hrv_time``) of beat sample indices; {} when too few beats."""
    import neurokit2 as nk

    if peaks.size < 4:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = nk.hrv_time(peaks, sampling_rate=fs)
    row = table.iloc[0]
    return {f"HRV_{k}": float(row[f"HRV_{k}"]) for k in HRV_KEYS if f"HRV_{k}" in row}


def cardiac_from_signal(
    x: np.ndarray,
    fs: float,
    *,
    kind: str = "ecg",
    timestamps: ArrayLike | None = None,
    stream: str = "signal",
    channel: str = "ch1",
    unit: str | None = None,
    gap_after: np.ndarray | None = None,
) -> CardiacResult:
    """Beats, heart rate and HRV of one signal (``timestamps``: LSL times; default ``i / fs``). An
    ECG ``x`` (and its ``timestamps``) may be memory-mapped: it is read piece by piece."""
    lazy = kind == "ecg" and hasattr(x, "spilled")  # a SpilledColumn: read piece by piece
    x = x if lazy else np.asarray(x, dtype=np.float64)
    if timestamps is None:
        ts = np.arange(len(x)) / fs
    else:
        ts = timestamps if hasattr(timestamps, "spilled") else np.asarray(timestamps, dtype=np.float64)
    peaks = detect_beats(x, fs, kind)
    beats = ts[peaks]
    rr = np.diff(beats)
    valid = (rr >= RR_MIN_S) & (rr <= RR_MAX_S)
    if gap_after is not None and gap_after.size and peaks.size > 1:
        # an interval whose two beats lie on both sides of a gap is not an inter-beat interval
        seg = np.searchsorted(gap_after, peaks, side="left")
        valid &= seg[1:] == seg[:-1]
    notes = []
    what = LABEL[kind]
    if valid.sum() < 2:
        from acquisition.errors import DataError

        raise DataError(
            f"no heartbeats found in {what} stream {stream!r} channel {channel!r} "
            f"({peaks.size} peak(s) in {ts[-1] - ts[0]:.1f} s) — is it really {what}?"
        )
    if (~valid).sum() > 0.2 * valid.size:
        notes.append(
            f"{what} stream {stream!r}: {(~valid).sum()} of {rr.size} inter-beat intervals "
            f"are implausible (outside {60 / RR_MAX_S:.0f}-{60 / RR_MIN_S:.0f} bpm); "
            f"the signal may be noisy or not {what}"
        )
    mid = 0.5 * (beats[1:] + beats[:-1])[valid]
    hr = 60.0 / rr[valid]
    grid = np.arange(beats[0], beats[-1] + 1e-9, 1.0 / HR_GRID_HZ)
    hr_grid = np.interp(grid, mid, hr)
    mean_hr = 60.0 / float(np.mean(rr[valid]))
    duration = float(ts[-1] - ts[0])
    if duration < 60.0:
        notes.append(
            f"{what} stream {stream!r}: {duration:.0f} s of signal; time-domain HRV is "
            f"usually reported over 1-5 min (RMSSD is usable from ~30 s)"
        )
    return CardiacResult(
        kind=kind,
        stream=stream,
        channel=channel,
        fs=fs,
        unit=unit,
        beat_times=beats,
        hr_t=grid,
        hr_bpm=hr_grid,
        mean_hr_bpm=mean_hr,
        hrv=hrv_time(peaks, fs),
        duration_s=duration,
        notes=notes,
    )


def analyse_cardiac(stream: Stream, kind: str = "ecg", channel: int = 0) -> CardiacResult:
    """:func:`cardiac_from_signal` of one channel of a stream, after :func:`check_stream`."""
    check_stream(stream, kind, channel=channel)
    if kind == "ecg" and stream.spilled is not None:  # an hour of ECG stays in its files
        x, ts = stream.spilled.column(channel), stream.spilled.stamps_lazy()
    else:
        x, ts = signal_of(stream, channel)
    fs, rate_note = analysis_rate(stream)
    result = cardiac_from_signal(
        x,
        fs,
        kind=kind,
        timestamps=ts,
        stream=stream.name,
        channel=stream.labels[channel],
        unit=stream.units[channel],
        gap_after=gaps(ts, fs),
    )
    result.notes[:0] = [n for n in (rate_note, gap_note(stream)) if n]
    return result
