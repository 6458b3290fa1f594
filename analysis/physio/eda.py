"""Electrodermal activity: tonic and phasic parts, skin-conductance responses (neurokit2).

``nk.eda_process(signal, sampling_rate=fs, method="neurokit")``, exactly as one would run it by
hand: ``nk.eda_clean`` (4th-order Butterworth low-pass at 3 Hz), ``nk.eda_phasic`` (high-pass at
0.05 Hz: phasic = above, tonic = below), ``nk.eda_peaks`` (SCR peaks of the phasic part whose
height is at least 10 % of the largest one; onset = the preceding trough; amplitude = phasic peak
minus phasic onset; rise time; half recovery).

The signal is first converted to µS (``desc/channels/channel/unit``: S, mS, µS, nS); a stream
sampled faster than 100 Hz is decimated to ≤ 100 Hz first (``scipy.signal.decimate``, anti-alias
filtered — SCRs hold nothing above 1 Hz). SCR times are the LSL timestamps of their samples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analysis.physio.common import analysis_rate, check_stream, gap_note, signal_of, unit_scale
from analysis.session_data import Stream

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

MAX_RATE_HZ = 100.0


@dataclass
class EdaResult:
    stream: str
    channel: str
    fs: float  # rate analysed (after decimation)
    unit: str  # of every amplitude (µS unless the stream's unit is unknown)
    t: np.ndarray  # LSL s of the samples analysed
    clean: np.ndarray
    tonic: np.ndarray
    phasic: np.ndarray
    scr_onsets: np.ndarray  # LSL s
    scr_peaks: np.ndarray  # LSL s
    scr_amplitudes: np.ndarray  # unit
    scr_rise_s: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def n_scr(self) -> int:
        return int(self.scr_peaks.size)

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if self.t.size > 1 else 0.0

    def first_scr_after(self, t: float, latency: tuple[float, float] = (1.0, 5.0)) -> tuple[float, float] | None:
        """``(amplitude, latency_s)`` of the first SCR whose onset lies ``latency`` s after ``t``."""
        lat = self.scr_onsets - t
        hit = np.flatnonzero((lat >= latency[0]) & (lat <= latency[1]))
        if not hit.size:
            return None
        i = hit[0]
        return float(self.scr_amplitudes[i]), float(lat[i])

    def to_json(self) -> dict:
        r = lambda a, nd=3: [round(float(v), nd) for v in a]  # noqa: E731
        return {
            "stream": self.stream,
            "channel": self.channel,
            "fs": self.fs,
            "unit": self.unit,
            "duration_s": round(self.duration_s, 3),
            "n_scr": self.n_scr,
            "scr_onsets": r(self.scr_onsets),
            "scr_peaks": r(self.scr_peaks),
            "scr_amplitudes": r(self.scr_amplitudes, 4),
            "scr_rise_s": r(self.scr_rise_s),
            "mean_tonic": round(float(np.mean(self.tonic)), 4) if self.tonic.size else None,
            "scr_per_min": round(60.0 * self.n_scr / self.duration_s, 3) if self.duration_s else None,
            "notes": list(self.notes),
        }


def eda_from_signal(
    x: np.ndarray,
    fs: float,
    *,
    timestamps: ArrayLike | None = None,
    stream: str = "signal",
    channel: str = "ch1",
    unit: str = "µS",
) -> EdaResult:
    """Decompose and find SCRs in one EDA signal (``timestamps``: LSL times; default ``i / fs``)."""
    import neurokit2 as nk

    x = np.asarray(x, dtype=np.float64)
    ts = np.arange(x.size) / fs if timestamps is None else np.asarray(timestamps, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals, info = nk.eda_process(x, sampling_rate=fs, method="neurokit")
    onsets = np.asarray(info["SCR_Onsets"], dtype=np.float64)
    peaks = np.asarray(info["SCR_Peaks"], dtype=np.float64)
    amps = np.asarray(info["SCR_Amplitude"], dtype=np.float64)
    rise = np.asarray(info["SCR_RiseTime"], dtype=np.float64)
    keep = np.isfinite(onsets) & np.isfinite(peaks) & np.isfinite(amps)  # complete SCRs only
    notes = []
    if (~keep).any():
        notes.append(
            f"EDA stream {stream!r}: {int((~keep).sum())} SCR peak(s) without an onset "
            f"(at the start of the signal) are not counted"
        )
    return EdaResult(
        stream=stream,
        channel=channel,
        fs=fs,
        unit=unit,
        t=ts,
        clean=signals["EDA_Clean"].to_numpy(),
        tonic=signals["EDA_Tonic"].to_numpy(),
        phasic=signals["EDA_Phasic"].to_numpy(),
        scr_onsets=ts[onsets[keep].astype(int)],
        scr_peaks=ts[peaks[keep].astype(int)],
        scr_amplitudes=amps[keep],
        scr_rise_s=rise[keep],
        notes=notes,
    )


def analyse_eda(stream: Stream, channel: int = 0) -> EdaResult:
    """:func:`eda_from_signal` of one channel of a stream, in µS, after :func:`check_stream`."""
    from scipy.signal import decimate

    check_stream(stream, "eda", channel=channel)
    x, ts = signal_of(stream, channel)
    factor, unit, note = unit_scale("eda", stream.units[channel], stream.name)
    fs, rate_note = analysis_rate(stream)
    notes = [n for n in (rate_note, gap_note(stream), note) if n]
    if fs > MAX_RATE_HZ:
        q = int(np.ceil(fs / MAX_RATE_HZ))
        x = decimate(x, q, ftype="fir", zero_phase=True)
        ts = ts[::q][: x.size]
        fs = fs / q
    result = eda_from_signal(
        x * factor, fs, timestamps=ts, stream=stream.name, channel=stream.labels[channel], unit=unit
    )
    result.notes[:0] = notes
    return result
