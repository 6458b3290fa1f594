"""Depth frames of the simulated participant (uint16, millimetres: depth units 0.001 m).

The scene, as a depth camera registered to the colour camera would see it:

* a wall ~1500 mm away (slightly oblique: ±15 mm across the frame);
* the static torso, collar and neck, cut from the same outline as the colour picture
  (:data:`acquisition.sim.face.SRC_OUTLINE`), ~690 mm at the chest, curving back towards the
  shoulders, plus a neck cylinder (~685 mm) reaching up under the jaw;
* the head: an ellipsoid whose silhouette matches the hair+face outline of the photo, its front
  ~620 mm from the camera, with a 25 mm nose bump (nose tip ~595 mm) and shallow eye sockets. It
  follows :class:`~acquisition.sim.face.HeadPose`: centred on ``face_box``, rolled by ``roll``, the
  nose shifted by yaw/pitch.

Expressions (optional, ``DepthRenderer(..., face=FaceRenderer)`` and ``render(pose, coefficients)``):
the skin surface moves along the optical axis with the same AU coefficients that deform the colour
face at that frame (:meth:`acquisition.sim.face.FaceRenderer.au_coefficients`). Each bump of the
face's own AU bases (its muscle style included) becomes a Gaussian depth bump of the same width,
centred 0.8 σ ahead of the bump's skin motion (where the moved tissue piles up), of height
:data:`AU_DEPTH_MM` × the coefficient (px) × mm per face px: cheeks, brows, glabella, nose sides,
lower lids and chin bulge towards the camera (−), dimples, stretched/pressed lips and a parting
mouth recede (+). A micro-expression of 1-4 px thus moves the surface by ~1-4 mm at its apex
(quantised to the 1 mm depth unit). Without ``coefficients`` the surface follows the pose only,
exactly as before.

No noise and no invalid pixels: the same pose (and coefficients) always give the same frame.
Speed: median 0.65 ms per 848×480 frame on one core (printed by
tests/acquisition/test_sim_content.py::test_depth_render_speed). Budget: 3 ms.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from acquisition.sim.face import SRC_FACE_BOX, SRC_HEAD, SRC_LM, SRC_OUTLINE, FaceRenderer, HeadPose, frame_mapping

WALL_MM = 1500.0
CHEST_MM = 690.0
FACE_FRONT_MM = 620.0
HEAD_DEPTH_MM = 95.0  # semi-axis of the head ellipsoid along the optical axis
NOSE_MM = 25.0
EYE_SOCKET_MM = 8.0
FACE_WIDTH_MM = 150.0  # face-oval width: converts the face's px of AU motion into mm
# Surface motion along the optical axis (mm per mm of the AU's skin motion at its apex;
# − = towards the camera). Rough anatomy: contracting muscles bunch tissue forwards
# (cheek raiser, brow lowerer, nose wrinkler, chin raiser), lips pressed or stretched against the
# teeth and a dimple recede, an opening mouth shows its inside.
AU_DEPTH_MM = {
    "AU1": -0.5,
    "AU2": -0.5,
    "AU4": -0.8,
    "AU6": -1.0,
    "AU7": -0.6,
    "AU9": -0.8,
    "AU10": -0.6,
    "AU12": -0.8,
    "AU14": 0.8,
    "AU15": 0.5,
    "AU17": -1.0,
    "AU20": 0.5,
    "AU24": 0.6,
    "AU25": 1.5,
    "AU26": 1.5,
}


class DepthRenderer:
    def __init__(self, width: int = 848, height: int = 480, face: FaceRenderer | None = None):
        self.width, self.height = int(width), int(height)
        s, ox, oy = frame_mapping(self.width, self.height)
        to = lambda p: (p[0] * s + ox, p[1] * s + oy)  # noqa: E731
        self.scale = s
        fx0, fy0 = to(SRC_FACE_BOX[:2])
        fx1, fy1 = to(SRC_FACE_BOX[2:])
        fc = np.array([(fx0 + fx1) / 2, (fy0 + fy1) / 2])
        (hcx, hcy), (hax, hay) = SRC_HEAD
        # geometry of the head relative to the face-box centre (neutral pose), frame px
        self._head_off = np.array(to((hcx, hcy))) - fc
        self._head_ax = (hax * s, hay * s)
        self._nose_off = np.array(to(SRC_LM["nose_tip"])) - fc
        self._eye_off = [
            np.array(to(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))) - fc
            for a, b in (((195.3, 100.6), (213.6, 103.6)), ((236.4, 104.9), (255.3, 103.8)))
        ]
        self._face_w = fx1 - fx0
        self._head_r = 52.0 * s  # same yaw/pitch radius as the face renderer

        # --- static part: wall + body (torso, collar, neck) below the head
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        wall = WALL_MM + 15.0 * (2 * xx / self.width - 1)
        poly = np.round([to(p) for p in SRC_OUTLINE]).astype(np.int32)
        body = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(body, [poly], 1)
        hc, (ax, ay) = np.array(to((hcx, hcy))), self._head_ax
        in_head = ((xx - hc[0]) / ax) ** 2 + ((yy - hc[1]) / ay) ** 2 < 1.0
        chin_y = to(SRC_LM["chin"])[1]
        body[in_head & (yy < chin_y)] = 0  # the head is drawn per frame
        cx = float(poly[:, 0].mean())
        half = 0.5 * float(poly[:, 0].max() - poly[:, 0].min())
        chest = CHEST_MM + 90.0 * ((xx - cx) / half) ** 2
        static = np.where(body > 0, chest, wall)
        # the neck: a vertical cylinder from under the jaw down into the collar, so that a head
        # that moves never opens a gap to the wall
        ncx, half_n = to(SRC_LM["chin"])[0], 0.28 * self._face_w
        dx = (xx - ncx) / half_n
        neck = (np.abs(dx) < 1) & (yy > chin_y - 0.5 * self._face_w) & (yy < chin_y + 25 * s)
        static = np.where(neck, np.minimum(static, 685.0 + 35.0 * dx * dx), static)
        self._static = static.round().astype(np.uint16)
        self._roi_margin = 4
        self._au_bumps = self._build_au_bumps(face) if face is not None else {}

    def _build_au_bumps(self, face) -> dict:
        """Per AU: ``[(offset from the neutral face-box centre, σ, mm per px of coefficient)]`` in
        this frame's px, from ``face``'s own AU bases (a colour frame of another size is scaled,
        the same field of view assumed, as the simulated camera does)."""
        from acquisition.sim.face import AU_BASES

        k = self.width / face.width
        x0, y0, x1, y1 = face.neutral_face_box
        fc = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) * k
        unit = face.scale * face.source.unit * k  # depth px per astronaut source px
        mm_per_px = FACE_WIDTH_MM / (x1 - x0)  # mm of skin per colour-face px
        bases = dict(face.source.au_bases or AU_BASES)
        if "AU25" in bases and "AU26" in bases:  # speech opens the mouth like AU25+26
            bases["JAW"] = [(n, d, s, 0.4 * w) for n, d, s, w in bases["AU25"]] + [
                (n, d, s, 0.6 * w) for n, d, s, w in bases["AU26"]
            ]
        out = {}
        for au, bumps in bases.items():
            gain = AU_DEPTH_MM.get(au, 1.5 if au == "JAW" else 0.0)
            if gain == 0.0:
                continue
            wmax = max(w for *_, w in bumps)
            out[au] = [
                (
                    np.array(face.landmarks[n]) * k + 0.8 * sig * unit * np.array(d) - fc,
                    sig * unit,
                    gain * mm_per_px * w / wmax,
                )
                for n, d, sig, w in bumps
            ]
        return out

    def render(self, pose: HeadPose, coefficients: dict | None = None) -> np.ndarray:
        """The depth frame (a new ``uint16`` H×W array, mm) for head pose ``pose`` and, with a
        ``face`` given at construction, the AU ``coefficients`` (px of the colour face, as
        :meth:`~acquisition.sim.face.FaceRenderer.render_with` takes them) of the same frame."""
        out = self._static.copy()
        x0, y0, x1, y1 = pose.face_box
        if x1 <= x0 or y1 <= y0:
            return out
        roll = math.radians(pose.roll)
        c, s = math.cos(roll), math.sin(roll)
        rot = np.array([[c, s], [-s, c]])  # same sense as the colour renderer
        fc = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        hc = fc + rot @ self._head_off
        ax, ay = self._head_ax
        r = max(ax, ay) + self._roi_margin
        rx0, ry0 = max(0, int(hc[0] - r)), max(0, int(hc[1] - r))
        rx1, ry1 = min(self.width, int(hc[0] + r) + 1), min(self.height, int(hc[1] + r) + 1)
        if rx1 <= rx0 or ry1 <= ry0:
            return out
        xs = np.arange(rx0, rx1, dtype=np.float32) - np.float32(hc[0])
        ys = np.arange(ry0, ry1, dtype=np.float32)[:, None] - np.float32(hc[1])
        # head-aligned coordinates: rotate the offsets back by roll
        u = (xs * np.float32(c) - ys * np.float32(s)) / np.float32(ax)
        v = (xs * np.float32(s) + ys * np.float32(c)) / np.float32(ay)
        q = 1.0 - u * u - v * v
        inside = q > 0
        z0 = FACE_FRONT_MM + HEAD_DEPTH_MM
        z = z0 - HEAD_DEPTH_MM * np.sqrt(np.maximum(q, 0.0))
        # nose and eye sockets: separable Gaussian bumps (roll only moves their centres)
        yaw, pitch = math.radians(pose.yaw), math.radians(pose.pitch)
        shift = np.array([self._head_r * math.sin(yaw), -self._head_r * math.sin(pitch)])
        fw = self._face_w
        bumps = [
            (self._nose_off, 0.07 * fw, 0.16 * fw, -NOSE_MM, shift),
            (self._eye_off[0], 0.09 * fw, 0.06 * fw, EYE_SOCKET_MM, 0.6 * shift),
            (self._eye_off[1], 0.09 * fw, 0.06 * fw, EYE_SOCKET_MM, 0.6 * shift),
        ]
        for name, amp in (coefficients or {}).items():
            for off, sig, mm in self._au_bumps.get(name, ()):
                bumps.append((off, sig, sig, float(amp) * mm, shift))
        for off, sx, sy, h, sh in bumps:
            p = fc + rot @ off + sh - np.array([rx0, ry0])
            gx = np.exp(-0.5 * ((np.arange(rx1 - rx0) - p[0]) / sx) ** 2).astype(np.float32)
            gy = np.exp(-0.5 * ((np.arange(ry1 - ry0) - p[1]) / sy) ** 2).astype(np.float32)
            z += np.float32(h) * gy[:, None] * gx[None, :]
        roi = out[ry0:ry1, rx0:rx1]
        zi = np.round(z).astype(np.uint16)
        np.copyto(roi, np.minimum(roi, zi), where=inside)
        return out
