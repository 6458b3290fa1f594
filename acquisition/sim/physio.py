"""Physiological signals of the simulated participant: ECG, EDA and facial EMG.

Every generator is a pure function of the sample index: ``generate(n0, n1)`` returns samples
``n0 .. n1-1`` (``float32``, shape ``(n1-n0, channels)``), sample ``n`` being taken ``n / fs``
seconds after the rig's frame 0 (frame ``k`` is at ``k / fps``). Any block can be asked for, in any
order, and always gives the same values, so a streaming outlet and an offline check agree exactly.
Random components come from fixed circular noise banks indexed by sample number (two banks of
co-prime lengths are summed, so the pattern only repeats after ~2·10⁹ samples).

Emotional events (micro and macro expressions) drive:

* **ECG** (mV, 500 Hz): PQRST beats built from a sum of Gaussians (the McSharry et al. 2003
  template written in time around each R peak, T wave scaled with √RR); heart rate 70 bpm with
  respiratory (0.25 Hz) and slower (0.1, 0.03 Hz) variability, plus a gamma-shaped rise of
  8-12 bpm after each emotional event (peak 3-6 s after onset, back to baseline in 10-20 s).
* **EDA** (µS, 32 Hz): tonic level 2-6 µS drifting over minutes, plus one skin-conductance
  response (Bateman shape) per emotional event: latency 1-3 s, rise 1-3 s, decay τ 5-10 s,
  amplitude 0.1-1 µS. Responses starting less than 4 s apart (or before the previous one peaked)
  are merged into one.
* **EMG** (µV, 2000 Hz, 8 channels, :data:`EMG_CHANNELS`): 5 µV RMS band-limited (20-450 Hz)
  baseline noise; bursts on the channels of each event's AUs, RMS ∝ event amplitude
  (15 µV per px),
  starting 30-50 ms before the visible onset; a mild orbicularis-oculi burst on blinks and mild
  perioral activity during speech.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

import numpy as np
import numpy.typing as npt

from acquisition.sim.schedule import EXPRESSION_KINDS, FacialEvent, Schedule, envelope

#: EMG channel map. Electrodes sit at the periphery of each muscle, away from the face regions the
#: camera has to see (no electrode over brows, lid, lip corners or chin centre).
EMG_CHANNELS: tuple[dict, ...] = (
    {
        "label": "EMG1",
        "muscle": "frontalis medialis",
        "aus": ("AU1",),
        "placement": "forehead, above the inner brow, near the hairline",
    },
    {
        "label": "EMG2",
        "muscle": "frontalis lateralis",
        "aus": ("AU2",),
        "placement": "forehead, above the outer brow, near the hairline",
    },
    {
        "label": "EMG3",
        "muscle": "corrugator supercilii",
        "aus": ("AU4",),
        "placement": "medial end of the brow, above it",
    },
    {
        "label": "EMG4",
        "muscle": "orbicularis oculi",
        "aus": ("AU6", "AU7"),
        "placement": "lateral to the outer eye corner (crow's feet)",
    },
    {
        "label": "EMG5",
        "muscle": "levator labii superioris",
        "aus": ("AU9", "AU10"),
        "placement": "beside the nose wing, on the cheek",
    },
    {
        "label": "EMG6",
        "muscle": "zygomaticus major",
        "aus": ("AU12", "AU14"),
        "placement": "on the cheek, midway mouth corner to ear",
    },
    {
        "label": "EMG7",
        "muscle": "depressor anguli oris",
        "aus": ("AU15", "AU20"),
        "placement": "jaw line, below and lateral to the mouth corner",
    },
    {
        "label": "EMG8",
        "muscle": "mentalis",
        "aus": ("AU17", "AU24"),
        "placement": "side of the chin, below the lower lip",
    },
)
AU_TO_EMG = {au: i for i, ch in enumerate(EMG_CHANNELS) for au in ch["aus"]}

EMG_BASELINE_UV = 5.0
EMG_UV_PER_PX = 15.0
EMG_BLINK_UV = 8.0
EMG_SPEECH_UV = 6.0
EMG_SPEECH_CHANNELS = (5, 6, 7)

BASE_HR = 70.0


# --------------------------------------------------------------------------- noise banks
class NoiseBank:
    """Deterministic, stationary, band-limited noise addressed by sample index.

    Two circular banks (lengths 2¹⁶ and 3¹⁰, co-prime) of unit-RMS noise, each shaped in the
    frequency domain by ``|H(f)|`` (so each is seamless around its wrap), are added:
    ``x[n] = (A[n mod La] + B[n mod Lb]) / √2``.
    """

    LA, LB = 2**16, 3**10

    def __init__(self, seed: int | list[int], channels: int, fs: float, band: tuple[float, float] | None):
        rng = np.random.default_rng(seed)
        banks = []
        for n in (self.LA, self.LB):
            w = rng.standard_normal((n, channels))
            if band is not None:
                f = np.fft.rfftfreq(n, 1.0 / fs)[:, None]
                lo, hi = band
                # 4th-order Butterworth-like band-pass magnitude
                mag = 1.0 / np.sqrt(1 + (lo / np.maximum(f, 1e-9)) ** 8) / np.sqrt(1 + (f / hi) ** 8)
                w = np.fft.irfft(np.fft.rfft(w, axis=0) * mag, n=n, axis=0)
            w /= w.std(axis=0, keepdims=True)
            banks.append(np.ascontiguousarray(w, dtype=np.float32))
        self._a, self._b = banks

    def get(self, n0: int, n1: int) -> np.ndarray:
        idx = np.arange(n0, n1, dtype=np.int64)
        return (self._a[idx % self.LA] + self._b[idx % self.LB]) * np.float32(1 / math.sqrt(2))


def _seed(schedule: Schedule, tag: int) -> list[int]:
    return [int(schedule.seed), 31337, tag]


# --------------------------------------------------------------------------- ECG
class EcgGenerator:
    channels = 1
    unit = "millivolts"

    # (time relative to R in s, amplitude mV, width s) — P, Q, R, S, T
    _WAVES = (
        (-0.200, 0.15, 0.025),
        (-0.035, -0.12, 0.010),
        (0.000, 1.10, 0.011),
        (0.035, -0.25, 0.011),
        (0.260, 0.30, 0.055),
    )

    def __init__(self, schedule: Schedule, fs: float = 500.0):
        self.schedule, self.fs = schedule, float(fs)
        rng = np.random.default_rng(_seed(schedule, 1))
        self._hrv_phase = rng.uniform(0, 2 * np.pi, 3)
        # heart-rate responses to emotional events: (onset_s, amplitude_bpm, peak_s, shape)
        self._responses = []
        for ev in schedule.of_kind(*EXPRESSION_KINDS):
            r = np.random.default_rng([*_seed(schedule, 2), ev.onset])
            self._responses.append(
                (ev.onset / schedule.fps, r.uniform(8.0, 12.0), r.uniform(3.0, 6.0), r.uniform(2.5, 4.0))
            )
        # HR on a 20 ms grid over the schedule (+10 s), then beats where the phase crosses integers
        self._dt = 0.02
        t = np.arange(0.0, schedule.duration_s + 10.0, self._dt)
        self._grid_t = t
        self._grid_hr, self._grid_rise = self._hr(t)
        phase = np.concatenate([[0.0], np.cumsum(self._grid_hr[:-1] / 60.0 * self._dt)])
        phase += rng.uniform(0.2, 0.8)  # the first beat is not at t = 0
        k = np.arange(math.ceil(phase[0]), math.floor(phase[-1]) + 1)
        self._beats = np.interp(k, phase, t)
        rr = np.diff(self._beats)
        self._rr = np.concatenate([rr, rr[-1:]])  # RR after each beat
        self._noise = NoiseBank(_seed(schedule, 3), 1, self.fs, (0.5, 100.0))

    def _hr(self, t: np.ndarray) -> np.ndarray:
        p = self._hrv_phase
        hr = (
            BASE_HR
            + 2.0 * np.sin(2 * np.pi * 0.25 * t + p[0])
            + 1.5 * np.sin(2 * np.pi * 0.1 * t + p[1])
            + 1.0 * np.sin(2 * np.pi * 0.03 * t + p[2])
        )
        rise = np.zeros_like(t)
        for onset, amp, tpk, a in self._responses:
            i0, i1 = np.searchsorted(t, [onset, onset + 40.0])
            tau = (t[i0:i1] - onset) / tpk
            rise[i0:i1] += amp * tau**a * np.exp(a * (1.0 - tau))
        rise = 20.0 * np.tanh(rise / 20.0)  # overlapping responses saturate near +20
        return hr + rise, rise

    def hr_trace(self, t: npt.ArrayLike) -> np.ndarray:
        """Instantaneous heart rate (bpm) at time(s) ``t`` (s after frame 0)."""
        return np.interp(np.asarray(t, dtype=np.float64), self._grid_t, self._grid_hr)

    def hr_response(self, t: npt.ArrayLike) -> np.ndarray:
        """The part of :meth:`hr_trace` due to emotional events (bpm above the HRV baseline)."""
        return np.interp(np.asarray(t, dtype=np.float64), self._grid_t, self._grid_rise)

    def beat_times(self) -> np.ndarray:
        """Times of the R peaks (s after frame 0)."""
        return self._beats.copy()

    def generate(self, n0: int, n1: int) -> np.ndarray:
        t = np.arange(n0, n1, dtype=np.float64) / self.fs
        y = np.zeros_like(t)
        i = np.searchsorted(self._beats, t)
        for k in (i - 1, i):  # previous beat (QRS, T) and next beat (P)
            kk = np.clip(k, 0, len(self._beats) - 1)
            valid = (k >= 0) & (k < len(self._beats))
            dt = t - self._beats[kk]
            qt = np.sqrt(self._rr[kk] / 0.857)
            for t_w, a_w, s_w in self._WAVES:
                centre = t_w * qt if t_w > 0.1 else t_w
                width = s_w * qt if t_w > 0.1 else s_w
                y += np.where(valid, a_w * np.exp(-0.5 * ((dt - centre) / width) ** 2), 0.0)
        y += 0.05 * np.sin(2 * np.pi * 0.25 * t + self._hrv_phase[0])  # respiration wander
        y += 0.01 * self._noise.get(n0, n1)[:, 0]
        return y.astype(np.float32)[:, None]


# --------------------------------------------------------------------------- EDA
def _bateman_tau_rise(t_peak: float, tau_decay: float) -> float:
    """Rise time constant giving a Bateman peak at ``t_peak`` for decay ``tau_decay``."""
    lo, hi = 1e-4, t_peak
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        tp = math.log(tau_decay / mid) * tau_decay * mid / (tau_decay - mid)
        lo, hi = (mid, hi) if tp < t_peak else (lo, mid)
    return 0.5 * (lo + hi)


class EdaGenerator:
    channels = 1
    unit = "microsiemens"
    MIN_SEPARATION_S = 4.0
    SCR_SPAN_S = 80.0

    def __init__(self, schedule: Schedule, fs: float = 32.0):
        self.schedule, self.fs = schedule, float(fs)
        rng = np.random.default_rng(_seed(schedule, 10))
        self._tonic_phase = rng.uniform(0, 2 * np.pi, 3)
        self._tonic_level = rng.uniform(3.5, 4.0)
        scrs: list[list[float]] = []  # onset, rise, tau_decay, amplitude
        for ev in schedule.of_kind(*EXPRESSION_KINDS):
            r = np.random.default_rng([*_seed(schedule, 11), ev.onset])
            onset = ev.onset / schedule.fps + r.uniform(1.0, 3.0)
            rise, tau_d = r.uniform(1.0, 3.0), r.uniform(5.0, 10.0)
            if ev.kind == "micro":
                amp = 0.1 + 0.3 * np.clip((ev.amplitude - 1.0) / 3.0, 0, 1)
            else:
                amp = 0.4 + 0.6 * np.clip((ev.amplitude - 5.0) / 5.0, 0, 1)
            if scrs and (onset < scrs[-1][0] + self.MIN_SEPARATION_S or onset < scrs[-1][0] + scrs[-1][1] + 1.0):
                scrs[-1][3] = min(1.0, scrs[-1][3] + 0.5 * amp)  # merged into the previous
                continue
            scrs.append([onset, rise, tau_d, amp])
        self._scr = [(o, ri, td, _bateman_tau_rise(ri, td), a) for o, ri, td, a in scrs]
        self._onsets = [s[0] for s in self._scr]
        self._norm = [self._bateman(np.array([ri]), td, tr)[0] for _, ri, td, tr, _ in self._scr]
        self._noise = NoiseBank(_seed(schedule, 12), 1, self.fs, (0.01, 2.0))

    @staticmethod
    def _bateman(tau: np.ndarray, tau_d: float, tau_r: float) -> np.ndarray:
        return np.exp(-tau / tau_d) - np.exp(-tau / tau_r)

    def scr_events(self) -> list[tuple[float, float, float]]:
        """Ground truth SCRs: ``(onset_s, peak_s, amplitude_uS)``, s after frame 0."""
        return [(round(float(o), 4), round(float(o + ri), 4), round(float(a), 4)) for o, ri, _, _, a in self._scr]

    def tonic(self, t: npt.ArrayLike) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        p = self._tonic_phase
        return (
            self._tonic_level
            + 0.9 * np.sin(2 * np.pi * t / 420 + p[0])
            + 0.4 * np.sin(2 * np.pi * t / 130 + p[1])
            + 0.1 * np.sin(2 * np.pi * t / 47 + p[2])
        )

    def generate(self, n0: int, n1: int) -> np.ndarray:
        t = np.arange(n0, n1, dtype=np.float64) / self.fs
        y = self.tonic(t)
        if len(t):
            # an SCR ends 80 s (≥ 8 decay constants) after its onset, whatever block is asked
            lo = bisect_left(self._onsets, t[0] - self.SCR_SPAN_S)
            hi = bisect_right(self._onsets, t[-1])
            for j in range(lo, hi):
                o, _, td, tr, a = self._scr[j]
                tau = t - o
                live = (tau > 0) & (tau <= self.SCR_SPAN_S)
                y += np.where(live, a / self._norm[j] * self._bateman(np.maximum(tau, 0), td, tr), 0.0)
        y += 0.003 * self._noise.get(n0, n1)[:, 0]
        return y.astype(np.float32)[:, None]


# --------------------------------------------------------------------------- EMG
class EmgGenerator:
    unit = "microvolts"

    def __init__(self, schedule: Schedule, fs: float = 2000.0, channels: int = 8):
        if channels != len(EMG_CHANNELS):
            raise ValueError(f"the simulated EMG has {len(EMG_CHANNELS)} channels")
        self.schedule, self.fs, self.channels = schedule, float(fs), channels
        self._baseline = NoiseBank(_seed(schedule, 20), channels, self.fs, (20.0, 450.0))
        self._carrier = NoiseBank(_seed(schedule, 21), channels, self.fs, (40.0, 250.0))
        self._max_lead_s = 0.05

    def _burst_sources(self, ev: FacialEvent) -> list[tuple[int, float]]:
        """(channel, RMS µV at envelope 1) contributions of one event."""
        if ev.kind in EXPRESSION_KINDS:
            chans = sorted({AU_TO_EMG[au] for au in ev.aus if au in AU_TO_EMG})
            return [(c, EMG_UV_PER_PX * ev.amplitude) for c in chans]
        if ev.kind == "blink":
            return [(AU_TO_EMG["AU6"], EMG_BLINK_UV)]
        if ev.kind == "speech":
            return [(c, EMG_SPEECH_UV) for c in EMG_SPEECH_CHANNELS]
        return []

    def activation(self, n0: int, n1: int) -> np.ndarray:
        """Burst RMS envelope (µV) per channel for samples ``n0..n1-1`` (ground truth)."""
        s = self.schedule
        t = np.arange(n0, n1, dtype=np.float64) / self.fs
        env = np.zeros((n1 - n0, self.channels))
        if n1 <= n0:
            return env
        f0 = t[0] * s.fps
        f1 = (t[-1] + self._max_lead_s) * s.fps
        for ev in s.between(f0, f1):
            src = self._burst_sources(ev)
            if not src:
                continue
            lead = s.params(ev)["emg_lead_s"]
            f = (t + lead) * s.fps  # EMG runs ``lead`` ahead of the visible motion
            if ev.kind == "speech":
                e = s.speech_opening(ev, f) / max(ev.amplitude, 1e-6)
            else:
                e = envelope(ev, f, s.fps)
            for c, rms in src:
                env[:, c] += rms * e
        return env

    def generate(self, n0: int, n1: int) -> np.ndarray:
        y = EMG_BASELINE_UV * self._baseline.get(n0, n1)
        act = self.activation(n0, n1)
        if act.any():
            y += (act * self._carrier.get(n0, n1)).astype(np.float32)
        return y.astype(np.float32, copy=False)


# --------------------------------------------------------------------------- ground truth
def ground_truth_physio(
    schedule: Schedule,
    *,
    ecg: EcgGenerator | None = None,
    eda: EdaGenerator | None = None,
    emg: EmgGenerator | None = None,
    t0_lsl: float | None = None,
    duration_s: float | None = None,
) -> dict:
    """JSON-serialisable ground truth of the rig's physiology.

    With ``t0_lsl`` (the LSL time of video frame 0 and physiology sample 0) every time is on the
    LSL clock; without it, times are seconds after frame 0 (``"time_base"`` says which).
    ``duration_s`` limits the content to the recorded part (default: the whole schedule).
    """
    ecg = ecg or EcgGenerator(schedule)
    eda = eda or EdaGenerator(schedule)
    dur = schedule.duration_s if duration_s is None else min(float(duration_s), schedule.duration_s)
    t_hr = np.arange(0.0, math.floor(dur) + 1.0)
    base = "lsl" if t0_lsl is not None else "frame0"
    t0_lsl = 0.0 if t0_lsl is None else float(t0_lsl)
    beats = ecg.beat_times()
    beats = beats[beats <= dur]
    return {
        "format": "mexlab-sim-physio/1",
        "t0_lsl": t0_lsl if base == "lsl" else None,
        "time_base": base,
        "time_reference": (
            "seconds on the LSL clock; subtract t0_lsl for seconds after frame 0"
            if base == "lsl"
            else "seconds after video frame 0 / sample 0"
        ),
        "duration_s": round(dur, 6),
        "seed": schedule.seed,
        "fps": schedule.fps,
        "hr": {
            "fs": 1.0,
            "t": [round(float(t0_lsl + x), 6) for x in t_hr],
            "bpm": [round(float(v), 3) for v in ecg.hr_trace(t_hr)],
        },
        "beat_times": [round(float(t0_lsl + b), 6) for b in beats],
        "scr_events": [
            {"onset": round(t0_lsl + o, 6), "peak": round(t0_lsl + p, 6), "amplitude_uS": a}
            for o, p, a in eda.scr_events()
            if o <= dur
        ],
        "rates": {"ecg": ecg.fs, "eda": eda.fs, "emg": emg.fs if emg else 2000.0},
        "emg_channels": [
            {"index": i, "label": c["label"], "muscle": c["muscle"], "aus": list(c["aus"]), "placement": c["placement"]}
            for i, c in enumerate(EMG_CHANNELS)
        ],
    }
