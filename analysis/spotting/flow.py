"""Optical flow in the aligned face crop, rigid head motion removed, averaged per region.

For each new frame the previous and the current frame are warped into the face crop with the *same*
landmark registration (so jitter of the landmarks never becomes motion), and the dense flow between
them is computed with OpenCV's DIS optical flow. Rigid head motion is then taken out in two steps:

1. a global motion model is fitted to the flow over the whole face oval by iteratively reweighted
   least squares (Tukey weights, so the small moving regions of an expression do not bend it):
   an affine field, plus — when a registered depth crop is given — a parallax term proportional to
   ``1/Z - mean(1/Z)`` that models how near parts of the face (nose) move more than far ones when the
   head turns or translates (depth-based head-motion compensation);
2. the residual flow of the rigid nose-bridge region (the reference) is subtracted from every region.

What is left per region (a weighted mean of the residual flow, crop px per frame) is the local,
non-rigid facial motion that spotting integrates. The fitted global model is kept too: it is the
head-motion signal used to suppress candidates during fast head movement.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from analysis.spotting import regions as R

N_GLOBAL = 8  # a0 a1 a2 b0 b1 b2 (affine), pu pv (parallax; 0 without depth)


def make_dis() -> cv2.DISOpticalFlow:
    """DIS flow tuned for small facial motion in a ~128 px crop: the ultrafast preset refined down
    to half resolution (finest scale 1) with 6 px patches every 3 px. Coarser settings smear a
    blink's lid motion over the whole upper face; this keeps it on the lids (measured on the
    simulated rig: a blink leaks < 0.05 px into the mouth regions) at ~1 ms per frame."""
    d = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    d.setFinestScale(1)
    d.setPatchSize(6)
    d.setPatchStride(3)
    return d


class FlowEstimator:
    def __init__(self, size: int = 128):
        self.size = int(size)
        self.dis = make_dis()
        self.m: np.ndarray | None = None  # frame -> crop (for the current pyramid level)
        self.level = 0
        self._boxes: list = []
        self._grid = None
        self._prev_gray: np.ndarray | None = None
        self._prev_crop: np.ndarray | None = None
        self._prev_depth = None
        self.last_gain = 1.0  # how much brighter the last frame's crop was than the one before (crop_gain)
        s = self.size
        g = np.arange(2, s - 2, 4, dtype=np.float32)
        self._gx, self._gy = np.meshgrid(g, g)
        self._gidx = (self._gy.astype(int) * s + self._gx.astype(int)).ravel()

    # ------------------------------------------------------------------ registration
    def set_landmarks(self, lm: np.ndarray, tol: float = 1.0) -> bool:
        """Register the crop on these landmarks (frame px); used until the next registration.

        Skipped (returns False) while the eyes are within ``tol`` crop px of where the current
        registration puts them, so the regions stay put and the crop is not re-warped needlessly.
        """
        if self.m is not None:
            el, er = R.eye_centres(lm)
            cur = R.to_crop(self._full_m, np.array([el, er]))
            want = np.array(
                [
                    [(0.5 - R.EYE_DX / 2) * self.size, R.EYE_Y * self.size],
                    [(0.5 + R.EYE_DX / 2) * self.size, R.EYE_Y * self.size],
                ]
            )
            if np.abs(cur - want).max() < tol:
                return False
        m = R.align_matrix(lm, self.size)
        scale = math.hypot(m[0, 0], m[1, 0])
        level = max(0, int(math.floor(math.log2(1.0 / scale)))) if scale < 0.5 else 0
        if level != self.level:
            self._prev_gray = None  # pyramid level changed: restart the pair
        self.level = level
        f = 2.0**level
        self.m = m * f  # frame -> crop at 2^level × its size
        self._wsize = self.size * (2**level)
        self._full_m = m
        lmc = R.to_crop(m, lm)
        self.lm_crop = lmc
        self._boxes = R.region_boxes(lmc, self.size)
        cent = np.empty((len(self._boxes), 3))
        for i, (ys, xs, w) in enumerate(self._boxes):
            xn = (np.arange(xs.start, xs.stop) / self.size - 0.5) @ w.sum(axis=0)
            yn = (np.arange(ys.start, ys.stop) / self.size - 0.5) @ w.sum(axis=1)
            cent[i] = (1.0, xn, yn)
        self._centroids = cent  # (n_regions, 3)
        mask = R.face_mask(lmc, self.size).ravel()[self._gidx]
        self._sel = np.flatnonzero(mask)
        x = self._gx.ravel()[self._sel] / self.size - 0.5
        y = self._gy.ravel()[self._sel] / self.size - 0.5
        self._design = np.stack([np.ones_like(x), x, y], axis=1).astype(np.float64)
        self._prev_crop = None
        return True

    def _pool(self, img: np.ndarray) -> np.ndarray:
        """Weighted mean of ``img`` (H×W or H×W×2) over every region: (n_regions,) or (n, 2)."""
        out = np.empty((len(self._boxes),) + img.shape[2:], np.float64)
        for i, (ys, xs, w) in enumerate(self._boxes):
            out[i] = (
                w.ravel() @ img[ys, xs].reshape(w.size, -1)[:, 0]
                if img.ndim == 2
                else w.ravel() @ img[ys, xs].reshape(w.size, -1)
            )
        return out

    def reset(self) -> None:
        """Forget the previous frame (after a frame without face)."""
        self._prev_gray = None
        self._prev_crop = None
        self._prev_depth = None

    def _warp(self, img: np.ndarray) -> np.ndarray:
        """The crop of ``img`` (full resolution). A face much larger than the crop is warped at
        2^level × the crop size and reduced with pyrDown (no aliasing, and far cheaper than
        reducing the whole frame)."""
        out = cv2.warpAffine(
            img, self.m, (self._wsize, self._wsize), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        for _ in range(self.level):
            out = cv2.pyrDown(out)
        return out

    # ------------------------------------------------------------------ per frame
    def step(
        self, gray: np.ndarray, depth: np.ndarray | None = None, depth_scale: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
        """Feed the next frame (uint8 grey, full resolution; optional registered depth: mm, or raw
        sensor units × ``depth_scale`` mm — the crop is taken from the raw frame and only the crop
        is scaled, the same values as scaling the whole frame first, at a fraction of the cost).

        Returns ``(region_flow, head_flow, global, residual_rms)`` for the motion from the previous
        frame — ``region_flow`` (n_regions, 2) the non-rigid motion of each region, ``head_flow``
        what was taken out of it as rigid (model + reference; their sum is the registered flow),
        ``global`` (N_GLOBAL,) the model — or None for the first frame after a reset.
        """
        if self.m is None:
            raise RuntimeError("set_landmarks() first")  # noqa: EM101
        g = gray
        cur = self._warp(g)
        zc = None
        if depth is not None:
            src = depth if depth.dtype in (np.uint16, np.float32) else depth.astype(np.float32)
            zc = cv2.warpAffine(
                src, self._full_m, (self.size, self.size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE
            )
            # nearest-neighbour sampling picks values, so scaling after it equals scaling before
            if zc.dtype != np.float32 or depth_scale != 1.0:
                zc = zc.astype(np.float32) * np.float32(depth_scale)
        prev_crop = self._prev_crop
        if prev_crop is None and self._prev_gray is not None:
            prev_crop = self._warp(self._prev_gray)  # re-registered: warp the pair alike
        self._prev_gray, self._prev_crop = g, cur
        prev_depth, self._prev_depth = self._prev_depth, zc
        if prev_crop is None:
            return None
        self.last_gain = crop_gain(prev_crop, cur)
        flow = self.dis.calc(prev_crop, cur, None)
        return self._analyse(flow, prev_depth if prev_depth is not None else zc)

    def _analyse(self, flow: np.ndarray, z: np.ndarray | None):
        f2 = flow.reshape(-1, 2)
        sel = self._gidx[self._sel]
        u = f2[sel].astype(np.float64)
        a = self._design
        inv_full = None
        if z is not None:
            zf = z.ravel()
            ok = zf > 0
            if ok[sel].sum() > 0.5 * len(sel):
                inv_full = np.where(ok, np.float32(1000.0) / np.where(ok, zf, 1.0), 0.0)
                inv_full[ok] -= inv_full[sel][ok[sel]].mean()
                inv_full = inv_full.astype(np.float32)
                a = np.concatenate([a, inv_full[sel].astype(np.float64)[:, None]], axis=1)
        w = np.ones(len(u))
        k = a.shape[1]
        coef = np.zeros((k, 2))
        r = np.zeros(len(u))
        for _ in range(3):
            aw = a * w[:, None]
            coef = np.linalg.solve(aw.T @ a + 1e-9 * np.eye(k), aw.T @ u)
            r = np.hypot(*(u - a @ coef).T)
            c = 4.685 * max(1.4826 * float(np.median(r)), 0.02)
            w = np.where(r < c, (1 - (r / c) ** 2) ** 2, 0.0)
        # region means of the residual = region means of the flow - the model at the regions
        raw = self._pool(flow)
        model = self._centroids @ coef[:3]
        if inv_full is not None:
            model += np.outer(self._pool(inv_full.reshape(flow.shape[:2])), coef[3])
        reg = raw - model
        model += reg[R.REF]
        reg -= reg[R.REF]
        glob = np.zeros(N_GLOBAL, np.float32)
        glob[:6] = coef[:3].T.ravel()  # a0 a1 a2 (u), b0 b1 b2 (v)
        if k > 3:
            glob[6:8] = coef[3]
        rms = float(np.sqrt(np.mean(r**2)))
        return reg.astype(np.float32), model.astype(np.float32), glob, rms


def crop_gain(prev: np.ndarray, cur: np.ndarray) -> float:
    """How much brighter ``cur`` is than ``prev`` (uint8 crops of the same face, the same
    registration): the median of their pixels' ratio, every second pixel of every second row, on
    pixels bright enough for a ratio to mean something. A face that moves or changes expression
    leaves most pixels as they were (≈ 1); the light or the camera's exposure changes all of them
    alike."""
    p = prev[::2, ::2].astype(np.float32)
    c = cur[::2, ::2].astype(np.float32)
    ok = p > 24.0
    if ok.sum() < 64:
        return 1.0
    return float(np.median(c[ok] / p[ok]))


def head_rotation_deg(glob: np.ndarray, size: int) -> np.ndarray:
    """In-plane rotation (deg per frame) of the fitted global motion; glob (..., N_GLOBAL).
    The affine terms are per unit crop size (crop px per crop width), so (b1 - a2)/2/size is the
    angle in radians."""
    g = np.asarray(glob, dtype=np.float64)
    return np.degrees(0.5 * (g[..., 4] - g[..., 2]) / size)


def head_motion_px(glob: np.ndarray) -> np.ndarray:
    """Magnitude of the rigid head motion (crop px per frame) at 0.3 crop widths from the centre:
    the translation of the crop centre plus the displacement its linear part causes there."""
    g = np.asarray(glob, dtype=np.float64)
    lin = np.sqrt(g[..., 1] ** 2 + g[..., 2] ** 2 + g[..., 4] ** 2 + g[..., 5] ** 2)
    return np.hypot(g[..., 0], g[..., 3]) + 0.3 * lin
