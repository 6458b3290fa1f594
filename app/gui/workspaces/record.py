"""The Record workspace: devices and pre-flight, live previews and traces, counters, start/stop/mark,
the protocol panel and the live spotted-micro-expressions panel. A view over RecordController."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from acquisition.errors import MexlabError
from app.gui.widgets.counters import CountersTable
from app.gui.widgets.loss_banner import LossBanner
from app.gui.widgets.preview import FramePreview
from app.gui.widgets.protocol_launcher import ProtocolLauncher
from app.gui.widgets.record_setup import SOURCES, RecordSetup  # noqa: F401 (SOURCES: where it was)
from app.gui.widgets.spotted import SpottedPanel
from app.gui.widgets.traces import TracesPanel
from app.gui.workers import run_in_thread
from app.services.live_spotting import YIELD_QUEUE
from app.services.record_controller import (
    RecordController,
    config_from_settings,
    next_session_folder,
)
from app.services.settings import Settings


class RecordWorkspace(QWidget):
    session_finished = Signal(object)  # final sidecar dict
    _state_changed = Signal()

    def __init__(self, settings: Settings, controller: RecordController | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.controller = controller or RecordController()
        self.state = self.controller.state
        self.preflight_ok = False
        self.last_error: str | None = None
        self._build()
        self.state.events.phase.connect(lambda _v: self._state_changed.emit())
        self.state.events.preflight.connect(lambda _v: self._state_changed.emit())
        self._state_changed.connect(self._refresh_buttons)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        # poll at twice the preview rate: a new frame is shown on the first tick after it arrives
        self.timer.start(max(5, int(500 / max(1, settings.preview_fps))))
        self._refresh_buttons()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        left = self.setup = RecordSetup(self.settings)
        left.changed.connect(self._settings_changed)
        left.preflight_btn.clicked.connect(self.run_preflight)
        left.override_dead.toggled.connect(self._override_toggled)
        (
            self.source,
            self.camera_file,
            self.rgb_mode,
            self.depth_mode,
            self.required,
            self.preflight_btn,
            self.lights,
            self.override_dead,
            self.preflight_text,
            self.participant,
            self.out_root,
        ) = (
            left.source,
            left.camera_file,
            left.rgb_mode,
            left.depth_mode,
            left.required,
            left.preflight_btn,
            left.lights,
            left.override_dead,
            left.preflight_text,
            left.participant,
            left.out_root,
        )

        center = QWidget()
        cv = QVBoxLayout(center)
        # losses cannot be missed: a red banner with the counts, kept after the recording stops
        self.loss_banner = LossBanner()
        cv.addWidget(self.loss_banner)
        previews = QHBoxLayout()
        self.rgb_preview = FramePreview("RGB")
        self.depth_preview = FramePreview("Depth")
        previews.addWidget(self.rgb_preview)
        previews.addWidget(self.depth_preview)
        cv.addLayout(previews, 3)
        self.traces = TracesPanel()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.traces)
        cv.addWidget(scroll, 2)

        right = QWidget()
        rv = QVBoxLayout(right)
        buttons = QHBoxLayout()
        self.start_btn = QPushButton("● Start")
        self.stop_btn = QPushButton("■ Stop")
        self.mark_btn = QPushButton("Mark")
        self.start_btn.setStyleSheet("font-weight:bold;")
        self.start_btn.clicked.connect(self.start_recording)
        self.stop_btn.clicked.connect(self.stop_recording)
        self.mark_btn.clicked.connect(self.mark)
        for b in (self.start_btn, self.stop_btn, self.mark_btn):
            buttons.addWidget(b)
        rv.addLayout(buttons)
        self.elapsed = QLabel("00:00.0")
        self.elapsed.setAlignment(Qt.AlignCenter)
        self.elapsed.setStyleSheet("font-size:28px; font-family:monospace;")
        rv.addWidget(self.elapsed)
        self.status = QLabel("idle")
        self.status.setWordWrap(True)
        rv.addWidget(self.status)
        self.counters = CountersTable()
        self.counters.setMinimumHeight(150)  # two videos and a few streams stay readable during a run
        rv.addWidget(self.counters, 2)
        self.protocol_box = QGroupBox("Protocol")
        self.launcher = ProtocolLauncher()
        self.launcher.run_requested.connect(self.start_protocol)
        QVBoxLayout(self.protocol_box).addWidget(self.launcher)
        rv.addWidget(self.protocol_box, 3)
        spot = QGroupBox("Spotted micro-expressions (live)")
        self.spotted = SpottedPanel()
        self.spotted.list.setMinimumHeight(60)
        QVBoxLayout(spot).addWidget(self.spotted)
        rv.addWidget(spot, 1)
        self.live_spotting = None

        split = QSplitter()
        for w in (left, center, right):
            split.addWidget(w)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    # -- settings -------------------------------------------------------------------------------
    def _settings_changed(self, *_):
        self.setup.apply_to(self.settings)
        self.settings.save()
        self.preflight_ok = False
        self._refresh_buttons()

    # -- actions --------------------------------------------------------------------------------
    def run_preflight(self) -> None:
        self._settings_changed()
        self.preflight_text.setPlainText("checking cameras, LSL streams (measuring rates) and disk space …")
        self.preflight_btn.setEnabled(False)
        spot = self.spotted.enabled.isChecked()
        run_in_thread(
            lambda: self.controller.preflight(self.settings, live_spotting=spot), self._preflight_done, self._failed
        )

    def _override_toggled(self, _on: bool) -> None:
        rep = self.state.preflight
        if rep is not None and not self.controller.recording:
            self.preflight_ok = rep.ready(self.override_dead.isChecked())
            self._refresh_buttons()

    def _preflight_done(self, rep) -> None:
        self.preflight_ok = rep.ready(self.override_dead.isChecked())
        self.lights.show_report(rep, self.settings.source)
        if rep.preview:  # what the camera sees, before Start (the rig, a camera file)
            if rep.preview.get("rgb") is not None:
                self.rgb_preview.show_rgb(rep.preview["rgb"])
            if rep.preview.get("depth") is not None:
                self.depth_preview.show_depth(rep.preview["depth"])
        text = "\n".join(rep.lines())
        if self.preflight_ok:
            text += "\n\nREADY: Start is enabled."
        elif not rep.problems:
            text += "\n\nNOT READY: a stream is dead; fix it or tick 'start even with a dead stream'."
        else:
            text += "\n\nNOT READY: fix the problems above."
        text += f"\n(pre-flight took {getattr(rep, 'seconds', 0.0):.1f} s)"
        if self.settings.source == "simulate":
            text = "Source: the simulated participant rig (no hardware needed).\n" + text
        self.preflight_text.setPlainText(text)
        self.preflight_btn.setEnabled(True)
        self._refresh_buttons()

    def start_recording(self) -> None:
        if not self.preflight_ok or self.controller.active:
            return
        participant = self.participant.text().strip()
        try:
            Path(self.settings.output_folder).mkdir(parents=True, exist_ok=True)
            folder = next_session_folder(Path(self.settings.output_folder), participant)
            cfg = config_from_settings(self.settings, participant, folder)
        except (MexlabError, OSError) as exc:
            self._failed(str(exc))
            return
        self.start_btn.setEnabled(False)
        self.status.setText(f"starting … ({folder})")
        self._clear_live_view()
        self.controller.begin_start()
        run_in_thread(
            lambda: self.controller.start(cfg, attach=self._attach_live_spotting()), self._started, self._failed
        )

    def _clear_live_view(self) -> None:
        self.traces.clear()
        self.spotted.reset(None)
        self.loss_banner.hide()

    def _started(self, folder) -> None:
        self.status.setText(f"recording to {folder}")
        rec = self.controller.recorder
        self.spotted.t0 = rec.started_lsl if rec else None
        self.live_spotting = self.controller.attached
        if self.live_spotting is None:
            self.spotted.note.setText("live spotting is off (no colour video, or switched off)")

    def _attach_live_spotting(self):
        """A function for RecordController.start: live spotting attached between prepare and start (so it
        sees the first frame), with the face model the pre-flight loaded."""
        if not self.spotted.enabled.isChecked():
            self.controller.discard_spotter()
            return None
        emit = self.spotted.flag_arrived.emit

        def attach(rec):
            from app.services.live_spotting import LiveSpotting

            if rec.camera is None or "rgb" not in rec.camera.streams:
                return None
            ls = LiveSpotting(
                rec, emit, spotter=self.controller.take_spotter(), recognizer=self.controller.take_recognizer()
            )
            ls.start()
            return ls

        return attach

    def _stop_live_spotting(self) -> None:
        if self.live_spotting is not None:
            ls = self.live_spotting
            self.live_spotting = None
            ls.stop()  # the recorder's stop has already stopped it (after the last frame): a no-op then
            self.spotted.show_progress(ls.summary()["live_spotting"])

    # -- protocol runs ------------------------------------------------------------------------
    def start_protocol(
        self, name: str, windowed: bool = True, screen_index: int = 0, *, quick: bool = False, simulate: bool = False
    ) -> None:
        """Run a protocol as a recording: the orchestration ``mexlab run-protocol`` uses
        (app/protocol_session.ProtocolSession), waited on with Qt timers. ``quick`` and ``simulate``
        (simulated answers) are for checking a protocol, as in run-protocol."""
        from app.services.protocol_session import ProtocolSession

        if not self.preflight_ok or self.controller.active:
            return
        participant = self.participant.text().strip()
        try:
            ps = ProtocolSession(name, participant, quick=quick, simulate=simulate)
            Path(self.settings.output_folder).mkdir(parents=True, exist_ok=True)
            folder = next_session_folder(Path(self.settings.output_folder), participant)
            cfg = ps.configure(config_from_settings(self.settings, participant, folder))
        except (MexlabError, OSError) as exc:
            self._failed(str(exc))
            return
        self._protocol = {"session": ps, "windowed": windowed, "screen": screen_index}
        self.start_btn.setEnabled(False)
        self.launcher.run_btn.setEnabled(False)
        self.status.setText(f"starting protocol {ps.proto.name} … ({folder})")
        self._clear_live_view()
        self.controller.begin_start()
        run_in_thread(
            lambda: self.controller.start(cfg, attach=self._attach_live_spotting()),
            lambda f: (self._started(f), self._await_first_frame()),
            self._failed,
        )

    def _await_first_frame(self, tries: int = 0) -> None:
        from app.services.protocol_session import first_frame_arrived

        rec = self.controller.recorder
        if rec is None or rec.stopped:
            return
        if first_frame_arrived(rec):
            self._begin_protocol()
        elif tries > 300:
            self._failed("no video frame was recorded within 15 s: the protocol did not begin")
            run_in_thread(lambda: self.controller.stop("protocol did not begin"), self._stopped, self._failed)
        else:
            QTimer.singleShot(50, lambda: self._await_first_frame(tries + 1))

    def _begin_protocol(self) -> None:
        from PySide6.QtGui import QGuiApplication

        p = self._protocol
        ps, rec = p["session"], self.controller.recorder
        screens = QGuiApplication.screens()
        screen = screens[p["screen"]] if 0 <= p["screen"] < len(screens) else screens[0]
        run = ps.begin(rec, screen, windowed=p["windowed"], panel_host=self.launcher.show_panel)
        run.finished.connect(self._protocol_finished)
        self.status.setText(f"running {ps.describe()}, recording to {rec.folder}")
        run.start()

    def _protocol_finished(self, _state: str) -> None:
        reason = self._protocol["session"].finish()
        QTimer.singleShot(
            500, lambda: run_in_thread(lambda: self.controller.stop(reason), self._stopped, self._failed)
        )  # the video runs on a little

    @property
    def protocol_run(self):
        ps = (getattr(self, "_protocol", None) or {}).get("session")
        return ps.run if ps is not None else None

    def stop_recording(self) -> None:
        if not self.controller.recording:
            return
        run = self.protocol_run
        if run is not None and not run.done:
            run.abort("recording stopped by the experimenter")  # its end stops the recording
            return
        self.stop_btn.setEnabled(False)
        self.status.setText("stopping: letting LabRecorder take the last samples …")
        run_in_thread(lambda: self.controller.stop(), self._stopped, self._failed)

    def _stopped(self, meta) -> None:
        self._stop_live_spotting()
        self.show_losses(self.state.snapshot, final=True)
        self._refresh_buttons()
        if meta is not None:
            self.status.setText(self.state.message)
            self.session_finished.emit(meta)

    def mark(self) -> None:
        if self.controller.recording:
            self.controller.mark("manual")
            self.status.setText("marker sent")

    def _failed(self, message: str) -> None:
        self.preflight_btn.setEnabled(True)
        self.status.setText(f"error: {message}")
        self._refresh_buttons()
        self.last_error = message
        box = QMessageBox(QMessageBox.Warning, "mexlab", message, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()  # not exec(): the event loop (previews, a running recording) keeps going

    # -- live view ------------------------------------------------------------------------------
    def show_losses(self, snap: dict | None, final: bool = False) -> None:
        self.loss_banner.show_losses(snap, final)

    def _encoders_behind(self) -> bool:
        rec = self.controller.recorder
        return rec is not None and any(w.queue_depth > YIELD_QUEUE for w in list(rec.writers.values()))

    def _refresh_buttons(self) -> None:
        rec = self.controller.recording
        phase = self.state.phase
        self.start_btn.setEnabled(self.preflight_ok and not rec and phase == "idle")
        self.launcher.run_btn.setEnabled(self.preflight_ok and not rec and phase == "idle")
        self.stop_btn.setEnabled(rec and phase == "recording")
        self.mark_btn.setEnabled(rec and phase == "recording")
        for w in (
            self.source,
            self.camera_file,
            self.rgb_mode,
            self.depth_mode,
            self.required,
            self.out_root,
            self.participant,
            self.preflight_btn,
        ):
            w.setEnabled(not rec)
        if not rec and self.controller.recorder is not None and self.controller.recorder.stopped and phase == "idle":
            self.status.setText(self.state.message)

    def _tick(self) -> None:
        if self.live_spotting is not None and not self.controller.recording and self.state.phase == "idle":
            self._stop_live_spotting()  # the recording has ended and its stop is done
        if not self.controller.recording:
            if self.stop_btn.isEnabled():
                self._refresh_buttons()
            return
        import time as _time

        now = _time.monotonic()
        # the recording comes first: while an encoder falls behind, previews drop to 2 fps
        if self._encoders_behind() and now - getattr(self, "_last_preview", 0.0) < 0.5:
            frames = {}
        else:
            frames = self.controller.latest_frames()
            self._last_preview = now
        f = frames.get("rgb")
        if f is not None and f.camera_frame != self.rgb_preview.last_camera_frame:
            box = self.live_spotting.face_box if self.live_spotting is not None else None
            self.rgb_preview.show_rgb(f.image, box=box)
            self.rgb_preview.last_camera_frame = f.camera_frame
        d = frames.get("depth")
        if d is not None and d.camera_frame != self.depth_preview.last_camera_frame:
            self.depth_preview.show_depth(d.image)
            self.depth_preview.last_camera_frame = d.camera_frame
        behind = self._encoders_behind()
        # text and traces at 10 Hz; at 2 Hz while an encoder falls behind (the recording comes first)
        slow = now - getattr(self, "_last_slow", 0.0) >= (0.5 if behind else 0.1)
        if slow:
            self._last_slow = now
        snap = self.state.snapshot
        if snap and slow:
            t = snap["elapsed"]
            self.elapsed.setText(f"{int(t // 60):02d}:{t % 60:04.1f}")
            self.counters.update_from(snap)
            self.show_losses(snap)
        if slow:
            self.traces.update_from(self.controller.monitors())
            if self.live_spotting is not None:
                self.spotted.show_progress(self.live_spotting.summary()["live_spotting"])
        if self.stop_btn.isEnabled() != (self.state.phase == "recording"):
            self._refresh_buttons()
