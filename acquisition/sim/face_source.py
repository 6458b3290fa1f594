"""The simulated participant's face as data: the photograph's measured geometry and the AU model.

What :class:`acquisition.sim.face.FaceRenderer` animates, kept apart from the renderer:

- the astronaut photograph's geometry in source pixels (``SRC_*``: MediaPipe landmarks, eyelid
  margins, face box, head ellipse, neck pivot, cut-out outline) and how it is placed in a frame
  (:func:`frame_mapping`);
- the **AU deformation model** (:data:`AU_BASES`): for each AU, the Gaussian bumps (landmark,
  direction of skin motion, sigma, weight) whose sum is that AU's displacement basis;
- :class:`FaceSource` (a photograph with its geometry; other faces come from
  :mod:`acquisition.sim.identities`) and :class:`HeadPose` (the rigid head motion of a frame).

Everything here is also importable from :mod:`acquisition.sim.face`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Landmarks on skimage.data.astronaut() (512×512 source pixels). Measured once with the MediaPipe
# Face Landmarker (face_landmarker.task, 478-point mesh) on the unmodified image and checked by
# eye on an overlay; the number after each name is the MediaPipe mesh index.
SRC_LM = {
    "brow_in_L": (215.1, 89.8),  # 107
    "brow_in_R": (236.0, 90.6),  # 336
    "brow_mi_L": (205.6, 87.8),  # 66
    "brow_mi_R": (245.9, 89.7),  # 296
    "brow_mid_L": (197.5, 86.6),  # 105
    "brow_mid_R": (254.2, 89.6),  # 334
    "brow_out_L": (187.9, 90.7),  # 70
    "brow_out_R": (263.7, 94.9),  # 300
    "glabella": (225.4, 91.1),  # 9
    "eye_lo_L": (204.2, 104.2),  # 145
    "eye_lo_R": (245.9, 106.5),  # 374
    "eye_out_L": (195.3, 100.6),  # 33
    "eye_out_R": (255.3, 103.8),  # 263
    "cheek_L": (191.0, 119.7),  # 50
    "cheek_R": (257.8, 123.2),  # 280
    "nose_side_L": (214.8, 119.4),  # 198
    "nose_side_R": (233.7, 120.3),  # 420
    "ala_L": (209.2, 124.9),  # 129
    "ala_R": (238.9, 126.4),  # 358
    "nose_tip": (223.5, 131.1),  # 1
    "lip_up": (223.4, 140.6),  # 0
    "lip_up_L": (217.3, 139.4),  # 37
    "lip_up_R": (229.7, 139.8),  # 267
    "lip_up_in": (223.3, 143.2),  # 13
    "lip_lo_in": (223.0, 149.2),  # 14
    "lip_lo": (222.7, 154.7),  # 17
    "lip_lo_L": (216.5, 153.7),  # 84
    "lip_lo_R": (229.1, 154.1),  # 314
    "mouth_L": (202.3, 139.2),  # 61
    "mouth_R": (244.5, 140.6),  # 291
    "mentalis": (222.2, 164.1),  # 200
    "chin": (221.4, 177.4),  # 152
    "jaw_L": (185.3, 149.0),  # 172
    "jaw_R": (260.9, 152.7),  # 397
}
# Eyelid margins, corner to corner (MediaPipe 33,246,161,160,159,158,157,173,133 / 33,7,163,144,
# 145,153,154,155,133 for image-left; 362,398,384,385,386,387,388,466,263 / 362,382,381,380,374,
# 373,390,249,263 for image-right).
SRC_LIDS = {
    "L": (
        [
            (195.3, 100.6),
            (196.1, 99.9),
            (197.2, 99.1),
            (199.2, 98.2),
            (202.6, 97.8),
            (206.1, 98.4),
            (209.7, 100.1),
            (212.4, 102.3),
            (213.6, 103.6),
        ],
        [
            (195.3, 100.6),
            (196.7, 101.9),
            (198.3, 102.9),
            (200.7, 103.7),
            (204.2, 104.2),
            (207.6, 104.0),
            (210.8, 103.8),
            (212.8, 103.8),
            (213.6, 103.6),
        ],
    ),
    "R": (
        [
            (236.4, 104.9),
            (237.8, 103.6),
            (240.6, 101.7),
            (244.3, 100.3),
            (248.1, 100.2),
            (251.4, 101.0),
            (253.5, 102.2),
            (254.6, 103.1),
            (255.3, 103.8),
        ],
        [
            (236.4, 104.9),
            (237.3, 105.1),
            (239.2, 105.4),
            (242.3, 106.0),
            (245.9, 106.5),
            (249.4, 106.4),
            (252.0, 105.8),
            (253.7, 105.0),
            (255.3, 103.8),
        ],
    ),
}
# Face oval box (MediaPipe 234 / 10 / 454 / 152): what a face detector would report.
SRC_FACE_BOX = (180.9, 72.2, 269.8, 177.4)
# Head (hair + face) ellipse, by inspection: centre, semi-axes.
SRC_HEAD = ((226.5, 100.0), (80.0, 86.0))
# Pivot of roll: the neck, below the chin (by inspection).
SRC_NECK = (222.0, 205.0)
# Outline of the person (head, neck, collar ring, shoulders), cut out of the studio background
# once with cv2.grabCut (mask-initialised, 8 iterations), simplified with approxPolyDP(1.5 px)
# and corrected by hand on the right side of the neck ring.
SRC_OUTLINE = [
    (207, 20),
    (175, 39),
    (156, 58),
    (153, 68),
    (154, 92),
    (157, 104),
    (170, 116),
    (170, 121),
    (174, 128),
    (182, 132),
    (183, 147),
    (153, 151),
    (140, 158),
    (131, 167),
    (127, 176),
    (123, 178),
    (120, 194),
    (115, 196),
    (113, 202),
    (121, 220),
    (123, 220),
    (124, 216),
    (128, 216),
    (134, 224),
    (134, 232),
    (137, 233),
    (139, 245),
    (130, 253),
    (131, 262),
    (123, 272),
    (128, 297),
    (127, 512),
    (346, 512),
    (350, 325),
    (357, 323),
    (357, 310),
    (352, 287),
    (347, 283),
    (346, 275),
    (340, 262),
    (319, 243),
    (303, 233),
    (298, 217),
    (283, 196),
    (270, 184),
    (257, 175),
    (255, 173),
    (256, 163),
    (264, 149),
    (266, 137),
    (275, 134),
    (296, 107),
    (300, 93),
    (300, 78),
    (296, 66),
    (296, 58),
    (282, 36),
    (259, 22),
    (248, 18),
    (238, 18),
    (237, 16),
    (227, 16),
    (214, 21),
]
BACKGROUND_RGB = (196, 200, 204)
SRC_SCALE_AT_480 = 1.75  # source px -> frame px at 480 lines (face ≈ 156 px wide)
SRC_ANCHOR = (227.0, 100.0)  # source point placed at (width/2, 0.396·height)
HEAD_RADIUS_SRC = 52.0  # head radius used for yaw/pitch shifts (≈ 9 cm), source px

# AU bases: (landmark, direction of skin motion, sigma in source px, weight).
_D = 1 / math.sqrt(2)
AU_BASES: dict[str, list[tuple[str, tuple[float, float], float, float]]] = {
    "AU1": [
        ("brow_in_L", (0, -1), 6, 1),
        ("brow_in_R", (0, -1), 6, 1),
        ("brow_mi_L", (0, -1), 6, 0.6),
        ("brow_mi_R", (0, -1), 6, 0.6),
    ],
    "AU2": [
        ("brow_out_L", (0, -1), 6, 1),
        ("brow_out_R", (0, -1), 6, 1),
        ("brow_mid_L", (0, -1), 6, 0.7),
        ("brow_mid_R", (0, -1), 6, 0.7),
    ],
    "AU4": [
        ("brow_in_L", (0.5, 0.87), 6, 1),
        ("brow_in_R", (-0.5, 0.87), 6, 1),
        ("brow_mi_L", (0.3, 0.95), 6, 0.6),
        ("brow_mi_R", (-0.3, 0.95), 6, 0.6),
    ],
    "AU6": [
        ("cheek_L", (0, -1), 8, 1),
        ("cheek_R", (0, -1), 8, 1),
        ("eye_lo_L", (0, -1), 5, 0.6),
        ("eye_lo_R", (0, -1), 5, 0.6),
        ("eye_out_L", (0.3, -0.95), 5, 0.5),
        ("eye_out_R", (-0.3, -0.95), 5, 0.5),
    ],
    "AU7": [("eye_lo_L", (0, -1), 4, 1), ("eye_lo_R", (0, -1), 4, 1)],
    "AU9": [
        ("ala_L", (0, -1), 5, 1),
        ("ala_R", (0, -1), 5, 1),
        ("nose_side_L", (0, -1), 5, 0.8),
        ("nose_side_R", (0, -1), 5, 0.8),
    ],
    "AU10": [("lip_up", (0, -1), 5, 1), ("lip_up_L", (0, -1), 5, 0.8), ("lip_up_R", (0, -1), 5, 0.8)],
    "AU12": [("mouth_L", (-0.6, -0.8), 6, 1), ("mouth_R", (0.6, -0.8), 6, 1)],
    "AU14": [("mouth_L", (1, 0), 5, 1), ("mouth_R", (-1, 0), 5, 1)],
    "AU15": [("mouth_L", (0, 1), 6, 1), ("mouth_R", (0, 1), 6, 1)],
    "AU17": [("mentalis", (0, -1), 8, 1), ("lip_lo", (0, -1), 6, 0.7)],
    "AU20": [("mouth_L", (-1, 0), 6, 1), ("mouth_R", (1, 0), 6, 1)],
    "AU24": [
        ("lip_up_in", (0, 1), 4, 1),
        ("lip_lo_in", (0, -1), 4, 1),
        ("lip_up_L", (0, 1), 4, 0.6),
        ("lip_up_R", (0, 1), 4, 0.6),
        ("lip_lo_L", (0, -1), 4, 0.6),
        ("lip_lo_R", (0, -1), 4, 0.6),
    ],
    "AU25": [("lip_lo_in", (0, 1), 5, 1), ("lip_lo", (0, 1), 6, 0.8)],
    "AU26": [("lip_lo", (0, 1), 10, 1), ("mentalis", (0, 1), 10, 1), ("chin", (0, 1), 10, 1)],
}


@dataclass(frozen=True)
class FaceSource:
    """A photograph and its geometry, in source pixels: what :class:`FaceRenderer` animates.

    The default is the astronaut (the module constants above). Other faces (the varied rig,
    :mod:`acquisition.sim.identities`) give their own image and landmarks; ``unit`` is the size of
    one astronaut source pixel in this source's pixels (face width ratio), so the AU bases keep
    their shape relative to the face; ``outline`` ``None`` means the photo keeps its own background,
    faded into the backdrop at its edges.
    """

    image: np.ndarray
    landmarks: dict
    lids: dict
    face_box: tuple
    head: tuple
    neck: tuple
    head_radius: float
    outline: list | None = None
    background: tuple = BACKGROUND_RGB
    unit: float = 1.0
    scale_at_480: float = SRC_SCALE_AT_480
    anchor: tuple = SRC_ANCHOR
    au_bases: dict | None = None  # this face's own AU_BASES (same layout); None: AU_BASES

    def mapping(self, width: int, height: int) -> tuple[float, float, float]:
        s = self.scale_at_480 * height / 480.0
        return s, width / 2.0 - self.anchor[0] * s, 0.396 * height - self.anchor[1] * s


def astronaut_source() -> FaceSource:
    from skimage import data

    return FaceSource(
        data.astronaut(), SRC_LM, SRC_LIDS, SRC_FACE_BOX, SRC_HEAD, SRC_NECK, HEAD_RADIUS_SRC, SRC_OUTLINE
    )


def frame_mapping(width: int, height: int) -> tuple[float, float, float]:
    """``(scale, ox, oy)``: source pixel ``(x, y)`` lands at ``(x·scale + ox, y·scale + oy)``."""
    s = SRC_SCALE_AT_480 * height / 480.0
    return s, width / 2.0 - SRC_ANCHOR[0] * s, 0.396 * height - SRC_ANCHOR[1] * s


@dataclass(frozen=True)
class HeadPose:
    yaw: float = 0.0  # degrees
    pitch: float = 0.0  # degrees
    roll: float = 0.0  # degrees
    tx: float = 0.0  # px
    ty: float = 0.0  # px
    face_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x0, y0, x1, y1 in frame

    @property
    def is_neutral(self) -> bool:
        return self.yaw == 0 and self.pitch == 0 and self.roll == 0 and self.tx == 0 and self.ty == 0
