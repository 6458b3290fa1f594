"""Live spotting during a recording (Qt-free): frames from the recorder's capture callback go through a
bounded queue to a worker thread running the StreamingSpotter; each flag is reported with its apex
thumbnail and the nearest protocol event.

* Frame numbers: every frame is pushed with its frame number in ``rgb.mkv`` (set by the recorder when
  it queued the frame), so a flag names the frames of the file, whatever was skipped before it.
* The face model loads before Start (:func:`load_spotter`, called by the pre-flight) so spotting
  covers the recording from its first frame.
* The spotter runs in a process of its own at a lower CPU priority
  (:class:`analysis.spotting.live_process.SpotterProcess`): on a 2-core machine the encoders and the
  window come first, and spotting shares no interpreter lock with them. This thread only hands each
  frame over (shared memory) and reports the flags.
* The capture path of a live source never waits: when the spotter falls behind, frames are skipped for
  spotting, never for the recording, and counted (``frames_skipped``, shown in the GUI and written to
  ``session.json`` as ``live_spotting``). A camera file waits for the spotter instead (a file loses
  nothing), so spotting a file live sees every frame.
* A flag is shown at once, provisional, and confirmed once the spotter's checks have agreed on it for
  ``AGREE_S`` (or withdrawn: :mod:`analysis.spotting.live`); ``on_flag`` gets a copy of the flag's
  :class:`SpotFlag` at each state, ``flags`` holds the confirmed ones.
* The recording comes first: while an encoder's queue holds more than ``YIELD_QUEUE`` frames (it is
  falling behind, e.g. on a loaded machine), live spotting passes frames over (counted as skipped)
  instead of competing with it for the CPU. A 60-s GUI recording at a load of 5-8 on 2 cores dropped
  158 RGB frames from a full encoder queue while the spotter ran.
* Recognition: each micro flag carries the recognised class and its confidence
  (:mod:`analysis.recognition.live`, the default model of the Models view unless another
  ``recognizer`` is given), computed from the onset and apex frames kept in a small ring of face
  crops, right after the flag (``label``/``confidence``/``recognition_s`` of :class:`SpotFlag`).
  The model is loaded by the pre-flight (``recognizer=``), or else in :meth:`LiveSpotting.start`,
  which runs between the recorder's prepare and start: never in a thread while the camera starts
  (torch and the face tracker loading beside librealsense's sensor start crashed or hung the
  process: a segmentation fault in bench/gui_preview.py, a recording that never ended in CI). Macro
  flags and flags whose frames left the ring carry no class. A model that cannot load is reported
  (``recognition.error`` in the summary); spotting goes on.
* Features kept (issue 14): the spotter keeps every frame's features (with the depth frame of the same
  number, which this thread pairs by frame number) and writes them into the session's cache when the
  recording stops; when it saw every frame, ``mexlab spot`` on the session uses them instead of
  decoding the video again (:mod:`analysis.spotting.live_features`). ``features`` in the summary says
  whether they were complete, and why not.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

YIELD_QUEUE = 30  # frames waiting in an encoder's queue beyond which live spotting stands aside
DEPTH_WAIT_S = 0.2  # how long a colour frame waits for its depth frame (they come from one frameset)
DEPTH_KEPT = 30  # depth frames held for pairing beyond the colour queue's length
LIVE_QUEUE = 60  # frames waiting for the spotter (2 s at 30 fps) beyond which frames are passed over
# ... while it keeps the features (5 s). On the project's 2-core VM, 848x480 RGB-D recordings in the
# Record window overflowed a 60-frame queue within 13-56 s in all five tried; with 150 frames, a 2-min
# recording kept every frame and a 10-min one overflowed after 6.4 min (docs/benchmarks.md). Only
# frames the spotter is behind on are held: up to ~300 MB at 848x480 with their depth frames.
KEEP_QUEUE = 150
DRAIN_S = 10.0  # at stop, how long a live source's queued frames may still be spotted (features kept)


@dataclass
class SpotFlag:
    flag: object  # analysis.spotting.live.LiveFlag (times on the LSL clock)
    nearest_event: str | None  # e.g. "stimulus_onset clip-2 (1.2 s before)"
    label: str | None = None  # recognised class (micro flags; None: not classified)
    confidence: float | None = None  # the model's probability of that class
    recognition_s: float | None = None  # wall time of the classification


def load_recognizer(model_path=None):
    """A live recognizer (analysis.recognition.live) with its model and face tracker loaded."""
    from analysis.recognition.live import LiveRecognizer

    return LiveRecognizer(model_path)


def load_spotter(fps: float, *, in_process: bool = False):
    """The live spotter with its face model loaded (seconds: run it in the pre-flight): a
    StreamingSpotter in a process of its own at a lower CPU priority
    (:class:`analysis.spotting.live_process.SpotterProcess`), so that it takes from the recording
    and the window only the CPU they leave and never their interpreter lock; ``in_process=True``
    runs it in this process (as before issue 10's fix)."""
    if in_process:
        from analysis.spotting.live import StreamingSpotter

        return StreamingSpotter(fps=fps)
    from analysis.spotting.live_process import SpotterProcess

    return SpotterProcess(fps)


class LiveSpotting:
    def __init__(
        self,
        recorder,
        on_flag: Callable[[SpotFlag], None],
        max_queue: int | None = None,
        spotter=None,
        recognizer="default",
        keep_features: bool = True,
    ):
        self.recorder = recorder
        self.on_flag = on_flag
        if max_queue is None:  # kept features need every frame: a deeper queue rides out the spotter's stalls
            max_queue = KEEP_QUEUE if keep_features else LIVE_QUEUE
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._depth_kept = max_queue + DEPTH_KEPT  # the depth frames of every queued colour frame
        self._stop = threading.Event()
        self._spotter = spotter  # preloaded by the pre-flight, or loaded at start
        self._blocking = recorder.camera is not None and recorder.camera.kind == "playback"
        self.frames_in = 0  # frames queued for spotting
        self.frames_spotted = 0  # frames the spotter has processed
        self.frames_skipped = 0  # recorded frames passed over: queue full, spotter stopped, or
        self.frames_yielded = 0  # ... (of those) left to let a falling-behind encoder catch up
        self.model_load_s: float | None = None
        self.flags: list[SpotFlag] = []  # confirmed
        self._open: dict[int, SpotFlag] = {}  # provisional, by the flag's key
        self.flags_withdrawn = 0  # provisional flags the later checks did not confirm
        self.error: str | None = None
        self.face_box: tuple | None = None  # for the preview's face box
        self._thread = threading.Thread(target=self._run, name="mexlab-live-spotting", daemon=True)
        # recognition: "default" loads the default model at start, None switches it off
        self._want_recognizer = recognizer
        self.recognizer = recognizer if recognizer not in ("default", None) else None
        self.recognition_error: str | None = None
        self.flags_classified = 0
        self.flags_aligned_by_spotter = 0  # of those, aligned with the spotter's landmarks
        self._ring = None
        self._keep = keep_features
        self._depth_wanted = False  # depth frames are paired with colour frames for the kept features
        self._depth: dict[int, object] = {}  # file frame number -> raw depth image
        self.features: dict | None = None  # what save_features said (summary "features")
        self.first_skipped: int | None = None  # the file frame number of the first frame passed over

    def start(self) -> None:
        cam = self.recorder.camera
        self._depth_wanted = bool(self._keep and cam is not None and "depth" in cam.streams)
        self.recorder.meta_providers.append(self.summary)
        self.recorder.stop_hooks.append(self.stop)  # the recorder's stop spots the last frames first
        self.recorder.frame_listeners.append(self._listen)
        if self._want_recognizer is not None:
            from analysis.recognition.live import FrameRing

            fps = self.recorder.camera.mode("rgb").fps if self.recorder.camera is not None else 30
            self._ring = FrameRing(n=int(2.5 * float(fps)))
            if self._want_recognizer == "default":
                self._load_recognizer()  # here, before the camera starts: never in a thread beside it
        self._thread.start()

    def _load_recognizer(self) -> None:
        try:
            rec = load_recognizer()
        except Exception as exc:  # noqa: BLE001 - reported; spotting goes on without classes
            self.recognition_error = f"live recognition unavailable: {exc}"
            return
        self.recognizer = rec

    def stop(self) -> None:
        """Stop listening, spot what is queued (camera files) and end the thread (once)."""
        if self._stop.is_set():
            return
        try:
            self.recorder.frame_listeners.remove(self._listen)
        except ValueError:
            pass
        # a camera file waits for every frame; a live source's last queued frames are spotted too when
        # the kept features are complete so far (else they could never serve as the session's cache)
        drain = 30.0 if self._blocking else (DRAIN_S if self._keep and self.frames_skipped == 0 else 0.0)
        deadline = time.monotonic() + drain
        while not self._queue.empty() and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=60)  # the kept features are written at the end (~1 s for 10 min)

    def summary(self) -> dict:
        """What live spotting saw, for session.json (``live_spotting``) and the GUI."""
        recorded = self.recorder.frames_queued.get("rgb", 0)
        return {
            "live_spotting": {
                "frames_recorded": recorded,
                "frames_spotted": self.frames_spotted,
                "frames_not_spotted": max(0, recorded - self.frames_spotted),
                "frames_skipped": self.frames_skipped,
                "frames_yielded": self.frames_yielded,
                "flags": len(self.flags),
                "flags_withdrawn": self.flags_withdrawn,
                "model_load_s": None if self.model_load_s is None else round(self.model_load_s, 2),
                "error": self.error,
                "recognition": self._recognition_summary(),
                "features": self.features,
            }
        }

    def _recognition_summary(self) -> dict | None:
        if self._want_recognizer is None:
            return None
        r = self.recognizer
        return {
            "model": None if r is None else r.model_path.name,
            "flags_classified": self.flags_classified,
            "aligned_by_spotter": self.flags_aligned_by_spotter,
            "error": self.recognition_error,
        }

    def _classify(self, sf: SpotFlag) -> None:
        """Give a micro flag its class (after the flag, in the spotting thread)."""
        rec, ring, flag = self.recognizer, self._ring, sf.flag
        if rec is None or ring is None or getattr(flag, "type", "micro") != "micro":
            return
        got = ring.pair_at(flag.onset, flag.apex)
        if got is None:
            return
        onset, apex, landmarks = got
        try:
            r = rec.classify(onset, apex, landmarks=landmarks)
        except Exception as exc:  # noqa: BLE001 - one failure switches recognition off, said so
            self.recognition_error = f"live recognition stopped: {exc}"
            self.recognizer = None
            return
        if r is not None:
            sf.label, sf.confidence, sf.recognition_s = r.label, round(r.confidence, 3), r.seconds
            self.flags_classified += 1
            self.flags_aligned_by_spotter += int(landmarks is not None)

    def _listen(self, frame) -> None:  # capture thread: never blocks a live source
        if frame.stream == "depth":
            if self._depth_wanted and getattr(frame, "file_index", None) is not None:
                self._depth[frame.file_index] = frame.image
                if len(self._depth) > self._depth_kept:
                    for k in sorted(self._depth)[: len(self._depth) - self._depth_kept]:
                        self._depth.pop(k, None)
            return
        if frame.stream != "rgb":
            return
        if self.error is not None or (self._thread.ident is not None and not self._thread.is_alive()):
            self._skipped(frame)  # the spotter has stopped (its error is shown)
            return
        if getattr(frame, "file_index", None) is None:
            return  # not in the video (the recorder counted the drop): nothing to spot or number
        if not self._blocking and self._encoders_behind():
            self._skipped(frame, yielded=True)
            return
        try:
            if self._blocking:
                self._queue.put(frame, timeout=30.0)
            else:
                self._queue.put_nowait(frame)
            self.frames_in += 1
        except queue.Full:
            self._skipped(frame)

    def _skipped(self, frame, yielded: bool = False) -> None:
        if self.first_skipped is None:
            self.first_skipped = getattr(frame, "file_index", None)
        self.frames_skipped += 1
        self.frames_yielded += int(yielded)

    def _encoders_behind(self) -> bool:
        return any(w.queue_depth > YIELD_QUEUE for w in list(self.recorder.writers.values()))

    def _start_keeping(self, spotter):
        """Ask the spotter to keep its features (with the depth mapping of this recording's camera);
        returns the depth mapper, or None (no depth, or features not kept)."""
        if not self._keep:
            return None
        mapper = None
        cam = self.recorder.camera
        try:
            if cam is not None and "depth" in cam.streams and "rgb" in cam.streams:
                from analysis.face.depth import DepthMapper

                intr = self.recorder.meta.get("intrinsics") or {}
                rgb, dep = cam.mode("rgb"), cam.mode("depth")
                mapper = DepthMapper(
                    float(getattr(cam, "depth_units_m", None) or 0.001),
                    intr.get("rgb"),
                    intr.get("depth"),
                    (rgb.width, rgb.height),
                    (dep.width, dep.height),
                )
            spotter.keep_features(mapper)
        except Exception as exc:  # noqa: BLE001 - said in the summary; spotting goes on
            self.features = {"complete": False, "why_not": f"features not kept: {exc}", "frames": 0, "file": None}
            self._keep = False
            return None
        if mapper is None:
            self._depth_wanted = False
            self._depth.clear()
        return mapper

    def _depth_for(self, index):
        """The depth frame numbered ``index``: waits up to DEPTH_WAIT_S for it while it may still come
        (no later depth frame has arrived, and the kept features are still complete); None if not."""
        if index is None:
            return None
        deadline = time.monotonic() + DEPTH_WAIT_S
        while True:
            d = self._depth.pop(index, None)
            if d is not None or self.frames_skipped or time.monotonic() >= deadline or self._stop.is_set():
                break
            if any(k > index for k in list(self._depth)):
                break  # depth frames come in order: this one was dropped
            time.sleep(0.002)
        for k in [k for k in list(self._depth) if k < index]:
            self._depth.pop(k, None)
        return d

    def _stop_keeping(self, spotter) -> None:
        """A frame was passed over: the kept features can no longer be complete. Stop keeping them (and
        pairing depth frames), so that the spotter costs what it cost without them."""
        spotter.stop_keeping()
        self._keep = self._depth_wanted = False
        self._depth.clear()
        self.features = {
            "frames": 0,
            "complete": False,
            "why_not": f"frame {self.first_skipped} was not spotted live; features were not kept after it",
            "file": None,
        }

    def _save_features(self, spotter) -> None:
        if not self._keep:
            return
        from acquisition.session_read.names import CACHE_DIR
        from analysis.spotting.live_features import LIVE_FILE

        self.features = spotter.save_features(str(self.recorder.folder / CACHE_DIR / LIVE_FILE))

    def _describe(self, t: float) -> str | None:
        markers = self.recorder.markers
        hit = markers.nearest(t, skip=("recording_start", "recording_stop")) if markers is not None else None
        if hit is None:
            return None
        ts, payload = hit
        event = payload.get("event") or "marker"
        what = str(payload.get("stimulus") or payload.get("question") or payload.get("text") or "")
        if what == event:
            what = ""  # a manual mark carries text "manual": say it once ("manual manual" was shown)
        rel = t - ts
        return f"{event} {what}".strip() + f" ({abs(rel):.1f} s {'before' if rel >= 0 else 'after'})"

    def _report(self, flags) -> None:
        """Each flag to ``on_flag`` as it comes (a copy of its :class:`SpotFlag` at that state):
        provisional (shown at once), then confirmed or withdrawn, the flag's ``key`` the same and its
        class kept; ``flags`` holds the confirmed."""
        for flag in flags:
            state = flag.state
            sf = self._open.pop(flag.key, None) if state != "provisional" else None
            if sf is None:
                if state == "withdrawn":
                    continue
                sf = SpotFlag(flag, self._describe(flag.apex_t))
            sf.flag = flag
            if state == "withdrawn":
                self.flags_withdrawn += 1
            else:
                if sf.label is None:
                    self._classify(sf)
                if state == "provisional":
                    self._open[flag.key] = sf
                else:
                    self.flags.append(sf)
            self.on_flag(replace(sf))  # a copy: the GUI thread reads it after this thread moves on

    def _run(self) -> None:
        fps = self.recorder.camera.mode("rgb").fps if self.recorder.camera is not None else 30
        spotter = self._spotter
        self._spotter = None
        try:
            if spotter is not None and spotter.fps != float(fps):
                spotter.close()
                spotter = None
            if spotter is None:
                t0 = time.perf_counter()
                spotter = load_spotter(fps)
                self.model_load_s = time.perf_counter() - t0
            else:
                self.model_load_s = 0.0
        except Exception as exc:  # noqa: BLE001 - reported in the panel, the recording goes on
            self.error = f"live spotting unavailable: {exc}"
            return
        mapper, started = None, False
        try:
            while not self._stop.is_set():
                try:
                    frame = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                if not started:  # the camera has started: its depth units are known
                    mapper, started = self._start_keeping(spotter), True
                if not self._blocking and self._encoders_behind():
                    self._skipped(frame, yielded=True)
                    continue
                if self._keep and self.frames_skipped:
                    self._stop_keeping(spotter)
                    mapper = None
                depth = self._depth_for(frame.file_index) if mapper is not None else None
                flags = spotter.push(frame.image, frame.lsl_time, index=frame.file_index, depth=depth)
                self.frames_spotted += 1
                self.face_box = spotter.last_box
                if self._ring is not None:
                    self._ring.push(frame.file_index, frame.image, spotter.last_box)
                    lm = getattr(spotter, "last_landmarks", None)
                    if lm is not None:  # kept by frame number: the same landmarks again replace themselves
                        self._ring.add_landmarks(*lm)
                self._report(flags)
            # the recording has stopped: what its last frames can still confirm (a movement that
            # ended less than the confirmation lag before the last frame)
            self._report(spotter.flush())
            self._save_features(spotter)
        except Exception as exc:  # noqa: BLE001
            self.error = f"live spotting stopped: {exc}"
        finally:
            spotter.close()
            if self.recognizer is not None:
                self.recognizer.close()
