"""Detrending (analysis/spotting/detect.detrend): each region's flow minus its moving mean, frames
without flow counted as 0 and left at 0. It runs a block of regions at a time (issue 14: bounded
memory on an hour's flow; detect.region_block: a short video's regions all at once, a long one's a
few at a time), so it is checked here against the formula computed on the whole array at once, with
a flow short enough for one block and one long enough for several."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from analysis.spotting.detect import detrend


def _whole_array(flow, valid, fps, seconds, edge):
    k = int(round(seconds * fps))
    mode = "constant" if edge == "shrink" else "nearest"
    f = np.where(valid[:, None, None], flow, 0.0).astype(np.float64)
    w = uniform_filter1d(valid.astype(np.float64), size=k, mode=mode)
    m = uniform_filter1d(f, size=k, axis=0, mode=mode) / np.maximum(w, 1e-6)[:, None, None]
    return np.where(valid[:, None, None], f - m, 0.0).astype(flow.dtype)


@pytest.mark.parametrize(
    ("fps", "seconds", "edge", "n"),
    [
        (30.0, 2.0, "nearest", 3000),
        (30.0, 2.0, "shrink", 3000),
        (25.0, 1.5, "nearest", 3000),
        (30.0, 2.0, "shrink", 20000),
    ],
)
def test_detrend_region_by_region_equals_the_whole_array(fps, seconds, edge, n):
    from analysis.spotting.detect import region_block

    assert (region_block(n) >= 18) == (n == 3000)  # one block of regions, or several
    rng = np.random.default_rng(3)
    flow = rng.normal(0.0, 0.3, (n, 18, 2)).astype(np.float32)
    flow += np.linspace(0, 2, n, dtype=np.float32)[:, None, None]  # a slow drift to take out
    valid = rng.random(n) > 0.1
    valid[100:400] = False  # a stretch without a face
    got = detrend(flow, valid, fps, seconds, edge)
    assert got.dtype == np.float32 and got.shape == flow.shape
    assert np.array_equal(got, _whole_array(flow, valid, fps, seconds, edge))
    assert not got[~valid].any()  # frames without flow stay at 0
    assert abs(float(got[valid].mean())) < 0.05  # the drift is out


def test_detrend_shorter_than_three_frames_is_the_flow_itself():
    flow = np.ones((10, 18, 2), np.float32)
    assert detrend(flow, np.ones(10, bool), 30.0, 0.05) is flow
