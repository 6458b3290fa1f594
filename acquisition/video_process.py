"""A video writer in a process of its own: the encoder never waits for the GIL of a busy process.

In the desktop application the recorder shares its process with the GUI thread (previews, traces),
live spotting and, for the simulated rig, the renderer; on a loaded machine the encoder threads waited
for the interpreter lock and their queues overflowed (docs/benchmarks.md). :class:`VideoWriterProcess`
has the interface of :class:`acquisition.video_writer.VideoWriterThread` (``offer``, ``finish``,
``stats``, ``queue_depth``, ``on_written``) but encodes in a child process (multiprocessing "spawn"):

* ``offer`` only puts the frame on a bounded queue (never blocks for live cameras; a full queue
  drops the frame and counts it, as before);
* a sender thread writes the pixels to the child through a pipe (the write releases the GIL);
* the child receives on one thread and encodes on its main thread (the same
  :class:`~acquisition.video_writer.VideoFile`), and answers each frame with its number in the file;
* a reader thread here runs ``on_written`` (the frame-index sample) in the recorder's process, so the
  index still names only frames the file holds.

If the recorder's process dies, the child sees the pipe close and closes the file (what was sent is
kept). A write error (a full disk) is reported in ``stats.error`` like the thread's.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from acquisition.video_writer import QueuedFrame, WriterStats, colour_codec_name

_STOP = object()
START_TIMEOUT_S = 60.0


def _child(conn, path: str, width: int, height: int, fps: float, kind: str, threads: int, codec: str | None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the recorder's to handle: it stops us cleanly
    import av

    from acquisition.video_writer import VideoFile, _reason

    try:
        vf = VideoFile(Path(path), width, height, fps, kind, threads=threads, codec=codec)
    except (OSError, av.error.FFmpegError, ValueError) as exc:
        conn.send(("open_failed", f"{path}: {_reason(exc)}"))
        return
    conn.send(("ready",))
    shape, dtype = ((height, width, 3), np.uint8) if kind == "rgb" else ((height, width), np.uint16)
    inbox: queue.Queue = queue.Queue()

    def receive() -> None:
        while True:
            try:
                head = conn.recv()
                if head is None:
                    break
                data = conn.recv_bytes()
            except (EOFError, OSError):  # the recorder's process is gone: close the file
                break
            inbox.put((head, data))
        inbox.put(None)

    threading.Thread(target=receive, name="mexlab-encoder-receive", daemon=True).start()
    failed = False
    while True:
        item = inbox.get()
        if item is None:
            break
        seq, data = item
        if failed:
            _send(conn, ("skipped", seq))
            continue
        t0 = time.perf_counter()
        try:
            vf.write(np.frombuffer(data, dtype=dtype).reshape(shape))
        except (OSError, av.error.FFmpegError) as exc:
            failed = True
            _send(conn, ("error", seq, f"{path}: {_reason(exc)}"))
            continue
        _send(conn, ("written", seq, vf.frames - 1, time.perf_counter() - t0))
    error = None
    try:
        vf.close()
    except (OSError, av.error.FFmpegError) as exc:
        error = f"{path}: {_reason(exc)}"
    _send(conn, ("closed", error))


def _send(conn, msg) -> None:
    try:
        conn.send(msg)
    except (OSError, EOFError):
        pass


class VideoWriterProcess:
    """Drop-in for VideoWriterThread, encoding in a child process (see the module's text)."""

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
        if kind not in ("rgb", "depth"):
            raise ValueError(f"kind must be 'rgb' or 'depth', not {kind!r}")
        if kind == "rgb":
            colour_codec_name(codec)  # refused here, before a child process is started
        self.kind = kind
        self.path = Path(path)
        self.stats = WriterStats()
        self._on_written = on_written
        self._max_queue = max_queue
        self._outbox: queue.Queue = queue.Queue()
        self._pending: dict[int, QueuedFrame] = {}  # offered, not yet written (what queue_depth counts)
        self._lock = threading.Lock()
        self._seq = 0
        self._failed = threading.Event()
        self._closed = threading.Event()
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=_child,
            args=(child_conn, str(path), int(width), int(height), float(fps), kind, threads, codec),
            name=f"mexlab-encoder-{kind}",
            daemon=True,
        )
        self._proc.start()
        child_conn.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self._proc.kill()
            raise OSError(f"{path}: the encoder process did not start within {START_TIMEOUT_S:g} s")
        try:
            first = self._conn.recv()
        except EOFError:
            raise OSError(f"{path}: the encoder process ended at start (exit code {self._proc.exitcode})") from None
        if first[0] != "ready":
            self._proc.join(5)
            raise OSError(first[1])
        self._sender = threading.Thread(target=self._send_loop, name=f"mexlab-encoder-send-{kind}", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name=f"mexlab-encoder-read-{kind}", daemon=True)

    def start(self) -> None:
        self._sender.start()
        self._reader.start()

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def offer(self, item: QueuedFrame, block: bool = False, timeout: float | None = None) -> bool:
        """Queue a frame; False (and counted) when dropped because the encoder fell behind."""
        self.stats.frames_offered += 1
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._failed.is_set():
                    self.stats.dropped_queue_overflow += 1
                    return False
                if len(self._pending) < self._max_queue:
                    seq = self._seq
                    self._seq += 1
                    self._pending[seq] = replace(item, image=None)
                    break
            if not block or (end is not None and time.monotonic() >= end):
                self.stats.dropped_queue_overflow += 1
                return False
            time.sleep(0.002)
        self._outbox.put((seq, np.ascontiguousarray(item.image)))
        return True

    def _send_loop(self) -> None:
        while True:
            job = self._outbox.get()
            if job is _STOP:
                break
            seq, image = job
            try:
                self._conn.send(seq)
                self._conn.send_bytes(memoryview(image).cast("B"))
            except (OSError, ValueError) as exc:
                self._fail(f"{self.path}: the encoder process is gone ({exc})")
                break
        try:
            self._conn.send(None)  # no more frames: the child encodes what it has and closes the file
        except (OSError, ValueError):
            pass

    def _read_loop(self) -> None:
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                if not self._closed.is_set():
                    self._fail(f"{self.path}: the encoder process ended unexpectedly (exit code {self._proc.exitcode})")
                break
            kind = msg[0]
            if kind == "written":
                _, seq, index, seconds = msg
                with self._lock:
                    item = self._pending.pop(seq)
                self.stats.encode_seconds += seconds
                self.stats.frames_written += 1
                self._on_written(index, item)
            elif kind in ("skipped", "error"):
                with self._lock:
                    self._pending.pop(msg[1], None)
                if kind == "error":
                    self._fail(msg[2])
            elif kind == "closed":
                if msg[1] and self.stats.error is None:
                    self.stats.error = msg[1]
                self._closed.set()
                break
        with self._lock:
            self._pending.clear()

    def _fail(self, message: str) -> None:
        if self.stats.error is None:
            self.stats.error = message
        self._failed.set()

    def finish(self, timeout: float | None = None) -> None:
        """Encode everything queued, close the file, and end the child process."""
        self._outbox.put(_STOP)
        self._sender.join(timeout)
        self._reader.join(timeout)
        self._proc.join(5 if timeout is None else min(timeout, 5))
        if self._proc.is_alive():
            self._proc.kill()
        self._conn.close()
        try:
            self.stats.bytes_written = self.path.stat().st_size
        except OSError:
            pass

    def join(self, timeout: float | None = None) -> None:
        self._reader.join(timeout)
