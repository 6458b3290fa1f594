"""The depth view's ends are means of a few depth frames (features.DEPTH_AVG): which frames, readings
of 0 left out, and the noise of the apex − onset difference lower than from one frame each."""

from __future__ import annotations

import numpy as np

from analysis.recognition import features as FE


class _Src:
    def __init__(self, have):
        self.have = set(have)

    def has(self, k: int) -> bool:
        return k in self.have


def test_depth_frames_rest_before_the_onset_and_the_apex_s_neighbours_inside_the_expression():
    src = _Src(range(0, 100))
    assert FE.depth_frames(src, 20, 26, 20, 30, 3) == ([20, 19, 18], [26, 27, 25])
    assert FE.depth_frames(src, 20, 30, 20, 30, 3) == ([20, 19, 18], [30, 29, 28])  # not past the offset
    assert FE.depth_frames(src, 1, 5, 1, 9, 3) == ([1, 0], [5, 6, 4])  # not before frame 0
    assert FE.depth_frames(src, 20, 26, 20, 30, 1) == ([20], [26])  # version 1: one frame each
    gaps = _Src(set(range(100)) - {19, 27})  # a release's dropped frames are skipped, never shifted
    assert FE.depth_frames(gaps, 20, 26, 20, 30, 3) == ([20, 18], [26, 25, 28])


def test_mean_depth_leaves_out_missing_readings():
    a = np.array([[100, 0], [0, 0]], np.uint16)
    b = np.array([[102, 50], [0, 0]], np.uint16)
    c = np.array([[104, 0], [0, 0]], np.uint16)
    m = FE._mean_depth([a, b, c])
    assert m.dtype == np.float32 and m[0, 0] == 102 and m[0, 1] == 50 and m[1, 0] == 0
    assert np.array_equal(FE._mean_depth(a), a.astype(np.float32))  # one frame: as before


def test_averaging_three_frames_lowers_the_depth_view_s_noise():
    rng = np.random.default_rng(0)
    n = FE.CROP
    yy, xx = np.mgrid[0:n, 0:n]
    face = 600.0 + 0.02 * (xx - n / 2) ** 2  # mm, a curved surface
    bump = 3.0 * np.exp(-((xx - 40) ** 2 + (yy - 70) ** 2) / (2 * 6.0**2))  # a 3-mm movement at the apex
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    mask = np.ones((n, n), bool)

    def frames(surface, k):
        return [np.round(surface + rng.normal(0, 1.0, surface.shape)).astype(np.uint16) for _ in range(k)]

    clean = FE.depth_view(face.astype(np.uint16), (face + bump).astype(np.uint16), m, mask, 1.0)[0]
    err = {}
    for k in (1, 3):
        errs = [
            np.abs(FE.depth_view(frames(face, k), frames(face + bump, k), m, mask, 1.0)[0] - clean).mean()
            for _ in range(5)
        ]
        err[k] = float(np.mean(errs))
    assert err[3] < 0.75 * err[1], err  # ~0.58 expected for independent noise
