"""A confusion matrix drawn as a heat map (rows: true class, columns: predicted), counts in cells."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget


class ConfusionPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.labels: list[str] = []
        self.matrix: list[list[int]] = []
        self.setMinimumSize(260, 220)

    def set_matrix(self, labels, matrix) -> None:
        self.labels, self.matrix = list(labels or []), [list(r) for r in (matrix or [])]
        self.update()

    def paintEvent(self, _ev) -> None:  # noqa: N802 (Qt)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        if not self.labels or not self.matrix:
            p.setPen(QColor("#666"))
            p.drawText(self.rect(), Qt.AlignCenter, "no confusion matrix in this model's metadata")
            return
        n = len(self.labels)
        left, top = 90.0, 40.0
        side = max(10.0, min((self.width() - left - 10) / n, (self.height() - top - 10) / n))
        f = QFont(self.font())
        f.setPointSizeF(max(7.0, min(10.0, side / 6)))
        p.setFont(f)
        p.setPen(QColor("#333"))
        p.drawText(QRectF(left, 0, side * n, 18), Qt.AlignCenter, "predicted →")
        p.drawText(QRectF(0, top - 20, left - 4, 18), Qt.AlignRight | Qt.AlignVCenter, "true ↓")
        for j, lab in enumerate(self.labels):
            p.drawText(QRectF(left + j * side, 18, side, 20), Qt.AlignCenter, lab[:10])
            p.drawText(QRectF(0, top + j * side, left - 6, side), Qt.AlignRight | Qt.AlignVCenter, lab[:12])
        for i, row in enumerate(self.matrix):
            tot = max(1, sum(row))
            for j, v in enumerate(row):
                frac = v / tot  # share of the true class: the colour
                col = QColor.fromRgbF(1 - 0.8 * frac, 1 - 0.55 * frac, 1 - 0.2 * frac)
                r = QRectF(left + j * side, top + i * side, side, side)
                p.fillRect(r, col)
                p.setPen(QColor("#999"))
                p.drawRect(r)
                p.setPen(QColor("#fff") if frac > 0.55 else QColor("#222"))
                p.drawText(r, Qt.AlignCenter, str(v))
        p.end()
