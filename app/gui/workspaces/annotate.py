"""The Annotate workspace: code micro-expressions on RGB + depth video over EMG, ECG, EDA and
markers; every change saved to the catalog at once (undo/redo); EMG and spotting candidates to
accept or reject; blind coding (a coder sees only their own events).

Keys (app/gui/shortcuts.py, ``annotate.*``): ←/→ one frame, Shift+←/→ ten frames, Space
play/pause, I onset, P apex, O offset (I then O makes a new event), A accept, R reject, Delete
remove, Ctrl+Z / Ctrl+Shift+Z undo/redo, Ctrl+G go to a frame or time (``123`` or ``4.5s``).
Tracks, candidates, reconciliation, the crash journal and the keys: annotate_extras.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget, QAbstractItemView)

from acquisition.errors import MexlabError
from analysis.annotation.clip import Clip, open_clip
from analysis.annotation.model import EMOTION_SCHEMES, Coding, Event
from analysis.annotation.video_reader import VideoReader, colorize_depth
from app.gui.widgets.annotate_tracks import Tracks, TrackScroll
from app.gui.workspaces.annotate_extras import AnnotateExtras

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0)
COLUMNS = ("onset", "apex", "offset", "type", "AUs", "emotion", "status", "source")


def _pixmap(img: np.ndarray) -> QPixmap:
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    return QPixmap.fromImage(QImage(img.data, w, h, 3 * w, QImage.Format_RGB888).copy())


class AnnotateWorkspace(AnnotateExtras, QWidget):
    def __init__(self, db_url: str | None, coder: str | None = None, parent=None, journal_dir=None):
        super().__init__(parent)
        import getpass

        self.db_url = db_url
        self.coder = coder or getpass.getuser()
        self.store = None
        self.clip: Clip | None = None
        self.coding: Coding | None = None
        self.rgb = self.depth = None
        self.frame = 0
        self.pending_onset: int | None = None
        self.loop: tuple[int, int] | None = None
        self._building = False
        self.journal = None
        self.journal_dir = journal_dir       # None: the user data folder
        self._notes_uid: str | None = None
        self.reconcile_dialog = None
        self.reliability_dialog = None
        self._build()
        self.setFocusPolicy(Qt.StrongFocus)
        self._timer = QTimer(self, timeout=self._tick)
        self._notes_timer = QTimer(self, singleShot=True, interval=600, timeout=self._save_notes)
        self._keys()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        top = QHBoxLayout()
        self.open_btn = QPushButton("Open session…", clicked=self._ask_open)
        self.coder_edit = QLineEdit(self.coder, maximumWidth=140, toolTip="you: each coder sees only their own events")
        self.coder_edit.editingFinished.connect(self._coder_changed)
        self.info = QLabel("no session open")
        self.info.setStyleSheet("font-family: monospace; font-size: 13px; font-weight: bold;")
        self.status = QLabel("")
        top.addWidget(self.open_btn)
        top.addWidget(QLabel("coder"))
        top.addWidget(self.coder_edit)
        top.addWidget(self.info, 1)
        top.addWidget(self.status, 2)

        self.rgb_view, self.depth_view = QLabel(), QLabel()
        for v in (self.rgb_view, self.depth_view):
            v.setMinimumSize(320, 180)
            v.setAlignment(Qt.AlignCenter)
            v.setStyleSheet("background: #111;")
        videos = QHBoxLayout()
        videos.addWidget(self.rgb_view, 1)
        videos.addWidget(self.depth_view, 1)

        transport = QHBoxLayout()
        self.play_btn = QPushButton("Play", clicked=self.toggle_play, checkable=True)
        self.speed = QComboBox()
        self.speed.addItems([f"{s:g}x" for s in SPEEDS])
        self.speed.setCurrentIndex(3)
        self.loop_box = QCheckBox("loop selection")
        self.zoom = QComboBox()
        self.zoom.addItems(["1x", "1.5x", "2x", "3x"])
        self.zoom.currentIndexChanged.connect(lambda *_: self.show_frame(self.frame))
        self.goto = QLineEdit(placeholderText="go to frame or 4.5s", maximumWidth=150)
        self.goto.returnPressed.connect(lambda: self.go_to(self.goto.text()))
        for w in (self.play_btn, QLabel("speed"), self.speed, self.loop_box, QLabel("face zoom"), self.zoom,
                  self.goto):
            transport.addWidget(w)
        transport.addStretch(1)

        self.tracks = Tracks()
        self.tracks.seek_requested.connect(lambda t: self.seek(self.clip.frame_at(t) if self.clip else 0))

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(videos, 3)
        lv.addLayout(transport)
        self.track_scroll = TrackScroll(self.tracks)
        lv.addWidget(self.track_scroll, 4)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.verticalHeader().hide()
        self.aus = QLineEdit(placeholderText="AU4+R12C")
        self.aus.editingFinished.connect(self._save_aus)
        self.aus.textEdited.connect(lambda text: self._typed("aus", text))
        self.scheme = QComboBox()
        self.scheme.addItems(list(EMOTION_SCHEMES))
        self.scheme.currentTextChanged.connect(self._fill_emotions)
        self.emotion = QComboBox()
        self._fill_emotions(self.scheme.currentText())
        self.emotion.activated.connect(lambda *_: self._edit(emotion=self.emotion.currentText() or None))
        self.type = QComboBox()
        self.type.addItems(["auto", "micro", "macro"])
        self.type.activated.connect(self._type_changed)
        self.conf = QDoubleSpinBox(minimum=0, maximum=1, singleStep=0.1, specialValueText="-")
        self.conf.editingFinished.connect(lambda: self._edit(confidence=self.conf.value() or None))
        self.notes = QPlainTextEdit(maximumHeight=80)
        self.notes.textChanged.connect(lambda: self._typed("notes", self.notes.toPlainText()))
        form = QFormLayout()
        for lab, w in (("AUs", self.aus), ("scheme", self.scheme), ("emotion", self.emotion), ("type", self.type),
                       ("confidence", self.conf), ("notes", self.notes)):
            form.addRow(lab, w)
        buttons = QHBoxLayout()
        for text, fn in (("Accept (A)", lambda: self._set_status("accepted")),
                         ("Reject (R)", lambda: self._set_status("rejected")),
                         ("Delete", self.delete_selected), ("Export…", self._export)):
            buttons.addWidget(QPushButton(text, clicked=fn))
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(QLabel("events (I onset · P apex · O offset)"))
        rv.addWidget(self.table, 1)
        rv.addLayout(form)
        rv.addLayout(buttons)
        lv.addLayout(self._build_extras())

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addWidget(split, 1)

    # ------------------------------------------------------------------ opening
    def _store(self):
        if self.store is None:
            from analysis.annotation.store import AnnotationStore

            self.store = AnnotationStore(self.db_url)
        return self.store

    def _ask_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a session folder")
        if folder:
            self.open_session(folder)

    def open_video(self, path) -> None:
        self.open_session(path)

    def open_session(self, folder) -> None:
        """Open a session folder (or a plain video file): video, tracks, this coder's events."""
        self.close_session()
        self.clip = open_clip(Path(folder))
        if self.clip.rgb is None:
            raise MexlabError(f"{folder}: the session has no video (rgb.mkv) to code")
        self.rgb = VideoReader(self.clip.rgb)
        self.depth = VideoReader(self.clip.depth, "gray16le", convert=colorize_depth) if self.clip.depth else None
        if self.clip.n_frames == 0:
            self.clip.frame_times = np.arange(self.rgb.n_frames) / self.clip.fps
        from analysis.annotation.session_tracks import face_boxes

        self._face_boxes = face_boxes(self.clip)  # face zoom follows the face when spotting has run
        self._load_tracks()
        self._load_coding()
        self.seek(0)

    def close_session(self) -> None:
        self._timer.stop()
        if self._notes_timer.isActive():
            self._notes_timer.stop()
            self._save_notes()
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        for r in (self.rgb, self.depth):
            if r is not None:
                r.close()
        self.rgb = self.depth = self.clip = self.coding = None

    def _coder_changed(self) -> None:
        name = self.coder_edit.text().strip()
        if name and name != self.coder:
            self.coder = name
            if self.clip is not None:
                self._load_coding()

    def _load_coding(self) -> None:
        evs = self._store().events(self.clip.session_id, self.coder)
        self.coding = Coding(self.coder, self.clip.fps, evs, on_change=self._save)
        self._open_journal()
        self._refresh_events()

    # ------------------------------------------------------------------ video
    def seek(self, n: int) -> None:
        if self.clip is None:
            return
        n = int(min(max(n, 0), max(self.rgb.n_frames, self.clip.n_frames) - 1))
        self.show_frame(n)

    def step(self, k: int) -> None:
        self.seek(self.frame + k)

    def go_to(self, text: str) -> None:
        text = text.strip().lower()
        try:
            n = self.clip.frame_at(float(text[:-1])) if text.endswith("s") else int(text)
        except ValueError:
            self.status.setText(f"'{text}' is neither a frame number nor a time like 4.5s")
            return
        self.seek(n)
        self.setFocus()

    def show_frame(self, n: int) -> None:
        if self.clip is None:
            return
        self.frame = n
        zoom = float(self.zoom.currentText()[:-1])
        try:
            imgs = [self.rgb.frame(n, ahead=False)]
            if self.depth is not None:
                imgs.append(self.depth.frame(n, ahead=False))
            for r in (self.rgb, self.depth):        # read the next frames ahead, both videos decoded first
                if r is not None:
                    r.prefetch(n)
        except (IndexError, MexlabError) as exc:
            self.status.setText(str(exc))
            return
        box = None
        boxes = getattr(self, "_face_boxes", None)
        if zoom > 1 and boxes is not None and 0 <= n < len(boxes):
            box = boxes[n]
        for view, img in zip((self.rgb_view, self.depth_view), imgs):
            if zoom > 1:
                from analysis.annotation.session_tracks import zoom_window

                h, w = img.shape[:2]
                b = None
                if box is not None:  # boxes are in colour pixels; depth may be another size
                    sx, sy = w / imgs[0].shape[1], h / imgs[0].shape[0]
                    b = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
                y0, y1, x0, x1 = zoom_window((h, w), zoom, b)
                img = img[y0:y1, x0:x1]
            view.setPixmap(_pixmap(img).scaled(view.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))
        t = self.clip.time_of(n)
        pend = f"   onset set at {self.pending_onset}, O to close" if self.pending_onset is not None else ""
        self.info.setText(f"frame {n} / {self.clip.n_frames - 1}   t = {t:8.3f} s{pend}")
        self.tracks.set_playhead(t)

    def toggle_play(self) -> None:
        if self.clip is None:
            return
        if self._timer.isActive():
            self._timer.stop()
            self.play_btn.setChecked(False)
        else:
            speed = SPEEDS[self.speed.currentIndex()]
            sel = self.selected()
            self.loop = (sel.onset, sel.offset) if (sel and self.loop_box.isChecked()) else None
            self._timer.start(max(1, int(1000 / (self.clip.fps * speed))))
            self.play_btn.setChecked(True)

    def _tick(self) -> None:
        nxt = self.frame + 1
        if self.loop and nxt > self.loop[1]:
            nxt = self.loop[0]
        if nxt >= self.rgb.n_frames:
            self.toggle_play()
            return
        self.show_frame(nxt)

    # ------------------------------------------------------------------ coding
    def _save(self, before, after):
        try:
            return self._store().apply(self.clip.session_id, before, after, by=self.coder)
        except MexlabError as exc:      # a conflict or the database gone: say so, reload the truth
            self.status.setText(str(exc))
            self.status.setStyleSheet("color: #c22;")
            QTimer.singleShot(0, self._load_coding)
            return None

    def selected(self) -> Event | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or self.coding is None:
            return None
        uid = self.table.item(rows[0].row(), 0).data(Qt.UserRole)
        return self.coding.events.get(uid)

    def mark_onset(self) -> None:
        sel = self.selected()
        if sel is not None and self.pending_onset is None and sel.onset <= self.frame <= sel.offset:
            self._edit(onset=self.frame)
        else:
            self.pending_onset = self.frame
            self.show_frame(self.frame)

    def mark_offset(self) -> None:
        if self.coding is None:
            return
        if self.pending_onset is not None:
            on, off = sorted((self.pending_onset, self.frame))
            self.pending_onset = None
            e = self.coding.add(Event(onset=on, offset=off, coder=self.coder))
            self._refresh_events(select=e.uid)
            self.show_frame(self.frame)
        elif self.selected() is not None:
            self._edit(offset=max(self.frame, self.selected().onset))

    def mark_apex(self) -> None:
        sel = self.selected()
        if sel is not None:
            self._edit(apex=min(max(self.frame, sel.onset), sel.offset))

    def _edit(self, **changes) -> None:
        sel = self.selected()
        if sel is None or self.coding is None or self._building:
            return
        if "onset" in changes and sel.apex is not None and changes["onset"] > sel.apex:
            changes["apex"] = None
        if "offset" in changes and sel.apex is not None and changes["offset"] < sel.apex:
            changes["apex"] = None
        try:
            if all(getattr(sel, k) == v for k, v in changes.items()):
                return
            self.coding.update(sel.uid, **changes)
        except MexlabError as exc:
            self.status.setText(str(exc))
            return
        self._refresh_events(select=sel.uid)

    def _type_changed(self) -> None:
        t = self.type.currentText()
        self._edit(type_overridden=False) if t == "auto" else self._edit(type=t, type_overridden=True)

    def _set_status(self, status: str) -> None:
        self._edit(status=status)

    def delete_selected(self) -> None:
        sel = self.selected()
        if sel is not None:
            self.coding.remove(sel.uid)
            self._refresh_events()

    def undo(self) -> None:
        if self.coding and self.coding.undo():
            self._refresh_events()

    def redo(self) -> None:
        if self.coding and self.coding.redo():
            self._refresh_events()

    def add_candidates(self, events: list[Event]) -> int:
        """Add EMG or spotting candidates (status candidate) to this coder's events; one already
        there (same source and frames) is not added twice. Returns how many were added."""
        have = {(e.source, e.onset, e.offset, e.aus) for e in self.coding.events.values()}
        n = 0
        for e in events:
            if (e.source, e.onset, e.offset, e.aus) in have:
                continue
            self.coding.add(Event(**{**e.content(), "coder": self.coder}))
            n += 1
        self._refresh_events()
        return n

    def _fill_emotions(self, scheme: str) -> None:
        self.emotion.clear()
        self.emotion.addItems([""] + list(EMOTION_SCHEMES[scheme]))

    def _refresh_events(self, select: str | None = None) -> None:
        self._building = True
        keep = select or (self.selected().uid if self.selected() else None)
        evs = self.coding.sorted() if self.coding else []
        self.table.setRowCount(len(evs))
        for r, e in enumerate(evs):
            vals = (e.onset, "" if e.apex is None else e.apex, e.offset, e.type + ("*" if e.type_overridden else ""),
                    e.aus, e.emotion or "", e.status, e.source)
            for c, v in enumerate(vals):
                it = QTableWidgetItem(str(v))
                it.setData(Qt.UserRole, e.uid)
                self.table.setItem(r, c, it)
            if e.uid == keep:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        self._building = False
        self._selected()
        t = self.clip.time_of if self.clip else (lambda f: 0.0)
        self.tracks.set_events([(t(e.onset), t(e.offset + 1), e.status, f"{e.aus} {e.emotion or ''}".strip())
                                for e in evs])

    def _selected(self) -> None:
        if self._building:
            return
        e = self.selected()
        self._building = True
        self.aus.setText(e.aus if e else "")
        self.emotion.setCurrentText(e.emotion or "" if e else "")
        self.type.setCurrentText(("micro" if e.type == "micro" else "macro") if e and e.type_overridden else "auto")
        self.conf.setValue(e.confidence or 0 if e else 0)
        if not self.notes.hasFocus():
            self.notes.setPlainText(e.notes if e else "")
        self._building = False
