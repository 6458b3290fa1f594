"""Facial regions for spotting, defined on the MediaPipe 478-point mesh, and the aligned face crop.

The face is registered on its landmarks: a similarity transform puts the two eye centres (mean of
the eye corners, which expressions barely move) at fixed places of a square crop of ``size`` px, so
displacements measured in the crop are in units of the face (inter-ocular distance = 0.36·size).

Each region is a set of landmarks; its weight map is a sum of Gaussians (σ = 0.1 inter-ocular
distance) around them, normalised to 1 (kept in a box of ±3σ around the landmarks), so a region's motion is a landmark-centred weighted mean of
the optical flow. "l"/"r" are *image* left/right. The ``bridge`` region (upper nose bridge, rigid)
is the motion reference subtracted from every other region.

Each region names the action units its motion direction reveals (``AU_RULES``): e.g. the mouth
corners moving up and out is AU12, down is AU15. Directions are in crop coordinates (y down).
"""

from __future__ import annotations

import math

import numpy as np

EYE_L = (33, 133)  # image-left eye corners (the subject's right eye)
EYE_R = (362, 263)
EYE_Y = 0.32  # eye centres at (0.32, 0.32) and (0.68, 0.32) of the crop
EYE_DX = 0.36

REGIONS: dict[str, tuple[int, ...]] = {
    "brow_in_l": (107, 66, 55, 65),
    "brow_in_r": (336, 296, 285, 295),
    "brow_out_l": (70, 63, 105, 46, 53),
    "brow_out_r": (300, 293, 334, 276, 283),
    "lid_up_l": (159, 158, 160, 161, 157),
    "lid_up_r": (386, 385, 387, 384, 388),
    "lid_lo_l": (145, 144, 153, 163, 154),
    "lid_lo_r": (374, 373, 380, 390, 381),
    "cheek_l": (50, 101, 118, 205, 36),
    "cheek_r": (280, 330, 347, 425, 266),
    "nose_l": (129, 198, 209, 49),
    "nose_r": (358, 420, 429, 279),
    "lip_up": (0, 37, 267, 13),
    "mouth_l": (61, 76, 62),
    "mouth_r": (291, 306, 292),
    "lip_lo": (17, 84, 314, 14),
    "chin": (200, 199, 175, 18),
    "bridge": (168, 6, 197),
}
REGION_NAMES = tuple(REGIONS)
#: Left/right regions also read as one bilateral channel ``<base>_lr``: the mean of the left
#: region's motion and the right region's motion mirrored (x negated), in the left region's frame.
#: Most AUs are bilateral, so the pair has the same signal and √2 less noise.
PAIR_BASES = ("brow_in", "brow_out", "lid_up", "lid_lo", "cheek", "nose", "mouth")
PAIR_NAMES = tuple(f"{b}_lr" for b in PAIR_BASES)
CHANNEL_NAMES = REGION_NAMES + PAIR_NAMES
_IDX = {k: np.array(v) for k, v in REGIONS.items()}
REF = REGION_NAMES.index("bridge")
EYE_REGIONS = ("lid_up_l", "lid_up_r", "lid_lo_l", "lid_lo_r", "lid_up_lr", "lid_lo_lr")
MOUTH_REGIONS = ("lip_up", "mouth_l", "mouth_r", "lip_lo", "chin", "mouth_lr")
EYE_CONTOUR_L = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_CONTOUR_R = (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382)
MOUTH_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
#: Face-oval landmarks (the mask of pixels used to fit the rigid head motion).
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)


def region_side(name: str) -> int:
    """-1 image-left (and bilateral pairs, read in the left region's frame), +1 image-right,
    0 midline."""
    return -1 if name.endswith(("_l", "_lr")) else (1 if name.endswith("_r") else 0)


def with_pairs(flow: np.ndarray) -> np.ndarray:
    """Region flow (n, len(REGION_NAMES), 2) → channel flow (n, len(CHANNEL_NAMES), 2)."""
    li = [REGION_NAMES.index(b + "_l") for b in PAIR_BASES]
    ri = [REGION_NAMES.index(b + "_r") for b in PAIR_BASES]
    mirror = np.array([-1.0, 1.0], dtype=flow.dtype)
    return np.concatenate([flow, 0.5 * (flow[:, li] + flow[:, ri] * mirror)], axis=1)


def member_regions(name: str) -> tuple[str, ...]:
    """The regions a channel stands for (a pair: both)."""
    if name.endswith("_lr"):
        return (name[:-3] + "_l", name[:-3] + "_r")
    return (name,)


def aus_for(name: str, d: np.ndarray) -> tuple[str, ...]:
    """The AUs that displacement ``d`` (crop px, y down) of region ``name`` stands for."""
    dx, dy = float(d[0]), float(d[1])
    out_x = dx * region_side(name)  # > 0: moving away from the midline
    base = name.rsplit("_", 1)[0] if name.endswith(("_l", "_r", "_lr")) else name
    if base == "brow_in":
        return ("AU1",) if dy < 0 else ("AU4",)
    if base == "brow_out":
        return ("AU2",) if dy < 0 else ("AU4",)
    if base == "lid_up":
        return ("AU45",) if dy > 0 else ("AU5",)
    if base == "lid_lo":
        return ("AU7",) if dy < 0 else ()
    if base == "cheek":
        return ("AU6",) if dy < 0 else ()
    if base == "nose":
        return ("AU9",) if dy < 0 else ()
    if base == "lip_up":
        return ("AU10",) if dy < 0 else ("AU24",)
    if base == "mouth":
        if abs(dy) >= abs(dx):
            return ("AU12",) if dy < 0 else ("AU15",)
        return ("AU20",) if out_x > 0 else ("AU14",)
    if base == "lip_lo":
        return ("AU17",) if dy < 0 else ("AU26",)
    if base == "chin":
        return ("AU17",) if dy < 0 else ("AU26",)
    return ()


#: Regions whose motion each AU shows up in (used to credit EMG bursts to candidates).
AU_REGIONS: dict[str, tuple[str, ...]] = {
    "AU1": ("brow_in_l", "brow_in_r"),
    "AU2": ("brow_out_l", "brow_out_r"),
    "AU4": ("brow_in_l", "brow_in_r", "brow_out_l", "brow_out_r"),
    "AU6": ("cheek_l", "cheek_r", "lid_lo_l", "lid_lo_r"),
    "AU7": ("lid_lo_l", "lid_lo_r"),
    "AU9": ("nose_l", "nose_r"),
    "AU10": ("lip_up", "nose_l", "nose_r"),
    "AU12": ("mouth_l", "mouth_r"),
    "AU14": ("mouth_l", "mouth_r"),
    "AU15": ("mouth_l", "mouth_r"),
    "AU20": ("mouth_l", "mouth_r"),
    "AU17": ("chin", "lip_lo"),
    "AU24": ("lip_up", "lip_lo"),
    "AU26": ("chin", "lip_lo"),
    "AU45": ("lid_up_l", "lid_up_r"),
}


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return lm[list(EYE_L), :2].mean(axis=0), lm[list(EYE_R), :2].mean(axis=0)


def align_matrix(lm: np.ndarray, size: int) -> np.ndarray:
    """2×3 similarity: frame px → crop px (eye centres to their canonical places)."""
    el, er = eye_centres(lm)
    src = er - el
    dst = np.array([EYE_DX * size, 0.0])
    s = np.hypot(*dst) / max(np.hypot(*src), 1e-6)
    ang = np.arctan2(src[1], src[0])
    c, sn = s * np.cos(-ang), s * np.sin(-ang)
    r = np.array([[c, -sn], [sn, c]])
    mid = (el + er) / 2
    t = np.array([0.5 * size, EYE_Y * size]) - r @ mid
    return np.hstack([r, t[:, None]]).astype(np.float64)


def to_crop(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts[:, :2] @ m[:, :2].T + m[:, 2]


def region_boxes(lm_crop: np.ndarray, size: int) -> list[tuple[slice, slice, np.ndarray]]:
    """Per region: the crop box holding its weights (landmarks ± 3σ) and the weights in it
    (float32, summing to 1): a sum of Gaussians of σ = 0.1 inter-ocular distance."""
    sig = 0.1 * EYE_DX * size
    out = []
    for name in REGION_NAMES:
        pts = lm_crop[_IDX[name], :2].astype(np.float32)
        lo, hi = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
        x0 = min(max(math.floor(lo[0] - 3 * sig), 0), size - 1)
        x1 = min(max(math.ceil(hi[0] + 3 * sig), x0 + 1), size)
        y0 = min(max(math.floor(lo[1] - 3 * sig), 0), size - 1)
        y1 = min(max(math.ceil(hi[1] + 3 * sig), y0 + 1), size)
        ax = np.arange(x0, x1, dtype=np.float32)
        ay = np.arange(y0, y1, dtype=np.float32)
        gx = np.exp(-((ax[None, :] - pts[:, :1]) ** 2) / (2 * sig * sig))  # (k, w)
        gy = np.exp(-((ay[None, :] - pts[:, 1:2]) ** 2) / (2 * sig * sig))  # (k, h)
        w = np.einsum("ky,kx->yx", gy, gx)
        w /= max(float(w.sum()), 1e-12)
        out.append((slice(y0, y1), slice(x0, x1), np.ascontiguousarray(w, dtype=np.float32)))
    return out


def face_mask(lm_crop: np.ndarray, size: int) -> np.ndarray:
    """Boolean mask of the pixels used to fit rigid head motion: the face oval above the mouth
    corners, without the eyes (blinks and gaze are not rigid, each with a margin)."""
    import cv2

    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [np.round(lm_crop[list(FACE_OVAL)]).astype(np.int32)], 1)
    hole = np.zeros_like(m)
    for contour in (EYE_CONTOUR_L, EYE_CONTOUR_R, MOUTH_INNER):
        cv2.fillPoly(hole, [np.round(lm_crop[list(contour)]).astype(np.int32)], 1)
    r = max(1, int(round(0.12 * EYE_DX * size)))
    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    # the jaw moves on its own (speech, AU17/AU26): the skull is what is above the mouth corners
    y_mouth = float(max(lm_crop[61, 1], lm_crop[291, 1]))
    m[int(np.ceil(y_mouth)) :, :] = 0
    return (m > 0) & (hole == 0)
