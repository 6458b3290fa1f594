"""One protocol run in the GUI thread: the engine, the participant display, sound, the simulated
participant and experimenter of ``--headless``, and the recorder's health.

The main window (or ``mexlab run-protocol``) does::

    run = ProtocolRun(plan, recorder.markers, recorder.folder, display, recorder=recorder)
    panel.attach(run)                 # app.gui.protocol.panel.ProtocolPanel
    run.finished.connect(on_done)     # "finished" or "aborted"
    run.start()

Timing: a single precise timer wakes the loop when something is due (a step's end, the next video
frame, a simulated answer); each change of picture is flipped by the display and its flip time goes
to the engine (marker timestamps) and, for video, to ``stimulus_frames.csv``. A frame whose due time
has passed when a newer one is also due is dropped (never shown) and counted.
"""

from __future__ import annotations

import random
import traceback

import pylsl
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.gui.protocol.audio import AudioPlayer
from protocols.engine import Engine
from protocols.errors import ProtocolError
from protocols.media import AudioReader, StimulusVideo
from protocols.plan import Plan
from protocols.runlog import RunLog

# seconds a simulated participant or experimenter takes (--quick; twice as long otherwise)
SIM_DELAYS = {"instructions": 0.3, "self_report": 0.7, "question": 0.8, "act": 0.5, "pause": 0.3}
EARLY_S = 0.001  # a frame due within 1 ms is shown now


def _guarded(method):
    """A control call that fails aborts the run (closed and marked) instead of escaping into Qt."""

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ProtocolError as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001
            self.log.write("error", traceback=traceback.format_exc())
            self._fail(f"internal error: {type(exc).__name__}: {exc}")
        self._kick()

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class ProtocolRun(QObject):
    changed = Signal()  # scene or state changed (the panel refreshes)
    marker = Signal(str, float, dict)  # every marker: event, LSL time, fields
    finished = Signal(str)  # "finished" or "aborted"

    def __init__(
        self,
        plan: Plan,
        markers,
        folder,
        display,
        *,
        recorder=None,
        simulate: bool = False,
        seed: int = 0,
        sound: bool = True,
    ):
        super().__init__()
        self.plan, self.display, self.recorder, self.simulate = plan, display, recorder, simulate
        self.log = RunLog(folder)
        self.engine = Engine(plan, markers, self.log)
        self.engine.listeners.append(self._on_engine)
        self.rng = random.Random(f"{plan.participant}|{seed}")
        self.audio = AudioPlayer(self) if sound else None
        self.panel = None  # set by ProtocolPanel.attach: simulated experimenter clicks go through it
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.timeout.connect(self._service)
        self._shown_version = 0
        self._video: dict | None = None
        self._prefetch: dict = {}
        self._sim: tuple | None = None
        self._simulating = False
        self._in_service = False
        self._next_progress = 0.0
        self.flips: list[tuple[float, float, str]] = []  # (before, after, what) of every flip
        self.videos: list[dict] = []  # per clip: frames shown, dropped, worst lateness
        self.error: str | None = None
        self.state = "ready"
        display.continued.connect(self._on_continue)
        display.responded.connect(self._on_response)

    # -- control (panel buttons, CLI, main window) -----------------------------------------------
    def start(self) -> None:
        why = "sound disabled"
        if self.audio is not None:
            why = None if self.audio.open() else self.audio.error
        self.log.write(
            "setup",
            platform=_platform(),
            screen=_screen(self.display),
            audio=why or "played",
            timing="QWidget.repaint, window-system sync: " + self.display.sync_method + ", then pylsl.local_clock()",
            simulate=self.simulate,
        )
        self.state = "running"
        self.engine.start()
        self._kick()

    @_guarded
    def experimenter_next(self) -> None:
        self.engine.experimenter_next(pylsl.local_clock(), simulated=self._simulating)
        self._kick()

    @_guarded
    def pause(self) -> None:
        t = pylsl.local_clock()
        if self.engine.pause(t):
            if self._video is not None:
                self._video["paused_at"] = t
            if self.audio:
                self.audio.pause()
        self._kick()

    @_guarded
    def resume(self) -> None:
        t = pylsl.local_clock()
        if self.engine.resume(t):
            v = self._video
            if v is not None and v["paused_at"] is not None:
                v["t_first"] += t - v["paused_at"]
                v["paused_at"] = None
            if self.audio:
                self.audio.resume()
        self._kick()

    @_guarded
    def skip(self) -> None:
        self.engine.skip(pylsl.local_clock())
        self._kick()

    @_guarded
    def abort(self, reason: str = "aborted by the experimenter") -> None:
        self.engine.abort(reason, pylsl.local_clock())
        self._kick()

    @_guarded
    def note(self, text: str, kind: str = "note") -> None:
        self.engine.note(text, pylsl.local_clock(), kind)

    @property
    def done(self) -> bool:
        return self.state in ("finished", "aborted")

    # -- the loop -------------------------------------------------------------------------------
    def _kick(self) -> None:
        if not self.done:
            self._timer.start(0)

    def _on_engine(self, event, ts, fields) -> None:
        if event == "scene":
            self.changed.emit()
        else:
            self.marker.emit(event, ts, fields)

    @_guarded
    def _on_continue(self, t: float) -> None:
        self.engine.respond({}, t, simulated=self._simulating)
        self._kick()

    @_guarded
    def _on_response(self, answers: dict, t: float) -> None:
        self.engine.respond(answers, t, simulated=self._simulating)
        self._kick()

    def _service(self) -> None:
        if self.done or self._in_service:
            return
        self._in_service = True
        eng = self.engine
        try:
            now = pylsl.local_clock()
            self._simulate(now)
            eng.tick(now)
            if eng.scene.version != self._shown_version:
                self._present(eng.scene)
            elif self._video is not None and eng.state == "running":
                self._advance_video(pylsl.local_clock())
            self._housekeeping()
        except ProtocolError as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - an aborted run must still be a closed, marked session
            self.log.write("error", traceback=traceback.format_exc())
            self._fail(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._in_service = False
        if eng.done:
            self._finish()
        else:
            self._schedule()

    def _fail(self, message: str) -> None:
        self.error = self.error or message
        if not self.engine.done:
            self.engine.abort(message, pylsl.local_clock())
            if self.engine.scene.version != self._shown_version:
                try:
                    self._present(self.engine.scene)
                except Exception:  # noqa: BLE001 - the display itself is broken: stamp with the clock
                    self._shown_version = self.engine.scene.version
                    self.engine.flipped(self.engine.scene.version, pylsl.local_clock())

    def _schedule(self) -> None:
        now = pylsl.local_clock()
        due = [now + 0.25]
        d = self.engine.next_deadline()
        if d is not None:
            due.append(d)
        v = self._video
        if v is not None and self.engine.state == "running" and v["paused_at"] is None:
            due.append(self._video_due(v))
        if self._sim is not None:
            due.append(self._sim[1])
        self._timer.start(max(0, int((min(due) - now) * 1000)))

    def _housekeeping(self) -> None:
        rec, now = self.recorder, pylsl.local_clock()
        if rec is None or now < self._next_progress:
            return
        if self._video is not None and self._video_due(self._video) - now < 0.015:
            return  # not now: a frame is due
        self._next_progress = now + 1.0
        rec.write_progress()
        reason = rec.should_stop()
        if reason is not None:
            self._fail(f"the recording stopped: {reason}")

    def _finish(self) -> None:
        self._stop_video()
        if self.audio is not None:
            self.audio.close()
        for readers in self._prefetch.values():
            for r in readers:
                if r is not None:
                    r.close()
        self._prefetch.clear()
        self.state = self.engine.state
        late = [(a - b) * 1000 for b, a, _ in self.flips]
        self.log.write(
            "summary",
            state=self.state,
            reason=self.engine.abort_reason,
            markers=self.engine.pushed,
            flips=len(self.flips),
            flip_call_ms_max=round(max(late, default=0.0), 3),
            unpainted_flips=self.display.unpainted,
            videos=self.videos,
            frames_dropped=sum(v["dropped"] for v in self.videos),
        )
        self.log.close()
        self.finished.emit(self.state)

    # -- pictures -------------------------------------------------------------------------------
    def _flip(self, what: str) -> float:
        t0, t1 = self.display.flip()
        self.flips.append((t0, t1, what))
        return t1

    def _present(self, scene) -> None:
        old = self._stop_video(close=False)  # closed after the flip: closing takes milliseconds
        try:
            self._present_scene(scene)
        finally:
            if old is not None:
                old.close()

    def _present_scene(self, scene) -> None:
        st = scene.step
        if scene.kind == "step" and st.type == "stimulus" and st.params["kind"] == "video":
            reader, audio = self._prefetch.pop(st.seq, (None, None))
            if reader is None:
                reader = StimulusVideo(st.params["file"], self.display.video_box())
                audio = AudioReader(st.params["file"]) if self._sound(st) else None
            first = reader.next(timeout=5.0)
            if first is None:
                reader.close()
                raise ProtocolError(
                    f"{st.source}: {st.params['file']}: no picture could be decoded"
                    + (f" ({reader.error})" if reader.error else "")
                )
            self.display.show_scene(scene)
            self.display.set_video_frame(first.rgb)
            t = self._flip("video")
            self._shown_version = scene.version
            self.engine.flipped(scene.version, t)
            self._video = {
                "reader": reader,
                "step": st,
                "t_first": t,
                "pts0": first.pts,
                "next": None,
                "eof": False,
                "last": first,
                "shown": 1,
                "dropped": 0,
                "late_max_ms": 0.0,
                "paused_at": None,
                "fps": reader.fps,
            }
            self.log.frame(st.params["stimulus"], st.seq, first.index, 0.0, t, t)
            if audio is not None and self.audio is not None:
                self.audio.start(audio)
            elif audio is not None:
                audio.close()
            self._peek(self._video)
        else:
            self.display.show_scene(scene)
            t = self._flip(scene.kind if st is None else st.type)
            self._shown_version = scene.version
            self.engine.flipped(scene.version, t)
        self._prefetch_next()

    def _prefetch_next(self) -> None:
        nxt = self.engine.upcoming(1)
        if not nxt:
            return
        s = nxt[0]
        if s.type == "self_report":
            self.display.prepare(s)
        if s.type == "stimulus" and s.params["kind"] == "video" and s.seq not in self._prefetch:
            self._prefetch[s.seq] = (
                StimulusVideo(s.params["file"], self.display.video_box()),
                AudioReader(s.params["file"]) if self._sound(s) else None,
            )

    def _sound(self, step) -> bool:
        return bool(step.params["audio"]) and self.audio is not None and self.audio.sink is not None

    def _peek(self, v: dict) -> None:
        if v["next"] is None and not v["eof"]:
            v["next"] = v["reader"].next(timeout=1.0)
            if v["next"] is None:
                v["eof"] = True

    def _video_due(self, v: dict) -> float:
        if v["next"] is not None:
            return v["t_first"] + v["next"].pts - v["pts0"]
        return v["t_first"] + v["last"].pts - v["pts0"] + 1.0 / v["fps"]  # end of the last frame

    def _advance_video(self, now: float) -> None:
        v = self._video
        if v["paused_at"] is not None:
            return
        cand = None
        while v["next"] is not None and v["t_first"] + v["next"].pts - v["pts0"] <= now + EARLY_S:
            if cand is not None:
                v["dropped"] += 1
            cand, v["next"] = v["next"], None
            self._peek(v)
        if cand is not None:
            self.display.set_video_frame(cand.rgb)
            t = self._flip("frame")
            due = v["t_first"] + cand.pts - v["pts0"]
            v["last"], v["shown"] = cand, v["shown"] + 1
            v["late_max_ms"] = max(v["late_max_ms"], (t - due) * 1000)
            self.log.frame(v["step"].params["stimulus"], v["step"].seq, cand.index, cand.pts - v["pts0"], due, t)
        if v["eof"] and v["next"] is None:
            end = self._video_due(v)
            if pylsl.local_clock() >= end - EARLY_S:
                self.engine.video_finished(end)

    def _stop_video(self, close: bool = True):
        """End the clip on screen (its summary goes to the log); returns its reader unless ``close``."""
        v, self._video = self._video, None
        if self.audio is not None:
            self.audio.stop()
        if v is None:
            return None
        if close:
            v["reader"].close()
        total = v["last"].index + 1
        info = {
            "stimulus": v["step"].params["stimulus"],
            "step_seq": v["step"].seq,
            "frames_shown": v["shown"],
            "dropped": v["dropped"],
            "last_frame": v["last"].index,
            "fps": v["fps"],
            "late_max_ms": round(v["late_max_ms"], 3),
            "complete": v["eof"] and v["next"] is None,
            "decoder_error": v["reader"].error,
        }
        info["frames_in_span"] = total
        self.videos.append(info)
        self.log.write("video_summary", **info)
        return None if close else v["reader"]

    # -- the simulated participant and experimenter (--headless) --------------------------------
    def _simulate(self, now: float) -> None:
        if not self.simulate:
            return
        eng = self.engine
        who = eng.waiting_for if eng.state == "running" else None
        if who not in ("participant", "experimenter"):
            self._sim = None
            return
        if self._sim is None or self._sim[0] != eng.scene.version:
            delay = SIM_DELAYS.get(eng.step.type, 0.5) * (1.0 if self.plan.quick else 2.0)
            d = eng.step.params.get("duration")
            if d is not None:
                delay = min(delay, d * 0.75)
            self._sim = (eng.scene.version, eng.onset + delay, who)
            return
        if now < self._sim[1]:
            return
        self._sim = (eng.scene.version, float("inf"), who)
        self._simulating = True
        try:
            if who == "participant":
                self.display.simulate_input(self.rng)
            elif self.panel is not None:
                self.panel.next_button.click()
            else:
                self.experimenter_next()
        finally:
            self._simulating = False


def _platform() -> str:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName()


def _screen(display) -> dict:
    s = display.screen()
    g = s.geometry()
    return {
        "name": s.name(),
        "geometry": [g.x(), g.y(), g.width(), g.height()],
        "refresh_hz": s.refreshRate(),
        "window": [display.width(), display.height()],
        "fullscreen": display.isFullScreen(),
    }
