"""Parts of the Annotate workspace kept apart from the coding core (annotate.py): the tracks under
the video (physiology, markers, spotted intervals, AU proxies), the EMG and spotting candidate
buttons, the reconciliation dialog, the crash journal of typed text and the keyboard shortcuts
(data: :mod:`app.gui.shortcuts`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QKeyCombination, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox

from acquisition.errors import MexlabError
from analysis.annotation.workspace_model import track_label
from app.gui.shortcuts import shortcut, shortcuts

BASELINES = ("first seconds", "selected event", "none")


class AnnotateExtras:
    """Mixin of :class:`~app.gui.workspaces.annotate.AnnotateWorkspace`."""

    # ------------------------------------------------------------------ widgets
    def _build_extras(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.emg_btn = QPushButton("EMG candidates", clicked=self.add_emg_candidates,
                                   toolTip="EMG bursts of the mapped channels as candidate events")
        self.baseline = QComboBox(toolTip="the quiet segment the EMG bursts are measured against")
        self.baseline.addItems(BASELINES)
        self.baseline_s = QSpinBox(minimum=1, maximum=600, value=10, suffix=" s", toolTip="baseline: first N seconds")
        self.baseline.currentIndexChanged.connect(lambda i: self.baseline_s.setEnabled(i == 0))
        self.spot_btn = QPushButton("Spotting candidates", clicked=self.add_spotting_candidates,
                                    toolTip="the intervals of analysis/spotting.json as candidate events")
        self.reconcile_btn = QPushButton("Reconcile…", clicked=self.reconcile,
                                         toolTip="two coders side by side; store the consensus")
        self.reliability_btn = QPushButton("Reliability…", clicked=self.show_reliability,
                                           toolTip="agreement between the coders, per clip and for the session")
        for w in (self.emg_btn, QLabel("baseline"), self.baseline, self.baseline_s, self.spot_btn, self.reconcile_btn,
                  self.reliability_btn):
            row.addWidget(w)
        row.addStretch(1)
        return row

    def _keys(self) -> None:
        """Shortcuts from :mod:`app.gui.shortcuts` (when the workspace has the focus); keyPressEvent
        does the same for keys sent straight here."""
        fns = {
            "step_forward": lambda: self.step(1), "step_back": lambda: self.step(-1),
            "step_forward_10": lambda: self.step(10), "step_back_10": lambda: self.step(-10),
            "play": self.toggle_play, "onset": self.mark_onset, "apex": self.mark_apex, "offset": self.mark_offset,
            "accept": lambda: self._set_status("accepted"), "reject": lambda: self._set_status("rejected"),
            "delete": self.delete_selected, "undo": self.undo, "redo": self.redo, "redo_alt": self.redo,
            "goto": lambda: self.goto.setFocus(), "cancel": self.cancel,
        }
        self._keymap = {}
        for aid in ("app.help", "app.help_alt"):   # the window's keys (F1, ?): here only for key presses
            seq = QKeySequence(shortcut(aid))      # sent straight to the workspace (no QShortcut: the
            if not seq.isEmpty():                  # main window's action would make it ambiguous)
                self._keymap[seq.toString()] = self.help_overlay.toggle
        for aid, keys in shortcuts("annotate.").items():
            fn = fns.get(aid.split(".", 1)[1])
            seq = QKeySequence(keys)
            if fn is None or seq.isEmpty():
                continue
            self._keymap[seq.toString()] = fn
            s = QShortcut(seq, self, activated=fn)
            s.setContext(Qt.WidgetWithChildrenShortcut)

    def keyPressEvent(self, ev) -> None:
        mods = ev.modifiers() & (Qt.ShiftModifier | Qt.ControlModifier | Qt.AltModifier)
        fn = self._keymap.get(QKeySequence(QKeyCombination(mods, Qt.Key(ev.key()))).toString())
        if fn is None and mods & Qt.ShiftModifier:      # "?" is Shift+/ on many keyboards
            fn = self._keymap.get(QKeySequence(QKeyCombination(mods & ~Qt.ShiftModifier,
                                                               Qt.Key(ev.key()))).toString())
        if fn is not None:
            fn()
            ev.accept()
        else:
            super().keyPressEvent(ev)

    # ------------------------------------------------------------------ tracks
    def _load_tracks(self) -> None:
        from analysis.annotation.session_tracks import au_traces, spotted_intervals

        self.tracks.clear_tracks()
        if self.clip.folder is None:
            self.tracks.set_events([])
            return
        from analysis.session_data import load

        data = load(self.clip.folder)
        t0 = float(self.clip.frame_times[0]) if self.clip.n_frames else data.start
        try:
            spans = spotted_intervals(self.clip)
        except MexlabError as exc:
            spans = []
            self.tracks.notes.append(str(exc))
        if spans:
            self.tracks.add_intervals("spotted", [(s.t0, s.t1, s.type, f"{s.type} {s.aus}".strip())
                                                  for s in spans])
        else:
            self.tracks.notes.append("spotted: no analysis/spotting.json (run Spot in Analyze)")
        t, aus, note = au_traces(self.clip)
        if aus:
            self.tracks.add_lines("AU proxies (0-1)", t, aus)
        elif note:
            self.tracks.notes.append(note)
        def unit(s, i):
            return s.units[i] if i < len(s.units or []) else None

        for s in data.of_kind("emg")[:1]:
            for i, lab in enumerate(s.labels):
                name = lab if lab.upper().startswith("EMG") else f"EMG {lab}"
                self.tracks.add_series(track_label(name, unit(s, i)), s.timestamps - t0,
                                       s.data[:, i].astype(float), (30, 60, 160))
        for s in data.of_kind("ecg")[:1]:
            self.tracks.add_series(track_label("ECG", unit(s, 0)), s.timestamps - t0, s.data[:, 0].astype(float),
                                   (170, 30, 30))
            try:
                from analysis.physio.ecg import analyse_cardiac

                hr = analyse_cardiac(s, "ecg")
                self.tracks.add_series("HR (bpm)", np.asarray(hr.hr_t) - t0, np.asarray(hr.hr_bpm), (200, 80, 0))
            except MexlabError as exc:   # heart rate is a help, not a requirement: say why it is missing
                self.tracks.notes.append(f"no HR track: {exc}")
        for s in data.of_kind("eda")[:1]:
            self.tracks.add_series(track_label("EDA", unit(s, 0)), s.timestamps - t0, s.data[:, 0].astype(float),
                                   (20, 130, 60))
        self.tracks.add_markers([(m.time - t0, m.event) for m in data.markers])
        self.time_axis.set_fps(self.clip.fps)
        self.tracks.show_window(0.0)
        if self.tracks.notes:
            self.status.setText(" · ".join(self.tracks.notes))

    # ------------------------------------------------------------------ candidates
    def baseline_segment(self) -> tuple[float, float] | None:
        """The EMG baseline on the session's clock (LSL s), from the baseline choice."""
        ft = self.clip.frame_times
        if ft.size == 0:
            return None
        mode = self.baseline.currentText()
        if mode == "first seconds":
            return float(ft[0]), float(ft[0]) + float(self.baseline_s.value())
        if mode == "selected event":
            sel = self.selected()
            if sel is None:
                raise MexlabError("baseline 'selected event': select the quiet stretch first "
                                  "(code it as an event, or pick one)")
            return float(ft[min(sel.onset, ft.size - 1)]), float(ft[min(sel.offset, ft.size - 1)])
        return None

    def add_emg_candidates(self) -> int:
        from analysis.annotation.emg_coding import session_candidates

        if self.clip is None:
            return 0
        try:
            evs, maps = session_candidates(self.clip, coder=self.coder, baseline=self.baseline_segment())
        except MexlabError as exc:
            self._say(str(exc), error=True)
            return 0
        if not maps:
            self._say("EMG candidates: the session has no EMG stream", error=True)
            return 0
        n = self.add_candidates(evs)
        self._say(f"EMG candidates: {n} new of {len(evs)} burst(s) on {len(maps)} channel(s)"
                  + self._matched_note())
        return n

    def add_spotting_candidates(self) -> int:
        from analysis.annotation.emg_coding import spotting_candidates

        if self.clip is None:
            return 0
        try:
            evs = spotting_candidates(self.clip, coder=self.coder)
        except MexlabError as exc:
            self._say(str(exc), error=True)
            return 0
        if not evs and not (self.clip.folder and (self.clip.folder / "analysis" / "spotting.json").is_file()):
            self._say("spotting candidates: no analysis/spotting.json (run Spot in Analyze first)", error=True)
            return 0
        n = self.add_candidates(evs)
        self._say(f"spotting candidates: {n} new of {len(evs)} interval(s)" + self._matched_note())
        return n

    def _matched_note(self) -> str:
        m = getattr(self, "last_matched", 0)
        return f"; {m} coincide with events you coded (not added: see their 'matches' column)" if m else ""

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c22;" if error else "")

    # ------------------------------------------------------------------ reconciliation
    def reconcile(self):
        """Open the reconciliation dialog (non-modal); returns it."""
        from app.gui.widgets.annotate_reconcile import ReconcileDialog

        if self.clip is None:
            self._say("open a session first", error=True)
            return None
        coders = self._store().coders(self.clip.session_id)
        if len([c for c in coders if c != "consensus"]) < 2:
            self._say(f"reconcile needs two coders of this session; coded by: {', '.join(coders) or 'nobody'}",
                      error=True)
            return None
        self.reconcile_dialog = ReconcileDialog(self._store(), self.clip, coders, self)
        self.reconcile_dialog.show()
        return self.reconcile_dialog

    def show_reliability(self) -> None:
        """Compute the session's reliability in a worker thread (it reads the XDF for the clips),
        then show it in :class:`ReliabilityDialog` (``self.reliability_dialog``)."""
        from analysis.annotation.service import session_reliability
        from analysis.annotation.store import AnnotationStore
        from app.gui.widgets.annotate_reliability import ReliabilityDialog
        from app.gui.workers import run_in_thread

        if self.clip is None:
            self._say("open a session first", error=True)
            return
        target = self.clip.folder or self.clip.rgb

        def work():
            with AnnotationStore(self.db_url) as store:   # its own connection: this runs off the GUI thread
                return session_reliability(store, [target])

        def done(rep):
            self.reliability_dialog = ReliabilityDialog(rep, self)
            self.reliability_dialog.show()
            self._say(f"reliability of {len(rep['clips'])} clip(s) between {', '.join(rep['coders'])}")

        self.reliability_btn.setEnabled(False)
        self._say("computing reliability…")
        self.reliability_job = run_in_thread(work, done, lambda msg: self._say(msg, error=True))
        self.reliability_job.signals.done.connect(lambda *_: self.reliability_btn.setEnabled(True))
        self.reliability_job.signals.failed.connect(lambda *_: self.reliability_btn.setEnabled(True))

    # ------------------------------------------------------------------ journal
    def _open_journal(self) -> None:
        from analysis.annotation.journal import Journal, replay

        if self.journal is not None:
            self.journal.close()
        self.journal = Journal.for_session(self.db_url, self.clip.session_id, self.coder, self.journal_dir)
        done = replay(self.journal, self.coding)
        if done:
            self._say(" · ".join(done))

    def _typed(self, field: str, text: str) -> None:
        """A keystroke in the notes or AU field: journal it before the debounced save."""
        sel = self.selected()
        if sel is None or self.journal is None or self._building:
            return
        self.journal.write(sel.uid, field, text)
        if field == "notes":
            self._notes_uid = sel.uid
            self._notes_timer.start()

    def _save_notes(self) -> None:
        """The debounced save of the notes, to the event they were typed for (even if another one
        is selected by now); the journal then marks them saved."""
        uid, self._notes_uid = self._notes_uid, None
        if uid is None or self.coding is None or uid not in self.coding.events:
            return
        sel = self.selected()
        text = self.notes.toPlainText() if (sel is not None and sel.uid == uid) else \
            (self.journal.pending().get((uid, "notes")) if self.journal else None)
        if text is None:
            return
        if self.coding.events[uid].notes != text:
            try:
                self.coding.update(uid, notes=text)
            except MexlabError as exc:
                self._say(str(exc), error=True)
                return
            self._refresh_events(select=sel.uid if sel else None)
        now = self.coding.events.get(uid) if self.coding else None
        if now is not None and now.notes == text and self.journal is not None:
            self.journal.saved(uid, "notes")

    def _save_aus(self) -> None:
        from analysis.annotation.model import format_aus

        sel = self.selected()
        self._edit(aus=self.aus.text())
        now = self.coding.events.get(sel.uid) if (sel is not None and self.coding) else None
        if now is None or self.journal is None:
            return
        try:
            if now.aus == format_aus(self.aus.text()):
                self.journal.saved(sel.uid, "aus")
        except MexlabError:
            pass          # not AUs yet: stays in the journal until corrected

    # ------------------------------------------------------------------ export
    def _export(self) -> None:
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog

        from analysis.annotation import formats

        path, _ = QFileDialog.getSaveFileName(self, "Export coding", "", "CSV (*.csv);;ELAN (*.eaf);;Excel (*.xlsx)")
        if path:
            fmt = "eaf" if path.endswith(".eaf") else "csv" if path.endswith(".csv") else "casme2"
            formats.export(Path(path), fmt, self.clip, {self.coder: self.coding.sorted()})
            self.status.setText(f"exported to {path}")
