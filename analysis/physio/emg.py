"""Facial EMG: filtered, rectified envelope; burst onsets and intensity relative to a baseline.

Shared with the annotation tool's EMG coding, so the two functions it uses take plain arrays:

* :func:`emg_envelope` ``(signal, fs) -> envelope`` (same length, signal units): band-pass
  20-450 Hz (``nk.signal_filter``, 4th-order Butterworth, zero phase; the upper edge is lowered to
  0.45·fs for slow streams), full-wave rectification, then a 10 Hz low-pass (2nd-order
  Butterworth, zero phase) — the "linear envelope" (≈ 0.8 × the RMS of the filtered signal).
* :func:`emg_onsets` ``(signal, fs, baseline=(t0, t1) or None)`` -> ``[(onset_s, offset_s,
  peak_intensity_relative_to_baseline)]``, times in seconds from the first sample.

Baseline: the envelope's median (level) and 1.4826 × median absolute deviation (sd) over
``baseline`` (seconds from the first sample, e.g. a rest step) or, when None, over the whole signal.
Both are robust: a blink or an expression during the rest step, or the bursts themselves (brief and
rare), do not raise the baseline. A burst is a stretch where the envelope stays
above ``level + k_off·sd`` (onset and offset) and rises above ``level + k_on·sd`` and above
``min_ratio × level`` (k_on = 5, k_off = 2, min_ratio = 1.5); bursts less than 0.1 s apart are
merged, bursts shorter than 30 ms dropped. Intensity = peak envelope / baseline level.

:func:`analyse_emg` (a recording's stream) computes the same in bounded memory, whatever the
length: the envelope piece by piece (:data:`analysis.physio.chunks.WINDOW` samples, each filtered
with :data:`MARGIN_S` of signal more on both sides, which are then dropped: the filters' edge
effects die out within it, so the pieces equal the whole envelope to float precision), one channel
at a time, kept at full rate in a temporary file only, and the median, the deviation and the bursts
taken from that file piece by piece (the same values as over the whole array in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.physio import chunks
from analysis.physio.common import analysis_rate, check_stream, fill_nan, gap_note, unit_scale
from analysis.session_data import Stream

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import ArrayLike

BAND_HZ = (20.0, 450.0)
LOWPASS_HZ = 10.0
K_ON, K_OFF, MIN_RATIO = 5.0, 2.0, 1.5
MERGE_GAP_S, MIN_DURATION_S = 0.1, 0.03
ENVELOPE_OUT_HZ = 100.0  # envelope kept by analyse_emg (plots and event windows)
MARGIN_S = 4.0  # signal filtered on each side of a piece of the envelope, then dropped


def emg_envelope(
    signal: ArrayLike, fs: float, *, band: tuple[float, float] = BAND_HZ, lowpass_hz: float = LOWPASS_HZ
) -> np.ndarray:
    """Linear envelope of an EMG signal (see the module doc), in the signal's units."""

    x = np.asarray(signal, dtype=np.float64)
    if x.size < 16:
        raise ValueError("emg_envelope needs at least 16 samples")
    return _envelope_centred(x - np.mean(x), fs, band, lowpass_hz)


def _envelope_centred(x: np.ndarray, fs: float, band=BAND_HZ, lowpass_hz=LOWPASS_HZ) -> np.ndarray:
    import neurokit2 as nk

    hi = min(band[1], 0.45 * fs)
    filtered = nk.signal_filter(x, sampling_rate=fs, lowcut=band[0], highcut=hi, method="butterworth", order=4)
    env = nk.signal_filter(np.abs(filtered), sampling_rate=fs, highcut=lowpass_hz, method="butterworth", order=2)
    return np.maximum(env, 0.0)


def baseline_level(envelope: np.ndarray, fs: float, baseline: tuple[float, float] | None = None) -> tuple[float, float]:
    """``(level, sd)`` of the envelope at rest (see the module doc)."""
    env = np.asarray(envelope, dtype=np.float64)
    if baseline is not None:
        i0, i1 = (int(round(float(b) * fs)) for b in baseline)
        i0, i1 = max(0, i0), min(env.size, i1)
        if i1 - i0 < max(2, int(0.2 * fs)):
            raise ValueError(f"baseline window {tuple(baseline)} s holds less than 0.2 s of signal")
        env = env[i0:i1]
    level = float(np.median(env))
    return level, float(1.4826 * np.median(np.abs(env - level)))


def _kept_bursts(runs, peak_of, fs: float, thr_on: float, level: float) -> list[tuple[int, int, float]]:
    """Runs above the offset threshold, ``[start, stop)`` in order: those less than MERGE_GAP_S apart
    joined, then kept when their peak (``peak_of(start, stop)``) reaches ``thr_on`` and they last
    MIN_DURATION_S; each as (start, stop, peak / level)."""
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] < MERGE_GAP_S * fs:
            merged[-1][1] = b
        else:
            merged.append([int(a), int(b)])
    out = []
    for a, b in merged:
        peak = float(peak_of(a, b))
        if peak >= thr_on and (b - a) >= MIN_DURATION_S * fs:
            out.append((a, b, peak / level))
    return out


def _bursts(
    env: np.ndarray, fs: float, level: float, sd: float, *, k_on=K_ON, k_off=K_OFF, min_ratio=MIN_RATIO
) -> list[tuple[int, int, float]]:
    if level <= 0:
        return []
    thr_off = level + k_off * sd
    thr_on = max(level + k_on * sd, min_ratio * level)
    above = np.concatenate([[False], env > thr_off, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    runs = zip(edges[::2], edges[1::2])  # [start, stop) sample indices
    return _kept_bursts(runs, lambda a, b: float(env[a:b].max()), fs, thr_on, level)


def emg_onsets(
    signal: ArrayLike, fs: float, baseline: tuple[float, float] | None = None, **kw: float
) -> list[tuple[float, float, float]]:
    """``[(onset_s, offset_s, peak_intensity_relative_to_baseline)]`` of the EMG bursts.

    Times in seconds from the first sample; ``baseline`` = ``(t0, t1)`` s from the first sample, or
    None for a robust baseline over the whole signal (module doc). ``kw``: ``k_on``, ``k_off``,
    ``min_ratio``.
    """
    env = emg_envelope(signal, fs)
    level, sd = baseline_level(env, fs, baseline)
    return [(a / fs, b / fs, round(rel, 4)) for a, b, rel in _bursts(env, fs, level, sd, **kw)]


@dataclass
class EmgChannelResult:
    stream: str
    channel: str
    index: int
    fs: float
    unit: str
    baseline_level: float  # envelope units (unit)
    baseline_from: str  # "rest window t0-t1" | "whole signal (robust)"
    onsets: list[tuple[float, float, float]]  # (onset LSL s, offset LSL s, peak / baseline)
    env_t: np.ndarray  # LSL s, ENVELOPE_OUT_HZ
    env: np.ndarray  # envelope, unit
    notes: list[str] = field(default_factory=list)

    def relative(self, t0: float, t1: float, how: str = "max") -> float:
        """Envelope over ``[t0, t1]`` (LSL s) relative to the baseline (max or mean); NaN if none."""
        m = (self.env_t >= t0) & (self.env_t <= t1)
        if not m.any() or self.baseline_level <= 0:
            return float("nan")
        v = self.env[m].max() if how == "max" else self.env[m].mean()
        return float(v / self.baseline_level)

    def to_json(self) -> dict:
        return {
            "stream": self.stream,
            "channel": self.channel,
            "index": self.index,
            "fs": self.fs,
            "unit": self.unit,
            "baseline_level": round(self.baseline_level, 4),
            "baseline_from": self.baseline_from,
            "n_onsets": len(self.onsets),
            "onsets": [{"onset": round(a, 4), "offset": round(b, 4), "intensity": r} for a, b, r in self.onsets],
            "notes": list(self.notes),
        }


class _EnvelopeFile:
    """One channel's full-rate envelope in a temporary file, read back piece by piece."""

    def __init__(self, path: Path, n: int) -> None:
        self.path, self.n = path, n

    def read(self, a: int, b: int) -> np.ndarray:
        a, b = max(0, a), min(self.n, b)
        return np.fromfile(self.path, dtype=np.float64, count=max(0, b - a), offset=a * 8)

    def pieces(self, fn=None):
        for a in range(0, self.n, chunks.WINDOW):
            p = self.read(a, a + chunks.WINDOW)
            yield p if fn is None else fn(p)

    def max(self, a: int, b: int) -> float:
        return max(float(self.read(i, min(b, i + chunks.WINDOW)).max()) for i in range(a, b, chunks.WINDOW))


def _channel_envelope(stream: Stream, c: int, factor: float, fs: float, out: Path, step: int):
    """Write channel ``c``'s envelope (as :func:`emg_envelope` of the whole channel × ``factor``)
    to ``out``; return it and its timestamps every ``step`` samples."""
    n = stream.n_samples
    total = 0.0
    for _, _, _, _, vals in chunks.windows(stream):
        total += float(np.sum(fill_nan(np.asarray(vals[:, c], dtype=np.float64)) * factor))
    mean = total / n
    margin = int(np.ceil(MARGIN_S * fs))
    env_kept, t_kept = [], []
    with open(out, "wb") as fh:
        for start, stop, lo, ts, vals in chunks.windows(stream, margin=margin):
            x = fill_nan(np.asarray(vals[:, c], dtype=np.float64)) * factor
            env = _envelope_centred(x - mean, fs)[start - lo : stop - lo]
            fh.write(env.tobytes())
            first = (-start) % step
            env_kept.append(env[first::step].copy())
            t_kept.append(np.array(ts[start - lo : stop - lo][first::step]))
    return _EnvelopeFile(out, n), np.concatenate(env_kept), np.concatenate(t_kept)


def _level_of_file(env: _EnvelopeFile, fs: float, baseline: tuple[float, float] | None) -> tuple[float, float]:
    """:func:`baseline_level` of the envelope in ``env`` (the same values, read piece by piece)."""
    if baseline is not None:
        i0, i1 = (int(round(float(b) * fs)) for b in baseline)
        i0, i1 = max(0, i0), min(env.n, i1)
        if i1 - i0 < max(2, int(0.2 * fs)):
            raise ValueError(f"baseline window {tuple(baseline)} s holds less than 0.2 s of signal")
        return baseline_level(env.read(i0, i1), fs, None)
    level = chunks.median(env.pieces, env.n)
    mad = chunks.median(lambda: env.pieces(lambda p: np.abs(p - level)), env.n)
    return level, float(1.4826 * mad)


def _bursts_of_file(env: _EnvelopeFile, fs: float, level: float, sd: float) -> list[tuple[int, int, float]]:
    """:func:`_bursts` of the envelope in ``env`` (the same bursts, read piece by piece)."""
    if level <= 0:
        return []
    thr_off = level + K_OFF * sd
    thr_on = max(level + K_ON * sd, MIN_RATIO * level)
    rises, falls, prev = [], [], False
    for i, p in enumerate(env.pieces()):
        above = p > thr_off
        d = np.diff(np.concatenate([[prev], above]).astype(np.int8))
        rises.extend((np.flatnonzero(d == 1) + i * chunks.WINDOW).tolist())
        falls.extend((np.flatnonzero(d == -1) + i * chunks.WINDOW).tolist())
        prev = bool(above[-1]) if above.size else prev
    if prev:
        falls.append(env.n)
    return _kept_bursts(zip(rises, falls), env.max, fs, thr_on, level)


def analyse_emg(
    stream: Stream, baseline: tuple[float, float] | None = None, channels: Iterable[str | int] | None = None
) -> list[EmgChannelResult]:
    """Envelope and bursts of every channel (or ``channels``) of an EMG stream, in bounded memory
    (module doc).

    ``baseline``: ``(t0, t1)`` in LSL seconds (a rest step), or None (robust, whole signal).
    """
    import tempfile

    check_stream(stream, "emg")
    factor, unit, note = unit_scale("emg", stream.units[0], stream.name)
    fs, rate_note = analysis_rate(stream)
    notes = [n for n in (rate_note, gap_note(stream), note) if n]
    idx = range(stream.n_channels) if channels is None else [stream.channel_index(c) for c in channels]
    step = max(1, int(round(fs / ENVELOPE_OUT_HZ)))
    t_first = chunks.first_last(stream)[0]
    out = []
    with tempfile.TemporaryDirectory(prefix="mexlab-emg-") as td:
        for c in idx:
            env, env_kept, t_kept = _channel_envelope(stream, c, factor, fs, Path(td) / f"env{c}", step)
            if out and np.array_equal(out[-1].env_t, t_kept):
                t_kept = out[-1].env_t  # the same times for every channel: kept once
            rel_baseline = None
            where = "whole signal (robust)"
            if baseline is not None:
                rel_baseline = (baseline[0] - t_first, baseline[1] - t_first)
                where = f"rest window {baseline[0] - t_first:.1f}-{baseline[1] - t_first:.1f} s"
            try:
                level, sd = _level_of_file(env, fs, rel_baseline)
            except ValueError:
                level, sd = _level_of_file(env, fs, None)
                where = "whole signal (robust; the rest window holds too little EMG)"
            bursts = _bursts_of_file(env, fs, level, sd)
            n = stream.n_samples
            ends = chunks.timestamps_at(stream, [i for a, b, _ in bursts for i in (a, min(b, n - 1))])
            onsets = [
                (float(ends[2 * k]), float(ends[2 * k + 1]), round(rel, 4)) for k, (_, _, rel) in enumerate(bursts)
            ]
            out.append(
                EmgChannelResult(
                    stream=stream.name,
                    channel=stream.labels[c],
                    index=c,
                    fs=fs,
                    unit=unit,
                    baseline_level=level,
                    baseline_from=where,
                    onsets=onsets,
                    env_t=t_kept,
                    env=env_kept,
                    notes=list(notes),
                )
            )
    return out
