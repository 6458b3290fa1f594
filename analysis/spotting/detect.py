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

import math
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
    m = np.zeros(len(mask) + 2, np.int8)
    m[1:-1] = mask
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist()))


#: how many values (frames × regions × components) a block of regions may hold: the detector works a
#: block of regions at a time, each float64 temporary ~2 MB at most — a 30-s video's regions all at
#: once, an hour's one at a time (issue 14: bounded memory for long sessions)
BLOCK_VALUES = 1 << 18


def region_block(n: int) -> int:
    """How many regions of ``n`` frames (two values each a frame) a block holds."""
    return max(1, BLOCK_VALUES // max(2 * n, 1))


def displacement(flow: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The displacement (float64) a region's flow (n, 2) — or several regions' (n, k, 2) — integrates
    to, frame by frame; frames without flow count as 0."""
    keep = valid.reshape((-1,) + (1,) * (flow.ndim - 1))
    return np.cumsum(np.where(keep, flow, 0.0).astype(np.float64), axis=0)


def _lost_before(valid: np.ndarray) -> np.ndarray:
    """(n + 1,) how many frames without flow come before each frame: ``valid[i:j].all()`` is
    ``lost[j] == lost[i]``."""
    lost = np.zeros(len(valid) + 1, np.int64)
    np.cumsum(~valid, out=lost[1:])
    return lost


def robust_sigma(x: np.ndarray) -> float:
    """1.4826 × the median absolute deviation of ``x``'s finite values (0 when there are none)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    return float(_robust_sigmas(x.reshape(1, -1))[0])


def _median(x: np.ndarray) -> float:
    """np.median of a 1-D float64 array without NaN, to the bit, without np.median's generic checks
    (the live spotter takes thousands of medians of short windows a second): :func:`_medians`."""
    return _medians(x.reshape(1, -1))[0]


def noise_levels(
    flow: np.ndarray, valid: np.ndarray, fps: float, p: DetectParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed speed (n, n_regions), activity threshold and per-frame flow noise σ_v of every
    region (arrays (n_regions,)), from robust statistics over the valid frames."""
    n_reg = flow.shape[1]
    sp = np.empty(flow.shape[:2], np.result_type(flow.dtype, np.float32))
    k = max(1, int(round(p.smooth_s * fps)))
    block = region_block(len(flow))
    for r0 in range(0, n_reg, block):  # |flow| as np.linalg.norm takes it, smoothed over p.smooth_s
        x = flow[:, r0 : r0 + block]
        sp[:, r0 : r0 + block] = uniform_filter1d(np.sqrt(np.add.reduce(x * x, axis=2)), size=k, axis=0, mode="nearest")
    thr = np.full(n_reg, p.speed_floor)
    s_v = np.zeros(n_reg)
    if valid.sum() > 10:
        thr, s_v = _region_floors(sp, flow, p, valid)
    return sp, thr, s_v


def _region_floor(speed: np.ndarray, flow: np.ndarray, p: DetectParams) -> tuple[float, float]:
    """Activity threshold and per-frame flow noise σ_v of one region, from its smoothed speed (m,)
    and flow (m, 2) over the frames measured."""
    thr = max(p.speed_floor, float(np.median(speed)) + p.k_speed * robust_sigma(speed))
    return thr, max(robust_sigma(flow[:, 0]), robust_sigma(flow[:, 1]))


def _region_floors(
    speed: np.ndarray, flow: np.ndarray, p: DetectParams, frames: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_region_floor` of every region (speed (n, n_regions), flow (n, n_regions, 2), over the
    ``frames`` mask or all; arrays (n_regions,)), to the bit: the same medians, each region's taken
    over a contiguous row, a block of regions at a time (:func:`region_block`). A block with a
    non-finite value (whose robust σ leaves those out) goes region by region."""
    n_reg = speed.shape[1]
    thr, s_v = np.empty(n_reg), np.empty(n_reg)
    m = len(speed) if frames is None else int(np.count_nonzero(frames))
    block = region_block(m)
    for r0 in range(0, n_reg, block):
        sp = speed[:, r0 : r0 + block]  # (m, b) over the frames measured
        fl = flow[:, r0 : r0 + block]
        if frames is not None:
            sp, fl = sp[frames], fl[frames]
        if m == 0 or not (np.isfinite(sp).all() and np.isfinite(fl).all()):
            for j in range(sp.shape[1]):
                thr[r0 + j], s_v[r0 + j] = _region_floor(sp[:, j], fl[:, j], p)
            continue
        sp = np.ascontiguousarray(sp.T)  # (b, m)
        fl = np.ascontiguousarray(fl.transpose(2, 1, 0), dtype=np.float64)  # (2, b, m)
        thr[r0 : r0 + block] = np.maximum(
            p.speed_floor, _medians(sp).astype(np.float64) + p.k_speed * _robust_sigmas(sp)
        )
        s_v[r0 : r0 + block] = np.maximum(_robust_sigmas(fl[0]), _robust_sigmas(fl[1]))
    return thr, s_v


def _robust_sigmas(x: np.ndarray) -> np.ndarray:
    """:func:`robust_sigma` of every row of a finite array (k, m), to the bit."""
    x = x.astype(np.float64)
    return 1.4826 * _medians(np.abs(x - _medians(x)[:, None]))


def _medians(x: np.ndarray) -> np.ndarray:
    """np.median of every row of a 2-D array without NaN (float64, or float32 as np.median takes it
    there: the two middle values' mean in float32), to the bit, by one partition per row."""
    n = x.shape[1]
    k = n // 2
    part = np.partition(x, k, axis=1)
    if n % 2:
        return part[:, k]
    # the lower middle value is the largest of those before: one selection, not two (~5× faster)
    return (part[:, :k].max(axis=1) + part[:, k]) / 2.0


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
        t, v = _region_floors(sp, flow, p, sel)
        return cls(sp, thr_g, sv_g, still, np.minimum(t, thr_g), np.minimum(v, sv_g))

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
    disp: np.ndarray | None = None,
    lost: np.ndarray | None = None,
) -> list[Candidate]:
    """Candidates of region ``r`` (flow (n, n_regions, 2) in frames ``start..``). ``disp``: its
    :func:`displacement` (n, 2), ``lost``: :func:`_lost_before` of ``valid``, when the caller has them."""
    name = R.CHANNEL_NAMES[r]
    if disp is None:
        disp = displacement(flow[:, r], valid)
    if lost is None:
        lost = _lost_before(valid)
    n = len(disp)
    active = valid & (speed[:, r] > thr_speed)
    gap = max(1, int(round(p.gap_s * fps)))
    merged: list[list[int]] = []
    for a, b in _runs(active):
        if merged and a - merged[-1][1] - 1 <= gap and lost[a + 1] == lost[merged[-1][1]]:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    merged = _merge_unreturned(merged, disp, lost, int(round(p.hold_s * fps)), p.returned)
    max_len = int(p.max_len_s * fps)
    # velocity frames a..b move the face: displaced frames are a..b-1, rest at a-1 and b
    spans = [(max(a - 1, 0), min(b, n - 1)) for a, b in merged if b - a + 1 <= max_len]
    spans = [(i0, i1) for i0, i1 in spans if i1 - i0 >= 2]
    if not spans:
        return []
    d, dv, first, apex = _bumps(disp, np.array(spans, dtype=np.int64))
    per_frame = bool(np.ndim(sig_v))
    out = []
    for (i0, i1), o, k in zip(spans, first.tolist(), apex.tolist()):
        amp = float(d[o + k])
        if amp <= 0:
            continue
        # σ_v local: its mean over the stretch (np.mean's sum and division, without its checks)
        sv = float(np.add.reduce(sig_v[i0 : i1 + 1]) / (i1 - i0 + 1)) if per_frame else sig_v
        thr = max(p.amp_floor, p.k_amp * sv * math.sqrt(i1 - i0 + 1))
        if amp < p.pre_score * thr:
            continue
        level = max(p.alpha * amp, p.k_floor * sv)
        ds = d[o : o + i1 - i0 + 1]
        above = np.flatnonzero(ds >= level)  # detection extent: grouping, elimination
        if not len(above):
            continue  # non-finite flow in the stretch (nothing compares with it)
        on, off = i0 + int(above[0]), i0 + int(above[-1])
        r_on, r_off = _extent(ds, k, level, p.shape_ends)  # the reported ends
        direction = (float(dv[o + k, 0]), float(dv[o + k, 1]))
        c = Candidate(name, start + on, start + i0 + k, start + off, amp, thr, direction, R.aus_for(name, direction))
        c.ends = (start + i0 + r_on, start + i0 + r_off)
        out.append(c)
    return out


def _bumps(disp: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each stretch's departure from the straight line between its ends: for spans (m, 2) of
    inclusive frames i0..i1 of ``disp`` (n, 2), ``dv`` (the departure, (Σ lengths, 2), the stretches
    one after another from ``first``), its length ``d`` and the apex (index of the first largest
    ``d`` within each stretch) — the same arithmetic, element by element, as one stretch at a time."""
    i0, i1 = spans[:, 0], spans[:, 1]
    length = i1 - i0 + 1
    first = np.cumsum(length) - length
    local = np.arange(int(length.sum())) - np.repeat(first, length)  # 0 … length-1 in each
    lo = np.repeat(i0, length)
    w = local / np.repeat(i1 - i0, length)
    dv = disp[lo + local] - (disp[lo] * (1 - w)[:, None] + disp[np.repeat(i1, length)] * w[:, None])
    d = np.hypot(dv[:, 0], dv[:, 1])
    if np.isfinite(d).all():
        top = np.flatnonzero(d == np.repeat(np.maximum.reduceat(d, first), length))
        apex = top[np.searchsorted(top, first)] - first
    else:  # argmax's own rule for NaN
        apex = np.array([int(d[o : o + m].argmax()) for o, m in zip(first.tolist(), length.tolist())], dtype=np.int64)
    return d, dv, first, apex


def _cross(d: list[float], k: int, level: float, step: int) -> float | None:
    """Fractional frame (index into ``d``, a list) where ``d`` first falls below ``level`` going from
    the apex ``k`` in direction ``step`` (linear interpolation); None when it never does."""
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
    dl = d.tolist()  # walks of a few frames from the apex: Python floats (the same doubles)
    n = len(dl)
    off = k
    while off < n and not dl[off] < level:  # the first frame below the level from the apex on, less one
        off += 1
    off -= 1
    on = k
    while on >= 0 and not dl[on] < level:  # … and before it (up to the apex), plus one
        on -= 1
    on += 1
    if shape and dl[k] > 0:
        amp = dl[k]
        for step in (1, -1):
            t90, t50 = _cross(dl, k, 0.9 * amp, step), _cross(dl, k, 0.5 * amp, step)
            if t90 is None or t50 is None:
                continue
            t10 = 2.0 * t50 - t90
            if step > 0:
                off = min(off, max(k, int(math.floor(t10 + 1e-9))))
            else:
                on = max(on, min(k, int(math.ceil(t10 - 1e-9))))
    return on, max(off, on)


def _merge_unreturned(
    segs: list[list[int]], disp: np.ndarray, lost: np.ndarray, hold: int, returned: float
) -> list[list[int]]:
    """Join a stretch of activity to the next one when together they make one excursion: the face
    has not come back to rest in the pause between them (a held apex, up to ``hold`` frames: more
    than ``returned`` × the first stretch's peak displacement remains), and it has after the second
    (less than ``returned`` × the peak remains). Drift that never comes back is not joined.
    ``lost``: :func:`_lost_before` of the frames with flow (only a pause with flow throughout joins)."""
    last = len(disp) - 1
    out: list[list[int]] = []
    for seg in segs:
        if out:
            a, b = out[-1]
            c, e = seg
            if c - b - 1 <= hold and lost[c] == lost[b]:  # the displacements only where they can join
                base = disp[max(a - 1, 0)]
                # the distances as np.linalg.norm takes them (the square root of the dot product)
                x = disp[c - 1] - base
                still = math.sqrt(x.dot(x))
                x = disp[min(e + 1, last)] - base
                back = math.sqrt(x.dot(x))
                # back < returned × peak < still: no join where the face is not closer to rest after
                # the second stretch than in the pause (the peak not measured then)
                if back < still:
                    peak = float(np.max(np.linalg.norm(disp[a : b + 1] - base, axis=1)))
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
    disp = displacement(flow[i0 + 1 : i1 + 1, r], valid[i0 + 1 : i1 + 1])  # from frame i0 (rest before the onset)
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
    # a block of regions at a time (region_block: an hour's one by one, its float64 temporaries ~2 MB
    # where the whole flow's are ~31 MB); the same arithmetic per element, the same result
    block = region_block(len(flow))
    keep = valid[:, None, None]
    for r in range(0, flow.shape[1], block):
        f = np.where(keep, flow[:, r : r + block], 0.0).astype(np.float64)
        m = uniform_filter1d(f, size=k, axis=0, mode=mode)
        m /= w[:, :, None]
        out[:, r : r + block] = np.where(keep, f - m, 0.0)
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
    if p.still_px > 0 and head_px is not None and len(head_px) == len(flow):
        fl = StillFloors.of(flow, valid, fps, p, head_px)
        speed, thr, s_v = fl.speed, fl.threshold, fl.sigma_v
    else:
        speed, s_sp, s_vs = noise_levels(flow, valid, fps, p)
        thr, s_v = s_sp.__getitem__, s_vs.__getitem__
    out: list[Candidate] = []
    regions = [r for r in range(flow.shape[1]) if r not in skip]
    lost = _lost_before(valid)
    block = region_block(len(flow))  # the displacements of a block of regions at once
    for b in range(0, len(regions), block):
        rs = regions[b : b + block]
        disp = displacement(flow[:, rs], valid)
        for j, r in enumerate(rs):
            out.extend(
                region_candidates(r, flow, valid, speed, thr(r), s_v(r), fps, p, start, disp=disp[:, j], lost=lost)
            )
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
    ov = p.group_overlap
    bests: list[tuple[int, int, int]] = []  # each group's strongest member: onset, offset, apex

    def joins(b: tuple[int, int, int], c: Candidate) -> bool:
        bo, bf, ba = b
        inter = min(c.offset, bf) - max(c.onset, bo) + 1  # iou(c, b) as iou() takes it
        u = inter / ((c.offset - c.onset + 1) + (bf - bo + 1) - inter) if inter > 0 else 0.0
        return u >= ov or (bo <= c.apex <= bf and c.onset <= ba <= c.offset)

    def near(b: tuple[int, int, int], c: Candidate) -> bool:
        bo, bf, _ = b
        return c.onset <= bf and bo <= c.offset and bo - tol <= c.apex <= bf + tol

    # strongest first: a group's strongest member is its first (ties: max() keeps the first too)
    for c in sorted(cands, key=lambda c: -c.score):
        home = next((i for i, b in enumerate(bests) if joins(b, c)), None)
        if home is None and tol > 0:
            home = next((i for i, b in enumerate(bests) if near(b, c)), None)
        if home is None:
            groups.append(Group(c.onset, c.apex, c.offset, c.score, [c]))
            bests.append((c.onset, c.offset, c.apex))
        else:
            groups[home].members.append(c)
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
