"""The Annotate workspace: code micro-expressions on RGB + depth video over EMG, ECG, EDA and
markers; every change saved to the catalog at once (undo/redo); EMG and spotting candidates to
accept or reject; blind coding (a coder sees only their own events).

Keys (app/gui/shortcuts.py, ``annotate.*``; F1 or ? shows them): ←/→ one frame, Shift+←/→ ten
frames, Space play/pause, I onset, P apex, O offset, Escape drop the new event, A accept, R reject,
Delete remove, Ctrl+Z / Ctrl+Shift+Z undo/redo, Ctrl+G go to a frame or time (``123`` or ``4.5s``).

A view composed around Qt-free models that tests drive without a display: ``AnnotateModel`` and
``Playback`` (analysis/annotation/workspace_model.py: frame, selection, pending event, candidates,
coding rules, play clock), ``TrackSet``/``TrackWindow`` (track_set.py), candidate_import.py,
``TypedText`` (journal.py), ``ReconcileChoices`` (consensus.py). Widgets: app/gui/widgets/annotate_*.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from acquisition.errors import MexlabError
from acquisition.session_read.frame_reader import FrameReader
from analysis.annotation.clip import open_clip
from analysis.annotation.model import Coding, Event
from analysis.annotation.track_set import load_tracks
from analysis.annotation.video_reader import colorize_depth
from analysis.annotation.workspace_model import AnnotateModel, Playback, frame_of
from app.gui.widgets import annotate_views as views
from app.gui.widgets.annotate_candidates import SessionActions
from app.gui.widgets.annotate_keys import install_keys, key_action
from app.gui.widgets.annotate_tracks import TimeAxis, Tracks, TrackScroll
from app.gui.widgets.shortcut_help import ShortcutHelp

COLUMNS = views.COLUMNS  # the event table's columns


def _model_action(action: str, *args):
    """A workspace method that runs the model's ``action`` and shows the outcome (keys, buttons)."""

    def run(self) -> None:
        self._do(action, *args)

    run.__name__ = action if not args else f"{action}_{'_'.join(args)}"
    return run


class AnnotateWorkspace(QWidget):
    def __init__(self, db_url: str | None, coder: str | None = None, parent=None, journal_dir=None):
        super().__init__(parent)
        import getpass

        self.db_url, self.coder = db_url, coder or getpass.getuser()
        self.store = self.clip = self.coding = self.model = self.rgb = self.depth = None
        self.playback: Playback | None = None
        self.track_set = self.journal = self._face_boxes = None
        self.reading = None  # the worker reading a long session's streams before it opens
        self._dropped: str | None = None  # an event being coded when the session was closed
        self._building = False
        self.journal_dir = journal_dir  # None: the user data folder
        self._build()
        self.help_overlay = ShortcutHelp(self)
        self.setFocusPolicy(Qt.StrongFocus)
        self._timer = QTimer(self, timeout=self._tick)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._keymap = install_keys(
            self,
            {
                "step_forward": lambda: self.step(1),
                "step_back": lambda: self.step(-1),
                "step_forward_10": lambda: self.step(10),
                "step_back_10": lambda: self.step(-10),
                "play": self.toggle_play,
                "onset": self.mark_onset,
                "apex": self.mark_apex,
                "offset": self.mark_offset,
                "accept": lambda: self._set_status("accepted"),
                "reject": lambda: self._set_status("rejected"),
                "delete": self.delete_selected,
                "undo": self.undo,
                "redo": self.redo,
                "redo_alt": self.redo,
                "goto": lambda: self.goto.setFocus(),
                "cancel": self.cancel,
            },
            self.help_overlay.toggle,
        )

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.top = top = views.SessionBar(self.coder)
        self.open_btn, self.coder_edit, self.info, self.status = top.open_btn, top.coder_edit, top.info, top.status
        self.open_btn.clicked.connect(self._ask_open)
        self.coder_edit.editingFinished.connect(self._coder_changed)
        self.videos = views.VideoPanes()
        self.transport = tr = views.Transport()
        self.play_btn, self.speed, self.loop_box = tr.play_btn, tr.speed, tr.loop_box
        self.zoom, self.goto = tr.zoom, tr.goto
        self.play_btn.clicked.connect(self.toggle_play)
        self.zoom.currentIndexChanged.connect(lambda *_: self.show_frame(self.frame))
        self.goto.returnPressed.connect(lambda: self.go_to(self.goto.text()))
        self.tracks = Tracks()
        self.tracks.seek_requested.connect(lambda t: self.seek(self.clip.frame_at(t) if self.clip else 0))
        self.time_axis = TimeAxis(self.tracks)
        self.track_scroll = TrackScroll(self.tracks)
        self.actions_bar = bar = SessionActions(
            self.db_url,
            lambda: (self.model, self.clip, self._store()) if self.clip is not None else None,
            self._after,
            self._say,
        )
        self.emg_btn, self.baseline, self.baseline_s = bar.emg_btn, bar.baseline, bar.baseline_s
        self.spot_btn, self.reconcile_btn, self.reliability_btn = bar.spot_btn, bar.reconcile_btn, bar.reliability_btn
        self.add_emg_candidates, self.add_spotting_candidates = bar.add_emg_candidates, bar.add_spotting_candidates
        self.reconcile, self.show_reliability = bar.reconcile, bar.show_reliability
        left = QWidget()
        lv = QVBoxLayout(left)
        for w, k in ((self.videos, 3), (self.transport, 0), (self.track_scroll, 4), (self.time_axis, 0), (bar, 0)):
            lv.addWidget(w, k)

        self.events = right = views.EventPanel(
            {
                "Accept (A)": lambda: self._set_status("accepted"),
                "Reject (R)": lambda: self._set_status("rejected"),
                "Delete": self.delete_selected,
                "Export…": self._export,
            }
        )
        right.selected, right.building = self.selected, lambda: self._building
        right.saved = lambda uid: self._refresh_events(select=uid)
        right.failed = lambda text: self._say(text, error=True)
        self.table, self.form = right.table, right.form
        f = self.form
        self.table.itemSelectionChanged.connect(self._selected)
        self.aus, self.scheme, self.emotion, self.type, self.conf, self.notes = (
            f.aus,
            f.scheme,
            f.emotion,
            f.type,
            f.conf,
            f.notes,
        )
        self.aus.editingFinished.connect(self._save_aus)
        self.emotion.activated.connect(lambda *_: self._edit(emotion=self.emotion.currentText() or None))
        self.type.activated.connect(self._type_changed)
        self.conf.editingFinished.connect(lambda: self._edit(confidence=self.conf.value() or None))

        split = QSplitter(Qt.Horizontal)
        for w in (left, right):
            split.addWidget(w)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        root = QVBoxLayout(self)
        root.addWidget(top)
        root.addWidget(split, 1)

    def keyPressEvent(self, ev) -> None:
        fn = key_action(self._keymap, ev)
        if fn is not None:
            fn()
            ev.accept()
        else:
            super().keyPressEvent(ev)

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

    def open_session(self, folder) -> None:
        """Open a session folder (or a plain video file): video, tracks, this coder's events. A long
        session whose streams were never read (recorded before the stream cache, or copied without
        it) has its XDF read once in a worker thread first, with a status line, then opens."""
        from analysis.annotation.session_tracks import face_boxes

        self.close_session()
        if self._read_streams_first(Path(folder)):
            return
        self.clip = open_clip(Path(folder))
        if self.clip.rgb is None:
            raise MexlabError(f"{folder}: the session has no video (rgb.mkv) to code")
        self.rgb = FrameReader(self.clip.rgb)
        self.depth = FrameReader(self.clip.depth, "gray16le", convert=colorize_depth) if self.clip.depth else None
        if self.clip.n_frames == 0:
            self.clip.frame_times = np.arange(self.rgb.n_frames) / self.clip.fps
        self._face_boxes = face_boxes(self.clip)  # face zoom follows the face when spotting has run
        self.track_set = load_tracks(self.clip)
        self.tracks.show_track_set(self.track_set)
        if self.tracks.notes:
            self.status.setText(" · ".join(self.tracks.notes))
        self._load_coding()
        self.seek(0)

    open_video = open_session

    #: an XDF larger than this is read in a worker thread when its streams are not kept yet
    READ_AHEAD_BYTES = 32 << 20

    def _read_streams_first(self, folder: Path) -> bool:
        """Start reading a large, not yet kept XDF of ``folder`` in a worker thread (the session opens
        when it is done); False when there is nothing to wait for."""
        from acquisition.session import is_session_folder, read_sidecar
        from acquisition.session_read.names import XDF_NAME
        from acquisition.session_read.stream_cache import is_kept, read_kept
        from app.gui.workers import run_in_thread

        if not folder.is_dir() or not is_session_folder(folder):
            return False
        try:
            xdf = folder / ((read_sidecar(folder).get("files") or {}).get("xdf") or XDF_NAME)
            size = xdf.stat().st_size
        except (MexlabError, OSError, AttributeError):
            return False  # open_clip says what is wrong
        if size < self.READ_AHEAD_BYTES or is_kept(xdf, folder):
            return False
        self._say(
            f"reading {folder.name}'s streams once ({size / 1e6:.0f} MB of {xdf.name}; about a minute per "
            "100 MB) — the session opens when it is done; it opens at once from then on"
        )
        self.reading = run_in_thread(
            lambda: read_kept(xdf, folder),
            lambda _r: (setattr(self, "reading", None), self.open_session(folder)),
            lambda msg: (setattr(self, "reading", None), self._say(f"{folder}: {msg}", error=True)),
        )
        return True

    def close_session(self) -> None:
        self._timer.stop()
        self.events.flush()
        if self.journal is not None:
            self.journal.close()
            self.journal = self.events.typed_text = None
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
        from analysis.annotation.journal import Journal, TypedText, replay

        evs = self._store().events(self.clip.session_id, self.coder)
        self.coding = Coding(self.coder, self.clip.fps, evs, on_change=self._save)
        n = max(self.rgb.n_frames, self.clip.n_frames) if self.rgb is not None else self.clip.n_frames
        old, self.model = self.model, AnnotateModel(self.coding, n)
        dropped, self._dropped = self._dropped, None
        if old is not None:  # reloaded (another coder, or the stored truth after a conflict)
            self.model.seek(old.frame)
            if old.coding.coder == self.coder:
                self.model.select(old.selected_uid)
                self.model.matches = {k: v for k, v in old.matches.items() if k in self.coding.events}
            if old.pending is not None:
                dropped = old.pending.describe()
        if self.journal is not None:
            self.journal.close()
        self.journal = Journal.for_session(self.db_url, self.clip.session_id, self.coder, self.journal_dir)
        self.events.typed_text = TypedText(self.journal, self.coding)
        done = replay(self.journal, self.coding)
        if done:
            self._say(" · ".join(done))
        self._refresh_events()
        if dropped:
            self._say(
                f"not stored: the {dropped.split(' (press')[0]} was being coded when the coding was "
                "reloaded; code it again",
                error=True,
            )

    # ------------------------------------------------------------------ video
    @property
    def frame(self) -> int:
        return self.model.frame if self.model is not None else 0

    @property
    def pending_onset(self) -> int | None:
        p = self.model.pending if self.model is not None else None
        return p.onset if p is not None else None

    def seek(self, n: int) -> None:
        if self.clip is not None and self.model is not None:
            self.show_frame(self.model.seek(n))

    def step(self, k: int) -> None:
        self.seek(self.frame + k)

    def go_to(self, text: str) -> None:
        try:
            n = frame_of(text, self.clip.frame_at)
        except ValueError:
            self.status.setText(f"'{text.strip()}' is neither a frame number nor a time like 4.5s")
            return
        self.seek(n)
        self.setFocus()

    def show_frame(self, n: int) -> None:
        if self.clip is None or self.model is None:
            return
        self.model.seek(n)
        zoom = self.transport.zoom_factor()
        try:
            imgs = [r.frame(n, ahead=False) for r in (self.rgb, self.depth) if r is not None]
            for r in (self.rgb, self.depth):  # read the next frames ahead, both videos decoded first
                if r is not None:
                    r.prefetch(n)
        except (IndexError, MexlabError) as exc:
            self.status.setText(str(exc))
            return
        boxes = self._face_boxes  # the face zoom follows the face once spotted
        box = boxes[n] if (zoom > 1 and boxes is not None and 0 <= n < len(boxes)) else None
        self.videos.show_frames(imgs, zoom, box)
        self._show_info()
        self.tracks.set_playhead(self.clip.time_of(n))

    def _show_info(self) -> None:
        """Frame, time, and what the coding keys will change: the pending event or the selected one."""
        self.info.setText(self.model.info_line(self.clip.time_of(self.model.frame), self.clip.n_frames - 1))

    def toggle_play(self) -> None:
        if self.clip is None:
            return
        if self._timer.isActive():
            self._timer.stop()
            self.play_btn.setChecked(False)
        else:
            speed = self.transport.speed_factor()
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
        except MexlabError as exc:  # a conflict or the database gone: say so, reload the truth
            self._say(str(exc), error=True)
            QTimer.singleShot(0, self._load_coding)
            return None

    def selected(self) -> Event | None:
        return self.model.selected() if self.model is not None else None

    def _say(self, text: str, error: bool = False) -> None:
        self.top.say(text, error)

    def _after(self) -> None:
        """Show what the model did: the events, the selection, its message, the info line."""
        self._refresh_events()
        self._say(self.model.message, error=self.model.error)
        if self.clip is not None:
            self._show_info()

    def _do(self, action, *args) -> None:
        """Run a model action (``mark``, ``cancel``, ``undo``, …) and show the outcome."""
        if self.model is not None and not self._building:
            getattr(self.model, action)(*args)
            self._after()

    mark_onset = _model_action("mark", "onset")
    mark_apex = _model_action("mark", "apex")
    mark_offset = _model_action("mark", "offset")
    cancel = _model_action("cancel")  # Escape: drop the pending event, else the selection
    delete_selected = _model_action("delete_selected")
    undo = _model_action("undo")
    redo = _model_action("redo")

    def _set_status(self, status: str) -> None:
        self._do("set_status", status)

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

    def _refresh_events(self, select: str | None = None) -> None:
        """Redraw the table, the form and the event bands from the model; the model's selection is
        the table's (``select`` makes that event the selection first)."""
        m = self.model
        if m is not None and select is not None:
            m.select(select)
        self._building = True
        self.table.fill(
            self.coding.sorted() if self.coding else [],
            m.selected_uid if m else None,
            m.match_text if m else (lambda uid: ""),
        )
        self.form.show_event(self.selected())
        self._building = False
        self._draw_events()

    def _draw_events(self) -> None:
        """The events as bands on the tracks, numbered as in the table, the selected one outlined."""
        spans, sel = self.model.event_spans(self.clip.time_of) if self.model and self.clip else ([], None)
        self.tracks.set_events(spans, selected=sel)

    def _selected(self) -> None:
        """The user picked a row (or cleared the selection): that is the model's selection now."""
        if self._building:
            return
        uid = self.table.picked_uid()
        if self.model is not None:
            self.model.select(uid)
            if uid is not None and self.model.pending is not None:
                self._say(
                    "a new event is being coded: I, P and O go to it until it is stored "
                    "(Escape drops it); the fields below edit the selected event",
                    error=True,
                )
            if self.clip is not None:
                self._show_info()
        self._building = True
        self.form.show_event(self.selected())
        self._building = False
        self._draw_events()

    # ------------------------------------------------------------------ candidates (buttons: SessionActions)
    reconcile_dialog = property(lambda self: self.actions_bar.reconcile_dialog)
    reliability_dialog = property(lambda self: self.actions_bar.reliability_dialog)

    def add_candidates(self, events: list[Event]) -> int:
        """Add EMG or spotting candidates (status candidate) to this coder's events (the model's
        rules: none twice, one coinciding with the coder's own event listed in its *matches*).
        Returns how many were added (``self.last_matched``: how many coincided)."""
        added, self.last_matched = self.model.add_candidates(events)
        self._refresh_events()
        return added

    # ------------------------------------------------------------------ export
    def _save_aus(self) -> None:
        sel = self.selected()
        self._edit(aus=self.aus.text())
        self.events.aus_applied(sel.uid if sel is not None else None)

    def _export(self) -> None:
        from analysis.annotation import formats

        path, _ = QFileDialog.getSaveFileName(self, "Export coding", "", "CSV (*.csv);;ELAN (*.eaf);;Excel (*.xlsx)")
        if path:
            fmt = "eaf" if path.endswith(".eaf") else "csv" if path.endswith(".csv") else "casme2"
            formats.export(Path(path), fmt, self.clip, {self.coder: self.coding.sorted()})
            self.status.setText(f"exported to {path}")
