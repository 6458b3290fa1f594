"""The simulated participant's face: a real photograph animated with AU-like local deformations.

The face is ``skimage.data.astronaut()`` (NASA portrait of Eileen Collins, public domain), cut out
of its studio background and placed on a plain backdrop. Each frame is the neutral picture plus

1. **AU deformations** (stage 1): a displacement field, the sum of precomputed per-AU bases scaled
   by the active events' amplitude × envelope, applied with ``cv2.remap`` to the face ROI only.
   A basis is a sum of Gaussian bumps around the AU's landmarks, each pushing the skin in the
   muscle's direction, normalised so that its peak displacement is 1 px: an event of amplitude
   ``A`` moves the skin by ``A`` px at its apex. Outside events the field is exactly zero.
2. **Rigid head motion** (stage 2): roll about the neck, yaw/pitch as the matching shift of the
   face (weak-perspective approximation: a head of radius ~90 px turning by θ moves its front by
   ``r·sin θ``, foreshortened by ``cos θ``) and a translation, blended smoothly into the static
   torso across the neck. Applied with one more remap of the head ROI.

A frame with no active event is exactly the neutral picture; a frame with only head motion is
exactly :meth:`FaceRenderer.neutral` at that pose (no noise is ever added).

Conventions: image x to the right, y down. ``yaw > 0`` turns the face towards image right,
``pitch > 0`` lifts the chin (face moves up), ``roll > 0`` tilts the head counter-clockwise as
seen in the image. "L"/"R" in landmark names are image-left/right.

The photograph's geometry, the AU bases' layout, :class:`FaceSource` and :class:`HeadPose` are in
:mod:`acquisition.sim.face_source` (imported here too); this module is the renderer.

Measured speed (848×480, ``cv2.setNumThreads(1)``, 2-core development machine; printed by
``tests/acquisition/test_sim_content.py::test_face_render_speed``): median 0.7 ms per frame over frames with
active events, 1.9 ms with an ME + blink + speech + head motion all active, 0.05 ms for a frame
at rest (a copy of the neutral picture). Budget: 6 ms.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from acquisition.sim.face_source import (
    AU_BASES,
    BACKGROUND_RGB,
    HEAD_RADIUS_SRC,
    SRC_ANCHOR,
    SRC_FACE_BOX,
    SRC_HEAD,
    SRC_LIDS,
    SRC_LM,
    SRC_NECK,
    SRC_OUTLINE,
    SRC_SCALE_AT_480,
    FaceSource,
    HeadPose,
    astronaut_source,
    frame_mapping,
)
from acquisition.sim.schedule import Schedule

__all__ = [
    "AU_BASES",
    "BACKGROUND_RGB",
    "HEAD_RADIUS_SRC",
    "SRC_ANCHOR",
    "SRC_FACE_BOX",
    "SRC_HEAD",
    "SRC_LIDS",
    "SRC_LM",
    "SRC_NECK",
    "SRC_OUTLINE",
    "SRC_SCALE_AT_480",
    "FaceRenderer",
    "FaceSource",
    "HeadPose",
    "astronaut_source",
    "frame_mapping",
]


class FaceRenderer:
    """Renders frames of the simulated participant. One renderer per thread (buffers are reused).

    ``seed`` is kept for symmetry with the rest of the rig; the face itself has no random part
    (everything random comes from the :class:`Schedule`). Returned frames are new arrays.
    """

    def __init__(
        self,
        width: int = 848,
        height: int = 480,
        seed: int = 0,
        *,
        source: FaceSource | None = None,
        mapping: tuple[float, float, float] | None = None,
    ):
        self.width, self.height, self.seed = int(width), int(height), int(seed)
        src_face = source if source is not None else astronaut_source()
        self.source = src_face
        s, ox, oy = mapping if mapping is not None else src_face.mapping(self.width, self.height)
        self.scale = s
        self._to_frame = lambda p: (p[0] * s + ox, p[1] * s + oy)  # noqa: E731
        self.landmarks = {k: self._to_frame(v) for k, v in src_face.landmarks.items()}

        # --- the neutral picture: photo cut-out over a plain backdrop
        src = src_face.image
        m = np.float32([[s, 0, ox], [0, s, oy]])
        person = cv2.warpAffine(
            src, m, (self.width, self.height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        ss = 4  # draw the outline at 4× and area-downsample: an anti-aliased edge
        big = np.zeros((self.height * ss, self.width * ss), np.uint8)
        if src_face.outline is not None:
            poly = np.array([self._to_frame(p) for p in src_face.outline]) * ss
        else:  # the photo's own rectangle, its edges faded into the backdrop
            h, w = src.shape[:2]
            poly = np.array([self._to_frame(p) for p in ((0, 0), (w, 0), (w, h), (0, h))]) * ss
        cv2.fillPoly(big, [np.round(poly).astype(np.int32)], 255, lineType=cv2.LINE_8)
        alpha = cv2.resize(big, (self.width, self.height), interpolation=cv2.INTER_AREA)
        blur = 0.8 if src_face.outline is not None else 4.0
        alpha = cv2.GaussianBlur(alpha.astype(np.float32) / 255.0, (0, 0), blur)[..., None]
        bg = np.float32(src_face.background)
        self._neutral = np.clip(alpha * person + (1 - alpha) * bg + 0.5, 0, 255).astype(np.uint8)
        self._skin = self._neutral  # what the AU deformations move (no occluder on it)
        self._occluder = None
        self._work = self._neutral.copy()
        self._work_dirty = False

        self._build_au_bases()
        self._build_head_warp()
        x0, y0 = self._to_frame(src_face.face_box[:2])
        x1, y1 = self._to_frame(src_face.face_box[2:])
        self.neutral_face_box = (x0, y0, x1, y1)

    def add_occluder(self, alpha: np.ndarray, colour: np.ndarray) -> None:
        """Put a rigid occluder (glasses) in front of the face: ``alpha`` (H×W, 0..1) and
        ``colour`` (H×W×3 or RGB) in frame pixels. It moves with the head, not with the skin."""
        a = np.clip(np.asarray(alpha, np.float32), 0, 1)
        col = np.broadcast_to(np.asarray(colour, np.float32), a.shape + (3,))
        skin = self._neutral
        self._neutral = np.clip(skin * (1 - a[..., None]) + col * a[..., None] + 0.5, 0, 255).astype(np.uint8)
        self._skin = skin
        fx0, fy0, fx1, fy1 = self.face_roi
        ys, xs = np.nonzero(a[fy0:fy1, fx0:fx1] > 1e-3)
        if len(ys):
            sl = (slice(fy0 + ys.min(), fy0 + ys.max() + 1), slice(fx0 + xs.min(), fx0 + xs.max() + 1))
            self._occluder = (sl, a[sl][..., None].copy(), col[sl].copy())
        self._work = self._neutral.copy()
        self._work_dirty = False

    # ------------------------------------------------------------------ precomputation
    def _build_au_bases(self) -> None:
        s = self.scale * self.source.unit  # frame px per astronaut source px
        au_bases = self.source.au_bases or AU_BASES
        max_sigma = max(sig for b in au_bases.values() for _, _, sig, _ in b) * s
        pts = np.array(list(self.landmarks.values()))
        x0 = int(max(0, pts[:, 0].min() - 4 * max_sigma))
        x1 = int(min(self.width, pts[:, 0].max() + 4 * max_sigma))
        y0 = int(max(0, pts[:, 1].min() - 4 * max_sigma))
        y1 = int(min(self.height, pts[:, 1].max() + 4 * max_sigma))
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        bases: dict[str, np.ndarray] = {}
        for name, bumps in au_bases.items():
            f = np.zeros((2,) + gx.shape, np.float32)
            for lm, (dx, dy), sig, w in bumps:
                cx, cy = self.landmarks[lm]
                g = w * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * (sig * s) ** 2))
                f[0] += g * dx
                f[1] += g * dy
            bases[name] = f / np.hypot(f[0], f[1]).max()
        # speech: lips part and the jaw drops; 1 px of basis = 1 px of mouth opening
        jaw = bases["AU26"] * 0.6 + bases["AU25"] * 0.4
        bases["JAW"] = jaw / np.hypot(jaw[0], jaw[1]).max()
        # crop to the joint support and make the field exactly zero where it is negligible
        mag = np.max([np.hypot(b[0], b[1]) for b in bases.values()], axis=0)
        ys, xs = np.nonzero(mag > 2e-3)
        sl = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        for k, b in bases.items():
            b = np.ascontiguousarray(b[:, sl[0], sl[1]])
            b[:, np.hypot(b[0], b[1]) <= 2e-3] = 0.0
            bases[k] = b
        self._bases = bases
        self.face_roi = (
            int(x0 + sl[1].start),
            int(y0 + sl[0].start),
            int(x0 + sl[1].stop),
            int(y0 + sl[0].stop),
        )  # x0, y0, x1, y1 of the AU deformations
        self._fgx = np.ascontiguousarray(gx[sl])
        self._fgy = np.ascontiguousarray(gy[sl])
        self._mapx = np.empty_like(self._fgx)
        self._mapy = np.empty_like(self._fgy)
        self._build_blink()

    def _build_blink(self) -> None:
        """Per-eye geometry of the upper-lid closure (AU45), in face-ROI coordinates.

        A blink is an occlusion, not a smooth flow: the lid margin slides from the upper lid
        ``yu(x)`` towards the lower lid ``yl(x)``, the lid skin between the crease ``yc(x)`` and
        the margin stretches over the covered part, and the eyeball below the margin stays put.
        The map is monotonic in y (nothing folds) and is the identity outside the eye.
        """
        fx0, fy0 = self.face_roi[:2]
        self._eyes = []
        open_max = 0.0
        for up, lo in self.source.lids.values():
            up = np.array([self._to_frame(p) for p in up])
            lo = np.array([self._to_frame(p) for p in lo])
            x0, x1 = int(np.floor(up[0, 0])), int(np.ceil(up[-1, 0])) + 1
            xs = np.arange(x0, x1, dtype=np.float32)
            yu = np.interp(xs, up[:, 0], up[:, 1]).astype(np.float32)
            yl = np.interp(xs, lo[:, 0], lo[:, 1]).astype(np.float32)
            yl = np.maximum(yl, yu)
            open_max = max(open_max, float((yl - yu).max()))
            crease = 1.0 * float((yl - yu).max())
            yc = yu - crease
            y0, y1 = int(np.floor(yc.min())) - 1, int(np.ceil(yl.max())) + 2
            gy = np.arange(y0, y1, dtype=np.float32)[:, None]
            sl = (slice(y0 - fy0, y1 - fy0), slice(x0 - fx0, x1 - fx0))
            self._eyes.append((sl, gy, yu[None, :], yl[None, :], yc[None, :]))
        self.eye_opening_px = open_max
        self.eye_width_px = float(np.mean([e[2].shape[1] for e in self._eyes]))  # corner to corner
        self._lash_px = np.float32(0.25 * open_max)

    def _apply_blink(self, amplitude: float) -> None:
        k = min(1.0, max(0.0, amplitude / self.eye_opening_px))
        for sl, gy, yu, yl, yc in self._eyes:
            ym = yu + np.float32(k) * (yl - yu)  # where the lid margin is now
            lash = self._lash_px
            # skin between crease and lashes stretches; the lash line itself moves rigidly
            skin = yc + (gy - yc) * (yu - lash - yc) / np.maximum(ym - lash - yc, 1e-3)
            src = np.where(gy < ym - lash, skin, gy - (ym - yu))
            src = np.where((gy >= yc) & (gy < ym), src, gy)
            self._mapy[sl] += src - gy

    def _apply_gaze(self, gx: float, gy: float) -> None:
        """The eyeballs turned: what the lids' opening shows (iris, sclera) moves by (``gx``, ``gy``)
        px, most in the middle of the opening, nothing at its edges (the lids and corners stay)."""
        for sl, gy_, yu, yl, _yc in self._eyes:
            n = yu.shape[1]
            across = np.sin(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)[None, :]
            inside = np.clip((gy_ - yu) / np.maximum(yl - yu, 1e-3), 0.0, 1.0)
            w = (np.sin(np.pi * inside) * across).astype(np.float32)
            self._mapx[sl] -= np.float32(gx) * w
            self._mapy[sl] -= np.float32(gy) * w

    def _build_head_warp(self) -> None:
        s = self.scale
        (cx, cy), (ax, ay) = self.source.head
        cx, cy = self._to_frame((cx, cy))
        ax, ay = ax * s, ay * s
        inner, outer = 10.0, 34.0  # w = 1 up to 10 px outside the head, 0 from 34 px
        x0 = int(max(0, cx - ax - outer))
        x1 = int(min(self.width, cx + ax + outer))
        y0 = int(max(0, cy - ay - outer))
        y1 = int(min(self.height, cy + ay + outer))
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        # approximate distance outside the ellipse, in px
        r = np.hypot((gx - cx) / ax, (gy - cy) / ay)
        dist = (r - 1.0) * np.minimum(ax, ay)
        u = np.clip((outer - dist) / (outer - inner), 0, 1)
        self._hw = (u * u * (3 - 2 * u)).astype(np.float32)  # smoothstep
        self.head_roi = (x0, y0, x1, y1)
        self._hgx, self._hgy = gx, gy
        self._hmapx = np.empty_like(gx)
        self._hmapy = np.empty_like(gy)
        self._neck = self._to_frame(self.source.neck)
        self._head_r = self.source.head_radius * s

    # ------------------------------------------------------------------ pose
    def _affine(self, pose: HeadPose) -> np.ndarray:
        """Forward 2×3 map of head content for ``pose`` (neutral frame px -> posed frame px)."""
        yaw, pitch, roll = (math.radians(v) for v in (pose.yaw, pose.pitch, pose.roll))
        c, sn = math.cos(roll), math.sin(roll)
        a = np.array([[c, sn], [-sn, c]]) @ np.diag([math.cos(yaw), math.cos(pitch)])
        px, py = self._neck
        t = np.array([px + pose.tx + self._head_r * math.sin(yaw), py + pose.ty - self._head_r * math.sin(pitch)])
        return np.hstack([a, (t - a @ np.array([px, py]))[:, None]])

    def pose_at(self, frame: int, schedule: Schedule) -> HeadPose:
        """Head pose at ``frame``: the sum of the active head-motion episodes."""
        v = np.zeros(5)
        px = self.height / 480.0  # schedule translations are px at 480 lines
        for ev, env in schedule.active(frame):
            if ev.kind == "head":
                p = schedule.params(ev)
                v += ev.amplitude * env * np.array([p["yaw"], p["pitch"], p["roll"], p["tx"] * px, p["ty"] * px])
        return self.make_pose(*v)

    def make_pose(
        self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, tx: float = 0.0, ty: float = 0.0
    ) -> HeadPose:
        """A :class:`HeadPose` with its ``face_box`` computed for this renderer."""
        pose = HeadPose(float(yaw), float(pitch), float(roll), float(tx), float(ty))
        x0, y0, x1, y1 = self.neutral_face_box
        if pose.is_neutral:
            box = (x0, y0, x1, y1)
        else:
            m = self._affine(pose)
            c = m[:, :2] @ np.array([[x0, x1, x0, x1], [y0, y0, y1, y1]]) + m[:, 2:]
            box = (c[0].min(), c[1].min(), c[0].max(), c[1].max())
        return HeadPose(pose.yaw, pose.pitch, pose.roll, pose.tx, pose.ty, tuple(round(float(v), 2) for v in box))

    # ------------------------------------------------------------------ rendering
    def au_coefficients(self, frame: int, schedule: Schedule) -> dict[str, float]:
        """Displacement (px) of each basis at ``frame``; empty when the face is at rest."""
        co: dict[str, float] = {}
        for ev, env in schedule.active(frame):
            if ev.kind in ("micro", "macro"):
                for au in ev.aus:
                    co[au] = co.get(au, 0.0) + ev.amplitude * env
            elif ev.kind == "blink":
                co["AU45"] = co.get("AU45", 0.0) + ev.amplitude * env
            elif ev.kind == "speech":
                co["JAW"] = co.get("JAW", 0.0) + schedule.speech_opening(ev, frame)
            elif ev.kind == "gaze":  # amplitude: % of the eye's width
                p = schedule.params(ev)
                px = ev.amplitude / 100.0 * self.eye_width_px * env
                co["GAZE_X"] = co.get("GAZE_X", 0.0) + px * p.get("dx", 1.0)
                co["GAZE_Y"] = co.get("GAZE_Y", 0.0) + px * p.get("dy", 0.0)
        return {k: v for k, v in co.items() if v != 0.0}

    def render(self, frame: int, schedule: Schedule) -> tuple[np.ndarray, HeadPose]:
        """The RGB frame (a new ``uint8`` H×W×3 array) and the head pose at ``frame``."""
        return self.render_with(self.au_coefficients(frame, schedule), self.pose_at(frame, schedule))

    def neutral(self, pose: HeadPose | None = None) -> np.ndarray:
        """The face at rest, at ``pose`` (default: neutral pose)."""
        return self.render_with({}, pose or self.make_pose())[0]

    def render_with(self, coefficients: dict[str, float], pose: HeadPose) -> tuple[np.ndarray, HeadPose]:
        """Render explicit basis coefficients (px; keys AU1…AU26, AU45, JAW, GAZE_X, GAZE_Y) at ``pose``."""
        out = self._neutral.copy()
        fx0, fy0, fx1, fy1 = self.face_roi
        if coefficients:
            np.copyto(self._mapx, self._fgx)
            np.copyto(self._mapy, self._fgy)
            for name, c in coefficients.items():
                if name in ("AU45", "GAZE_X", "GAZE_Y"):
                    continue
                b = self._bases[name]
                # remap samples the source at p - v(p): the content moves by +v
                self._mapx -= np.float32(c) * b[0]
                self._mapy -= np.float32(c) * b[1]
            if coefficients.get("AU45", 0.0) > 0:
                self._apply_blink(coefficients["AU45"])
            if coefficients.get("GAZE_X", 0.0) or coefficients.get("GAZE_Y", 0.0):
                self._apply_gaze(coefficients.get("GAZE_X", 0.0), coefficients.get("GAZE_Y", 0.0))
            cv2.remap(
                self._skin,
                self._mapx,
                self._mapy,
                cv2.INTER_LINEAR,
                dst=self._work[fy0:fy1, fx0:fx1],
                borderMode=cv2.BORDER_REPLICATE,
            )
            if self._occluder is not None:
                sl, a, col = self._occluder
                w = self._work[sl]
                w[...] = np.clip(w * (1 - a) + col * a + 0.5, 0, 255).astype(np.uint8)
            self._work_dirty = True
        elif self._work_dirty:
            self._work[fy0:fy1, fx0:fx1] = self._neutral[fy0:fy1, fx0:fx1]
            self._work_dirty = False
        if self._work_dirty:
            out[fy0:fy1, fx0:fx1] = self._work[fy0:fy1, fx0:fx1]
        if not pose.is_neutral:
            m = self._affine(pose)
            inv = cv2.invertAffineTransform(m) - np.float64([[1, 0, 0], [0, 1, 0]])
            # map = p + w(p)·(H⁻¹(p) − p): head follows H, torso stays, the neck blends
            hx, hy = self._hgx, self._hgy
            np.multiply(hx, np.float32(inv[0, 0]), out=self._hmapx)
            self._hmapx += np.float32(inv[0, 1]) * hy
            self._hmapx += np.float32(inv[0, 2])
            self._hmapx *= self._hw
            self._hmapx += hx
            np.multiply(hx, np.float32(inv[1, 0]), out=self._hmapy)
            self._hmapy += np.float32(inv[1, 1]) * hy
            self._hmapy += np.float32(inv[1, 2])
            self._hmapy *= self._hw
            self._hmapy += hy
            x0, y0, x1, y1 = self.head_roi
            cv2.remap(
                self._work,
                self._hmapx,
                self._hmapy,
                cv2.INTER_LINEAR,
                dst=out[y0:y1, x0:x1],
                borderMode=cv2.BORDER_REPLICATE,
            )
        return out, pose
