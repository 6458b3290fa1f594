"""The Record workspace's live panel of spotted micro-expressions: apex thumbnail, type, AUs, time in
the session and the nearest protocol event. A flag appears provisional (grey, "?"), and turns into a
confirmed flag or is struck out as withdrawn when the spotter's later checks decide."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QCheckBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

NOTE = "Flags appear here within half a second of an expression's end (grey until confirmed, about a second later)."


class SpottedPanel(QWidget):
    flag_arrived = Signal(object)  # app.services.live_spotting.SpotFlag, from the spotting thread

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.enabled = QCheckBox("spot micro-expressions live while recording")
        self.enabled.setChecked(True)
        lay.addWidget(self.enabled)
        self.note = QLabel(NOTE)
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        self.list = QListWidget()
        self.list.setIconSize(QSize(64, 64))
        self.list.setWordWrap(True)
        lay.addWidget(self.list, 1)
        self.flag_arrived.connect(self._add)
        self.t0: float | None = None
        self.count = 0  # confirmed flags
        self.items: dict[int, QListWidgetItem] = {}  # rows by the flag's key
        self._confirmed: set[int] = set()

    def reset(self, t0: float | None) -> None:
        self.list.clear()
        self.items.clear()
        self._confirmed.clear()
        self.t0 = t0
        self.count = 0
        self.note.setText(NOTE)

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
        state = getattr(f, "state", "confirmed")
        key = getattr(f, "key", -1)
        item = self.items.get(key) if key >= 0 else None
        if item is None:
            if state == "withdrawn":
                return
            item = QListWidgetItem()
            self.list.insertItem(0, item)
            if key >= 0:
                self.items[key] = item
        elif key in self._confirmed:
            return  # decided
        t = f.apex_t - (self.t0 or 0.0)
        text = (
            f"{f.type.upper()}  {'+'.join(f.aus) or '-'}  at {int(t // 60):02d}:{t % 60:04.1f}  "
            f"(frames {f.onset}-{f.offset}, score {f.score:.2f}, flagged {f.latency_s * 1000:.0f} ms after offset)"
        )
        if sf.label is not None and sf.confidence is not None:
            text += f"  {sf.label} ({sf.confidence:.2f})"
        if sf.nearest_event:
            text += f"\n   near {sf.nearest_event}"
        if state == "provisional":
            text = "? " + text + "\n   provisional: the next frames confirm it or take it back"
        elif state == "withdrawn":
            text = "withdrawn (the next frames did not confirm it): " + text
        item.setText(text)
        if f.thumbnail is not None:
            th = np.ascontiguousarray(f.thumbnail)
            h, w = th.shape[:2]
            item.setIcon(QIcon(QPixmap.fromImage(QImage(th.data, w, h, 3 * w, QImage.Format_RGB888).copy())))
        font = item.font()
        font.setStrikeOut(state == "withdrawn")
        font.setItalic(state == "provisional")
        item.setFont(font)
        if state != "confirmed":
            item.setForeground(QColor("#8a8a8a"))
        elif f.type == "micro":
            item.setForeground(QColor("#c0392b"))
        else:
            item.setForeground(self.list.palette().text().color())
        if state == "confirmed":
            self.count += 1
            if key >= 0:
                self._confirmed.add(key)
        self.note.setText(f"{self.count} expression(s) flagged")
