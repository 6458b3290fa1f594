"""The experimenter's control panel for a protocol run (a plain QWidget, to embed anywhere).

It shows the current step (for a question: the question to ask, in large type), what the run waits
for, the next steps and the markers sent; its buttons continue an experimenter step, pause/resume,
skip a step, abort the run, and add a note or a manual marker. Use::

    panel = ProtocolPanel()
    panel.attach(run)      # an app.gui.protocol.run.ProtocolRun
    panel.confirm_abort = False   # no confirmation dialog (tests, headless)
"""

from __future__ import annotations

import pylsl
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

WAIT_TEXT = {
    "participant": "waiting for the participant",
    "experimenter": "waiting for you: press Continue",
    "video_end": "playing the clip to its end",
    "time": "timed",
}


class ProtocolPanel(QWidget):
    abortRequested = Signal(str)  # emitted before the run is aborted (reason)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.run = None
        self.confirm_abort = True
        self.setWindowTitle("mexlab - protocol control")
        self.header = QLabel("no protocol run")
        self.header.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.state = QLabel("")
        self.where = QLabel("")
        self.step_title = QLabel("")
        self.step_title.setStyleSheet("font-size: 14px; font-weight: bold;")
        self.prompt = QLabel("")
        self.prompt.setWordWrap(True)
        self.prompt.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.prompt.setStyleSheet(
            "font-size: 20px; padding: 8px; background: #FFF8DC; color: #222;"
            "border: 1px solid #C9B86A; border-radius: 4px;"
        )
        self.waiting = QLabel("")
        self.next_button = QPushButton("Continue ▶")
        self.pause_button = QPushButton("Pause")
        self.skip_button = QPushButton("Skip step")
        self.abort_button = QPushButton("Abort run")
        self.abort_button.setStyleSheet("color: #A00;")
        self.upcoming = QListWidget()
        self.events = QListWidget()
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note, or a marker label")
        self.note_button = QPushButton("Add note")
        self.marker_button = QPushButton("Marker")
        self._build()
        self.next_button.clicked.connect(lambda: self.run and self.run.experimenter_next())
        self.pause_button.clicked.connect(self._pause_resume)
        self.skip_button.clicked.connect(lambda: self.run and self.run.skip())
        self.abort_button.clicked.connect(self._abort)
        self.note_button.clicked.connect(lambda: self._note("note"))
        self.note_edit.returnPressed.connect(lambda: self._note("note"))
        self.marker_button.clicked.connect(lambda: self._note("marker"))
        self._tick = QTimer(self)
        self._tick.setInterval(200)
        self._tick.timeout.connect(self.refresh)
        self.refresh()

    def _build(self) -> None:
        # nothing here may change size with its text: long step texts must neither widen the window
        # nor move the buttons between steps (a click on Skip missed when they did)
        for label in (self.header, self.state, self.where, self.step_title, self.waiting):
            label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.prompt.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.prompt.setFixedHeight(self.prompt.fontMetrics().height() * 2 + 26)  # two lines of the question
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.state)
        row = QHBoxLayout()  # the buttons first: whatever the step shows below, they stay put
        for b in (self.next_button, self.pause_button, self.skip_button, self.abort_button):
            row.addWidget(b)
        lay.addLayout(row)
        cur = QGroupBox("Now")
        cl = QVBoxLayout(cur)
        cl.addWidget(self.where)
        cl.addWidget(self.step_title)
        cl.addWidget(self.prompt)
        cl.addWidget(self.waiting)
        lay.addWidget(cur)
        note = QHBoxLayout()
        note.addWidget(self.note_edit, 1)
        note.addWidget(self.note_button)
        note.addWidget(self.marker_button)
        lay.addLayout(note)
        nxt = QGroupBox("Next steps")
        QVBoxLayout(nxt).addWidget(self.upcoming)
        ev = QGroupBox("Markers sent")
        QVBoxLayout(ev).addWidget(self.events)
        lists = QHBoxLayout()
        lists.addWidget(nxt)
        lists.addWidget(ev)
        lay.addLayout(lists, 1)
        for lst in (self.upcoming, self.events):
            lst.setMinimumHeight(60)
        self.resize(760, 620)

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, run) -> None:
        self.run = run
        run.panel = self
        run.changed.connect(self.refresh)
        run.marker.connect(self._on_marker)
        run.finished.connect(lambda _s: self.refresh())
        self.events.clear()
        self._tick.start()
        self.refresh()

    def _on_marker(self, event: str, ts: float, fields: dict) -> None:
        what = fields.get("question") or fields.get("stimulus") or fields.get("step_id") or fields.get("text") or ""
        where = f"{fields.get('block') or ''}" + (f" t{fields['trial']}" if fields.get("trial") else "")
        self.events.addItem(f"{ts:10.3f}  {event:<15} {where:<14} {what}")
        while self.events.count() > 500:
            self.events.takeItem(0)
        self.events.scrollToBottom()

    def _pause_resume(self) -> None:
        if self.run is None:
            return
        if self.run.engine.state == "paused":
            self.run.resume()
        else:
            self.run.pause()
        self.refresh()

    def _abort(self) -> None:
        if self.run is None or self.run.done:
            return
        if self.confirm_abort:
            ans = QMessageBox.question(
                self,
                "Abort the run?",
                "Abort the protocol run? What was recorded so far is kept, and the session is marked as aborted.",
            )
            if ans != QMessageBox.Yes:
                return
        reason = "aborted by the experimenter"
        self.abortRequested.emit(reason)
        self.run.abort(reason)

    def _note(self, kind: str) -> None:
        if self.run is None or self.run.done:
            return
        text = self.note_edit.text().strip() or ("manual marker" if kind == "marker" else "")
        if not text:
            return
        self.run.note(text, kind)
        self.note_edit.clear()

    # -- view -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        run = self.run
        if run is None:
            for b in (
                self.next_button,
                self.pause_button,
                self.skip_button,
                self.abort_button,
                self.note_button,
                self.marker_button,
            ):
                b.setEnabled(False)
            return
        eng, plan = run.engine, run.plan
        group = f", group {plan.group}" if plan.group else ""
        quick = " (quick)" if plan.quick else ""
        self.header.setText(f"{plan.protocol.title}{quick}  -  participant {plan.participant}{group}")
        n = len(plan.steps)
        if eng.state == "aborted" and eng.aborted_at:  # where it stopped, not the closing steps after
            where = f"at step {eng.aborted_at['step']} of {eng.aborted_at['of']}"
        else:
            where = f"step {min(eng.index + 1, n)} of {n}"
        self.state.setText(f"{eng.state.upper()}   {where}" + (f"   ({run.error})" if run.error else ""))
        self.state.setToolTip(self.state.text())
        self.header.setToolTip(self.header.text())
        s = eng.step
        if s is None:
            self.where.setText("")
            self.step_title.setText("run ended" if eng.done else "")
            self.prompt.setText("")
            self.waiting.setText(eng.abort_reason or "")
        else:
            trial = f", trial {s.trial} of {s.trials_in_block}" if s.trial else ""
            cond = f", condition {s.vars['condition']}" if "condition" in s.vars else ""
            self.where.setText(f"block {s.block} ({s.block_title}){trial}{cond}")
            p = s.params
            kind = f" [{p['kind']}]" if s.type == "question" else ""
            self.step_title.setText(f"{s.type}: {s.id}{kind}")
            prompt = p.get("text", "") if s.type in ("question", "act", "instructions") else p.get("message", "")
            if s.type == "stimulus":
                prompt = str(p.get("stimulus", ""))
            self.prompt.setText(prompt)
            self.prompt.setToolTip(prompt)
            self.prompt.setVisible(True)  # always there (empty or not): nothing below moves
            wait = eng.waiting_for
            text = WAIT_TEXT.get(wait, "showing…") if wait else "showing…"
            if eng.deadline is not None and eng.state == "running":
                text += f"  ({max(0.0, eng.deadline - pylsl.local_clock()):.1f} s left)"
            if eng.state == "paused":
                text = "PAUSED: press Resume"
            self.waiting.setText(text)
        self.upcoming.clear()
        for u in eng.upcoming(8):
            self.upcoming.addItem(u.label())
        live = not run.done
        self.next_button.setEnabled(live and eng.waiting_for == "experimenter" and eng.state == "running")
        self.pause_button.setEnabled(live and eng.state in ("running", "paused"))
        self.pause_button.setText("Resume" if eng.state == "paused" else "Pause")
        self.skip_button.setEnabled(live and eng.state == "running" and s is not None)
        for b in (self.abort_button, self.note_button, self.marker_button):
            b.setEnabled(live)
