"""Sixth round of issue 15 (docs/spotting.md): the noise floor of the frames where the head is still
(analysis/spotting/detect.still_noise_levels), and blinks seen as both upper lids moving down at
once (analysis/spotting/interference._paired_lid_blinks)."""

from __future__ import annotations

import numpy as np

from analysis.spotting.detect import Candidate, DetectParams, all_candidates, still_noise_levels
from analysis.spotting.interference import InterferenceParams, blink_intervals
from analysis.spotting.regions import REF, REGION_NAMES

FPS = 30.0
N = 900
REGION = 1 if REF == 0 else 0


def _video(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region flow of a 30-s video whose head drifts in frames 0-539 (what compensation leaves of
    the drift: residual noise of σ 0.03 crop px/frame in every region) and is still from 540 on (σ
    0.002, 12 s), with one up-and-back movement of 0.3 crop px over 12 frames (a micro-expression)
    from frame 700 in one region; and the rigid head motion per frame (0.1 crop px while drifting)."""
    rng = np.random.default_rng(seed)
    flow = rng.normal(0.0, 0.002, (N, len(REGION_NAMES), 2)).astype(np.float32)
    flow[:540] += rng.normal(0.0, 0.03, (540, len(REGION_NAMES), 2)).astype(np.float32)
    t = np.arange(13)
    flow[700:712, REGION, 1] += np.diff(0.3 * np.sin(np.pi * t / 12) ** 2).astype(np.float32)
    head = np.where(np.arange(N) < 540, 0.1, 0.001)
    return flow, np.ones(N, bool), head


def _found(cands: list[Candidate]) -> list[Candidate]:
    return [c for c in cands if c.score >= 1.0 and c.region == REGION_NAMES[REGION] and 690 <= c.apex <= 720]


def test_a_small_movement_on_a_still_face_is_not_hidden_by_the_noise_of_the_drift():
    flow, valid, head = _video()
    p = DetectParams(detrend_s=0.0)
    # the whole video's noise floor (the drift's) hides it, as before the sixth round
    assert _found(all_candidates(flow, valid, FPS, DetectParams(detrend_s=0.0, still_px=0.0), head_px=head)) == []
    assert _found(all_candidates(flow, valid, FPS, p)) == []  # no head motion given: the same
    hit = _found(all_candidates(flow, valid, FPS, p, head_px=head))
    assert len(hit) == 1 and abs(hit[0].amplitude - 0.3) < 0.05, hit


def test_the_moving_frames_keep_the_whole_videos_floor_and_the_still_ones_never_get_more():
    flow, valid, head = _video(1)
    p = DetectParams()
    from analysis.spotting.detect import noise_levels

    _, thr_g, sv_g = noise_levels(flow, valid, FPS, p)
    _, thr, s_v = still_noise_levels(flow, valid, FPS, p, head)
    assert thr.shape == (N, len(REGION_NAMES)) and s_v.shape == thr.shape
    moving = slice(0, 520)  # (0.5-s smoothing blurs the boundary at 540)
    still = slice(560, N)
    assert np.array_equal(thr[moving], np.repeat(thr_g[None], 520, axis=0))
    assert np.array_equal(s_v[moving], np.repeat(sv_g[None], 520, axis=0))
    assert (thr[still] <= thr_g + 1e-12).all() and (s_v[still] <= sv_g + 1e-12).all()
    assert (s_v[still, REGION] < 0.5 * sv_g[REGION]).all()  # far quieter than the drift's σ
    # too few still frames (none; or 8 s, under still_min_s = 10 s: an unsteady σ, as in the
    # live spotter's 8-s window): the whole video's values everywhere
    _, thr_few, _ = still_noise_levels(flow, valid, FPS, p, np.full(N, 0.1))
    assert np.array_equal(thr_few, np.repeat(thr_g[None], N, axis=0))
    short = np.where(np.arange(N) < 660, 0.1, 0.001)  # still from frame 660: 8 s
    _, thr_8s, _ = still_noise_levels(flow, valid, FPS, p, short)
    assert np.array_equal(thr_8s, np.repeat(thr_g[None], N, axis=0))
    _, thr_8s_ok, _ = still_noise_levels(flow, valid, FPS, DetectParams(still_min_s=5.0), short)
    assert (thr_8s_ok[700:, REGION] < thr_g[REGION]).all()


def _lid(region: str, on: int, apex: int, off: int, dx: float, dy: float) -> Candidate:
    amp = float(np.hypot(dx, dy))
    return Candidate(region, on, apex, off, amp, 0.12, (dx, dy), ())


def test_both_upper_lids_down_at_once_and_fast_are_a_blink_that_takes_the_brows_with_it():
    p = InterferenceParams()
    # a short blink on a small face: the lids move as much sideways as down (each alone is no blink
    # by the one-lid rule: mostly sideways, or under blink_amp)
    pair = [_lid("lid_up_l", 71, 72, 74, 0.40, 0.16), _lid("lid_up_r", 71, 72, 74, -0.25, 0.25)]
    assert blink_intervals(pair, None, FPS, InterferenceParams(blink_pair_amp=0.0)) == []
    found = blink_intervals(pair, None, FPS, p)
    # onset, offset, brows taken, apex, the larger lid motion (|(0.40, 0.16)| crop px)
    assert found[0][:4] == (71, 74, float("inf"), 72) and len(found) == 1
    assert abs(found[0].lid_px - np.hypot(0.40, 0.16)) < 1e-9
    # one lid only, lids apart in time, a lid moving up, or a slow (0.4 s) pair: no blink
    assert blink_intervals(pair[:1], None, FPS, p) == []
    late = [pair[0], _lid("lid_up_r", 75, 77, 79, -0.25, 0.25)]
    assert blink_intervals(late, None, FPS, p) == []
    up = [pair[0], _lid("lid_up_r", 71, 72, 74, -0.25, -0.25)]
    assert blink_intervals(up, None, FPS, p) == []
    slow = [_lid("lid_up_l", 60, 66, 72, 0.0, 0.25), _lid("lid_up_r", 60, 66, 72, 0.0, 0.25)]
    assert blink_intervals(slow, None, FPS, p) == []
    small = [_lid("lid_up_l", 71, 72, 74, 0.0, 0.1), _lid("lid_up_r", 71, 72, 74, 0.0, 0.1)]
    assert blink_intervals(small, None, FPS, p) == []


def test_the_fast_median_is_numpys_to_the_bit():
    from analysis.spotting.detect import _median, robust_sigma

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 11, 240, 241):
        for scale in (1e-3, 1.0, 1e3):
            x = rng.normal(size=n) * scale
            assert _median(x) == np.median(x)
            assert robust_sigma(x) == float(1.4826 * np.median(np.abs(x - np.median(x))))
    assert robust_sigma(np.array([np.nan, np.inf])) == 0.0
