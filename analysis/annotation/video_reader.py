"""The depth colour map every view uses (:func:`colorize_depth`). Frames for coding are read by the
session-reading layer's one reader, :class:`acquisition.session_read.frame_reader.FrameReader`."""

from __future__ import annotations

import numpy as np


def colorize_depth(depth: np.ndarray, near_mm: float = 300.0, far_mm: float = 2000.0) -> np.ndarray:
    """uint16 depth (mm) -> RGB uint8, the live preview's mapping (app/gui/widgets/preview.py):
    turbo, near (300 mm) red to far (2000 mm and beyond) dark blue; 0 = no depth = black."""
    import cv2

    d = depth.astype(np.float32)
    norm = np.clip((d - near_mm) * (255.0 / (far_mm - near_mm)), 0, 255).astype(np.uint8)
    rgb = cv2.applyColorMap(255 - norm, cv2.COLORMAP_TURBO)[:, :, ::-1]
    rgb[depth == 0] = 0
    return np.ascontiguousarray(rgb)
