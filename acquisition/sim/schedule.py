"""The event schedule of the simulated participant: what the face does, and when.

A :class:`Schedule` is a deterministic function of ``(duration, fps, seed, rates)``: the same
arguments always give the same events, so the ground truth written next to a recording can be
regenerated from the seed alone. Every other part of the rig (face, depth, physiology) reads its
events from here.

Event kinds
-----------
``micro``   micro-expression: 8-15 frames at 30 fps (scaled with fps), 1-4 px at apex, 1-2 AUs
``macro``   macro-expression: 0.8-3 s, 5-10 px at apex, 1-2 AUs
``blink``   AU45, 100-300 ms, one every 3-6 s; amplitude = upper-lid travel in px
``head``    rigid head motion episode, 0.5-2 s; amplitude = peak rotation in degrees
``speech``  jaw/mouth oscillation at a 3-6 Hz syllable rate, 2-6 s; amplitude = mouth opening px
``light``   (varied rig only) the camera's exposure or the room's light changes: the whole image's
            brightness moves to a new level; amplitude = the change in % (the renderer's gain)
``gaze``    (varied rig only) the eyes look elsewhere: a saccade (0.1 s) to a new direction, held,
            and one back; amplitude = the irises' shift in % of the eye's width

Micro and macro expressions are ``emotional`` (they drive heart rate, SCRs and EMG bursts) and never
overlap each other. Blinks, head motion and speech are *interference*: about 70 % of the expressions
are kept clear of any interference, the others are deliberately overlapped by a blink or a head
movement so that spotting is tested under realistic conditions.

Frame numbers are 0-based and inclusive (``onset <= apex <= offset``); nothing starts before ~2 s.
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: The kinds the simulated participant's own schedule draws (:func:`make_schedule`).
RIG_KINDS = ("micro", "macro", "blink", "head", "speech")
#: Every kind; ``light`` and ``gaze`` are drawn by the varied rig only (acquisition.sim.varied).
KINDS = (*RIG_KINDS, "light", "gaze")
EXPRESSION_KINDS = ("micro", "macro")
INTERFERENCE_KINDS = ("blink", "head", "speech", "light", "gaze")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}

#: Default event rates (events per minute).
DEFAULT_RATES = {"micro": 4.0, "macro": 1.0, "blink": 13.0, "head": 2.0, "speech": 1.0}
#: Horizon used when no duration is given (the rig runs "forever" in practice).
DEFAULT_HORIZON_S = 2 * 3600.0
#: Nothing happens before this time (s).
LEAD_IN_S = 2.0
#: Share of expressions kept clear of any interference.
CLEAN_SHARE = 0.7

#: AU sets of expressions (one or two AUs, as found in CASME II / SAMM), with weights.
AU_SETS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("AU4",), 3.0),
    (("AU4", "AU7"), 2.0),
    (("AU12",), 3.0),
    (("AU6", "AU12"), 2.0),
    (("AU1", "AU2"), 2.0),
    (("AU1",), 1.0),
    (("AU2",), 1.0),
    (("AU14",), 1.5),
    (("AU15",), 1.0),
    (("AU15", "AU17"), 1.0),
    (("AU17",), 1.0),
    (("AU9",), 1.0),
    (("AU9", "AU10"), 1.0),
    (("AU10",), 1.0),
    (("AU24",), 1.0),
    (("AU17", "AU24"), 1.0),
    (("AU7",), 1.0),
    (("AU6",), 0.5),
)
EXPRESSION_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17", "AU24")


@dataclass(frozen=True)
class FacialEvent:
    """One facial event. Frames are 0-based, inclusive, at the schedule's fps."""

    kind: str  # "micro" | "macro" | "blink" | "head" | "speech" | "light" | "gaze"
    onset: int
    apex: int
    offset: int
    aus: tuple[str, ...]  # ("AU12",), ("AU4", "AU7"); blink ("AU45",); head/speech ()
    amplitude: float  # micro/macro/blink: px at apex; head: degrees; speech: mouth opening px
    emotional: bool  # True for micro/macro

    @property
    def n_frames(self) -> int:
        return self.offset - self.onset + 1


def envelope(ev: FacialEvent, f: npt.ArrayLike, fps: float = 30.0) -> np.ndarray | float:
    """Envelope of ``ev`` at (possibly fractional, possibly array) frame position ``f``: 0..1.

    Every frame ``onset..offset`` has a strictly positive value, the apex has 1, and frames
    ``<= onset - 1`` or ``>= offset + 1`` have 0 (the event's motion is confined to its frames).
    Rise and fall are raised-cosine (sin²) ramps; speech has a flat top with 0.3 s ramps, a gaze
    shift one with 0.1-s ramps (the saccades there and back).
    """
    f = np.asarray(f, dtype=np.float64)
    a, p, b = ev.onset - 1.0, float(ev.apex), ev.offset + 1.0
    if ev.kind in ("speech", "gaze"):
        ramp = max(1.0, min((0.3 if ev.kind == "speech" else 0.1) * fps, (b - a) / 4.0))
        up = np.clip((f - a) / ramp, 0.0, 1.0)
        down = np.clip((b - f) / ramp, 0.0, 1.0)
        u = np.minimum(up, down)
    else:
        up = np.clip((f - a) / (p - a), 0.0, 1.0)
        down = np.clip((b - f) / (b - p), 0.0, 1.0)
        u = np.where(f <= p, up, down)
    out = np.sin(0.5 * np.pi * u) ** 2
    return float(out) if out.ndim == 0 else out


@dataclass
class Schedule:
    fps: float
    n_frames: int
    seed: int
    events: list[FacialEvent]
    _onsets: list[int] = field(init=False, repr=False)
    _max_len: int = field(init=False, repr=False)
    _params: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.events = sorted(self.events, key=lambda e: (e.onset, _KIND_CODE[e.kind]))
        self._onsets = [e.onset for e in self.events]
        self._max_len = max((e.n_frames for e in self.events), default=1)

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def active(self, frame: int) -> list[tuple[FacialEvent, float]]:
        """Events covering ``frame`` with their envelope (0..1, 1 at apex). O(log n + k)."""
        lo = bisect_left(self._onsets, frame - self._max_len + 1)
        hi = bisect_right(self._onsets, frame)
        return [(e, envelope(e, frame, self.fps)) for e in self.events[lo:hi] if e.offset >= frame]

    def between(self, f0: float, f1: float) -> list[FacialEvent]:
        """Events whose frames ``onset-1 .. offset+1`` meet ``[f0, f1]`` (fractional frames)."""
        lo = bisect_left(self._onsets, math.floor(f0) - self._max_len - 1)
        hi = bisect_right(self._onsets, math.ceil(f1) + 1)
        return [e for e in self.events[lo:hi] if e.offset + 1 >= f0 and e.onset - 1 <= f1]

    def of_kind(self, *kinds: str) -> list[FacialEvent]:
        return [e for e in self.events if e.kind in kinds]

    def params(self, ev: FacialEvent) -> dict:
        """Deterministic per-event parameters not held by :class:`FacialEvent` itself.

        head: ``yaw``, ``pitch``, ``roll`` (unit-norm weights of the rotation, degrees per unit
        amplitude), ``tx``, ``ty`` (px at 480 lines per degree of amplitude); speech: ``rate_hz`` (syllable
        rate), ``phase``; gaze: ``dx``, ``dy`` (the unit direction the irises move in, image axes); every kind: ``emg_lead_s`` (how long before the visible onset the EMG
        burst starts).
        """
        p = self._params.get(ev)
        if p is None:
            rng = np.random.default_rng([self.seed, 7919, _KIND_CODE[ev.kind], ev.onset])
            p = {"emg_lead_s": float(rng.uniform(0.030, 0.050))}
            if ev.kind == "head":
                w = rng.normal(size=3) * np.array([1.0, 0.8, 0.5])  # yaw, pitch, roll
                w /= np.linalg.norm(w)
                p.update(
                    yaw=float(w[0]),
                    pitch=float(w[1]),
                    roll=float(w[2]),
                    tx=float(rng.uniform(-1.5, 1.5)),
                    ty=float(rng.uniform(-1.0, 1.0)),
                )
            elif ev.kind == "speech":
                p.update(rate_hz=float(rng.uniform(3.0, 6.0)), phase=float(rng.uniform(0, 2 * np.pi)))
            elif ev.kind == "gaze":
                a = float(rng.uniform(-0.35, 0.35) + (0.0 if rng.random() < 0.5 else np.pi))
                p.update(dx=float(np.cos(a)), dy=float(np.sin(a)))
            self._params[ev] = p
        return p

    def set_params(self, ev: FacialEvent, params: dict) -> None:
        """Give ``ev`` its own parameters (the varied rig's head drift and turns, speech); the
        same keys as :meth:`params` returns."""
        self._params[ev] = dict(params)

    def speech_opening(self, ev: FacialEvent, f: npt.ArrayLike) -> np.ndarray | float:
        """Mouth opening (px) of speech event ``ev`` at frame(s) ``f``: envelope × syllables."""
        p = self.params(ev)
        t = np.asarray(f, dtype=np.float64) / self.fps
        wave = 0.5 - 0.5 * np.cos(2 * np.pi * p["rate_hz"] * t + p["phase"])
        out = ev.amplitude * envelope(ev, f, self.fps) * wave
        return float(out) if np.ndim(out) == 0 else out

    def ground_truth_rows(self) -> list[dict]:
        """One row per event. ``type`` is the event kind (micro, macro, blink, head, speech);
        ``kind`` is ``expression`` for micro/macro and ``interference`` for the others;
        ``aus`` joins the AUs with ``+`` (empty for head/speech)."""
        return [
            {
                "onset": e.onset,
                "apex": e.apex,
                "offset": e.offset,
                "type": e.kind,
                "aus": "+".join(e.aus),
                "kind": "expression" if e.kind in EXPRESSION_KINDS else "interference",
            }
            for e in self.events
        ]

    def write_ground_truth_csv(self, path: str | Path) -> None:
        """Write ``ground_truth.csv`` (columns onset,apex,offset,type,aus,kind)."""
        from acquisition.atomic import atomic_write

        with atomic_write(Path(path), newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["onset", "apex", "offset", "type", "aus", "kind"])
            w.writeheader()
            w.writerows(self.ground_truth_rows())


# --------------------------------------------------------------------------- generation


def _overlaps(a0: int, a1: int, iv: np.ndarray, guard: int = 0) -> np.ndarray:
    """Mask of intervals ``iv`` (n×2, inclusive) that intersect ``[a0-guard, a1+guard]``."""
    if len(iv) == 0:
        return np.zeros(0, bool)
    return (iv[:, 0] <= a1 + guard) & (iv[:, 1] >= a0 - guard)


MAX_SCHEDULE_S = 4 * 3600.0  # built in a few seconds (2 h: ~1.5 s of CPU); 1e12 s would never finish


def make_schedule(
    duration_s: float | None, fps: float = 30.0, seed: int = 0, *, rate_per_min: dict | None = None
) -> Schedule:
    """A deterministic schedule of ``duration_s`` seconds (None: a 2-hour horizon)."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    rates = dict(DEFAULT_RATES)
    if rate_per_min:
        unknown = set(rate_per_min) - set(RIG_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds in rate_per_min: {sorted(unknown)}")
        rates.update({k: float(v) for k, v in rate_per_min.items()})
    horizon = DEFAULT_HORIZON_S if duration_s is None else float(duration_s)
    if not (math.isfinite(horizon) and 0 < horizon <= MAX_SCHEDULE_S):
        from acquisition.errors import MexlabError

        raise MexlabError(
            f"the simulated participant's schedule is for 0-{MAX_SCHEDULE_S / 3600:g} h; {horizon:g} s asked for"
        )
    n_frames = max(1, int(round(horizon * fps)))
    rng = np.random.default_rng([int(seed), 20261124])
    sec = lambda s: int(round(s * fps))  # noqa: E731
    start = sec(LEAD_IN_S)
    end = n_frames - 1  # last usable frame
    tail = sec(0.5)  # keep events off the very end

    def shaped(kind, onset, n, aus, amp, apex_frac):
        n = max(3, n)
        apex = onset + min(n - 2, max(1, int(round((n - 1) * apex_frac))))
        return FacialEvent(kind, onset, apex, onset + n - 1, aus, float(round(amp, 3)), kind in EXPRESSION_KINDS)

    # 1. expressions: a renewal process with a minimum 1 s gap, never overlapping.
    au_sets = [s for s, _ in AU_SETS]
    au_w = np.array([w for _, w in AU_SETS])
    au_w /= au_w.sum()
    r_mi, r_ma = rates["micro"], rates["macro"]
    expressions: list[FacialEvent] = []
    if r_mi + r_ma > 0:
        mean_iv = 60.0 / (r_mi + r_ma)
        mean_dur = (r_mi * 0.38 + r_ma * 1.9) / (r_mi + r_ma)
        exp_mean = max(0.5, mean_iv - 1.0 - mean_dur)
        t = start + sec(rng.uniform(0.0, min(2.0, exp_mean)))
        while True:
            kind = "micro" if rng.random() < r_mi / (r_mi + r_ma) else "macro"
            aus = au_sets[rng.choice(len(au_sets), p=au_w)]
            if kind == "micro":
                ev = shaped(
                    kind,
                    t,
                    int(round(rng.uniform(7.5, 15.5) * fps / 30.0)),
                    aus,
                    rng.uniform(1.0, 4.0),
                    rng.uniform(0.3, 0.5),
                )
            else:
                ev = shaped(kind, t, sec(rng.uniform(0.8, 3.0)), aus, rng.uniform(5.0, 10.0), rng.uniform(0.3, 0.5))
            if ev.offset > end - tail:
                break
            expressions.append(ev)
            t = ev.offset + 1 + sec(1.0 + rng.exponential(exp_mean))

    # 2. interference processes.
    def renewal(kind, first, gap, dur, amp):
        out, t = [], first
        while True:
            ev = shaped(
                kind,
                t,
                max(3, sec(dur())),
                (("AU45",) if kind == "blink" else ()),
                amp(),
                0.4 if kind == "blink" else 0.5,
            )
            if ev.offset > end - tail:
                return out
            out.append(ev)
            t = ev.offset + 1 + max(1, sec(gap()))

    blinks: list[FacialEvent] = []
    heads: list[FacialEvent] = []
    speech: list[FacialEvent] = []
    if rates["blink"] > 0:
        mean = 60.0 / rates["blink"]  # 13/min -> onsets every 3-6 s
        blinks = renewal(
            "blink",
            start + sec(rng.uniform(0, 3)),
            lambda: rng.uniform(mean * 2 / 3, mean * 4 / 3) - 0.2,
            lambda: rng.uniform(0.1, 0.3),
            lambda: rng.uniform(9.0, 12.0),
        )
    if rates["head"] > 0:
        heads = renewal(
            "head",
            start + sec(rng.exponential(60.0 / rates["head"])),
            lambda: rng.exponential(60.0 / rates["head"]),
            lambda: rng.uniform(0.5, 2.0),
            lambda: rng.uniform(1.0, 4.0),
        )
    if rates["speech"] > 0:
        speech = renewal(
            "speech",
            start + sec(rng.exponential(60.0 / rates["speech"])),
            lambda: rng.exponential(60.0 / rates["speech"]),
            lambda: rng.uniform(2.0, 6.0),
            lambda: rng.uniform(3.0, 7.0),
        )

    # 3. about 30 % of the expressions are overlapped on purpose, the rest kept clean.
    clean = rng.random(len(expressions)) < CLEAN_SHARE
    for ev, is_clean in zip(expressions, clean):
        if is_clean:
            continue
        iv = np.array([(e.onset, e.offset) for e in blinks + heads + speech]).reshape(-1, 2)
        if _overlaps(ev.onset, ev.offset, iv).any():
            continue
        if rng.random() < 0.7:
            n = sec(rng.uniform(0.1, 0.3))
            b = shaped(
                "blink",
                max(0, int(rng.integers(ev.onset - n // 2, ev.apex + 1))),
                n,
                ("AU45",),
                rng.uniform(9.0, 12.0),
                0.4,
            )
            blinks = [e for e in blinks if not (e.onset <= b.offset + sec(0.5) and e.offset >= b.onset - sec(0.5))]
            blinks.append(b)
        else:
            n = sec(rng.uniform(0.5, 1.2))
            h = shaped(
                "head", max(0, int(rng.integers(ev.onset - n // 2, ev.apex + 1))), n, (), rng.uniform(1.0, 3.0), 0.5
            )
            heads = [e for e in heads if not (e.onset <= h.offset and e.offset >= h.onset)]
            heads.append(h)
    clean_iv = np.array([(e.onset, e.offset) for e, c in zip(expressions, clean) if c]).reshape(-1, 2)
    guard = 2
    interference: list[FacialEvent] = []
    for group in (blinks, heads, speech):
        group = sorted(group, key=lambda e: e.onset)
        kept: list[FacialEvent] = []
        for i, e in enumerate(group):
            hit = _overlaps(e.onset, e.offset, clean_iv, guard)
            if hit.any() and e.kind != "blink":
                # move head/speech episodes just past the clean expression instead of losing them
                shift = int(clean_iv[hit][:, 1].max()) + guard + 1 - e.onset
                e = FacialEvent(
                    e.kind, e.onset + shift, e.apex + shift, e.offset + shift, e.aus, e.amplitude, e.emotional
                )
                nxt = group[i + 1].onset if i + 1 < len(group) else end + 1
                hit = _overlaps(e.onset, e.offset, clean_iv, guard)
                if e.offset >= nxt or e.offset > end - tail:
                    continue
            if not hit.any():
                kept.append(e)
        interference += kept
    return Schedule(fps=float(fps), n_frames=n_frames, seed=int(seed), events=expressions + interference)
