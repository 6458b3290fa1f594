"""Frame-accurate reading of a video for coding: :class:`VideoReader` is the session-reading
layer's :class:`acquisition.session_read.frame_reader.FrameReader` (one PyAV reader for mexlab),
and :func:`colorize_depth` is the depth colour map every view uses."""

from __future__ import annotations

import numpy as np

from acquisition.session_read.frame_reader import FrameReader as VideoReader  # noqa: F401
from acquisition.session_read.frame_reader import read_frame  # noqa: F401


def colorize_depth(depth: np.ndarray, near_mm: float = 300.0, far_mm: float = 2000.0) -> np.ndarray:
    """uint16 depth (mm) -> RGB uint8, the live preview's mapping (app/gui/widgets/preview.py):
    turbo, near (300 mm) red to far (2000 mm and beyond) dark blue; 0 = no depth = black."""
    import cv2

    d = depth.astype(np.float32)
    norm = np.clip((d - near_mm) * (255.0 / (far_mm - near_mm)), 0, 255).astype(np.uint8)
    rgb = cv2.applyColorMap(255 - norm, cv2.COLORMAP_TURBO)[:, :, ::-1]
    rgb[depth == 0] = 0
    return np.ascontiguousarray(rgb)
