"""The live spotter in a process of its own, at a lower CPU priority (issue 10).

In the recording's process the :class:`~analysis.spotting.live.StreamingSpotter` (face model, optical
flow, the detector every 0.1 s) competed with the window's thread for the two cores of a lab laptop
and for the interpreter lock: the previews fell to a few frames per second. :class:`SpotterProcess`
runs the same spotter in a child process (multiprocessing "spawn", as the encoders and the simulated
camera's renderer run) whose scheduling priority is lowered (``nice``, default
:data:`SPOTTER_NICE`): the recording's encoders and the window come first, spotting takes what CPU
is left, and it shares no interpreter lock with them.

* It is a drop-in for the spotter :class:`app.services.live_spotting.LiveSpotting` drives:
  ``fps``, ``push(frame, timestamp, index=)`` returning the new flags, ``last_box``,
  ``last_landmarks`` (sent only when the face model has run again), ``flush()`` and
  ``close()``; the flags are the child's :class:`~analysis.spotting.live.LiveFlag` objects, the same
  the spotter returns in-process (``tests/analysis/test_spotting_live_process.py`` compares them).
* Pixels go through one shared-memory buffer (a push waits for the child's answer, so one is
  enough); the pipe carries the frame's shape, time and number, and the answers.
* The face model loads in the child when the process starts (``SpotterProcess(...)`` returns when it
  is ready: call it in the pre-flight). A model that cannot load is raised as the child's message.
* A child that dies makes the next ``push`` raise :class:`RuntimeError` naming how it ended; the
  caller reports it and the recording goes on. ``close`` ends it (asked, terminated, killed) and
  unlinks the shared memory; the same runs when the object is garbage-collected. If the parent is
  killed, the child sees its pipe close and ends.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import weakref
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from acquisition.child_process import end_child

SPOTTER_NICE = 10  # how much lower the spotter's priority is than the recording's
START_TIMEOUT_S = 120.0  # spawn, imports and the face model, on a loaded machine
ANSWER_TIMEOUT_S = 60.0  # one frame (or the end's flush) on a loaded machine
STOP_TIMEOUT_S = 5.0


def _child(conn, fps: float, nice: int, kw: dict) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the recorder's: it stops us through the pipe
    if nice:
        try:
            os.nice(int(nice))
        except OSError:
            pass  # not allowed here: same priority, still a process of its own
    shm = dshm = None
    spotter = None
    try:
        from analysis.spotting.live import StreamingSpotter

        spotter = StreamingSpotter(fps, **kw)
        sent_landmarks = None  # the frame number of the landmarks last sent
        conn.send(("ready", None))
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return  # the parent has gone
            kind = msg[0]
            if kind == "stop":
                return
            if kind == "shm":
                if shm is not None:
                    shm.close()
                shm = shared_memory.SharedMemory(name=msg[1])
                continue
            if kind == "dshm":
                if dshm is not None:
                    dshm.close()
                dshm = shared_memory.SharedMemory(name=msg[1])
                continue
            if kind == "keep":
                try:
                    spotter.keep_features(msg[1])
                    conn.send(("kept", None))
                except Exception as exc:  # noqa: BLE001 - said to the parent
                    conn.send(("kept", f"{exc}"))
                continue
            if kind == "unkeep":
                spotter.stop_keeping()
                conn.send(("kept", None))
                continue
            if kind == "save":
                conn.send(("saved", spotter.save_features(msg[1], msg[2])))
                continue
            if kind == "push":
                _, shape, t, index, dshape = msg
                n = int(np.prod(shape))
                frame = np.frombuffer(shm.buf, np.uint8, n).reshape(shape).copy()  # the next push reuses it
                depth = None
                if dshape is not None:
                    depth = np.frombuffer(dshm.buf, np.uint16, int(np.prod(dshape))).reshape(dshape).copy()
                flags = spotter.push(frame, t, index=index, depth=depth)
            elif kind == "flush":
                flags = spotter.flush()
            else:
                conn.send(("error", f"unknown request {kind!r}"))
                continue
            lm = spotter.last_landmarks
            if lm is not None and lm[0] == sent_landmarks:
                lm = None  # unchanged: not sent again
            elif lm is not None:
                sent_landmarks = lm[0]
            conn.send(("ok", flags, spotter.last_box, lm))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
    finally:
        if spotter is not None:
            spotter.close()
        for m in (shm, dshm):
            if m is not None:
                m.close()


class SpotterProcess:
    """A :class:`~analysis.spotting.live.StreamingSpotter` in a child process (see the module's text).

    ``kw`` are the spotter's own keyword arguments (``stride``, ``window_s``, ``params``, ...)."""

    def __init__(self, fps: float, *, nice: int = SPOTTER_NICE, start_timeout: float = START_TIMEOUT_S, **kw: Any):
        if not fps or fps <= 0:
            raise ValueError("fps must be positive")
        self.fps = float(fps)
        self.last_box: tuple | None = None
        self.last_landmarks: tuple[int, np.ndarray] | None = None  # as StreamingSpotter's
        self.nice = int(nice)
        self._lock = threading.Lock()
        self._shms: list = []  # every buffer made (unlinked at close)
        self._current: dict = {}  # the buffer in use, per kind: "shm" (colour), "dshm" (depth)
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=_child, args=(child_conn, self.fps, self.nice, kw), name="mexlab-live-spotter", daemon=True
        )
        self._proc.start()
        child_conn.close()
        self._finalizer = weakref.finalize(
            self, end_child, self._proc, self._conn, self._lock, self._shms, STOP_TIMEOUT_S
        )
        try:
            msg = self._answer(start_timeout, "start")
        except BaseException:
            self.close()
            raise
        if msg[0] != "ready":
            self.close()
            raise RuntimeError(f"live spotter: unexpected first message {msg[0]!r}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()

    def _ended(self) -> str:
        self._proc.join(1)
        code = self._proc.exitcode
        how = "still running" if code is None else (f"exit code {code}" if code >= 0 else f"killed by signal {-code}")
        return f"the live spotting process ended unexpectedly ({how})"

    def _answer(self, timeout: float, what: str):
        try:
            if not self._conn.poll(timeout):
                raise RuntimeError(f"the live spotting process did not answer ({what}) within {timeout:g} s")
            msg = self._conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(self._ended()) from None
        if msg[0] == "error":
            raise RuntimeError(f"live spotting process: {msg[1]}")
        return msg

    def _exchange(self, msg: tuple, reply: str, what: str) -> tuple:
        """Send one request and wait for its answer, which must be of kind ``reply``; its contents."""
        with self._lock:
            try:
                self._conn.send(msg)
            except (OSError, ValueError):
                raise RuntimeError(self._ended()) from None
            got = self._answer(ANSWER_TIMEOUT_S, what)
        if got[0] != reply:
            raise RuntimeError(f"live spotting process: unexpected answer {got[0]!r} ({what})")
        return got[1:]

    def _request(self, msg: tuple, what: str) -> list:
        flags, box, landmarks = self._exchange(msg, "ok", what)
        self.last_box = box
        if landmarks is not None:
            self.last_landmarks = landmarks
        return flags

    def _buffer(self, nbytes: int, kind: str = "shm") -> shared_memory.SharedMemory:
        cur = self._current.get(kind)
        if cur is not None and cur.size >= nbytes:
            return cur
        shm = shared_memory.SharedMemory(create=True, size=max(1, nbytes))
        self._shms.append(shm)
        self._current[kind] = shm
        with self._lock:
            try:
                self._conn.send((kind, shm.name))
            except (OSError, ValueError):
                raise RuntimeError(self._ended()) from None
        return shm

    def push(
        self, frame: np.ndarray, timestamp: float, index: int | None = None, depth: np.ndarray | None = None
    ) -> list:
        """As :meth:`StreamingSpotter.push`: one RGB frame (H×W×3 uint8), and its raw depth frame
        (H×W uint16) when features are kept with depth; returns the new flags."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"a frame must be H×W×3 uint8, not {frame.shape} {frame.dtype}")
        shm = self._buffer(frame.nbytes)
        np.frombuffer(shm.buf, np.uint8, frame.size).reshape(frame.shape)[...] = frame
        dshape = None
        if depth is not None:
            depth = np.asarray(depth)
            if depth.dtype != np.uint16 or depth.ndim != 2:
                raise ValueError(f"a depth frame must be H×W uint16, not {depth.shape} {depth.dtype}")
            dshm = self._buffer(depth.nbytes, "dshm")
            np.frombuffer(dshm.buf, np.uint16, depth.size).reshape(depth.shape)[...] = depth
            dshape = depth.shape
        return self._request(("push", frame.shape, float(timestamp), index, dshape), "a frame")

    def keep_features(self, depth_mapper: Any = None) -> None:
        """As :meth:`StreamingSpotter.keep_features` (before the first push)."""
        (err,) = self._exchange(("keep", depth_mapper), "kept", "keep features")
        if err:
            raise RuntimeError(f"live spotting process: {err}")

    def stop_keeping(self) -> None:
        """As :meth:`StreamingSpotter.stop_keeping`."""
        self._exchange(("unkeep",), "kept", "stop keeping features")

    def save_features(self, path: str, error: str | None = None) -> dict:
        """As :meth:`StreamingSpotter.save_features` (written by the child)."""
        (said,) = self._exchange(("save", str(path), error), "saved", "save features")
        return said

    def flush(self) -> list:
        """As :meth:`StreamingSpotter.flush`: what the last frames can still confirm."""
        return self._request(("flush",), "the end of the stream")

    def close(self) -> None:
        """End the child and unlink the shared memory (idempotent)."""
        self._finalizer()
