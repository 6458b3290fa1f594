"""The Record workspace's logic without Qt: pre-flight, start, live snapshots, marks, stop.

``RecordController`` owns one ``Recorder`` at a time and a watcher thread that ends the recording when
it should (duration reached, end of a camera file, a write error) and publishes snapshots to
``RecordState`` a few times a second. The GUI calls these methods from worker threads and listens to
the state's events; tests drive the same methods without a display.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from acquisition.errors import MexlabError
from acquisition.preflight import PreflightReport, run_preflight
from acquisition.realsense.modes import parse_mode
from acquisition.sources import RecordConfig
from app.services.settings import Settings
from app.services.state import RecordState


def config_from_settings(
    settings: Settings,
    participant: str,
    folder: Path,
    duration: float | None = None,
    source: str | None = None,
    protocol: str | None = None,
) -> RecordConfig:
    """The Record workspace's request, through the one RecordConfig builder (app/services/recording.py)."""
    from app.services.recording import build_config

    source = source or settings.source
    if source == "none" and not settings.required_streams:
        raise MexlabError("nothing to record: no camera and no LSL streams chosen")
    return build_config(
        out=Path(folder),
        source=source,
        camera_file=settings.camera_file if source == "camera-file" and settings.camera_file else None,
        lsl=settings.required_streams,
        duration=duration,
        participant=participant or None,
        protocol=protocol,
        rgb=settings.rgb_mode,
        depth=settings.depth_mode,
        db=settings.database_url or None,
        rgb_flag="RGB mode",
        depth_flag="depth mode",
        encoder_process=True,  # the GUI process is busy: the encoders must not wait for its GIL
    )


def next_session_folder(root: Path, participant: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{participant or 'session'}-{stamp}"
    folder, i = base, 1
    while folder.exists():
        i += 1
        folder = base.with_name(f"{base.name}-{i}")
    return folder


class RecordController:
    def __init__(self, state: RecordState | None = None, poll_s: float = 0.2):
        self.state = state or RecordState()
        self.recorder = None
        self._watch: threading.Thread | None = None
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._started = threading.Event()  # set when no start is under way
        self._started.set()
        self.stop_reason: str | None = None
        self.attached = None  # what start(attach=...) attached to the recorder (live spotting)
        self.recording_run = None  # the app.services.recording.Recording of self.recorder

    # -- pre-flight ----------------------------------------------------------------------------
    def preflight(self, settings: Settings, live_spotting: bool = False) -> PreflightReport:
        """Check what will be recorded; with ``live_spotting``, also load the face model now (seconds),
        so spotting covers a recording from its first frame."""
        self.state.phase = "preflight"
        try:
            rgb = depth = None
            if settings.source != "none":
                rgb, depth = parse_mode(settings.rgb_mode, "RGB mode"), parse_mode(settings.depth_mode, "depth mode")
            t0 = time.perf_counter()
            rep = run_preflight(
                settings.required_streams,
                Path(settings.output_folder),
                rgb,
                depth,
                min_minutes=settings.min_free_minutes,
                look_for_cameras=settings.source == "live",
                simulate=settings.source == "simulate",
            )
            try:  # what the camera will show at Start
                if settings.source == "simulate":
                    from acquisition.preflight import rig_preview

                    rep.preview = rig_preview(rgb, depth)
                elif settings.source == "camera-file" and Path(settings.camera_file or "").is_file():
                    from acquisition.preflight import camera_file_preview

                    rep.preview = camera_file_preview(Path(settings.camera_file), rgb, depth)
                elif settings.source == "live" and rep.cameras:
                    from acquisition.preflight import live_camera_preview

                    rep.preview = live_camera_preview(None, rgb, depth)
            except MexlabError as exc:
                rep.problems.append(str(exc))
            try:  # the catalog the session will be registered in (and its modules loaded before Start)
                from acquisition.catalog import Catalog

                Catalog(settings.database_url or None)
                rep.catalog = "reachable"
            except MexlabError as exc:
                rep.problems.append(f"catalog: {exc}")
            if settings.source == "live" and not rep.cameras:
                rep.problems.append(
                    "no RealSense camera is connected: choose the simulated rig, a camera file or 'no camera'"
                )
            if settings.source == "camera-file" and not Path(settings.camera_file or "").is_file():
                rep.problems.append(f"camera file {settings.camera_file or '(none chosen)'} does not exist")
            if live_spotting and settings.source != "none":
                self.preload_spotter(parse_mode(settings.rgb_mode, "RGB mode").fps)
                self.preload_recognizer()
            rep.seconds = time.perf_counter() - t0
            self.state.preflight = rep
            return rep
        finally:
            self.state.phase = "idle"

    spotter = None  # a StreamingSpotter loaded by the pre-flight, taken by the next recording
    spotter_load_s: float | None = None

    def preload_spotter(self, fps: float) -> None:
        from app.services.live_spotting import load_spotter

        if self.spotter is not None and self.spotter.fps == float(fps):
            return
        self.discard_spotter()
        t0 = time.perf_counter()
        self.spotter = load_spotter(fps)
        self.spotter_load_s = time.perf_counter() - t0

    def take_spotter(self):
        sp, self.spotter = self.spotter, None
        return sp

    recognizer = None  # live recognition loaded by the pre-flight, taken by the next recording

    def preload_recognizer(self) -> None:
        """Load live recognition (torch, the default model, its face tracker) in the pre-flight, never
        while a recording starts: torch imported in a thread while the camera's sensors started
        crashed the process (a segmentation fault in librealsense's sensor start, seen in
        bench/gui_preview.py under load). A failure is left to LiveSpotting to report."""
        if self.recognizer is not None:
            return
        try:
            import torch  # noqa: F401  (its libraries loaded here, before any camera runs)

            from app.services.live_spotting import load_recognizer

            self.recognizer = load_recognizer()
        except Exception:  # noqa: BLE001 - no model or no torch: LiveSpotting says why, spotting goes on
            self.recognizer = None

    def take_recognizer(self):
        r, self.recognizer = self.recognizer, None
        return r if r is not None else "default"

    def discard_spotter(self) -> None:
        sp = self.take_spotter()
        if sp is not None:
            sp.close()

    # -- recording -----------------------------------------------------------------------------
    starting = False  # a start is under way (set by begin_start before a start runs in a thread)

    @property
    def recording(self) -> bool:
        return self.recorder is not None and not self.recorder.stopped

    @property
    def active(self) -> bool:
        """A recording is running or starting: what closing a window or ending a test must stop
        (``stop`` waits for a start under way to finish, then stops it)."""
        return self.starting or self.recording

    def begin_start(self) -> None:
        """Say a start is coming (call it before running ``start`` in a thread): from now on
        ``active`` is true, so a window closed during the seconds a start takes stops that recording
        instead of leaving it (and its LabRecorderCLI) running on."""
        self._started.clear()
        self.starting = True

    def start(self, config: RecordConfig, attach=None) -> Path:
        """Prepare and start (blocking: seconds). Errors leave no half-started recording behind.
        ``attach(recorder)`` runs between prepare and start (frame listeners see the first frame);
        what it returns is kept as ``self.attached`` (e.g. the LiveSpotting) and stopped on failure."""
        from app.services.recording import Recording

        self.begin_start()
        try:
            return self._start(config, attach, Recording)
        finally:
            self.starting = False
            self._started.set()

    def _start(self, config: RecordConfig, attach, Recording) -> Path:  # noqa: N803 - the class, passed in
        with self._lock:
            if self.recording:
                raise MexlabError("a recording is already running")
            recording = Recording(config)
            self.state.error = None
            recording.prepare()
            self.attached = None
            self.attached = recording.start(attach)  # a failed start is abandoned and raised
            self.recording_run = recording
            rec = self.recorder = recording.recorder
            self.stop_reason = None
            self.state.folder = rec.folder
            self.state.phase = "recording"
            self.state.message = f"recording to {rec.folder}"
            self._watch = threading.Thread(target=self._watch_loop, name="mexlab-record-watch", daemon=True)
            self._watch.start()
            return rec.folder

    def _watch_loop(self) -> None:
        rec = self.recorder
        last_write = 0.0
        while rec is not None and not rec.stopped:
            reason = rec.should_stop()
            if reason is not None:
                self.stop(reason)
                return
            now = time.monotonic()
            if now - last_write >= 1.0:
                self.state.snapshot = rec.write_progress()
                last_write = now
            else:
                self.state.snapshot = rec.snapshot()
            time.sleep(self._poll_s)

    def wait(self, timeout: float | None = None) -> dict | None:
        """Block until the running recording has ended (by duration, file end or an error)."""
        if self._watch is not None:
            self._watch.join(timeout)
        return self.state.last_session

    def mark(self, text: str = "manual") -> float:
        if not self.recording:
            raise MexlabError("no recording is running")
        return self.recorder.mark("note" if text != "manual" else "manual", text=text)

    def stop(self, reason: str = "stopped by the experimenter") -> dict | None:
        """Stop cleanly (blocking: a few seconds while LabRecorder pulls its last chunk). A start under
        way is waited for first (it may not have taken the lock yet), then its recording stopped."""
        if self.starting:
            self._started.wait(timeout=300)
        with self._lock:
            rec = self.recorder
            if rec is None or rec.stopped:
                return None
            self.state.phase = "stopping"
            self.stop_reason = reason
            meta = self.recording_run.stop(reason)  # and registered in the catalog
            self.state.snapshot = rec.snapshot()
            self.state.last_session = meta
            if rec.errors:
                self.state.error = "; ".join(rec.errors)
            self.state.phase = "idle"
            self.state.message = f"session saved in {rec.folder} ({meta['status']}, {meta['duration_s']:.1f} s)"
            return meta

    def latest_frames(self) -> dict:
        rec = self.recorder
        return {} if rec is None else dict(rec.latest_frames)

    def monitors(self) -> list:
        rec = self.recorder
        return [] if rec is None else list(rec.monitors)
