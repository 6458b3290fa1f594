"""Views of the Annotate workspace, each drawing what it is given: the video panes (RGB and
colour-mapped depth, face zoom), the transport row (play, speed, loop, zoom, go to), the event
table (one row per event of the coding, numbered as on the tracks, with the candidates each one
matches) and the form of the selected event."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0)
ZOOMS = (1.0, 1.5, 2.0, 3.0)
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


class SessionBar(QWidget):
    """The top row: Open session…, the coder's name (blind coding), the info line and the status line."""

    def __init__(self, coder: str, parent=None):
        from PySide6.QtWidgets import QLineEdit, QPushButton

        super().__init__(parent)
        self.open_btn = QPushButton("Open session…")
        self.coder_edit = QLineEdit(coder, maximumWidth=140, toolTip="you: each coder sees only their own events")
        self.info = QLabel("no session open")
        self.info.setStyleSheet("font-family: monospace; font-size: 13px; font-weight: bold;")
        self.status = QLabel("")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w, k in ((self.open_btn, 0), (QLabel("coder"), 0), (self.coder_edit, 0), (self.info, 1), (self.status, 2)):
            lay.addWidget(w, k)

    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c22;" if error else "")


class Transport(QWidget):
    """Play (checkable), speed, loop the selected event, face zoom, and the go-to field."""

    def __init__(self, parent=None):
        from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPushButton

        super().__init__(parent)
        self.play_btn = QPushButton("Play", checkable=True)
        self.speed = QComboBox()
        self.speed.addItems([f"{s:g}x" for s in SPEEDS])
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.loop_box = QCheckBox("loop selection")
        self.zoom = QComboBox()
        self.zoom.addItems([f"{z:g}x" for z in ZOOMS])
        self.goto = QLineEdit(placeholderText="go to frame or 4.5s", maximumWidth=150)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.play_btn, QLabel("speed"), self.speed, self.loop_box, QLabel("face zoom"), self.zoom, self.goto):
            lay.addWidget(w)
        lay.addStretch(1)

    def speed_factor(self) -> float:
        return SPEEDS[self.speed.currentIndex()]

    def zoom_factor(self) -> float:
        return ZOOMS[self.zoom.currentIndex()] if self.zoom.currentIndex() >= 0 else 1.0


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
            vals = (
                r + 1,
                e.onset,
                "" if e.apex is None else e.apex,
                e.offset,
                e.status,
                match_text(e.uid),
                e.type + ("*" if e.type_overridden else ""),
                e.aus,
                e.emotion or "",
                e.source,
            )
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
        from PySide6.QtWidgets import (
            QComboBox,
            QDoubleSpinBox,
            QFormLayout,
            QLineEdit,
            QPlainTextEdit,
        )

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
        for lab, w in (
            ("AUs", self.aus),
            ("scheme", self.scheme),
            ("emotion", self.emotion),
            ("type", self.type),
            ("confidence", self.conf),
            ("notes", self.notes),
        ):
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


class EventPanel(QWidget):
    """The right side of the workspace: the event table, the selected event's form and the
    Accept / Reject / Delete / Export buttons (``buttons``: name -> function). What the coder types
    in the notes and AU fields goes through a Qt-free
    :class:`~analysis.annotation.journal.TypedText` (``typed_text``, set per coding): journaled at
    each keystroke, the notes saved 600 ms after the last one (``notes_timer``)."""

    def __init__(self, buttons: dict, parent=None):
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QPushButton, QVBoxLayout

        super().__init__(parent)
        self.table = EventTable()
        self.form = EventForm()
        self.typed_text = None
        self.selected = lambda: None  # the workspace's selected event
        self.building = lambda: False  # True while the workspace fills the fields
        self.saved = lambda uid: None  # the notes of ``uid`` were saved: redraw
        self.failed = lambda text: None  # a refused save: say why
        self.notes_timer = QTimer(self, singleShot=True, interval=600, timeout=self.save_notes)
        self.form.aus.textEdited.connect(lambda text: self.typed("aus", text))
        self.form.notes.textChanged.connect(lambda: self.typed("notes", self.form.notes.toPlainText()))
        row = QHBoxLayout()
        for text, fn in buttons.items():
            row.addWidget(QPushButton(text, clicked=fn))
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("events (I onset · P apex · O offset · Esc drop · F1 or ? all keys)"))
        lay.addWidget(self.table, 1)
        lay.addWidget(self.form)
        lay.addLayout(row)

    def typed(self, field: str, text: str) -> None:
        """A keystroke in the notes or AU field: journaled before the debounced save."""
        sel = self.selected()
        if (
            sel is not None
            and self.typed_text is not None
            and not self.building()
            and self.typed_text.typed(sel.uid, field, text)
        ):
            self.notes_timer.start()

    def save_notes(self) -> None:
        """The debounced save of the notes, to the event they were typed for."""
        from acquisition.errors import MexlabError

        if self.typed_text is None:
            return
        sel = self.selected()
        try:
            changed = self.typed_text.save_notes((sel.uid, self.form.notes.toPlainText()) if sel is not None else None)
        except MexlabError as exc:
            self.failed(str(exc))
            return
        if changed:
            self.saved(sel.uid if sel else None)

    def flush(self) -> None:
        """Save notes still waiting for their debounce (the session is closing)."""
        if self.notes_timer.isActive():
            self.notes_timer.stop()
            self.save_notes()

    def aus_applied(self, uid: str | None) -> None:
        if uid is not None and self.typed_text is not None:
            self.typed_text.aus_saved(uid, self.form.aus.text())
