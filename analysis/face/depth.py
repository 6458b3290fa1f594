"""Face-region depth features from ``depth.mkv`` (FFV1 gray16le; metres = value × depth_units_m).

Per frame: the head distance (median depth of the central half of the face box, mm) and the 3-D
position of the face centre in the depth camera frame (mm, pinhole back-projection with the depth
intrinsics from session.json). From these, :func:`head_speed_3d` gives the 3-D head speed (mm/s)
used by interference elimination, and the registered depth crop feeds the parallax term of the
flow's head-motion model (see :mod:`analysis.spotting.flow`).

Registration: the simulated rig's depth is registered to colour (same size, same intrinsics). For a
camera whose depth is not aligned to colour, the colour face box is mapped through the two sets of
intrinsics only (the ~15 mm stereo baseline is ignored), and the parallax term is not used when the
two images differ in size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence


class DepthMapper:
    """Maps colour-image boxes to depth-image pixels using the session intrinsics."""

    def __init__(
        self,
        units_m: float,
        rgb_intr: dict | None,
        depth_intr: dict | None,
        rgb_size: tuple[int, int],
        depth_size: tuple[int, int],
    ):
        self.to_mm = float(units_m) * 1000.0
        self.rgb_size, self.depth_size = tuple(rgb_size), tuple(depth_size)
        self.registered = self.rgb_size == self.depth_size
        w, h = depth_size
        d = depth_intr or {}
        self.fx = float(d.get("fx") or w)  # fall back to a ~53° field of view
        self.fy = float(d.get("fy") or self.fx)
        self.ppx = float(d.get("ppx") or w / 2)
        self.ppy = float(d.get("ppy") or h / 2)
        c = rgb_intr or {}
        rw, rh = rgb_size
        self.cfx = float(c.get("fx") or self.fx * rw / w)
        self.cfy = float(c.get("fy") or self.cfx)
        self.cppx = float(c.get("ppx") or rw / 2)
        self.cppy = float(c.get("ppy") or rh / 2)

    def params(self) -> list:
        """What the mapping depends on, as plain numbers (a feature cache's key and the live spotter's
        kept features name it so)."""
        return [
            self.to_mm,
            [int(v) for v in self.rgb_size],
            [int(v) for v in self.depth_size],
            self.fx,
            self.ppx,
            self.cfx,
            self.cppx,
        ]

    def to_depth_px(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.cppx) / self.cfx * self.fx + self.ppx, (y - self.cppy) / self.cfy * self.fy + self.ppy)

    def face(self, raw: np.ndarray, box: Sequence[float] | np.ndarray) -> np.ndarray:
        """``[distance_mm, X_mm, Y_mm, Z_mm]`` of the face in ``box`` (colour px), NaN if no depth."""
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        hw, hh = (x1 - x0) / 4, (y1 - y0) / 4
        u0, v0 = self.to_depth_px(cx - hw, cy - hh)
        u1, v1 = self.to_depth_px(cx + hw, cy + hh)
        h, w = raw.shape[:2]
        iu0, iu1 = int(max(0, np.floor(u0))), int(min(w, np.ceil(u1)))
        iv0, iv1 = int(max(0, np.floor(v0))), int(min(h, np.ceil(v1)))
        out = np.full(4, np.nan, np.float32)
        if iu1 - iu0 < 2 or iv1 - iv0 < 2:
            return out
        patch = raw[iv0:iv1, iu0:iu1]
        vals = patch[patch > 0]
        if vals.size < 0.2 * patch.size:
            return out
        z = float(np.median(vals)) * self.to_mm
        u, v = self.to_depth_px(cx, cy)
        out[:] = (z, (u - self.ppx) / self.fx * z, (v - self.ppy) / self.fy * z, z)
        return out


def head_speed_3d(pos: np.ndarray, fps: float, smooth_s: float = 0.1) -> np.ndarray:
    """3-D head speed (mm/s) per frame from positions (n, 3) in mm (NaN where unknown → 0)."""
    from scipy.ndimage import uniform_filter1d

    p = np.asarray(pos, dtype=np.float64)
    if len(p) < 2:
        return np.zeros(len(p), np.float32)
    good = np.isfinite(p).all(axis=1)
    if good.sum() < 2:
        return np.zeros(len(p), np.float32)
    idx = np.arange(len(p))
    filled = np.stack([np.interp(idx, idx[good], p[good, k]) for k in range(3)], axis=1)
    k = max(1, int(round(smooth_s * fps)))
    filled = uniform_filter1d(filled, size=2 * k + 1, axis=0, mode="nearest")
    v = np.zeros(len(p))
    v[1:] = np.linalg.norm(np.diff(filled, axis=0), axis=1) * fps
    v[~good] = 0.0
    return v.astype(np.float32)
