"""Lossless video files in Matroska, written off the capture thread.

* colour: the camera's ``rgb8`` frames are stored as lossless H.264 RGB (``libx264rgb``, qp 0,
  ``rgb24``; :data:`DEFAULT_COLOUR_CODEC`) or, when asked, FFV1 ``bgr0`` — both lossless, so a frame
  decoded as ``rgb24`` is bit-identical to what the camera delivered;
* depth: ``z16`` frames are stored as FFV1 ``gray16le`` (raw uint16 depth values; x264 has no
  lossless 16-bit grey).

Every frame is an intra frame (``g=1``), so any frame can be decoded without its neighbours and seeking
is frame-accurate. Matroska clusters are closed at least every 500 ms and the file is flushed after
each frame, so a process killed with SIGKILL leaves a file readable up to the last flushed frame.

:class:`VideoWriterThread` owns one file and a bounded queue. The capture side calls :meth:`offer`,
which never blocks for live cameras (a full queue drops the frame and counts it) and blocks for file
playback (where the producer can wait, so nothing is lost).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FFV1_OPTIONS = {"level": "3", "slices": "4", "slicecrc": "1", "g": "1"}
#: colour codecs a VideoFile can write (depth is always FFV1 gray16le: x264 has no lossless 16-bit
#: grey). name -> (FFmpeg encoder, stored pixel format, options). All bit-exact for rgb24 input;
#: "x264rgb" is H.264 lossless RGB (High 4:4:4, qp 0) with a keyframe every second: frame-accurate
#: seeking decodes from the keyframe before. bench/codec_compare.py measures them.
COLOUR_CODECS = {
    "ffv1": ("ffv1", "bgr0", FFV1_OPTIONS),
    "x264rgb": ("libx264rgb", "rgb24", {"qp": "0", "preset": "ultrafast", "g": "30", "bf": "0", "rc-lookahead": "0"}),
    # every frame a keyframe; "zerolatency": no lookahead and sliced threads, so each frame's packet
    # leaves the encoder with the frame (the frame index never names a frame the file does not hold)
    "x264rgb-intra": ("libx264rgb", "rgb24", {"qp": "0", "preset": "ultrafast", "g": "1", "tune": "zerolatency"}),
}
#: the codec of each kind that new recordings use unless told otherwise (readers read every codec
#: FFmpeg decodes, old FFV1 sessions too). Colour: lossless H.264 RGB, all intra, since
#: bench/codec_compare.py on a quiet machine (docs/benchmarks.md, 2026-12-03): on a camera-like
#: picture FFV1 encoded 33 frames/s with both cores (no headroom at 30 fps: the recorder's queues
#: overflowed whenever anything else ran) and x264rgb-intra 66 (one thread: 71), decoding 1.9x
#: faster, in files 14 % larger.
DEFAULT_COLOUR_CODEC = "x264rgb-intra"
DEPTH_CODEC = "ffv1"
_STOP = object()


def colour_codec_name(codec: str | None) -> str:
    """The colour codec a writer asked for ``codec`` uses (None: the default); ValueError if unknown."""
    name = DEFAULT_COLOUR_CODEC if codec is None else codec  # '' is a wrong name, not "the default"
    if name not in COLOUR_CODECS:
        raise ValueError(f"unknown colour codec {codec!r} (one of {', '.join(COLOUR_CODECS)})")
    return name


@dataclass
class QueuedFrame:
    image: np.ndarray
    camera_frame: int
    camera_timestamp_ms: float
    lsl_time: float


@dataclass
class WriterStats:
    frames_offered: int = 0
    frames_written: int = 0
    dropped_queue_overflow: int = 0
    encode_seconds: float = 0.0
    bytes_written: int = 0
    error: str | None = None
    extra: dict = field(default_factory=dict)


def _reason(exc: BaseException) -> str:
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "No space left on device (the disk is full)"
    return getattr(exc, "strerror", None) or str(exc)


class VideoFile:
    """A synchronous lossless MKV writer (used by the writer thread and process, and by tools)."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, kind: str, threads: int = 2, codec: str | None = None
    ):
        if kind not in ("rgb", "depth"):
            raise ValueError(f"kind must be 'rgb' or 'depth', not {kind!r}")
        self.codec_name = colour_codec_name(codec) if kind == "rgb" else DEPTH_CODEC
        self.path = Path(path)
        self.kind = kind
        self.width, self.height = int(width), int(height)
        self._in_format = "rgb24" if kind == "rgb" else "gray16le"
        self._container = av.open(
            str(self.path),
            mode="w",
            format="matroska",
            options={"cluster_time_limit": "500", "flush_packets": "1"},
        )
        rate = Fraction(fps).limit_denominator(1001)
        if kind == "rgb":
            encoder, pix_fmt, options = COLOUR_CODECS[self.codec_name]
        else:
            encoder, pix_fmt, options = "ffv1", "gray16le", FFV1_OPTIONS
        self.codec = encoder
        stream = self._container.add_stream(encoder, rate=rate)
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = pix_fmt
        stream.options = dict(options)
        stream.codec_context.thread_count = threads
        stream.time_base = Fraction(1, 1000)
        self._stream = stream
        self._fps = float(fps)
        self.frames = 0
        self.packets = 0  # muxed into the file: equals ``frames`` after each write for intra codecs

    def write(self, image: np.ndarray, pts_ms: int | None = None) -> None:
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"{self.path.name}: frame of {image.shape[1]}x{image.shape[0]}, expected {self.width}x{self.height}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=self._in_format)
        # pts in ms from the frame's position: monotonic, one frame per index
        frame.pts = int(round(self.frames * 1000.0 / self._fps)) if pts_ms is None else int(pts_ms)
        frame.time_base = Fraction(1, 1000)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
            self.packets += 1
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
                self.packets += 1
        finally:
            self._container.close()
            self._container = None


class VideoWriterThread(threading.Thread):
    """Encode frames from a bounded queue into one file; report each written frame.

    ``on_written(frame_in_file, queued_frame)`` runs after the frame is muxed: the recorder pushes
    the frame-index sample there, so the index never names a frame the file does not hold.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        kind: str,
        on_written: Callable[[int, QueuedFrame], None],
        max_queue: int = 90,
        threads: int = 2,
        codec: str | None = None,
    ):
        super().__init__(name=f"mexlab-encoder-{kind}", daemon=True)
        self.kind = kind
        self.stats = WriterStats()
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._on_written = on_written
        self._file = VideoFile(path, width, height, fps, kind, threads=threads, codec=codec)
        self._failed = threading.Event()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def offer(self, item: QueuedFrame, block: bool = False, timeout: float | None = None) -> bool:
        """Queue a frame; False (and counted) when dropped because the encoder fell behind."""
        self.stats.frames_offered += 1
        if self._failed.is_set():
            self.stats.dropped_queue_overflow += 1
            return False
        try:
            self._queue.put(item, block=block, timeout=timeout)
            return True
        except queue.Full:
            self.stats.dropped_queue_overflow += 1
            return False

    def finish(self, timeout: float | None = None) -> None:
        """Encode everything queued, close the file, and end the thread."""
        self._queue.put(_STOP)
        self.join(timeout)

    def run(self) -> None:
        import time

        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if self._failed.is_set():
                    continue
                t0 = time.perf_counter()
                try:
                    self._file.write(item.image)
                except (OSError, av.error.FFmpegError) as exc:
                    self.stats.error = f"{self._file.path}: {_reason(exc)}"
                    self._failed.set()
                    continue
                self.stats.encode_seconds += time.perf_counter() - t0
                index = self.stats.frames_written
                self.stats.frames_written += 1
                self._on_written(index, item)
        finally:
            try:
                self._file.close()
            except (OSError, av.error.FFmpegError) as exc:
                if self.stats.error is None:
                    self.stats.error = f"{self._file.path}: {_reason(exc)}"
