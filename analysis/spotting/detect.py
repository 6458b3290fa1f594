"""Interval detection in the per-region motion signals (frame numbers are 0-based, inclusive).

For every region the residual flow ``v(t)`` (crop px, frame t-1 → t) is integrated into a
displacement trajectory ``D(t)``. A facial movement is a bump of ``D``: away from rest to an apex and
back. Detection, with all time constants scaled by the frame rate:

1. **activity**: the region's speed ``|v|`` (smoothed over 0.1 s) exceeds ``max(speed_floor,
   k_speed·σ)``, σ being the robust (MAD) noise of the speed over the video (``speed_floor`` in
   crop px per frame; on a face wider than ``speed_ref_px`` frame px the same speed in frame px:
   :func:`speed_scale`; on the frames where the head is still, σ of those frames alone when lower:
   :func:`still_noise_levels`); gaps shorter than
   0.1 s (the slow-down at an apex) are closed, and two stretches separated by a pause of up to
   1.5 s are joined when they make one excursion (the face still displaced in the pause — a held
   apex — and back at rest after the second);
2. **main-direction magnitude**: over an active stretch, ``d(t) = |D(t) - B(t)|`` with ``B`` the
   straight line between the rest positions just before and just after it; the apex is where ``d``
   peaks, the main direction is that of ``D(apex) - B(apex)``, the amplitude ``d(apex)``;
3. **interval**: for detection (grouping, interference elimination) onset/offset are the first/last
   frames where ``d`` reaches ``alpha`` of the amplitude; the *reported* ends (``report_ends``,
   after elimination) are refined by :func:`_extent`: the run around the apex above that level,
   bounded by the ramp's own 50 %/90 % crossings;
4. **threshold**: a candidate is kept if its amplitude exceeds ``max(amp_floor, k_amp·σ_v·√L)``
   (σ_v the per-frame flow noise, L the stretch length: the random-walk noise of ``D``);
   ``score = amplitude / threshold`` (≥ 1 kept; from ``pre_score`` on it may be raised by EMG);
5. **type**: micro if ``(offset - onset)/fps ≤ micro_max_s`` (0.5 s), else macro.

Candidates of different regions that overlap in time are grouped into one interval (the strongest
region's onset/apex/offset; the regions and AUs of all members).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import uniform_filter1d

from analysis.spotting import regions as R

if TYPE_CHECKING:
    from collections.abc import Collection


@dataclass
class DetectParams:
    smooth_s: float = 0.1  # speed smoothing window
    gap_s: float = 0.1  # activity gaps closed
    hold_s: float = 1.5  # longer pauses with the face still displaced are joined too
    returned: float = 0.35  # … "still displaced": more than this share of the peak (0.5 before the fifth round)
    k_speed: float = 4.0
    speed_floor: float = 0.02  # crop px / frame
    k_amp: float = 6.0  # 5 before the varied rig (chosen on its tuning faces)
    amp_floor: float = 0.12  # crop px (crop = 128 px; inter-ocular distance 46 px)
    alpha: float = 0.1
    k_floor: float = 0.0  # onset/offset level also ≥ k_floor·σ_v (the noise floor)
    shape_ends: bool = True  # ends also bounded by the ramp's 50 %/90 % crossings (_extent)
    micro_max_s: float = 0.5
    max_len_s: float = 6.0  # longer stretches are not expressions (posture, drift)
    pre_score: float = 0.6  # candidates from this score on are kept for EMG
    group_overlap: float = 0.3
    group_apex_tol_s: float = 0.05  # > 0: a candidate overlapping a group's strongest member with its
    # apex within that member's extent ± this is in the group: a region's rise and fall, not joined into one
    # movement, beside the movement's own group (eleventh round); 0: off
    pairs: bool = False  # also detect on bilateral channels (regions.PAIR_NAMES)
    detrend_s: float = 2.0  # subtract the moving mean of each region's flow (0: off)
    detrend_edge: str = "shrink"  # near the ends: "nearest" repeats the end frame's flow into the
    # window; "shrink" averages only the frames there are (what a live window's end needs)
    micro_pass_s: float = 0.7  # > 0: a second pass for micro-expressions on the flow detrended over this
    # many seconds (pipeline.spot_features; 0: off). Its micro intervals where the first pass kept
    # nothing are added (thirteenth round: an expression the first pass joined with the residual of a
    # slow head drift, then removed with it) …
    micro_pass_after_s: float = 0.3  # … when the face comes back after them in the first pass's flow:
    # over this long after the offset, the strongest member's mean displacement from its onset is below
    # ``returned`` × its peak (not a piece of a longer movement, which the shorter detrending turns
    # into a micro-looking rise; returns_after); 0: every such interval
    min_report_s: float = 0.13  # > 0: an interval whose reported ends (refined, report_ends) span less
    # than this is not reported either: suppressed as "too short" (twelfth round; a saccade's or a
    # piece of a movement); 0: off
    min_len_s: float = 0.13  # shorter candidates are not expressions (a blink's are
    # still used to find the blink; pipeline)
    still_px: float = 0.04  # > 0: on frames whose rigid head motion (crop px / frame, over 0.5 s)
    # is below this, the noise floor of the still frames alone when lower (still_noise_levels;
    # sixth round); 0: the whole video's
    still_min_s: float = 10.0  # … when there are at least this many seconds of still frames (fewer
    # give an unsteady σ: in the live spotter's 8-s window it cost precision)
    speed_ref_px: float = 150.0  # > 0: speed_floor holds for a face this wide (face box, frame px);
    # on a wider one it shrinks ∝ speed_ref_px / width: the same floor in the face's own pixels
    # (speed_scale); 0: a fixed number of crop px per frame


@dataclass
class Candidate:
    region: str
    onset: int
    apex: int
    offset: int
    amplitude: float
    threshold: float
    direction: tuple[float, float]
    aus: tuple[str, ...]
    score: float = 0.0
    ends: tuple[int, int] | None = None  # reported onset/offset (refined; None: onset/offset)

    def __post_init__(self):
        self.score = self.amplitude / self.threshold if self.threshold > 0 else 0.0


@dataclass
class Group:
    onset: int
    apex: int
    offset: int
    score: float
    members: list[Candidate] = field(default_factory=list)
    type: str = "micro"
    emg: list = field(default_factory=list)  # [(channel label, z), …] when EMG raised it

    @property
    def regions(self) -> list[str]:
        return sorted({r for m in self.members for r in R.member_regions(m.region)}, key=R.REGION_NAMES.index)

    @property
    def aus(self) -> list[str]:
        """AUs of the members that carry the movement (score ≥ 35 % of the strongest): weaker
        members are mostly motion spreading from a neighbouring region."""
        top = max((m.score for m in self.members), default=0.0)
        s = {a for m in self.members if m.score >= 0.35 * top for a in m.aus}
        return sorted(s, key=lambda a: int(a[2:]))

    @property
    def best(self) -> Candidate:
        return max(self.members, key=lambda m: m.score)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive [start, end] runs of True."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def robust_sigma(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    return float(1.4826 * _median(np.abs(x - _median(x))))


def _median(x: np.ndarray) -> float:
    """np.median of a 1-D float64 array without NaN, to the bit (the mean of the two middle values
    for an even count), without np.median's generic checks: the live spotter takes thousands of
    medians of short windows a second."""
    n = x.size
    k = n // 2
    if n % 2:
        return np.partition(x, k)[k]
    part = np.partition(x, (k - 1, k))
    return (part[k - 1] + part[k]) / 2.0


def noise_levels(
    flow: np.ndarray, valid: np.ndarray, fps: float, p: DetectParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed speed (n, n_regions), activity threshold and per-frame flow noise σ_v of every
    region (arrays (n_regions,)), from robust statistics over the valid frames."""
    n_reg = flow.shape[1]
    sp = np.empty(flow.shape[:2], np.result_type(flow.dtype, np.float32))
    for r in range(n_reg):  # region by region: no temporary of the whole flow's size
        sp[:, r] = region_speed(flow, r, fps, p)
    thr = np.full(n_reg, p.speed_floor)
    s_v = np.zeros(n_reg)
    if valid.sum() > 10:
        for r in range(n_reg):
            thr[r], s_v[r] = _region_floor(sp[valid, r], flow[valid, r], p)
    return sp, thr, s_v


def region_speed(flow: np.ndarray, r: int, fps: float, p: DetectParams) -> np.ndarray:
    """Region ``r``'s speed (n,), smoothed over ``p.smooth_s``."""
    k = max(1, int(round(p.smooth_s * fps)))
    return uniform_filter1d(np.linalg.norm(flow[:, r], axis=1), size=k, mode="nearest")


def _region_floor(speed: np.ndarray, flow: np.ndarray, p: DetectParams) -> tuple[float, float]:
    """Activity threshold and per-frame flow noise σ_v of one region, from its smoothed speed (m,)
    and flow (m, 2) over the frames measured."""
    thr = max(p.speed_floor, float(np.median(speed)) + p.k_speed * robust_sigma(speed))
    return thr, max(robust_sigma(flow[:, 0]), robust_sigma(flow[:, 1]))


def still_noise_levels(
    flow: np.ndarray, valid: np.ndarray, fps: float, p: DetectParams, head_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`noise_levels`, but on the frames where the head is still (rigid motion, smoothed
    over 0.5 s, below ``still_px`` crop px per frame) the activity threshold and σ_v are measured
    over those frames alone when that gives less: arrays (n, n_regions).

    What compensation leaves of head drift and turns is noise only while the head moves; measured
    over the whole video, it raises the threshold of the still stretches and hides small movements
    there (a brow ME of 3 px on a still 390-px face, in a video with 11 s of drift). The moving
    frames keep the video-wide values. With too few still frames, every frame keeps them."""
    fl = StillFloors.of(flow, valid, fps, p, head_px)
    n_reg = flow.shape[1]
    sp = fl.speed
    thr = np.stack([fl.threshold(r) for r in range(n_reg)], axis=1)
    s_v = np.stack([fl.sigma_v(r) for r in range(n_reg)], axis=1)
    return sp, thr, s_v


@dataclass
class StillFloors:
    """What :func:`still_noise_levels` measures, the floors kept per region rather than per frame
    (two values per region and one mask: an hour's (n, n_regions) float64 arrays are 15 MB each);
    a region's per-frame threshold and σ_v are made when that region is searched."""

    speed: np.ndarray  # (n, n_regions) smoothed speed
    thr: np.ndarray  # (n_regions,) activity threshold, video-wide
    s_v: np.ndarray  # (n_regions,) flow noise σ_v, video-wide
    still: np.ndarray | None = None  # (n,) frames with the head still (None: too few, none own)
    thr_still: np.ndarray | None = None  # (n_regions,) on those frames
    s_v_still: np.ndarray | None = None

    @classmethod
    def of(cls, flow: np.ndarray, valid: np.ndarray, fps: float, p: DetectParams, head_px: np.ndarray) -> StillFloors:
        sp, thr_g, sv_g = noise_levels(flow, valid, fps, p)
        n, n_reg = sp.shape
        k = max(1, int(round(0.5 * fps)))
        hp = uniform_filter1d(np.nan_to_num(np.asarray(head_px, dtype=np.float64)), size=k, mode="nearest")
        still = hp <= p.still_px
        sel = still & valid
        if sel.sum() < max(30, int(0.05 * n), p.still_min_s * fps):
            return cls(sp, thr_g, sv_g)
        thr_s, sv_s = thr_g.copy(), sv_g.copy()
        for r in range(n_reg):
            t, v = _region_floor(sp[sel, r], flow[sel, r], p)
            thr_s[r], sv_s[r] = min(t, thr_g[r]), min(v, sv_g[r])
        return cls(sp, thr_g, sv_g, still, thr_s, sv_s)

    def _column(self, glob: np.ndarray, own: np.ndarray | None, r: int) -> np.ndarray:
        if self.still is None or own is None:
            return np.full(len(self.speed), glob[r])
        return np.where(self.still, own[r], glob[r])

    def threshold(self, r: int) -> np.ndarray:
        """Region ``r``'s activity threshold per frame (n,)."""
        return self._column(self.thr, self.thr_still, r)

    def sigma_v(self, r: int) -> np.ndarray:
        """Region ``r``'s flow noise σ_v per frame (n,)."""
        return self._column(self.s_v, self.s_v_still, r)


def region_candidates(
    r: int,
    flow: np.ndarray,
    valid: np.ndarray,
    speed: np.ndarray,
    thr_speed: float | np.ndarray,
    sig_v: float | np.ndarray,
    fps: float,
    p: DetectParams,
    start: int = 0,
) -> list[Candidate]:
    """Candidates of region ``r`` (flow (n, n_regions, 2) in frames ``start..``)."""
    name = R.CHANNEL_NAMES[r]
    v = np.where(valid[:, None], flow[:, r, :], 0.0).astype(np.float64)
    disp = np.cumsum(v, axis=0)
    n = len(v)
    active = valid & (speed[:, r] > thr_speed)
    gap = max(1, int(round(p.gap_s * fps)))
    runs = _runs(active)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] - 1 <= gap and valid[merged[-1][1] : a + 1].all():
            merged[-1][1] = b
        else:
            merged.append([a, b])
    merged = _merge_unreturned(merged, disp, valid, int(round(p.hold_s * fps)), p.returned)
    out = []
    max_len = int(p.max_len_s * fps)
    for a, b in merged:
        if b - a + 1 > max_len:
            continue
        # velocity frames a..b move the face: displaced frames are a..b-1, rest at a-1 and b
        i0, i1 = max(a - 1, 0), min(b, n - 1)
        if i1 - i0 < 2:
            continue
        t = np.arange(i0, i1 + 1)
        w = (t - i0) / (i1 - i0)
        base = disp[i0] * (1 - w)[:, None] + disp[i1] * w[:, None]
        dv = disp[i0 : i1 + 1] - base
        d = np.hypot(dv[:, 0], dv[:, 1])
        k = int(np.argmax(d))
        amp = float(d[k])
        if amp <= 0:
            continue
        sv = float(np.mean(sig_v[i0 : i1 + 1])) if np.ndim(sig_v) else sig_v  # local: over the stretch
        thr = max(p.amp_floor, p.k_amp * sv * np.sqrt(i1 - i0 + 1))
        if amp < p.pre_score * thr:
            continue
        level = max(p.alpha * amp, p.k_floor * sv)
        above = np.flatnonzero(d >= level)  # detection extent: grouping, elimination
        on, off = int(t[above[0]]), int(t[above[-1]])
        r_on, r_off = _extent(d, k, level, p.shape_ends)  # the reported ends
        direction = (float(dv[k, 0]), float(dv[k, 1]))
        c = Candidate(
            name, start + on, start + int(t[k]), start + off, amp, thr, direction, R.aus_for(name, np.array(direction))
        )
        c.ends = (start + int(t[r_on]), start + int(t[r_off]))
        out.append(c)
    return out


def _cross(d: np.ndarray, k: int, level: float, step: int) -> float | None:
    """Fractional frame (index into ``d``) where ``d`` first falls below ``level`` going from the
    apex ``k`` in direction ``step`` (linear interpolation); None when it never does."""
    i = k
    while 0 <= i + step < len(d):
        j = i + step
        if d[j] < level:
            return i + step * (d[i] - level) / max(d[i] - d[j], 1e-12)
        i = j
    return None


def _extent(d: np.ndarray, k: int, level: float, shape: bool = True) -> tuple[int, int]:
    """Onset and offset around the apex ``k`` (indices into ``d``).

    * The run of frames displaced by at least ``level`` that contains the apex: the face has come
      back when ``d`` first falls below the level after the apex; later wobbles of the tail do not
      stretch the interval (as the last frame above the level did).
    * With ``shape``, each end is also bounded by where the ramp itself says it ends: a ramp is
      symmetric about its half-amplitude point (raised cosine, linear, logistic), so the 10 % point
      lies as far beyond the 50 % crossing as the 90 % crossing lies before it. This stops a tail
      that never quite comes back (flow residual, a slow neighbouring movement) from carrying the
      offset several frames past the movement's own end.
    """
    below = d < level
    after = np.flatnonzero(below[k:])
    before = np.flatnonzero(below[: k + 1])
    off = k + int(after[0]) - 1 if len(after) else len(d) - 1
    on = int(before[-1]) + 1 if len(before) else 0
    if shape and d[k] > 0:
        amp = float(d[k])
        for step in (1, -1):
            t90, t50 = _cross(d, k, 0.9 * amp, step), _cross(d, k, 0.5 * amp, step)
            if t90 is None or t50 is None:
                continue
            t10 = 2.0 * t50 - t90
            if step > 0:
                off = min(off, max(k, int(np.floor(t10 + 1e-9))))
            else:
                on = max(on, min(k, int(np.ceil(t10 - 1e-9))))
    return on, max(off, on)


def _merge_unreturned(
    segs: list[list[int]], disp: np.ndarray, valid: np.ndarray, hold: int, returned: float
) -> list[list[int]]:
    """Join a stretch of activity to the next one when together they make one excursion: the face
    has not come back to rest in the pause between them (a held apex, up to ``hold`` frames: more
    than ``returned`` × the first stretch's peak displacement remains), and it has after the second
    (less than ``returned`` × the peak remains). Drift that never comes back is not joined."""
    out: list[list[int]] = []
    for seg in segs:
        if out:
            a, b = out[-1]
            c, e = seg
            if c - b - 1 <= hold and valid[b:c].all():  # the displacements only where they can join
                base = disp[max(a - 1, 0)]
                peak = float(np.max(np.linalg.norm(disp[a : b + 1] - base, axis=1)))
                still = float(np.linalg.norm(disp[c - 1] - base))
                back = float(np.linalg.norm(disp[min(e + 1, len(disp) - 1)] - base))
                if still > returned * peak and back < returned * peak:
                    out[-1][1] = e
                    continue
        out.append(list(seg))
    return out


def returns_after(c: Candidate, flow: np.ndarray, valid: np.ndarray, fps: float, p: DetectParams) -> bool:
    """Whether the face comes back after candidate ``c`` in ``flow`` (its region's displacement, the
    mean over ``p.micro_pass_after_s`` after its offset, from its onset, below ``p.returned`` × the
    displacement at its apex): a whole movement, not the start of a longer one. False when that time
    is not in ``flow`` with both sides of its moving mean (the end of a live window, or of the video)
    or the face is lost in it."""
    r = R.CHANNEL_NAMES.index(c.region)
    n = len(flow)
    i0 = max(c.onset - 1, 0)
    i1 = c.offset + max(1, int(round(p.micro_pass_after_s * fps)))
    # ``flow`` detrended over p.detrend_s: within half that of its end the moving mean is one-sided,
    # and a held displacement (a macro-expression going on in a live window) looks like a return there
    edge = int(round(0.5 * p.detrend_s * fps))
    if i1 > n - 1 - edge or not valid[c.offset : i1 + 1].all():
        return False  # not seen to come back (yet: the end of a live window)
    v = np.where(valid[i0 + 1 : i1 + 1, None], flow[i0 + 1 : i1 + 1, r, :], 0.0).astype(np.float64)
    disp = np.cumsum(v, axis=0)  # displacement from frame i0 (the rest before the onset)
    peak = float(np.hypot(*disp[c.apex - i0 - 1])) if c.apex > i0 else 0.0
    tail = disp[max(c.offset - i0 - 1, 0) :]  # from the offset (c.offset < n: checked above)
    return float(np.mean(np.hypot(tail[:, 0], tail[:, 1]))) < p.returned * peak


def detrend(flow: np.ndarray, valid: np.ndarray, fps: float, seconds: float, edge: str = "nearest") -> np.ndarray:
    """Each region's flow minus its moving mean over ``seconds`` (frames without flow count as
    0 and are left at 0): slow residual drift (compensation error of slow head motion) out, the
    up-and-back velocity of an expression kept. ``edge``: within half a window of either end,
    "nearest" pads with the end frame's flow, "shrink" averages over the frames that exist."""
    k = int(round(seconds * fps))
    if k < 3:
        return flow
    mode = "constant" if edge == "shrink" else "nearest"
    w = np.maximum(uniform_filter1d(valid.astype(np.float64), size=k, mode=mode), 1e-6)[:, None]
    out = np.empty_like(flow)
    # one region at a time: the float64 temporaries of an hour's flow are ~2 MB, not ~31 MB each
    # (the same arithmetic per element, so the same result as the whole array at once)
    for r in range(flow.shape[1]):
        f = np.where(valid[:, None], flow[:, r], 0.0).astype(np.float64)
        m = uniform_filter1d(f, size=k, axis=0, mode=mode)
        m /= w
        out[:, r] = np.where(valid[:, None], f - m, 0.0)
    return out


def speed_scale(p: DetectParams, face_px: float | None) -> float:
    """Factor on ``speed_floor`` for a face ``face_px`` wide (frame px; None: unknown → 1).

    The crop has a fixed size (inter-ocular distance 46 crop px), so a face ``w`` frame px wide is
    reduced ~100/w: 1 frame px of motion is ~0.8 crop px on a 125-px face and ~0.33 on a 300-px
    one. The noise term of the activity threshold is measured per region and video; the floor is
    not, and on a big, clean face it is what decides. Beyond ``speed_ref_px`` it is kept at the
    same speed in frame px."""
    if p.speed_ref_px <= 0 or not face_px or not np.isfinite(face_px) or face_px <= p.speed_ref_px:
        return 1.0
    return float(p.speed_ref_px / face_px)


def face_width_px(box: np.ndarray, present: np.ndarray | None = None) -> float | None:
    """Median face-box width (frame px) over the frames with a face (box (n, 4) x0 y0 x1 y1)."""
    b = np.asarray(box, dtype=np.float64)
    if b.ndim != 2 or len(b) == 0:
        return None
    w = b[:, 2] - b[:, 0]
    ok = np.isfinite(w) & (w > 0)
    if present is not None:
        ok &= np.asarray(present, dtype=bool)
    return float(np.median(w[ok])) if ok.any() else None


def all_candidates(
    flow: np.ndarray,
    valid: np.ndarray,
    fps: float,
    p: DetectParams,
    skip: Collection[int] = (R.REF,),
    start: int = 0,
    face_px: float | None = None,
    head_px: np.ndarray | None = None,
    detrended: bool = False,
) -> list[Candidate]:
    """Candidates of every region; ``face_px`` (the face width, frame px) scales the activity
    floor (:func:`speed_scale`); ``head_px`` (rigid head motion, crop px per frame) lets the still
    frames keep their own, lower noise floor (:func:`still_noise_levels`). ``detrended``: ``flow``
    is already :func:`detrend`-ed with ``p``'s window (not done again)."""
    f = speed_scale(p, face_px)
    if f != 1.0:
        p = replace(p, speed_floor=p.speed_floor * f)
    if p.detrend_s > 0 and not detrended:
        flow = detrend(flow, valid, fps, p.detrend_s, p.detrend_edge)
    if p.pairs and flow.shape[1] == len(R.REGION_NAMES):
        flow = R.with_pairs(flow)
    out: list[Candidate] = []
    if p.still_px > 0 and head_px is not None and len(head_px) == len(flow):
        fl = StillFloors.of(flow, valid, fps, p, head_px)
        for r in range(flow.shape[1]):
            if r not in skip:
                out.extend(region_candidates(r, flow, valid, fl.speed, fl.threshold(r), fl.sigma_v(r), fps, p, start))
        return out
    speed, s_sp, s_v = noise_levels(flow, valid, fps, p)
    for r in range(flow.shape[1]):
        if r not in skip:
            out.extend(region_candidates(r, flow, valid, speed, s_sp[r], s_v[r], fps, p, start))
    return out


def iou(a0: int, a1: int, b0: int, b1: int) -> float:
    inter = min(a1, b1) - max(a0, b0) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a1 - a0 + 1) + (b1 - b0 + 1) - inter)


def group_candidates(cands: list[Candidate], fps: float, p: DetectParams) -> list[Group]:
    """Group overlapping candidates of different regions (strongest first): a candidate joins the
    first group whose strongest member it overlaps by IoU ≥ ``group_overlap`` or shares apexes with
    (each one's apex within the other); failing that (``group_apex_tol_s``), the first whose
    strongest member it overlaps with its apex within that member's extent ± the tolerance."""
    groups: list[Group] = []
    tol = int(round(p.group_apex_tol_s * fps))

    def joins(b: Candidate, c: Candidate) -> bool:
        return iou(c.onset, c.offset, b.onset, b.offset) >= p.group_overlap or (
            b.onset <= c.apex <= b.offset and c.onset <= b.apex <= c.offset
        )

    def near(b: Candidate, c: Candidate) -> bool:
        return c.onset <= b.offset and b.onset <= c.offset and b.onset - tol <= c.apex <= b.offset + tol

    for c in sorted(cands, key=lambda c: -c.score):
        home = next((g for g in groups if joins(g.best, c)), None)
        if home is None and tol > 0:
            home = next((g for g in groups if near(g.best, c)), None)
        if home is None:
            groups.append(Group(c.onset, c.apex, c.offset, c.score, [c]))
        else:
            home.members.append(c)
    for g in groups:
        finish_group(g, fps, p)
    return sorted(groups, key=lambda g: g.onset)


def report_ends(g: Group, fps: float, p: DetectParams) -> None:
    """Once detection and elimination are done: the group's onset/offset become its strongest
    member's refined ends (:func:`_extent`), and its type follows them."""
    b = g.best
    if b.ends is not None:
        g.onset, g.offset = b.ends
        g.type = "micro" if (g.offset - g.onset) / fps <= p.micro_max_s else "macro"


def finish_group(g: Group, fps: float, p: DetectParams) -> None:
    b = g.best
    g.onset, g.apex, g.offset, g.score = b.onset, b.apex, b.offset, b.score
    g.type = "micro" if (g.offset - g.onset) / fps <= p.micro_max_s else "macro"
