"""The activity floor of detection follows the face's size (analysis/spotting/detect.speed_scale):
the crop has a fixed size, so 1 frame px of motion is ~0.8 crop px on a 125-px face and ~0.33 on
a 300-px one; with ``speed_ref_px`` set, ``speed_floor`` is a fixed speed in the face's own pixels
beyond that width instead of a fixed number of crop px per frame (issue 15: big faces missed)."""

from __future__ import annotations

import numpy as np

from analysis.spotting.detect import DetectParams, all_candidates, face_width_px, speed_scale
from analysis.spotting.regions import REF, REGION_NAMES


def _flow(amp: float, frames: int, n: int = 160, seed: int = 0) -> np.ndarray:
    """Region flow (n, regions, 2): faint noise everywhere, one up-and-back movement (raised
    cosine) of ``amp`` crop px over ``frames`` frames in a non-reference region from frame 50."""
    rng = np.random.default_rng(seed)
    f = rng.normal(0.0, 0.002, (n, len(REGION_NAMES), 2)).astype(np.float32)
    t = np.arange(frames + 1)
    d = amp * np.sin(np.pi * t / frames) ** 2
    r = 1 if REF == 0 else 0
    f[50 : 50 + frames, r, 1] += np.diff(d).astype(np.float32)
    return f


def test_the_floor_shrinks_only_on_faces_wider_than_the_reference():
    p = DetectParams(speed_ref_px=150.0)
    assert speed_scale(p, 120.0) == 1.0
    assert speed_scale(p, 150.0) == 1.0
    assert abs(speed_scale(p, 300.0) - 0.5) < 1e-9
    assert speed_scale(p, None) == 1.0 and speed_scale(p, float("nan")) == 1.0
    assert speed_scale(DetectParams(speed_ref_px=0.0), 300.0) == 1.0  # off: fixed crop px


def test_a_slow_movement_on_a_big_face_passes_the_scaled_floor():
    # 0.15 crop px over 0.8 s: peak speed ~0.02 crop px/frame, under the 0.02 floor; above half of it
    flow = _flow(0.15, 24)
    valid = np.ones(len(flow), bool)
    fixed = DetectParams(speed_ref_px=0.0, detrend_s=0.0)
    scaled = DetectParams(speed_ref_px=150.0, detrend_s=0.0)

    def kept(p, face_px):
        return [c for c in all_candidates(flow, valid, 30.0, p, face_px=face_px) if c.score >= 1.0]

    assert kept(fixed, 300.0) == []
    assert kept(scaled, 140.0) == []  # a small face: the same floor as before
    big = kept(scaled, 300.0)
    assert len(big) == 1 and 50 <= big[0].onset and big[0].offset <= 75, big
    assert abs(big[0].amplitude - 0.15) < 0.02


def test_face_width_is_the_median_box_width_over_frames_with_a_face():
    box = np.array([[10, 0, 110, 100], [12, 0, 112, 100], [0, 0, 400, 100], [np.nan] * 4], np.float32)
    present = np.array([True, True, False, False])
    assert face_width_px(box, present) == 100.0
    assert face_width_px(np.full((3, 4), np.nan), None) is None
