"""The main window: a thin frame around the workspaces (no god object: each workspace owns its logic).

It keeps one thing of its own: the session open. A session opened in Sessions or Analyze is the one
Annotate shows when its tab is next shown (a double-click on a spotted interval in Analyze opens it in
Annotate at that frame). F1 or ? shows the keys (app/gui/shortcuts.py) over the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget

from acquisition.errors import MexlabError
from app.gui.shortcuts import shortcut
from app.gui.widgets.shortcut_help import ShortcutHelp
from app.gui.workspaces.analyze import AnalyzeWorkspace
from app.gui.workspaces.annotate import AnnotateWorkspace
from app.gui.workspaces.models import ModelsWorkspace
from app.gui.workspaces.record import RecordWorkspace
from app.gui.workspaces.sessions import SessionsWorkspace
from app.services.settings import Settings


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, simulate: bool = False):
        super().__init__()
        self.settings = settings or Settings.load()
        if simulate:
            self.settings.source = "simulate"
        self.setWindowTitle("mexlab — micro-expression lab")
        self.resize(1400, 860)
        db = self.settings.database_url or None
        self.sessions = SessionsWorkspace(db)
        self.record = RecordWorkspace(self.settings)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.sessions, "Sessions")
        self.tabs.addTab(self.record, "Record")
        self.analyze = AnalyzeWorkspace(db)
        self.tabs.addTab(self.analyze, "Analyze")
        self.annotate = AnnotateWorkspace(db)
        self.tabs.addTab(self.annotate, "Annotate")
        self.tabs.addTab(ModelsWorkspace(db), "Models")
        self.sessions.open_in_annotate = self._annotate_session
        self.sessions.open_in_analyze = self._analyze_session
        self.setCentralWidget(self.tabs)
        self.current_folder = None  # the session open in Sessions/Analyze: Annotate follows it
        self.analyze.session_opened.connect(self._session_opened)
        self.analyze.open_in_annotate.connect(self.annotate_at)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.help_overlay = ShortcutHelp(self.tabs)
        self.record.session_finished.connect(lambda _meta: (self.sessions.refresh(), self.analyze.refresh()))
        self.banner = QLabel("")
        self.statusBar().addPermanentWidget(self.banner)
        self._actions()
        self.confirm_close = None  # tests replace the question box
        self.sessions.refresh()
        self.analyze.refresh()

    def _actions(self) -> None:
        def add(action_id, text, fn):
            a = QAction(text, self)
            a.setShortcut(QKeySequence(shortcut(action_id)))
            a.triggered.connect(fn)
            self.addAction(a)
            return a

        add("workspace.sessions", "Sessions", lambda: self.tabs.setCurrentWidget(self.sessions))
        add("workspace.record", "Record", lambda: self.tabs.setCurrentWidget(self.record))
        add("workspace.analyze", "Analyze", lambda: self.tabs.setCurrentWidget(self.analyze))
        add("workspace.annotate", "Annotate", lambda: self.tabs.setCurrentWidget(self.annotate))
        add("record.preflight", "Pre-flight", self.record.run_preflight)
        add("record.start", "Start recording", self.record.start_recording)
        add("record.stop", "Stop recording", self.record.stop_recording)
        add("record.mark", "Mark", self.record.mark)
        add("sessions.refresh", "Refresh sessions", self.sessions.refresh)
        add("sessions.recheck", "Re-check session", self.sessions.recheck)
        add("app.quit", "Quit", self.close)
        add("app.help", "Keyboard shortcuts", self.toggle_help)
        add("app.help_alt", "Keyboard shortcuts", self.toggle_help)

    def toggle_help(self) -> None:
        """F1 or ?: the keys over the window (in Annotate, over the workspace)."""
        if self.tabs.currentWidget() is self.annotate:
            self.annotate.help_overlay.toggle()
        else:
            self.help_overlay.toggle()

    def _session_opened(self, folder) -> None:
        self.current_folder = folder
        if self.tabs.currentWidget() is self.annotate:
            self._follow()

    def _tab_shown(self, *_):
        if self.tabs.currentWidget() is self.annotate:
            self._follow()

    def _follow(self) -> bool:
        """Annotate shows the session open elsewhere (if it can; else it says why)."""
        folder = self.current_folder
        clip = self.annotate.clip
        if folder is None or (
            clip is not None and clip.folder is not None and clip.folder.resolve() == Path(folder).resolve()
        ):
            return False
        try:
            self.annotate.open_session(folder)
        except MexlabError as exc:
            self.annotate._say(str(exc), error=True)
            self.say(str(exc))
            return False
        return True

    def annotate_at(self, folder, frame: int) -> None:
        """Open ``folder`` in Annotate (unless it is open there) at ``frame``."""
        self.current_folder = folder
        self.tabs.setCurrentWidget(self.annotate)
        self._follow()
        if self.annotate.clip is not None:
            self.annotate.seek(int(frame))
            self.annotate.setFocus()

    def _analyze_session(self, folder) -> None:
        self.analyze.open_session(folder)  # Annotate follows (session_opened)
        self.tabs.setCurrentWidget(self.analyze)

    def _annotate_session(self, folder) -> None:
        self.current_folder = folder
        self.analyze.open_session(folder)
        self.tabs.setCurrentWidget(self.annotate)
        self._follow()

    def say(self, text: str) -> None:
        self.banner.setText(text)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        ctrl = self.record.controller
        if ctrl.active:  # running, or starting: a start under way is waited for, then stopped
            box = QMessageBox(
                QMessageBox.Question,
                "Recording in progress",
                "A recording is running. Stop it cleanly and quit?"
                if ctrl.recording
                else "A recording is starting. Stop it cleanly once it has started, and quit?",
                QMessageBox.Yes | QMessageBox.No,
                self,
            )
            answer = self.confirm_close(box) if self.confirm_close else box.exec()
            if answer != QMessageBox.Yes:
                event.ignore()
                return
            self.say("stopping the recording …")
            ctrl.stop("window closed")
        self.settings.save()
        self.record.timer.stop()
        self.record.traces.clear()
        from app.gui.workers import wait_for_jobs

        wait_for_jobs(15.0)  # let running jobs (a stop, a check) finish
        event.accept()
