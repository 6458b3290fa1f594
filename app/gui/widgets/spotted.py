"""The Record workspace's live panel of spotted micro-expressions: apex thumbnail, type, AUs, time in
the session and the nearest protocol event."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QCheckBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class SpottedPanel(QWidget):
    flag_arrived = Signal(object)  # app.services.live_spotting.SpotFlag, from the spotting thread

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.enabled = QCheckBox("spot micro-expressions live while recording")
        self.enabled.setChecked(True)
        lay.addWidget(self.enabled)
        self.note = QLabel("Flags appear here within half a second of an expression's end.")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        self.list = QListWidget()
        self.list.setIconSize(QSize(64, 64))
        self.list.setWordWrap(True)
        lay.addWidget(self.list, 1)
        self.flag_arrived.connect(self._add)
        self.t0: float | None = None
        self.count = 0

    def reset(self, t0: float | None) -> None:
        self.list.clear()
        self.t0 = t0
        self.count = 0
        self.note.setText("Flags appear here within half a second of an expression's end.")

    def show_progress(self, summary: dict) -> None:
        """The flag count and, when the spotter could not keep up, how many frames it did not see."""
        text = f"{self.count} expression(s) flagged"
        skipped = summary.get("frames_skipped", 0)
        if skipped:
            text += (
                f"; {skipped} of {summary.get('frames_recorded', 0)} frames not spotted live (the machine "
                "was too busy; they are recorded, run Analyze → Spot afterwards)"
            )
        kept = summary.get("features") or {}
        if kept.get("complete"):
            text += "; every frame spotted: its features are kept, Analyze → Spot will not decode the video again"
        if summary.get("error"):
            text = summary["error"]
        if self.note.text() != text:
            self.note.setText(text)
            self.note.setStyleSheet("color:#c0392b;" if skipped or summary.get("error") else "")

    def _add(self, sf) -> None:
        f = sf.flag
        t = f.apex_t - (self.t0 or 0.0)
        text = (
            f"{f.type.upper()}  {'+'.join(f.aus) or '-'}  at {int(t // 60):02d}:{t % 60:04.1f}  "
            f"(frames {f.onset}-{f.offset}, score {f.score:.2f}, flagged {f.latency_s * 1000:.0f} ms after offset)"
        )
        if sf.nearest_event:
            text += f"\n   near {sf.nearest_event}"
        item = QListWidgetItem(text)
        if f.thumbnail is not None:
            th = np.ascontiguousarray(f.thumbnail)
            h, w = th.shape[:2]
            item.setIcon(QIcon(QPixmap.fromImage(QImage(th.data, w, h, 3 * w, QImage.Format_RGB888).copy())))
        if f.type == "micro":
            item.setForeground(QColor("#c0392b"))
        self.list.insertItem(0, item)
        self.count += 1
        self.note.setText(f"{self.count} expression(s) flagged")
