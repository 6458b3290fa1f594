"""The recording engine: one session folder from a camera source and LSL streams, losing nothing.

Order of work (see docs/architecture.md):
1. ``prepare``: validate the request, open the camera source, run the LSL pre-flight, check free
   disk space, then create the (new) session folder and its sidecar.
2. ``start``: publish ``mexlab-markers`` and the frame-index outlets, start LabRecorderCLI on every
   stream, start live monitors, the encoder threads, and only then the camera (and the simulated rig),
   so the first video frame is already covered by the XDF.
3. while running: frames go from the capture callback into bounded queues (live sources never block);
   encoders (threads, or processes: ``config.encoder_process``) write lossless video and push one frame-index
   sample per muxed frame; every second the sidecar is rewritten with the counts so far.
4. ``stop``: stop the camera and rig, drain the encoders, let LabRecorder pull its last chunk, stop it,
   write ground truth (rig) and mark the sidecar complete. The catalog is the caller's
   (:class:`app.services.recording.Recording` registers the session).
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pylsl

from acquisition import session as sess
from acquisition.clock import WallToLsl
from acquisition.errors import MexlabError, OutputError
from acquisition.lsl_streams import FoundStream, StreamMonitor, preflight
from acquisition.outlets import FrameIndexOutlet, MarkerOutlet
from acquisition.realsense.camera import CameraFrame
from acquisition.recorded_counts import monitor_counts, stream_counts, stream_entries
from acquisition.sources import RecordConfig, open_camera
from acquisition.video_process import VideoWriterProcess
from acquisition.video_writer import DEPTH_CODEC, QueuedFrame, VideoWriterThread, colour_codec_name


def _full(exc: OSError) -> str:
    return " (the disk is full)" if exc.errno == errno.ENOSPC else ""


RESERVE_NAME = ".mexlab-reserve"
RESERVE_BYTES = 1 << 20
FAILURE_PREFIXES = ("cannot write", "LabRecorderCLI exited", "camera failed")


def entries_bytes(entries: Iterable[os.DirEntry], skip: tuple[str, ...] = ()) -> int:
    """The bytes of the plain files among ``entries`` (``os.DirEntry``); a file that vanished since the
    folder was listed (a temp file renamed into place meanwhile) counts nothing."""
    total = 0
    for e in entries:
        if e.name in skip:
            continue
        try:
            if e.is_file(follow_symlinks=False):
                total += e.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    return total


def folder_bytes(folder: Path, skip: tuple[str, ...] = ()) -> int:
    """The bytes of the plain files in ``folder`` (0 when it does not exist), while they are written."""
    try:
        with os.scandir(folder) as it:
            return entries_bytes(it, skip)
    except FileNotFoundError:
        return 0


class Recorder:
    def __init__(self, config: RecordConfig):
        self.config = config
        self.clock: WallToLsl | None = None
        self.folder = Path(config.out)
        self.session_id = uuid.uuid4().hex
        self.meta: dict = {}
        self.camera = None
        self.rig = None
        self.inputs: list[FoundStream] = []
        self.monitors: list[StreamMonitor] = []
        self.writers: dict[str, VideoWriterThread] = {}
        self.index_outlets: dict[str, FrameIndexOutlet] = {}
        self.markers: MarkerOutlet | None = None
        self._labrecorder = None
        self._counts = {}
        self._camera_frame_map: dict[str, dict[int, int]] = {"rgb": {}, "depth": {}}
        self._last_camera_frame: dict[str, int | None] = {}
        self._stop_requested = threading.Event()
        self.errors: list[str] = []
        self.latest_frames: dict[str, CameraFrame] = {}  # for live previews: a reference, no copy
        # callables(CameraFrame), e.g. live spotting; called after the frame is queued for its file, with
        # frame.file_index = its frame number in the video (None when the frame was dropped); must not
        # block for live sources
        self.frame_listeners: list = []
        self.meta_providers: list = []  # callables() -> dict merged into session.json at every write
        self.stop_hooks: list = []  # callables() run at stop once the camera has delivered its last frame
        self.frames_queued: dict[str, int] = {}  # frames queued per video so far = the next frame's number
        self.started_lsl: float | None = None
        self.stopped = False

    # ---------------------------------------------------------------------------------------
    def prepare(self) -> None:
        from acquisition.lsl_config import quiet_liblsl

        quiet_liblsl()  # before liblsl's first call of this process (it reads its configuration once)
        cfg = self.config
        cfg.validate()
        if self.folder.exists():
            raise OutputError(f"output folder {self.folder} already exists; mexlab never overwrites a session")
        parent = self.folder.parent
        if not parent.exists():
            raise OutputError(f"output folder {self.folder}: the parent folder {parent} does not exist")
        free_mb = shutil.disk_usage(parent).free / 1e6
        if free_mb < cfg.min_free_mb:
            raise OutputError(
                f"only {free_mb:.0f} MB free on the disk of {parent}; need at least {cfg.min_free_mb:.0f} MB"
            )
        self.clock = WallToLsl()
        if cfg.source == "simulate":
            from acquisition.sim.rig import SimulatedRig

            self.rig = SimulatedRig(
                rgb=cfg.rgb,
                depth=cfg.depth,
                duration_s=cfg.duration,
                seed=cfg.seed,
                clock=self.clock,
                camera=cfg.wants_camera,
            )
        self.camera = open_camera(cfg, self.clock, self.rig)
        requests = list(cfg.lsl)
        self.inputs = preflight(requests, timeout=cfg.lsl_timeout) if requests else []
        if self.rig is not None:
            self.inputs += [s for s in self.rig.found_streams() if all(s.uid != i.uid for i in self.inputs)]
        try:
            self.folder.mkdir(parents=False, exist_ok=False)
        except FileExistsError:
            raise OutputError(
                f"output folder {self.folder} already exists; mexlab never overwrites a session"
            ) from None
        except OSError as exc:
            raise OutputError(f"cannot create output folder {self.folder}: {exc.strerror}") from None
        self.meta = sess.initial_meta(self.session_id, cfg, sess.software_versions())
        if self.camera is not None:
            self.meta.update(self.camera.describe())
        try:
            sess.write_sidecar(self.folder, self.meta)
        except OSError as exc:  # not even the sidecar fits: take the empty folder back
            shutil.rmtree(self.folder, ignore_errors=True)
            raise OutputError(
                f"cannot write {self.folder / sess.SIDECAR}: {exc.strerror}{_full(exc)}; nothing was recorded"
            ) from None
        # a little reserved space, freed at stop: the final sidecar can be written even on a full disk
        try:
            sess.write_reserve(self.folder / RESERVE_NAME, RESERVE_BYTES)
        except OSError as exc:  # the session ends here, and says why (never left 'recording')
            msg = (
                f"cannot write in {self.folder}: {exc.strerror}{_full(exc)}; "
                f"less than {RESERVE_BYTES >> 20} MB free, nothing was recorded"
            )
            self.meta.update(status="interrupted", error=msg, errors=[msg])
            try:
                sess.write_sidecar(self.folder, self.meta)
            except OSError:
                shutil.rmtree(self.folder, ignore_errors=True)
            raise OutputError(msg) from None

    # ---------------------------------------------------------------------------------------
    def start(self) -> None:
        from acquisition.labrecorder import LabRecorder

        cfg = self.config
        self.markers = MarkerOutlet(self.session_id)
        if self.camera is not None:
            for key in self.camera.streams:
                fname = sess.RGB_NAME if key == "rgb" else sess.DEPTH_NAME
                codec = colour_codec_name(cfg.colour_codec) if key == "rgb" else DEPTH_CODEC
                outlet = FrameIndexOutlet(key, self.camera.mode(key).fps, self.session_id, fname, codec)
                self.index_outlets[key] = outlet
                self.meta["files"][key] = fname
                self.meta.setdefault("codecs", {})[key] = codec
                self._counts[key] = {
                    "frames_received": 0,
                    "frames_written": 0,
                    "dropped_counter_gap": 0,
                    "dropped_queue_overflow": 0,
                }
        predicates = [s.predicate() for s in self.inputs]
        predicates.append({"name": self.markers.name, "source_id": self.markers.source_id})
        predicates += [{"name": o.name, "source_id": o.source_id} for o in self.index_outlets.values()]
        # mexlab's own outlets are new: make sure the network sees them before LabRecorder looks
        for own in [self.markers, *self.index_outlets.values()]:
            if not pylsl.resolve_byprop("source_id", own.source_id, minimum=1, timeout=10.0):
                self._abort_start()
                raise MexlabError(
                    f"LSL cannot see mexlab's own stream {own.name} on this machine "
                    "(is the network interface down or LSL blocked by a firewall?)"
                )
        self._labrecorder = LabRecorder()
        xdf = self.folder / sess.XDF_NAME
        # LabRecorderCLI ignores Ctrl+C: mexlab stops it (Enter on its stdin) after the last chunk
        try:
            self._labrecorder.start(xdf, predicates, timeout=max(30.0, cfg.lsl_timeout))
        except (RuntimeError, TimeoutError) as exc:
            self._labrecorder = None
            self._abort_start()
            raise MexlabError(f"LabRecorderCLI could not start recording {xdf}: {exc}") from None
        self.monitors = [StreamMonitor(s) for s in self.inputs]
        for m in self.monitors:
            m.start()
        if self.camera is not None:
            for key in self.camera.streams:
                mode = self.camera.mode(key)
                writer = VideoWriterProcess if cfg.encoder_process else VideoWriterThread
                self.writers[key] = writer(
                    self.folder / self.meta["files"][key],
                    mode.width,
                    mode.height,
                    mode.fps,
                    key,
                    on_written=self._make_on_written(key),
                    codec=self.meta["codecs"][key] if key == "rgb" else None,
                )
                self.writers[key].start()
        self.started_lsl = pylsl.local_clock()
        for m in self.monitors:
            m.window_start = self.started_lsl
        self.meta["started_at"] = sess.now_iso()
        self.meta["started_lsl"] = self.started_lsl
        self.markers.push("recording_start", self.started_lsl, session=self.session_id)
        if self.camera is not None:
            self.meta["depth_units_m"] = None
            self.camera.start(self._on_frame)
            self.meta["depth_units_m"] = self.camera.depth_units_m if "depth" in self.camera.streams else None
        if self.rig is not None:
            self.rig.start(pylsl.local_clock() + 0.05)
        self.write_progress()

    def _abort_start(self) -> None:
        self.meta["status"] = "interrupted"
        self.meta["error"] = "recording did not start"
        try:
            (self.folder / RESERVE_NAME).unlink()
        except OSError:
            pass
        sess.write_sidecar(self.folder, self.meta)

    def _make_on_written(self, key: str):
        outlet = self.index_outlets[key]
        counts = self._counts[key]
        fmap = self._camera_frame_map[key]

        def on_written(index: int, item: QueuedFrame) -> None:
            outlet.push(index, item.camera_frame, item.camera_timestamp_ms, item.lsl_time)
            counts["frames_written"] += 1
            fmap[item.camera_frame] = index

        return on_written

    def _on_frame(self, frame: CameraFrame) -> None:
        key = frame.stream
        counts = self._counts[key]
        counts["frames_received"] += 1
        self.latest_frames[key] = frame
        last = self._last_camera_frame.get(key)
        if last is not None and frame.camera_frame > last + 1:
            counts["dropped_counter_gap"] += frame.camera_frame - last - 1
        self._last_camera_frame[key] = frame.camera_frame
        blocking = self.camera.kind == "playback"
        ok = self.writers[key].offer(
            QueuedFrame(frame.image, frame.camera_frame, frame.camera_timestamp_ms, frame.lsl_time),
            block=blocking,
            timeout=30.0 if blocking else None,
        )
        if ok:  # the encoder writes queued frames in order: this one will be frame n of the file
            frame.file_index = self.frames_queued.get(key, 0)
            self.frames_queued[key] = frame.file_index + 1
        else:
            counts["dropped_queue_overflow"] = self.writers[key].stats.dropped_queue_overflow
        for listener in self.frame_listeners:
            listener(frame)

    # ---------------------------------------------------------------------------------------
    def mark(self, event: str = "manual", **fields: Any) -> float:
        if self.markers is None:
            raise MexlabError("no recording is running")
        return self.markers.push(event, **fields)

    def request_stop(self) -> None:
        self._stop_requested.set()

    _stopped_at_lsl: float | None = None

    @property
    def elapsed(self) -> float:
        if self.started_lsl is None:
            return 0.0
        end = self._stopped_at_lsl if self._stopped_at_lsl is not None else pylsl.local_clock()
        return end - self.started_lsl

    def should_stop(self) -> str | None:
        """Why the recording should end now, or None."""
        if self._stop_requested.is_set():
            return "stopped"
        if self.config.duration is not None and self.elapsed >= self.config.duration:
            return "duration reached"
        if self.camera is not None and self.camera.kind == "playback" and self.camera.finished.is_set():
            return "end of camera file"
        cam = self.rig.camera if self.rig is not None else None
        if cam is not None and getattr(cam, "error", None):  # the rig's render process died
            return f"camera failed: {cam.error}"
        for key, w in self.writers.items():
            if w.stats.error:
                return f"cannot write {key} video: {w.stats.error}"
        proc = self._labrecorder.process if self._labrecorder is not None else None
        if proc is not None and proc.poll() is not None:
            return f"LabRecorderCLI exited (code {proc.returncode})"
        return None

    def snapshot(self) -> dict:
        """Live counts for the progress line and the GUI."""
        videos = {}
        for key, c in self._counts.items():
            w = self.writers.get(key)
            c["dropped_queue_overflow"] = w.stats.dropped_queue_overflow if w else 0
            videos[key] = dict(c, queue=w.queue_depth if w else 0)
        streams = {
            m.stream.name: dict(monitor_counts(m, self._file_counts), rate=m.stream.nominal_srate)
            for m in self.monitors
        }
        size = folder_bytes(self.folder, skip=(RESERVE_NAME,))
        return {
            "elapsed": self.elapsed,
            "videos": videos,
            "streams": streams,
            "bytes": size,
            "dropped_frames": sum(v["dropped_counter_gap"] + v["dropped_queue_overflow"] for v in videos.values()),
            "dropped_samples": sum(s["missing"] for s in streams.values()),
        }

    def write_progress(self, final: bool = False) -> dict:
        snap = self.snapshot()
        m = self.meta
        m["duration_s"] = round(snap["elapsed"], 3)
        m["counts"] = {k: {kk: vv for kk, vv in v.items() if kk != "queue"} for k, v in snap["videos"].items()}
        m["dropped_frames"] = snap["dropped_frames"]
        m["dropped_samples"] = snap["dropped_samples"]
        m["streams"] = stream_entries(self)
        for provide in list(self.meta_providers):
            m.update(provide())
        try:
            sess.write_sidecar(self.folder, m)
        except OSError as exc:
            msg = f"cannot update {self.folder / sess.SIDECAR}: {exc.strerror}"
            if msg not in self.errors:
                self.errors.append(msg)
        return snap

    # ---------------------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> dict:
        """Stop cleanly; returns the final sidecar. Safe to call once after start()."""
        import time

        if self.stopped:
            return self.meta
        self.stopped = True
        try:
            self._stop_capture()
        except BaseException:
            # a capture that fails to stop must not leave LabRecorderCLI recording into the next session
            # (a test process, or a GUI kept open): stop it, then raise what went wrong
            self._labrecorder_off()
            self._close_outlets()
            raise
        for hook in list(self.stop_hooks):
            try:
                hook()
            except Exception as exc:
                self.errors.append(f"at stop: {exc}")
        for w in self.writers.values():
            w.finish(timeout=120)
            if w.stats.error and w.stats.error not in self.errors:
                self.errors.append(w.stats.error)
        stop_lsl = pylsl.local_clock()
        self._stopped_at_lsl = stop_lsl
        for m in self.monitors:
            m.window_end = stop_lsl
        if self.markers is not None:
            self.markers.push("recording_stop", stop_lsl, session=self.session_id, reason=reason)
        time.sleep(self.config.drain_s)
        if self._labrecorder is not None:
            try:
                self._labrecorder.stop()
            except (RuntimeError, OSError) as exc:
                self.errors.append(f"LabRecorderCLI: {exc}")
                self._labrecorder_off()
        for m in self.monitors:
            m.stop()
        for m in self.monitors:
            m.join(timeout=2)
        self._count_from_file()
        self._close_outlets()
        self.meta["stopped_at"] = sess.now_iso()
        self.meta["stopped_lsl"] = stop_lsl
        self.meta["stop_reason"] = reason
        try:  # the reserve is there to make room for the files written now, at stop
            (self.folder / RESERVE_NAME).unlink()
        except OSError:
            pass
        if self.rig is not None:
            try:  # each file written by temp-and-rename: a full disk leaves none half-written
                files = self.rig.write_ground_truth(self.folder, self._camera_frame_map.get("rgb", {}))
                self.meta["files"].update(files)
            except OSError as exc:
                self.errors.append(
                    f"cannot write the simulated rig's ground truth in {self.folder}: {exc.strerror or exc}{_full(exc)}"
                )
        failed = reason.startswith(FAILURE_PREFIXES) or any("No space left" in e for e in self.errors)
        self.meta["status"] = (
            "interrupted" if failed else getattr(self, "end_status", "complete")
        )  # aborted protocol: app/protocol_session.record_run
        if self.errors:
            self.meta["errors"] = list(self.errors)
        self.write_progress(final=True)
        return self.meta

    def _stop_capture(self) -> None:
        if self.rig is not None and self.rig.camera is not None:
            self.rig.camera.stop()  # the rig stops injecting frames before its software sensors are let go
        if self.camera is not None:
            self.camera.stop()
        if self.rig is not None:
            self.rig.stop()

    def _labrecorder_off(self) -> None:
        """LabRecorderCLI's process ended, whatever happened before (it never outlives its recorder)."""
        proc = self._labrecorder.process if self._labrecorder is not None else None
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass

    _file_counts: dict | None = None  # per stream, from the written XDF (set at stop)

    def _count_from_file(self) -> None:
        """At stop: the streams' samples, gaps and losses as the written XDF holds them (the same
        computation as ``mexlab check``); the live monitors' counts stay only if the file is unreadable."""
        xdf = self.folder / sess.XDF_NAME
        if self._labrecorder is None or not xdf.exists():
            return
        try:
            self._file_counts = stream_counts(xdf, self.folder)
        except MexlabError as exc:
            self.errors.append(f"cannot count the streams in {xdf}: {exc}")

    def _close_outlets(self) -> None:
        """Take mexlab's own outlets (markers, frame indexes, the rig's) off the network once
        LabRecorder has stopped: each holds LSL ports of this machine (liblsl's range fits about 16
        outlets), and a recorder kept around (a GUI, a test process) must not hold them."""
        if self.markers is not None:
            self.markers.close()
        for outlet in self.index_outlets.values():
            outlet.close()
        if self.rig is not None and self.rig.outlets is not None:
            self.rig.outlets.close()

    def abandon(self) -> None:
        """Stop everything after a failure during start; the folder stays, marked interrupted."""
        try:
            if self._labrecorder is not None and self._labrecorder.process is not None:
                self.stop(reason="failed")
                self.meta["status"] = "interrupted"
                sess.write_sidecar(self.folder, self.meta)
        except Exception:
            pass
        finally:
            self._close_outlets()
