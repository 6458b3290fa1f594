"""Live spotting during a recording (Qt-free): frames from the recorder's capture callback go through a
bounded queue to a worker thread running the StreamingSpotter; each flag is reported with its apex
thumbnail and the nearest protocol event. The capture path never waits: when the spotter falls behind,
frames are skipped for spotting (counted), never for the recording."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable


@dataclass
class SpotFlag:
    flag: object                # analysis.spotting.live.LiveFlag (times on the LSL clock)
    nearest_event: str | None   # e.g. "stimulus_onset clip-2 (1.2 s before)"


class LiveSpotting:
    def __init__(self, recorder, on_flag: Callable[[SpotFlag], None], max_queue: int = 60):
        self.recorder = recorder
        self.on_flag = on_flag
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self.frames_in = 0
        self.frames_skipped = 0
        self.flags: list[SpotFlag] = []
        self.error: str | None = None
        self.face_box: tuple | None = None  # for the preview's face box
        self._thread = threading.Thread(target=self._run, name="mexlab-live-spotting", daemon=True)

    def start(self) -> None:
        self.recorder.frame_listeners.append(self._listen)
        self._thread.start()

    def stop(self) -> None:
        try:
            self.recorder.frame_listeners.remove(self._listen)
        except ValueError:
            pass
        self._stop.set()
        self._thread.join(timeout=10)

    def _listen(self, frame) -> None:  # capture thread: never block
        if frame.stream != "rgb":
            return
        try:
            self._queue.put_nowait(frame)
            self.frames_in += 1
        except queue.Full:
            self.frames_skipped += 1

    def _describe(self, t: float) -> str | None:
        markers = self.recorder.markers
        hit = markers.nearest(t, skip=("recording_start", "recording_stop")) if markers is not None else None
        if hit is None:
            return None
        ts, payload = hit
        what = payload.get("stimulus") or payload.get("question") or payload.get("text") or ""
        rel = t - ts
        return f"{payload.get('event')} {what}".strip() + f" ({abs(rel):.1f} s {'before' if rel >= 0 else 'after'})"

    def _run(self) -> None:
        try:
            from analysis.spotting.live import StreamingSpotter

            fps = self.recorder.camera.mode("rgb").fps if self.recorder.camera is not None else 30
            spotter = StreamingSpotter(fps=fps)
        except Exception as exc:  # noqa: BLE001 - reported in the panel, the recording goes on
            self.error = f"live spotting unavailable: {exc}"
            return
        try:
            while not self._stop.is_set():
                try:
                    frame = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                flags = spotter.push(frame.image, frame.lsl_time)
                self.face_box = spotter.last_box
                for flag in flags:
                    sf = SpotFlag(flag, self._describe(flag.apex_t))
                    self.flags.append(sf)
                    self.on_flag(sf)
        except Exception as exc:  # noqa: BLE001
            self.error = f"live spotting stopped: {exc}"
        finally:
            spotter.close()
