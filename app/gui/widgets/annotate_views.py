"""Two views of the Annotate workspace, each drawing what it is given: the video panes (RGB and
colour-mapped depth, face zoom) and the event table (one row per event of the coding, numbered as
on the tracks, with the candidates each one matches)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QWidget

COLUMNS = ("#", "onset", "apex", "offset", "status", "matches", "type", "AUs", "emotion", "source")


def _pixmap(img: np.ndarray) -> QPixmap:
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    return QPixmap.fromImage(QImage(img.data, w, h, 3 * w, QImage.Format_RGB888).copy())


class VideoPanes(QWidget):
    """The colour and depth frames side by side; with a zoom > 1, both cropped on the face box (in
    colour pixels; the depth frame may be another size) or on the centre."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rgb_view, self.depth_view = QLabel(), QLabel()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for v in (self.rgb_view, self.depth_view):
            v.setMinimumSize(320, 180)
            v.setAlignment(Qt.AlignCenter)
            v.setStyleSheet("background: #111;")
            lay.addWidget(v, 1)

    def show_frames(self, imgs: list[np.ndarray], zoom: float = 1.0, box=None) -> None:
        from analysis.annotation.session_tracks import zoom_window

        for view, img in zip((self.rgb_view, self.depth_view), imgs):
            if zoom > 1:
                h, w = img.shape[:2]
                b = None
                if box is not None:
                    sx, sy = w / imgs[0].shape[1], h / imgs[0].shape[0]
                    b = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
                y0, y1, x0, x1 = zoom_window((h, w), zoom, b)
                img = img[y0:y1, x0:x1]
            view.setPixmap(_pixmap(img).scaled(view.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))


class EventTable(QTableWidget):
    """One row per event (single selection of whole rows); each cell carries the event's uid."""

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().hide()

    def fill(self, events, selected_uid: str | None, match_text=lambda uid: "") -> None:
        """Rows for ``events`` (in order, numbered from 1), ``selected_uid``'s row selected."""
        self.clearSelection()
        self.setRowCount(len(events))
        for r, e in enumerate(events):
            vals = (r + 1, e.onset, "" if e.apex is None else e.apex, e.offset, e.status, match_text(e.uid),
                    e.type + ("*" if e.type_overridden else ""), e.aus, e.emotion or "", e.source)
            for c, v in enumerate(vals):
                it = QTableWidgetItem(str(v))
                it.setData(Qt.UserRole, e.uid)
                self.setItem(r, c, it)
            if e.uid == selected_uid:
                self.selectRow(r)
        self.resizeColumnsToContents()

    def picked_uid(self) -> str | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        return self.item(rows[0].row(), 0).data(Qt.UserRole) if rows else None


class EventForm(QWidget):
    """The fields of the selected event (AUs, emotion scheme and emotion, type, confidence, notes);
    the workspace connects their edits to the model and calls :meth:`show_event` to fill them."""

    def __init__(self, parent=None):
        from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QPlainTextEdit

        from analysis.annotation.model import EMOTION_SCHEMES

        super().__init__(parent)
        self.schemes = EMOTION_SCHEMES
        self.aus = QLineEdit(placeholderText="AU4+R12C")
        self.scheme = QComboBox()
        self.scheme.addItems(list(EMOTION_SCHEMES))
        self.scheme.currentTextChanged.connect(self.fill_emotions)
        self.emotion = QComboBox()
        self.fill_emotions(self.scheme.currentText())
        self.type = QComboBox()
        self.type.addItems(["auto", "micro", "macro"])
        self.conf = QDoubleSpinBox(minimum=0, maximum=1, singleStep=0.1, specialValueText="-")
        self.notes = QPlainTextEdit(maximumHeight=80)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for lab, w in (("AUs", self.aus), ("scheme", self.scheme), ("emotion", self.emotion), ("type", self.type),
                       ("confidence", self.conf), ("notes", self.notes)):
            form.addRow(lab, w)

    def fill_emotions(self, scheme: str) -> None:
        self.emotion.clear()
        self.emotion.addItems([""] + list(self.schemes[scheme]))

    def show_event(self, e) -> None:
        """The fields of ``e`` (None: empty); the notes are left alone while they are being typed in."""
        self.aus.setText(e.aus if e else "")
        self.emotion.setCurrentText(e.emotion or "" if e else "")
        self.type.setCurrentText(("micro" if e.type == "micro" else "macro") if e and e.type_overridden else "auto")
        self.conf.setValue(e.confidence or 0 if e else 0)
        if not self.notes.hasFocus():
            self.notes.setPlainText(e.notes if e else "")
