"""What the whole face does at once: the test that tells a facial movement from what head-motion
compensation leaves behind (seventh round, docs/spotting.md).

Compensation (:mod:`analysis.spotting.flow`) removes the rigid head motion, but not all of it: while
the head drifts or turns, every region keeps a small residual motion, larger in some regions than in
others (the chin and the lower lip, at the face's edge, most). A candidate found then may be nothing
but that residual. A facial movement is *local*: its region moves far more than the face's other
regions over the same frames; the residual moves them all.

So, over a candidate's frames, each region's excursion (the largest distance of its displacement
from the straight line between its positions at the two ends, as detection measures an amplitude)
is compared with the typical (median) excursion of the regions not in the candidate's group. Each
region's excursion is first divided by its own share of the residual (its median speed while the
head moves, relative to the median region's, measured on this video: the *profile*), so a region
that always moves more with the head is held to its own standard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from analysis.spotting import regions as R
from analysis.spotting.detect import _medians, region_block

#: Seconds of moving frames needed to measure the profile (fewer: every region counts alike).
MIN_MOVING_S = 2.0


@dataclass
class CommonMotion:
    flow: np.ndarray  # (n, n_regions, 2): the detrended flow detection works on, crop px per frame
    valid: np.ndarray  # (n,) frames with flow
    profile: np.ndarray  # (n_regions,): each region's share of the residual head motion (median 1)

    @classmethod
    def of(cls, flow: np.ndarray, valid: np.ndarray, head_px: np.ndarray, fps: float, still_px: float) -> CommonMotion:
        """From the detrended flow (n, n_regions, 2) detection works on and the rigid head motion
        (crop px per frame); frames whose head motion, smoothed over 0.5 s, exceeds ``still_px``
        are the moving frames the profile is measured on. ``flow`` is kept, not copied."""
        k = max(1, int(round(0.5 * fps)))
        hp = uniform_filter1d(np.nan_to_num(np.asarray(head_px, dtype=np.float64)), size=k, mode="nearest")
        moving = valid & (hp > still_px)
        prof = np.ones(flow.shape[1])
        if moving.sum() >= MIN_MOVING_S * fps:
            n_reg, m = flow.shape[1], int(moving.sum())
            med = np.empty(n_reg)
            block = region_block(m)  # a block of regions at a time: an hour's one by one
            for r0 in range(0, n_reg, block):
                v = flow[:, r0 : r0 + block][moving].astype(np.float64)  # (m, b, 2)
                speed = np.ascontiguousarray(np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1]).T)
                # each region's speeds a row: the same values as np.median region by region
                med[r0 : r0 + block] = _medians(speed) if np.isfinite(speed).all() else np.median(speed, axis=1)
            ref = np.median(np.delete(med, R.REF))
            if ref > 0:
                prof = np.maximum(med / ref, 1e-3)
                prof[R.REF] = 1.0
        return cls(flow, np.asarray(valid, bool), prof)

    def excursions(self, i0: int, i1: int) -> np.ndarray:
        """Every region's excursion (n_regions,) over frames ``i0..i1`` (crop px): the largest
        distance of its displacement from the straight line between its positions at ``i0`` and
        ``i1`` (the displacement summed from ``i0``: only the frames asked for are integrated)."""
        v = np.where(self.valid[i0 + 1 : i1 + 1, None, None], self.flow[i0 + 1 : i1 + 1], 0.0).astype(np.float64)
        d = np.zeros((len(v) + 1,) + v.shape[1:])
        np.cumsum(v, axis=0, out=d[1:])
        w = np.linspace(0.0, 1.0, len(d))[:, None, None]
        dv = d - (d[0] * (1 - w) + d[-1] * w)
        return np.hypot(dv[..., 0], dv[..., 1]).max(axis=0)

    def local_ratio(self, region: str, onset: int, offset: int, group_regions: list[str]) -> float:
        """How many times the face's typical excursion ``region`` makes over ``onset..offset``
        (one frame either side), each region measured against its own profile; the regions of
        ``group_regions`` (the movement's own) are not in the typical one. inf when there is
        nothing to compare with."""
        n = len(self.flow)
        i0, i1 = max(onset - 1, 0), min(offset + 1, n - 1)
        if i1 - i0 < 1:
            return float("inf")
        ex = self.excursions(i0, i1)
        own = {R.REGION_NAMES.index(r) for r in group_regions if r in R.REGION_NAMES}
        others = [q for q in range(len(R.REGION_NAMES)) if q != R.REF and q not in own]
        r = R.REGION_NAMES.index(region) if region in R.REGION_NAMES else None
        if not others or r is None:
            return float("inf")
        typical = float(np.median(ex[others] / self.profile[others])) * self.profile[r]
        return float(ex[r] / typical) if typical > 0 else float("inf")
