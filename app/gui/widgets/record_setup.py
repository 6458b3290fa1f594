"""The Record workspace's left column: the devices (source, camera file, modes, required LSL
streams), the pre-flight (button, a light per stream, the override, the report) and the session
(participant, output folder). Widgets only: the workspace connects them to its actions."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.widgets.stream_lights import StreamLights
from app.services.settings import MAX_FREE_MINUTES, Settings

SOURCES = [
    ("simulate", "Simulated participant rig"),
    ("live", "RealSense camera"),
    ("camera-file", "RealSense camera file (.db3/.bag)"),
    ("none", "No camera (LSL streams only)"),
]


class RecordSetup(QWidget):
    changed = Signal()  # a device or session setting was edited

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        lv = QVBoxLayout(self)
        dev = QGroupBox("Devices")
        form = QFormLayout(dev)
        self.source = QComboBox()
        for key, text in SOURCES:
            self.source.addItem(text, key)
        self.source.setCurrentIndex(max(0, [k for k, _ in SOURCES].index(settings.source)))
        self.source.currentIndexChanged.connect(lambda *_: self.changed.emit())
        form.addRow("Source", self.source)
        self.camera_file = QLineEdit(settings.camera_file)
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_camera_file)
        row = QHBoxLayout()
        row.addWidget(self.camera_file)
        row.addWidget(browse)
        form.addRow("Camera file", row)
        self.rgb_mode = QLineEdit(settings.rgb_mode)
        self.depth_mode = QLineEdit(settings.depth_mode)
        form.addRow("RGB mode", self.rgb_mode)
        form.addRow("Depth mode", self.depth_mode)
        self.required = QLineEdit(", ".join(settings.required_streams))
        self.required.setPlaceholderText("e.g. EMG, type=ECG, source_id=amp-1")
        form.addRow("Required LSL streams", self.required)
        lv.addWidget(dev)
        pf = QGroupBox("Pre-flight")
        pv = QVBoxLayout(pf)
        self.preflight_btn = QPushButton("Run pre-flight")
        self.lights = StreamLights()
        self.override_dead = QCheckBox("start even with a dead stream (it is recorded empty)")
        self.preflight_text = QPlainTextEdit()
        self.preflight_text.setReadOnly(True)
        self.preflight_text.setPlaceholderText("Run the pre-flight: cameras, LSL streams and their rates, disk space.")
        for w in (self.preflight_btn, self.lights, self.override_dead, self.preflight_text):
            pv.addWidget(w)
        lv.addWidget(pf)
        sess = QGroupBox("Session")
        sf = QFormLayout(sess)
        self.participant = QLineEdit()
        self.participant.setPlaceholderText("pseudonym, e.g. P001")
        sf.addRow("Participant", self.participant)
        self.out_root = QLineEdit(settings.output_folder)
        sf.addRow("Output folder", self.out_root)
        self.min_free = QDoubleSpinBox()
        self.min_free.setRange(0.0, MAX_FREE_MINUTES)
        self.min_free.setDecimals(1)
        self.min_free.setSuffix(" min")
        self.min_free.setValue(float(settings.min_free_minutes))
        self.min_free.setToolTip(
            "The pre-flight blocks Start when the output folder's disk holds less recording than this"
        )
        self.min_free.editingFinished.connect(self.changed.emit)
        sf.addRow("Disk must hold", self.min_free)
        for w in (self.camera_file, self.rgb_mode, self.depth_mode, self.required, self.out_root):
            w.editingFinished.connect(self.changed.emit)
        lv.addWidget(sess)
        lv.addStretch(1)

    def _browse_camera_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "RealSense camera file", "", "RealSense files (*.db3 *.bag)")
        if path:
            self.camera_file.setText(path)
            self.changed.emit()

    def apply_to(self, s: Settings) -> None:
        """Copy what the widgets say into the settings."""
        s.source = self.source.currentData()
        s.camera_file = self.camera_file.text().strip()
        s.rgb_mode, s.depth_mode = self.rgb_mode.text().strip(), self.depth_mode.text().strip()
        s.required_streams = [x.strip() for x in self.required.text().split(",") if x.strip()]
        s.output_folder = self.out_root.text().strip()
        s.min_free_minutes = float(self.min_free.value())
