"""The pre-flight's status lights: one row per thing that will be recorded (green flowing, amber rate
mismatch, red dead or missing), and the other programs' streams in grey as not recorded."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem

COLOURS = {"green": "#27ae60", "amber": "#e69b00", "red": "#c0392b", "grey": "#9a9a9a"}


def _dot(colour: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    p.setBrush(QColor(COLOURS[colour]))
    p.setPen(Qt.NoPen)
    p.drawEllipse(1, 1, 12, 12)
    p.end()
    return QIcon(pix)


class StreamLights(QListWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMaximumHeight(150)
        self.lights: dict[str, str] = {}  # row text -> colour (for tests and screenshots)

    def _add(self, colour: str, text: str) -> None:
        item = QListWidgetItem(_dot(colour), text)
        item.setToolTip(text)
        self.addItem(item)
        self.lights[text] = colour

    def show_report(self, rep, source: str) -> None:
        self.clear()
        self.lights = {}
        if source != "none":
            what = {"simulate": "simulated rig camera", "live": "RealSense camera", "camera-file": "camera file"}.get(
                source, source
            )
            bad = bool(rep.camera_error) or (source == "live" and not rep.cameras)
            self._add("red" if bad else "green", f"{what}: colour + depth video")
        for name in rep.missing:
            self._add("red", f"{name}: required, not on the network")
        for st in rep.streams:
            rate = (
                "no samples (dead)"
                if st.dead
                else f"{st.measured_srate:.1f} Hz of {st.stream.nominal_srate:g}"
                if st.stream.nominal_srate > 0 and st.measured_srate
                else "irregular"
            )
            self._add(st.light, f"{st.stream.name} [{st.stream.type or '-'}]: {rate}")
        for st in rep.others:
            self._add("grey", f"{st.stream.name}: another program's stream, not recorded")
