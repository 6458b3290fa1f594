"""Interference elimination: blinks, speech and head motion are not expressions.

Rigid head motion is first *compensated* (registration on the landmarks, the global motion model
with its depth parallax term, the nose-bridge reference — see :mod:`analysis.spotting.flow`). What
compensation leaves is handled here, and every candidate taken away is reported with its reason:

``blink``
    A blink is a fast (≤ 0.6 s) downward motion of an upper lid of at least ``blink_amp`` crop px,
    or an eye-closure proxy (AU45 from the blendshapes) reaching ``blink_closure``. Upper/lower lid
    candidates overlapping a blink are removed; brow candidates too, when they peak with the blink
    (apexes within ``blink_sync_s``) and are not clearly larger than what the lid motion leaks
    into the brows (``brow_leak`` × the lid amplitude). Both upper lids moving down at once and
    fast (``blink_pair_*``) are a blink too, one that takes the brows with it, as eye closure does.
    Any other region peaking with the blink and moving less than ``blink_face_leak`` × the lids is
    the blink's too (the nose-bridge reference drawn along by the lids moves the whole lower face
    by a tenth of the lids' motion). A group left without members is suppressed.
``speech``
    Speech-like lip movement: the mouth opening (lower-lip minus upper-lip motion) oscillating at a
    syllable rate, i.e. at least ``speech_peaks`` opening peaks (prominence above the noise) with
    spacing 1/8 … 1/3 s within 1.2 s. Mouth-region candidates overlapping such stretches are removed.
``head motion``
    Region by region, the score is discounted by the rigid head motion along the candidate (path
    length of the global model, crop px) relative to ``head_ratio`` × its amplitude —
    ``score × (1 - path / (head_ratio·amplitude))``, since what compensation leaves is proportional to
    the motion — and the region is removed when that falls below 1; when the head moved by at least
    ``common_min_px`` over it and ``common_pad_s`` either side, the region must also move
    ``common_ratio`` times as much as the rest of the face (:mod:`analysis.spotting.common_motion`); or the head turns faster than
    ``fast_deg_s`` (pose, in-plane rotation) or moves faster than ``fast_mm_s`` in 3-D (depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from analysis.spotting import regions as R
from analysis.spotting.detect import Candidate, DetectParams, Group, finish_group, robust_sigma
from analysis.spotting.flow import head_motion_px, head_rotation_deg

if TYPE_CHECKING:
    from analysis.spotting.common_motion import CommonMotion

BROW = ("brow_in_l", "brow_in_r", "brow_out_l", "brow_out_r", "brow_in_lr", "brow_out_lr")
LIDS = R.EYE_REGIONS


@dataclass
class InterferenceParams:
    blink_amp: float = 0.3  # crop px of downward upper-lid motion (0.4 before the fifth round)
    blink_max_s: float = 0.6
    blink_closure: float = 0.5  # AU45 proxy (eyeBlink blendshapes, 0..1)
    blink_pair_amp: float = 0.15  # > 0: blinks also from both upper lids at once (_paired_lid_blinks;
    blink_pair_sync_s: float = 0.07  # sixth round); 0: off
    blink_pair_max_s: float = 0.2
    brow_leak: float = 1.0  # 0.6 before the varied rig
    blink_sync_s: float = 0.07  # > 0: brows (and blink_face_leak's regions) are the blink's only
    # when their apex is this close to the blink's (seventh round); 0: whenever they overlap
    blink_by_ends: bool = True  # the lid rules' durations and the blink's extent from a lid
    # candidate's refined ends (detect._extent) rather than its activity stretch, which noise, drift or
    # speech around the blink can stretch to seconds (twelfth round); False: the stretch
    blink_face_leak: float = 0.2  # > 0: any other region peaking with a lid blink and moving
    # less than this × the lids is the blink's (seventh round); 0: off
    speech_peaks: int = 3
    speech_window_s: float = 1.2
    speech_prom: float = 0.15  # crop px of mouth opening (0.3 before the seventh round)
    speech_pad_s: float = 0.2
    head_ratio: float = 10.0  # 6 before the varied rig
    head_nonuniform: bool = False  # count only the rigid motion that is not uniform over the
    # candidate (what the rest-to-rest baseline cannot remove)
    common_ratio: float = 2.0  # > 0: while the head moves, a region must move this many times the
    common_min_px: float = 0.5  # face's typical motion (common_motion), from this much rigid head
    # motion over it (crop px; seventh round); common_ratio 0: off
    common_pad_s: float = 0.5  # … that motion measured this far (s) either side of the member (one
    # frame before the fifteenth round): a short member in slow drift moves the head too little over
    # its own frames for the test to apply, though the drift around it is what it is made of
    fast_deg_s: float = 30.0
    fast_mm_s: float = 150.0
    gaze_l1: float = 0.03  # > 0: an eye-region member over which the eyes' look moves (the face
    # model's eyeLookIn/Out blendshapes, L1 change from just before it) by this much or more, and that
    # moves more sideways than up or down (gaze_dir), is the gaze shift's (twelfth round); 0: off
    gaze_dir: float = 1.0  # … |dx| ≥ gaze_dir·|dy| (0: any direction)
    light_frac: float = 0.04  # > 0: a group over which the face's brightness changes by this share or
    # more (the light, the camera's exposure: frames.FrameRecord.gain) is removed (eleventh round); 0: off


class Blink(NamedTuple):
    onset: int
    offset: int
    amplitude: float  # lid motion the brows are measured against (inf: eye closure or both lids:
    # the brows' motion then is the blink's)
    apex: int
    lid_px: float = 0.0  # the largest downward upper-lid motion over it (crop px; 0: none seen)


@dataclass
class Suppressed:
    onset: int
    offset: int
    reason: str
    apex: int = -1
    score: float = 0.0


# --------------------------------------------------------------------------- per-frame signals
def blink_intervals(
    cands: list[Candidate], closure: np.ndarray | None, fps: float, p: InterferenceParams
) -> list[Blink]:
    """The blinks (from lid motion and eye closure)."""
    out: list[tuple[int, int, float, int]] = []
    for c in cands:
        on, off = _span(c, p)
        if (
            c.region.startswith("lid_up")
            and c.direction[1] > abs(c.direction[0])
            and c.amplitude >= p.blink_amp
            and (off - on) / fps <= p.blink_max_s
        ):
            out.append((on, off, c.amplitude, c.apex))
    if p.blink_pair_amp > 0:
        out.extend(_paired_lid_blinks(cands, fps, p))
    if closure is not None and len(closure):
        x = np.nan_to_num(np.asarray(closure, dtype=np.float64), nan=0.0)
        for on, off in _runs(x >= p.blink_closure):
            if (off - on) / fps <= p.blink_max_s:
                out.append((int(on), int(off), float("inf"), int(on + np.argmax(x[on : off + 1]))))
    down = [c for c in cands if c.region.startswith("lid_up") and c.direction[1] > 0]
    return [
        Blink(on, off, amp, apex, max((c.amplitude for c in down if c.onset <= off and on <= c.offset), default=0.0))
        for on, off, amp, apex in out
    ]


def _paired_lid_blinks(cands: list[Candidate], fps: float, p: InterferenceParams) -> list[tuple[int, int, float, int]]:
    """Blinks seen as both upper lids moving down at once, and fast: a lid candidate on each side
    with its apex within ``blink_pair_sync_s`` of the other's, each moving down by at least
    ``blink_pair_amp`` crop px, the shorter of the two lasting at most ``blink_pair_max_s``. A
    short blink seen by the flow in a small face moves the lids sideways as much as down (the eye's
    dark area shrinking), so the one-lid rule above can miss it; the face model, on every third
    frame, can miss a blink of a tenth of a second."""
    left = [c for c in cands if c.region == "lid_up_l" and c.direction[1] > 0 and c.amplitude >= p.blink_pair_amp]
    right = [c for c in cands if c.region == "lid_up_r" and c.direction[1] > 0 and c.amplitude >= p.blink_pair_amp]
    sync = max(1, int(round(p.blink_pair_sync_s * fps)))
    out = []
    for a in left:
        for b in right:
            if abs(a.apex - b.apex) > sync:
                continue
            (a0, a1), (b0, b1) = _span(a, p), _span(b, p)
            if min(a1 - a0, b1 - b0) / fps > p.blink_pair_max_s:
                continue
            # both lids shut at once: the brows' motion then is the blink's too (as for eye closure)
            out.append((min(a0, b0), max(a1, b1), float("inf"), (a.apex + b.apex) // 2))
    return out


def _span(c: Candidate, p: InterferenceParams) -> tuple[int, int]:
    """A lid candidate's extent as the blink rules measure it (``blink_by_ends``)."""
    if p.blink_by_ends and c.ends is not None:
        return c.ends
    return c.onset, c.offset


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1))


def speech_mask(flow: np.ndarray, valid: np.ndarray, fps: float, p: InterferenceParams) -> np.ndarray:
    """Frames with speech-like (syllable-rate) oscillation of the mouth opening."""
    n = len(flow)
    mask = np.zeros(n, bool)
    if n < 3:
        return mask
    lo, up = R.REGION_NAMES.index("lip_lo"), R.REGION_NAMES.index("lip_up")
    v = np.where(valid[:, None], flow[:, lo, :] - flow[:, up, :], 0.0)
    opening = np.cumsum(v[:, 1])
    k = max(3, int(round(0.5 * fps)) | 1)
    hp = opening - uniform_filter1d(opening, size=k, mode="nearest")
    prom = max(p.speech_prom, 6.0 * robust_sigma(np.diff(hp)))
    peaks, _ = find_peaks(hp, prominence=prom, distance=max(1, int(fps / 8.0)))
    if len(peaks) < p.speech_peaks:
        return mask
    win = p.speech_window_s * fps
    pad = int(round(p.speech_pad_s * fps))
    for i in range(len(peaks) - p.speech_peaks + 1):
        grp = peaks[i : i + p.speech_peaks]
        gaps = np.diff(grp) / fps
        if grp[-1] - grp[0] <= win and (gaps <= 1 / 3.0 + 1e-9).all():
            mask[max(0, grp[0] - pad) : min(n, grp[-1] + pad + 1)] = True
    return mask


def head_signals(
    glob: np.ndarray, pose: np.ndarray | None, depth_face: np.ndarray | None, fps: float, size: int
) -> dict[str, np.ndarray]:
    """Per-frame head motion: ``path_px`` (rigid motion, crop px/frame), ``deg_s`` (rotation
    speed: yaw/pitch from the pose, roll from the flow) and ``mm_s`` (3-D speed from depth)."""
    n = len(glob)
    out = {"path_px": head_motion_px(glob).astype(np.float32), "glob": glob}
    roll = np.abs(head_rotation_deg(glob, size)) * fps
    deg = roll
    if pose is not None and len(pose) == n and np.isfinite(pose[:, 0]).sum() > 2:
        k = max(1, int(round(0.1 * fps)))
        yp = np.nan_to_num(pose[:, :2].astype(np.float64), nan=0.0)
        ok = np.isfinite(pose[:, 0])
        yp = uniform_filter1d(yp, size=2 * k + 1, axis=0, mode="nearest")
        d = np.zeros(n)
        d[1:] = np.hypot(*np.diff(yp, axis=0).T) * fps
        d[~ok | ~np.roll(ok, 1)] = 0.0
        deg = np.hypot(roll, d)
    out["deg_s"] = deg.astype(np.float32)
    if depth_face is not None and np.isfinite(depth_face[:, 0]).any():
        from analysis.face.depth import head_speed_3d

        out["mm_s"] = head_speed_3d(depth_face[:, 1:4], fps)
    return out


def light_level(gain: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The face's brightness (log, relative to the first frame) from each frame's over the previous
    one (``gain``, frames.FrameRecord.gain; 1 where there is no flow)."""
    g = np.asarray(gain, dtype=np.float64)
    return np.cumsum(np.log(np.where(valid & (g > 0), g, 1.0)))


def light_change(level: np.ndarray, onset: int, offset: int, pad: int = 2) -> float:
    """The largest change of brightness (a share: +0.1 is 10 % brighter) between two frames from
    ``pad`` frames before ``onset`` to ``pad`` after ``offset``."""
    seg = level[max(onset - pad, 0) : offset + pad + 1]
    if len(seg) < 2:
        return 0.0
    lo, hi = int(np.argmin(seg)), int(np.argmax(seg))
    return float(np.expm1(seg[hi] - seg[lo]) if hi > lo else np.expm1(seg[lo] - seg[hi]))


# --------------------------------------------------------------------------- suppression
def gaze_change(gaze: np.ndarray, onset: int, offset: int, pad: int = 2) -> float:
    """How far the eyes' look moves over ``onset``-``offset``: the largest L1 distance of the eyeLook
    blendshapes given (frames × k; the pipeline gives eyeLookIn/Out, k = 4) there from their value
    ``pad`` frames before it (NaN frames skipped)."""
    n = len(gaze)
    if n == 0:
        return 0.0
    a = min(max(onset - pad, 0), n - 1)
    seg = gaze[a : min(offset + pad, n - 1) + 1]
    ref = seg[0]
    if not np.all(np.isfinite(ref)):
        return 0.0
    d = np.abs(seg - ref).sum(axis=1)
    d = d[np.isfinite(d)]
    return float(d.max()) if d.size else 0.0


#: how the reason of every suppression by the head-motion rules begins (the pipeline's second pass
#: looks again where they removed something, not where other interference did)
HEAD_MOTION = "head motion"


def _overlaps(a0, a1, b0, b1) -> bool:
    return a0 <= b1 and b0 <= a1


def _blinks_own(m: Candidate, over: list[Blink], sync: int, p: InterferenceParams) -> bool:
    """Whether member ``m`` is (part of) one of the blinks ``over`` (those near its group)."""
    if not sync:  # before the seventh round: any overlap, brows against the largest blink near
        if not any(_overlaps(m.onset, m.offset, b.onset, b.offset) for b in over):
            return False
        lid_px = max(b.lid_px for b in over)
        return (
            m.region in LIDS
            or (m.region in BROW and m.amplitude < p.brow_leak * max(b.amplitude for b in over))
            or (m.region not in BROW and p.blink_face_leak > 0 and m.amplitude < p.blink_face_leak * lid_px)
        )
    for b in over:
        if not _overlaps(m.onset, m.offset, b.onset, b.offset):
            continue
        if m.region in LIDS:
            return True
        if sync and abs(m.apex - b.apex) > sync:
            continue  # a movement of its own, during the blink
        if m.region in BROW:
            if m.amplitude < p.brow_leak * b.amplitude:
                return True
        elif p.blink_face_leak > 0 and m.amplitude < p.blink_face_leak * b.lid_px:
            return True
    return False


def eliminate(
    groups: list[Group],
    blinks: list[Blink],
    speech: np.ndarray,
    head: dict,
    fps: float,
    dp: DetectParams,
    p: InterferenceParams,
    common: CommonMotion | None = None,
) -> tuple[list[Group], list[Suppressed]]:
    """Apply blink, speech and head-motion elimination to ``groups`` (already scored);
    ``common`` (the face's common motion) for the test of :mod:`analysis.spotting.common_motion`."""
    kept: list[Group] = []
    dropped: list[Suppressed] = []
    sync = max(1, int(round(p.blink_sync_s * fps))) if p.blink_sync_s > 0 else 0
    for g in groups:
        members = list(g.members)
        reasons = []
        # blinks
        over = [b for b in blinks if _overlaps(g.onset - 1, g.offset + 1, b.onset, b.offset)]
        if over:
            keep = [m for m in members if not _blinks_own(m, over, sync, p)]
            if len(keep) < len(members):
                reasons.append("blink")
            members = keep
        # speech
        if members and speech.any():
            keep = [m for m in members if not (m.region in R.MOUTH_REGIONS and speech[m.onset : m.offset + 1].any())]
            if len(keep) < len(members):
                reasons.append("speech")
            members = keep
        # gaze shifts: the eyes' look (the face model's eyeLook blendshapes) changes over an eye-region member
        if members and p.gaze_l1 > 0 and "gaze" in head:
            keep = [
                m
                for m in members
                if not (
                    m.region in LIDS
                    and (p.gaze_dir <= 0 or abs(m.direction[0]) >= p.gaze_dir * abs(m.direction[1]))
                    and gaze_change(head["gaze"], m.onset, m.offset) >= p.gaze_l1
                )
            ]
            if len(keep) < len(members):
                reasons.append("gaze shift")
            members = keep
        # head motion, member by member: what compensation leaves is proportional to the motion
        head_why = None
        if members:
            keep = []
            for m in members:
                if p.head_nonuniform:
                    gl = np.asarray(head["glob"][m.onset : m.offset + 1], dtype=np.float64)
                    path = float(head_motion_px(gl - gl.mean(axis=0)).sum())
                else:
                    path = float(head["path_px"][m.onset : m.offset + 1].sum())
                m.score *= max(0.0, 1.0 - path / (p.head_ratio * m.amplitude))
                if m.score < 1.0:
                    head_why = head_why or (f"{HEAD_MOTION} ({path:.2f} px rigid vs {m.amplitude:.2f} px local)")
                    continue
                keep.append(m)
            if len(keep) < len(members):
                reasons.append(head_why)
            members = keep
        if members and common is not None and p.common_ratio > 0:
            keep = _local_members(members, head, common, p, fps)
            if len(keep) < len(members):
                reasons.append(f"{HEAD_MOTION} (the rest of the face moved as much)")
            members = keep
        if not members:
            dropped.append(Suppressed(g.onset, g.offset, reasons[-1] if reasons else "blink", g.apex, g.score))
            continue
        g = Group(0, 0, 0, 0.0, members, emg=g.emg)
        finish_group(g, fps, dp)
        sl = slice(g.onset, g.offset + 1)
        why = None
        if head["deg_s"][sl].max(initial=0.0) > p.fast_deg_s:
            why = f"fast head rotation ({head['deg_s'][sl].max():.0f} deg/s)"
        elif "mm_s" in head and head["mm_s"][sl].max(initial=0.0) > p.fast_mm_s:
            why = f"fast head movement ({head['mm_s'][sl].max():.0f} mm/s, depth)"
        elif p.light_frac > 0 and "light" in head:
            change = light_change(head["light"], g.onset, g.offset)
            if abs(change) >= p.light_frac:
                why = f"light change ({100 * change:+.0f} % brightness)"
        if why:
            dropped.append(Suppressed(g.onset, g.offset, why, g.apex, g.score))
            continue
        kept.append(g)
    return kept, dropped


def _local_members(
    members: list[Candidate], head: dict, common: CommonMotion, p: InterferenceParams, fps: float
) -> list[Candidate]:
    """The members that, where the head moved by ``common_min_px`` or more over them (and
    ``common_pad_s`` either side), move at least ``common_ratio`` times the face's typical motion over
    their own frames; the others are what compensation left."""
    own = sorted({r for m in members for r in R.member_regions(m.region)})
    n = len(head["path_px"])
    pad = max(1, int(round(p.common_pad_s * fps)))
    keep = []
    for m in members:
        path = float(head["path_px"][max(m.onset - pad, 0) : min(m.offset + pad, n - 1) + 1].sum())
        if path < p.common_min_px or common.local_ratio(m.region, m.onset, m.offset, own) >= p.common_ratio:
            keep.append(m)
    return keep
