"""The Annotate workspace: code micro-expressions on RGB + depth video over EMG, ECG, EDA and
markers; every change saved to the catalog at once (undo/redo); EMG and spotting candidates to
accept or reject; blind coding (a coder sees only their own events).

Keys (app/gui/shortcuts.py, ``annotate.*``; F1 or ? shows them): ←/→ one frame, Shift+←/→ ten
frames, Space play/pause, I onset, P apex, O offset, Escape drop the new event, A accept, R reject,
Delete remove, Ctrl+Z / Ctrl+Shift+Z undo/redo, Ctrl+G go to a frame or time (``123`` or ``4.5s``).

The coding rules (which event a key changes), the selection, the pending event, the candidates and
the playback clock live in the Qt-free :class:`analysis.annotation.workspace_model.AnnotateModel`;
this widget renders it and forwards keys. Tracks, candidates, reconciliation, the crash journal and
the keys: annotate_extras.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from acquisition.errors import MexlabError
from analysis.annotation.clip import Clip, open_clip
from analysis.annotation.model import Coding, Event
from analysis.annotation.workspace_model import AnnotateModel, Playback
from analysis.annotation.video_reader import VideoReader, colorize_depth
from app.gui.widgets.annotate_tracks import TimeAxis, Tracks, TrackScroll
from app.gui.widgets.annotate_views import COLUMNS, EventForm, EventTable, VideoPanes  # noqa: F401 - COLUMNS
from app.gui.widgets.shortcut_help import ShortcutHelp
from app.gui.workspaces.annotate_extras import AnnotateExtras

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0)


class AnnotateWorkspace(AnnotateExtras, QWidget):
    def __init__(self, db_url: str | None, coder: str | None = None, parent=None, journal_dir=None):
        super().__init__(parent)
        import getpass

        self.db_url = db_url
        self.coder = coder or getpass.getuser()
        self.store = None
        self.clip: Clip | None = None
        self.coding: Coding | None = None
        self.model: AnnotateModel | None = None
        self.rgb = self.depth = None
        self.playback: Playback | None = None
        self._dropped: str | None = None      # an event being coded when the session was closed
        self._building = False
        self.journal = None
        self.journal_dir = journal_dir       # None: the user data folder
        self._notes_uid: str | None = None
        self.reconcile_dialog = None
        self.reliability_dialog = None
        self._build()
        self.help_overlay = ShortcutHelp(self)
        self.setFocusPolicy(Qt.StrongFocus)
        self._timer = QTimer(self, timeout=self._tick)
        self._timer.setTimerType(Qt.PreciseTimer)
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

        self.videos = VideoPanes()

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
        self.time_axis = TimeAxis(self.tracks)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(self.videos, 3)
        lv.addLayout(transport)
        self.track_scroll = TrackScroll(self.tracks)
        lv.addWidget(self.track_scroll, 4)
        lv.addWidget(self.time_axis)

        self.table = EventTable()
        self.table.itemSelectionChanged.connect(self._selected)
        self.form = EventForm()
        f = self.form
        self.aus, self.scheme, self.emotion, self.type, self.conf, self.notes = \
            f.aus, f.scheme, f.emotion, f.type, f.conf, f.notes
        self.aus.editingFinished.connect(self._save_aus)
        self.aus.textEdited.connect(lambda text: self._typed("aus", text))
        self.emotion.activated.connect(lambda *_: self._edit(emotion=self.emotion.currentText() or None))
        self.type.activated.connect(self._type_changed)
        self.conf.editingFinished.connect(lambda: self._edit(confidence=self.conf.value() or None))
        self.notes.textChanged.connect(lambda: self._typed("notes", self.notes.toPlainText()))
        buttons = QHBoxLayout()
        for text, fn in (("Accept (A)", lambda: self._set_status("accepted")),
                         ("Reject (R)", lambda: self._set_status("rejected")),
                         ("Delete", self.delete_selected), ("Export…", self._export)):
            buttons.addWidget(QPushButton(text, clicked=fn))
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(QLabel("events (I onset · P apex · O offset · Esc drop · F1 or ? all keys)"))
        rv.addWidget(self.table, 1)
        rv.addWidget(self.form)
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
        if self.model is not None and self.model.pending is not None:
            self._dropped = self.model.pending.describe()
        self.rgb = self.depth = self.clip = self.coding = self.model = None

    def _coder_changed(self) -> None:
        name = self.coder_edit.text().strip()
        if name and name != self.coder:
            self.coder = name
            if self.clip is not None:
                self._load_coding()

    def _load_coding(self) -> None:
        evs = self._store().events(self.clip.session_id, self.coder)
        self.coding = Coding(self.coder, self.clip.fps, evs, on_change=self._save)
        n = max(self.rgb.n_frames, self.clip.n_frames) if self.rgb is not None else self.clip.n_frames
        old = self.model
        self.model = AnnotateModel(self.coding, n)
        dropped = self._dropped
        self._dropped = None
        if old is not None:                       # reloaded (another coder, or the stored truth after a conflict)
            self.model.seek(old.frame)
            if old.coding.coder == self.coder:
                self.model.select(old.selected_uid)
                self.model.matches = {k: v for k, v in old.matches.items() if k in self.coding.events}
            if old.pending is not None:
                dropped = old.pending.describe()
        self._open_journal()
        self._refresh_events()
        if dropped:
            self._say(f"not stored: the {dropped.split(' (press')[0]} was being coded when the coding was "
                      "reloaded; code it again", error=True)

    # ------------------------------------------------------------------ video
    @property
    def frame(self) -> int:
        return self.model.frame if self.model is not None else 0

    @property
    def pending_onset(self) -> int | None:
        p = self.model.pending if self.model is not None else None
        return p.onset if p is not None else None

    def seek(self, n: int) -> None:
        if self.clip is None or self.model is None:
            return
        self.show_frame(self.model.seek(n))

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
        if self.clip is None or self.model is None:
            return
        self.model.seek(n)
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
        boxes = getattr(self, "_face_boxes", None)      # the face zoom follows the face once spotted
        box = boxes[n] if (zoom > 1 and boxes is not None and 0 <= n < len(boxes)) else None
        self.videos.show_frames(imgs, zoom, box)
        self._show_info()
        self.tracks.set_playhead(self.clip.time_of(n))

    def _show_info(self) -> None:
        """Frame, time, and what the coding keys will change: the pending event or the selected one."""
        m = self.model
        n = m.frame
        sel = m.selected()
        if m.pending is not None:
            what = "   " + m.pending.describe()
        elif sel is not None and sel.onset <= n <= sel.offset:
            what = f"   I/P/O edit event #{m.number(sel.uid)} ({sel.onset}-{sel.offset})"
        else:
            what = ""
        self.info.setText(f"frame {n} / {self.clip.n_frames - 1}   t = {self.clip.time_of(n):8.3f} s{what}")

    def toggle_play(self) -> None:
        if self.clip is None:
            return
        if self._timer.isActive():
            self._timer.stop()
            self.play_btn.setChecked(False)
        else:
            speed = SPEEDS[self.speed.currentIndex()]
            sel = self.selected()
            loop = (sel.onset, sel.offset) if (sel and self.loop_box.isChecked()) else None
            self.playback = Playback(self.clip.fps, speed, self.frame, self.rgb.n_frames, loop)
            # tick at twice the frame rate: the frame shown is the wall clock's, not one per tick
            self._timer.start(max(1, int(500 / (self.clip.fps * speed))))
            self.play_btn.setChecked(True)

    def _tick(self) -> None:
        nxt = self.playback.due(self.frame)
        if nxt == -1:
            self.toggle_play()
        elif nxt is not None:
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
        return self.model.selected() if self.model is not None else None

    def _after(self) -> None:
        """Show what the model did: the events, the selection, its message, the info line."""
        self._refresh_events()
        self._say(self.model.message, error=self.model.error)
        if self.clip is not None:
            self._show_info()

    def _mark(self, which: str) -> None:
        if self.model is None or self._building:
            return
        self.model.mark(which)
        self._after()

    def mark_onset(self) -> None:
        self._mark("onset")

    def mark_apex(self) -> None:
        self._mark("apex")

    def mark_offset(self) -> None:
        self._mark("offset")

    def cancel(self) -> None:
        if self.model is not None:
            self.model.cancel()
            self._after()

    def _edit(self, **changes) -> None:
        if self.model is None or self._building or self.model.selected() is None:
            return
        if self.model.edit(**changes) is not None:
            self._refresh_events()
        elif self.model.error:
            self._say(self.model.message, error=True)

    def _type_changed(self) -> None:
        t = self.type.currentText()
        self._edit(type_overridden=False) if t == "auto" else self._edit(type=t, type_overridden=True)

    def _set_status(self, status: str) -> None:
        if self.model is not None:
            self.model.set_status(status)
            self._after()

    def delete_selected(self) -> None:
        if self.model is not None:
            self.model.delete_selected()
            self._after()

    def undo(self) -> None:
        if self.model is not None:
            self.model.undo()
            self._after()

    def redo(self) -> None:
        if self.model is not None:
            self.model.redo()
            self._after()

    def add_candidates(self, events: list[Event]) -> int:
        """Add EMG or spotting candidates (status candidate) to this coder's events; one already
        there (same source and frames) is not added twice, one that coincides with an event the
        coder made is shown in that event's *matches* column instead. Returns how many were added
        (``self.last_matched``: how many coincided)."""
        added, self.last_matched = self.model.add_candidates(events)
        self._refresh_events()
        return added

    def _refresh_events(self, select: str | None = None) -> None:
        """Redraw the table and the event bands from the model; the model's selection is the
        table's (``select`` makes that event the selection first)."""
        if self.model is not None and select is not None:
            self.model.select(select)
        self._building = True
        m = self.model
        self.table.fill(self.coding.sorted() if self.coding else [], m.selected_uid if m else None,
                        m.match_text if m else (lambda uid: ""))
        self._building = False
        self._show_selected()
        self._draw_events()

    def _draw_events(self) -> None:
        """The events as bands on the tracks, numbered as in the table, the selected one outlined."""
        evs = self.coding.sorted() if self.coding else []
        keep = self.model.selected_uid if self.model is not None else None
        t = self.clip.time_of if self.clip else (lambda f: 0.0)
        self.tracks.set_events([(t(e.onset), t(e.offset + 1), e.status, f"#{k} {e.aus} {e.emotion or ''}".strip())
                                for k, e in enumerate(evs, 1)],
                               selected=next((k for k, e in enumerate(evs) if e.uid == keep), None))

    def _selected(self) -> None:
        """The user picked a row (or cleared the selection): that is the model's selection now."""
        if self._building:
            return
        uid = self.table.picked_uid()
        if self.model is not None:
            self.model.select(uid)
            if uid is not None and self.model.pending is not None:
                self._say("a new event is being coded: I, P and O go to it until it is stored "
                          "(Escape drops it); the fields below edit the selected event", error=True)
            if self.clip is not None:
                self._show_info()
        self._show_selected()
        self._draw_events()

    def _show_selected(self) -> None:
        self._building = True
        self.form.show_event(self.selected())
        self._building = False
