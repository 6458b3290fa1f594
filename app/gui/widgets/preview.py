"""Live video previews: colour frames as they are, depth colour-mapped, with an optional face box."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy


def colorize_depth(depth: np.ndarray, near_mm: float = 300.0, far_mm: float = 2000.0) -> np.ndarray:
    """uint16 depth (mm) -> RGB; invalid (0) stays black."""
    d = depth.astype(np.float32)
    norm = np.clip((d - near_mm) * (255.0 / (far_mm - near_mm)), 0, 255).astype(np.uint8)
    rgb = cv2.applyColorMap(255 - norm, cv2.COLORMAP_TURBO)[:, :, ::-1]
    rgb[depth == 0] = 0
    return np.ascontiguousarray(rgb)


class FramePreview(QLabel):
    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.title = title
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setStyleSheet("background:#111; color:#aaa;")
        self.setText(f"{title}: no frames")
        self.frames_shown = 0
        self.last_camera_frame: int | None = None
        self._image: QImage | None = None

    def show_rgb(self, rgb: np.ndarray, box=None) -> None:
        if box is not None:
            rgb = rgb.copy()
            x0, y0, x1, y1 = (int(v) for v in box)
            cv2.rectangle(rgb, (x0, y0), (x1, y1), (40, 220, 90), 2)
        h, w = rgb.shape[:2]
        rgb = np.ascontiguousarray(rgb)
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        pix = QPixmap.fromImage(self._image).scaled(self.size(), Qt.KeepAspectRatio, Qt.FastTransformation)
        self.setPixmap(pix)
        self.frames_shown += 1

    def show_depth(self, depth: np.ndarray) -> None:
        self.show_rgb(colorize_depth(depth))
