"""The Record workspace's protocol box: choose a protocol and the participant display, run it as a
recording, and control it with the experimenter panel (pause, skip, abort, notes, manual markers)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class ProtocolLauncher(QWidget):
    run_requested = Signal(str, bool, int)  # protocol name, windowed display, screen index

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.protocol = QComboBox()
        self.protocol.setToolTip("built-in paradigms and the protocol files of your user folder")
        row.addWidget(self.protocol, 1)
        self.run_btn = QPushButton("▶ Run protocol")
        self.run_btn.clicked.connect(self._request)
        row.addWidget(self.run_btn)
        lay.addLayout(row)
        row2 = QHBoxLayout()
        self.windowed = QCheckBox("participant display in a window")
        self.screen = QComboBox()
        for i, s in enumerate(QGuiApplication.screens()):
            g = s.geometry()
            self.screen.addItem(f"screen {i}: {s.name() or 'screen'} {g.width()}x{g.height()}", i)
        if self.screen.count() > 1:
            self.screen.setCurrentIndex(1)  # the second screen is the participant's
        else:
            self.windowed.setChecked(True)
        row2.addWidget(self.windowed)
        row2.addWidget(self.screen, 1)
        lay.addLayout(row2)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        self.panel_holder = QVBoxLayout()
        lay.addLayout(self.panel_holder)
        self.panel = None
        self.reload()

    def reload(self) -> None:
        from protocols.library import list_protocols

        self.protocol.clear()
        try:
            entries = list_protocols()
        except Exception as exc:  # noqa: BLE001 - a broken user folder must not break the window
            entries = []
            self.note.setText(f"protocol library: {exc}")
        for e in entries:
            self.protocol.addItem(f"{e.name} ({e.origin})" if hasattr(e, "origin") else e.name, e.name)

    def _request(self) -> None:
        name = self.protocol.currentData()
        if name:
            self.run_requested.emit(name, self.windowed.isChecked(), int(self.screen.currentData() or 0))

    def show_panel(self, panel) -> None:
        """Embed the run's panel in a scroll area: however much it shows, it never makes the window grow
        (which hid the stream counters during a run)."""
        from PySide6.QtWidgets import QFrame, QScrollArea

        if getattr(self, "_scroll", None) is not None:
            self._scroll.takeWidget()  # the previous run's panel: handed back, not destroyed here
        if self.panel is not None:
            self.panel.setParent(None)
        if getattr(self, "_scroll", None) is None:
            self._scroll = QScrollArea()
            self._scroll.setWidgetResizable(True)
            self._scroll.setFrameShape(QFrame.NoFrame)
            self._scroll.setMinimumHeight(260)
            self.panel_holder.addWidget(self._scroll)
        self.panel = panel
        self._scroll.setWidget(panel)
