"""The depth colour map every view uses (:func:`colorize_depth`). Frames for coding are read by the
session-reading layer's one reader, :class:`acquisition.session_read.frame_reader.FrameReader`."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _colours(depth: np.ndarray, near_mm: float, far_mm: float) -> np.ndarray:
    import cv2

    d = depth.astype(np.float32)
    norm = np.clip((d - near_mm) * (255.0 / (far_mm - near_mm)), 0, 255).astype(np.uint8)
    rgb = cv2.applyColorMap(255 - norm, cv2.COLORMAP_TURBO)[:, :, ::-1]
    rgb[depth == 0] = 0
    return np.ascontiguousarray(rgb)


@lru_cache(maxsize=4)
def _lut(near_mm: float, far_mm: float) -> np.ndarray:
    """The colour of every uint16 depth value by the same formula, as one uint32 (R, G, B, 0) each."""
    rgb = _colours(np.arange(65536, dtype=np.uint16).reshape(1, -1), near_mm, far_mm)[0]
    rgba = np.zeros((65536, 4), np.uint8)
    rgba[:, :3] = rgb
    return rgba.view(np.uint32).ravel()


def colorize_depth(depth: np.ndarray, near_mm: float = 300.0, far_mm: float = 2000.0) -> np.ndarray:
    """uint16 depth (mm) -> RGB uint8, the live preview's mapping (app/gui/widgets/preview.py):
    turbo, near (300 mm) red to far (2000 mm and beyond) dark blue; 0 = no depth = black.
    uint16 frames are coloured by a table of every value (one lookup a pixel: the preview paints
    two frames 30 times a second on the GUI thread); other types by the formula itself."""
    if depth.dtype == np.uint16 and depth.ndim == 2:
        import cv2

        rgba = _lut(float(near_mm), float(far_mm)).take(depth).view(np.uint8).reshape(depth.shape + (4,))
        return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    return _colours(depth, near_mm, far_mm)
