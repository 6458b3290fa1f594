"""The detector's batched arithmetic (analysis/spotting/detect.py) gives, to the bit, what its
one-at-a-time forms give: the regions' floors from one partition per row, every stretch's departure
from its chord at once, the displacements of a block of regions (a short video's regions in one
block, a long one's in several: detect.region_block). The same intervals on the rig's
videos follow from this (docs/benchmarks.md, speed of the thirteenth round's detector)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.spotting import detect as D


def _flow(rng, n=601, regions=18, nan=False):
    flow = (rng.normal(size=(n, regions, 2)) * rng.uniform(0.005, 0.2, size=(1, regions, 1))).astype(np.float32)
    t = np.arange(n)
    flow[100:112, 3, 1] += np.float32(0.3) * np.sin(np.pi * (t[100:112] - 100) / 6)  # a movement up and back
    flow[300:330, 7, 0] += np.float32(0.05)  # a drift
    if nan:
        flow[50, 2, 0] = np.nan
    return flow


def test_medians_of_rows_are_numpys():
    rng = np.random.default_rng(3)
    for m in (1, 2, 3, 10, 11, 240, 241):
        for dtype in (np.float64, np.float32):
            x = (rng.gamma(2.0, 0.05, size=(5, m)) * rng.uniform(0.1, 10.0, size=(5, 1))).astype(dtype)
            got = D._medians(x)
            assert got.dtype == np.median(x, axis=1).dtype
            assert np.array_equal(got, np.median(x, axis=1))
            if dtype is np.float64:
                assert [D._median(row) for row in x] == list(np.median(x, axis=1))


@pytest.mark.parametrize("n", [601, 20000])  # the regions in one block; in several (region_block)
def test_region_floors_are_the_one_region_floors(n):
    rng = np.random.default_rng(11)
    p = D.DetectParams()
    for nan in (False, True):
        flow = _flow(rng, n=n, nan=nan)
        valid = np.ones(len(flow), bool)
        valid[200:230] = False
        sp, thr, s_v = D.noise_levels(flow, valid, 30.0, p)
        one = [D._region_floor(sp[valid, r], flow[valid, r], p) for r in range(flow.shape[1])]
        assert np.array_equal(thr, [o[0] for o in one], equal_nan=True)
        assert np.array_equal(s_v, [o[1] for o in one], equal_nan=True)
        # the speed: each region's |flow| smoothed over 0.1 s, as np.linalg.norm takes it
        from scipy.ndimage import uniform_filter1d

        for r in (0, 3, 17):
            ref = uniform_filter1d(np.linalg.norm(flow[:, r], axis=1), size=3, mode="nearest")
            assert np.array_equal(sp[:, r], ref, equal_nan=True)


def test_departures_from_the_chord_are_the_stretch_by_stretch_ones():
    rng = np.random.default_rng(5)
    flow = _flow(rng)
    valid = np.ones(len(flow), bool)
    disp = D.displacement(flow[:, 3], valid)
    assert np.array_equal(disp, np.cumsum(flow[:, 3].astype(np.float64), axis=0))
    spans = np.array([[0, 2], [98, 114], [150, 151 + 40], [590, 600]], dtype=np.int64)
    d, dv, first, apex = D._bumps(disp, spans)
    for (i0, i1), o, k in zip(spans, first, apex):
        w = np.arange(i1 - i0 + 1) / (i1 - i0)
        ref_dv = disp[i0 : i1 + 1] - (disp[i0] * (1 - w)[:, None] + disp[i1] * w[:, None])
        ref_d = np.hypot(ref_dv[:, 0], ref_dv[:, 1])
        assert np.array_equal(d[o : o + i1 - i0 + 1], ref_d)
        assert np.array_equal(dv[o : o + i1 - i0 + 1], ref_dv)
        assert k == int(np.argmax(ref_d))
    # a tie: the first largest is the apex, as argmax has it
    flat = np.zeros((10, 2))
    flat[3:7] = [1.0, 0.0]
    _, _, _, apex = D._bumps(flat, np.array([[0, 9]], dtype=np.int64))
    assert int(apex[0]) == 3


@pytest.mark.parametrize("n", [601, 20000])
def test_candidates_from_a_block_of_regions_are_the_region_by_region_ones(n):
    rng = np.random.default_rng(9)
    flow = _flow(rng, n=n)
    up_back = np.float32(0.3) * np.sin(np.pi * np.arange(12) / 6).astype(np.float32)
    for i, start in enumerate(range(1100, n - 20, 1000)):  # movements in regions of every block
        flow[start : start + 12, 1 + (i % 17), 1] += up_back
    valid = np.ones(len(flow), bool)
    valid[400:410] = False
    p = D.DetectParams(detrend_s=0)
    sp, thr, s_v = D.noise_levels(flow, valid, 30.0, p)
    batched = D.all_candidates(flow, valid, 30.0, p)
    one = [
        c
        for r in range(flow.shape[1])
        if r != D.R.REF
        for c in D.region_candidates(r, flow, valid, sp, thr[r], s_v[r], 30.0, p)
    ]
    assert [vars(c) for c in batched] == [vars(c) for c in one]
    assert batched  # something to compare
    if n == 601:
        assert any(c.region == D.R.CHANNEL_NAMES[3] and 98 <= c.apex <= 114 for c in batched)  # the movement


def test_a_non_finite_frame_is_no_movement_and_no_error():
    rng = np.random.default_rng(2)
    flow = _flow(rng)
    valid = np.ones(len(flow), bool)
    p = D.DetectParams(detrend_s=0)
    clean = D.all_candidates(flow, valid, 30.0, p)
    flow[500, :, :] = np.inf  # what no extraction writes, but a damaged cache could hold
    with np.errstate(invalid="ignore"):  # inf − inf in the chord's arithmetic
        hurt = D.all_candidates(flow, valid, 30.0, p)
    assert all(np.isfinite(c.amplitude) for c in hurt)
    assert [c.apex for c in clean if c.offset < 480] == [c.apex for c in hurt if c.offset < 480]
