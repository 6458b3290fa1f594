"""The simulated camera's renderer in a process of its own (issue 10).

In the recording's process the renderer competed for the interpreter lock with the GUI thread, the
previews, live spotting and the encoders' threads; on a busy machine it fell more than
:data:`~acquisition.sim.camera.CATCH_UP_S` behind and the rig skipped exposures that a real camera,
which exposes on its own clock, would have delivered. :class:`RenderProcess` renders in a child
process (multiprocessing "spawn", as :mod:`acquisition.video_process` runs the encoders):

* the child builds the same renderers (:class:`FrameRenderer`) from picklable inputs (schedule, modes,
  seed, face source) and renders frame ``k`` ahead of its capture time ``t0 + k / fps`` into a small
  ring of shared-memory slots (rgb ``uint8`` H×W×3 + depth ``uint16`` H×W per slot, and a header of
  frame number and render time), then posts a "ready" semaphore;
* the parent (the camera's injection thread) takes the next slot (a semaphore that is already posted
  is taken without letting go of the interpreter lock), waits for the frame's capture time (the one
  wait per frame), copies the slot into the software frame, injects it and posts the "free"
  semaphore: little work under the lock, and no more waits for it than a real camera's callback has.
  The pipe carries only the start, the stop and a failure's message;
* the child skips an exposure (the camera's frame counter jumps) only when it is itself more than
  ``CATCH_UP_S`` late for it: it rendered too slowly, or every slot was still waiting to be injected;
* ``close`` ends the child within a few seconds (asked, then terminated, then killed) and unlinks the
  shared memory; the same runs when the camera is garbage-collected or the interpreter exits. If the
  parent is killed, the child sees the pipe close and ends; the shared memory is then unlinked by
  multiprocessing's resource tracker.
* If the child dies or fails, :meth:`RenderProcess.next_frame` raises :class:`DeviceError` naming it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import threading
import time
import weakref
from multiprocessing import shared_memory
from typing import TYPE_CHECKING

import numpy as np

from acquisition.child_process import end_child
from acquisition.errors import DeviceError

if TYPE_CHECKING:
    from acquisition.realsense.modes import Mode
    from acquisition.sim.face_source import FaceSource, HeadPose
    from acquisition.sim.schedule import Schedule

SLOTS = 6  # frames rendered ahead (0.2 s at 30 fps; 11 MB at 848x480)
END = -1  # a slot's frame number after the schedule's last frame
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 3.0


def scale_pose(pose: HeadPose, rgb: Mode, depth: Mode) -> HeadPose:
    """The colour frame's head pose in the depth frame's pixels (the depth camera is registered to it)."""
    if (depth.width, depth.height) == (rgb.width, rgb.height):
        return pose
    sx = depth.width / rgb.width
    sy = depth.height / rgb.height
    x0, y0, x1, y1 = pose.face_box
    return dataclasses.replace(pose, tx=pose.tx * sx, ty=pose.ty * sy, face_box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))


class FrameRenderer:
    """Colour and depth of frame ``k`` of the simulated participant (the same pixels in any process)."""

    def __init__(self, schedule: Schedule, rgb: Mode, depth: Mode, seed: int = 0, source: FaceSource | None = None):
        from acquisition.sim.depth import DepthRenderer
        from acquisition.sim.face import FaceRenderer

        self.schedule, self.rgb_mode, self.depth_mode = schedule, rgb, depth
        self.face = FaceRenderer(rgb.width, rgb.height, seed=seed, source=source)
        self.depth = DepthRenderer(depth.width, depth.height, face=self.face)  # depth moves with the AUs

    def render(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        rgb, pose = self.face.render(k, self.schedule)
        depth = self.depth.render(
            scale_pose(pose, self.rgb_mode, self.depth_mode), self.face.au_coefficients(k, self.schedule)
        )
        return rgb, depth


def _layout(rgb: Mode, depth: Mode, slots: int) -> tuple[int, int, int, int]:
    """(bytes of the header, offset of depth in a slot, bytes of a slot, bytes in all); 64-byte aligned."""
    head = (slots * 16 + 63) // 64 * 64  # per slot: frame number, render nanoseconds (int64)
    nr = (rgb.width * rgb.height * 3 + 63) // 64 * 64
    size = (nr + depth.width * depth.height * 2 + 63) // 64 * 64
    return head, nr, size, head + slots * size


def _header(buf, slots: int) -> np.ndarray:
    return np.ndarray((slots, 2), np.int64, buffer=buf, offset=0)


def _views(buf, slot: int, rgb: Mode, depth: Mode, slots: int) -> tuple[np.ndarray, np.ndarray]:
    head, nr, size, _ = _layout(rgb, depth, slots)
    base = head + slot * size
    r = np.ndarray((rgb.height, rgb.width, 3), np.uint8, buffer=buf, offset=base)
    d = np.ndarray((depth.height, depth.width), np.uint16, buffer=buf, offset=base + nr)
    return r, d


def _stop_asked(conn) -> bool:
    """True when the parent asked us to stop or is gone (its end of the pipe closed)."""
    while conn.poll():
        msg = conn.recv()  # EOFError when the parent is gone
        if msg is None or msg[0] == "stop":
            return True
    return False


def _child(
    conn, shm_name: str, ready, free, schedule, rgb, depth, seed: int, source, slots: int, catch_up_s: float
) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the recorder's: it stops us through the pipe
    shm = None
    views: list = []
    header = None
    try:
        import pylsl

        t_build = time.perf_counter()
        renderer = FrameRenderer(schedule, rgb, depth, seed=seed, source=source)
        shm = shared_memory.SharedMemory(name=shm_name)
        header = _header(shm.buf, slots)
        views = [_views(shm.buf, i, rgb, depth, slots) for i in range(slots)]
        conn.send(("ready", time.perf_counter() - t_build))
        msg = conn.recv()
        if msg is None or msg[0] != "start":
            return
        t0, period = float(msg[1]), 1.0 / float(rgb.fps)
        n_frames = getattr(schedule, "n_frames", None)
        n = 0  # frames put in the ring: slot n % slots is next
        k = 0
        while True:
            while not free.acquire(timeout=0.2):  # every slot still waits to be injected
                if _stop_asked(conn):
                    return
            if _stop_asked(conn):
                return
            slot = n % slots
            now = pylsl.local_clock()
            while (n_frames is None or k < n_frames) and now - (t0 + k * period) > catch_up_s:
                k += 1  # this exposure is lost: the frame counter jumps, as a real camera's does
            if n_frames is not None and k >= n_frames:
                header[slot] = (END, 0)
                ready.release()
                break
            t = time.perf_counter_ns()
            r, d = renderer.render(k)
            np.copyto(views[slot][0], r)
            np.copyto(views[slot][1], d)
            header[slot] = (k, time.perf_counter_ns() - t)
            ready.release()  # after the pixels: the semaphore orders the writes for the parent
            n += 1
            k += 1
        while not _stop_asked(conn):
            time.sleep(0.2)
    except (EOFError, OSError):
        return  # the parent is gone (or closed the pipe): nothing to render for
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which names it to the user
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except (OSError, ValueError):
            pass
    finally:
        views.clear()
        header = None
        if shm is not None:
            try:
                shm.close()
            except BufferError:
                pass


class RenderProcess:
    """Renders the simulated camera's frames in a child process (see the module's text)."""

    def __init__(
        self,
        schedule: Schedule,
        rgb: Mode,
        depth: Mode,
        seed: int = 0,
        source: FaceSource | None = None,
        slots: int = SLOTS,
        catch_up_s: float = 0.5,
        name: str = "simulated camera",
    ):
        self.rgb_mode, self.depth_mode, self.slots, self.name = rgb, depth, int(slots), name
        self.build_seconds: float | None = None
        self._shm = shared_memory.SharedMemory(create=True, size=_layout(rgb, depth, self.slots)[3])
        self._send_lock = threading.Lock()
        self._n = 0  # frames taken from the ring: slot n % slots is next
        ctx = mp.get_context("spawn")
        self._ready_sem = ctx.Semaphore(0)  # posted by the child for each slot it filled
        self._free_sem = ctx.Semaphore(self.slots)  # posted here for each slot injected
        self._conn, child_conn = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=_child,
            args=(
                child_conn,
                self._shm.name,
                self._ready_sem,
                self._free_sem,
                schedule,
                rgb,
                depth,
                int(seed),
                source,
                self.slots,
                float(catch_up_s),
            ),
            name="mexlab-sim-render",
            daemon=True,
        )
        try:
            self._proc.start()
        except BaseException:
            self._shm.close()
            self._shm.unlink()
            raise
        child_conn.close()
        self._finalizer = weakref.finalize(
            self, end_child, self._proc, self._conn, self._send_lock, [self._shm], STOP_TIMEOUT_S
        )
        self._ready = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def shm_name(self) -> str:
        return self._shm.name

    def _failure(self) -> DeviceError:
        """What became of the child: its own message if it sent one, else how it ended."""
        try:
            while self._conn.poll():
                msg = self._conn.recv()
                if msg and msg[0] == "error":
                    return DeviceError(f"{self.name}: its render process failed: {msg[1]}")
        except (EOFError, OSError):
            pass
        self._proc.join(1)
        code = self._proc.exitcode
        how = f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"
        return DeviceError(f"{self.name}: its render process ended unexpectedly ({how}); no more frames")

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the child has built its renderers; DeviceError if it fails or does not start."""
        if self._ready:
            return
        try:
            if not self._conn.poll(timeout):
                raise DeviceError(f"{self.name}: its render process did not start within {timeout:g} s")
            msg = self._conn.recv()
        except (EOFError, OSError):
            raise self._failure() from None
        if msg[0] == "error":
            raise DeviceError(f"{self.name}: its render process failed at start: {msg[1]}")
        self.build_seconds = msg[1]
        self._ready = True

    def start(self, t0_lsl: float) -> None:
        """Frame 0 is due at ``t0_lsl`` (LSL clock); the child starts rendering ahead."""
        self.wait_ready()
        try:
            with self._send_lock:
                self._conn.send(("start", float(t0_lsl)))
        except (OSError, ValueError):
            raise self._failure() from None

    def next_frame(self, timeout: float) -> tuple[int, int, float] | None | bool:
        """``(slot, k, render_seconds)`` of the next rendered frame; False when none came within
        ``timeout``; None after the schedule's last frame. DeviceError if the child died or failed."""
        if not self._ready_sem.acquire(timeout=timeout):  # a posted one is taken without a GIL wait
            if not self._proc.is_alive() or self._conn.poll():
                raise self._failure()
            return False
        slot = self._n % self.slots
        self._n += 1
        k, ns = (int(v) for v in _header(self._shm.buf, self.slots)[slot])
        if k == END:
            return None
        return slot, k, ns / 1e9

    def views(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """The rgb and depth pixels of ``slot`` (views of the shared memory: drop them before close)."""
        return _views(self._shm.buf, slot, self.rgb_mode, self.depth_mode, self.slots)

    def release(self, slot: int) -> None:
        """Hand the slot just injected back to the child (slots go back in the order they came)."""
        self._free_sem.release()

    def close(self) -> None:
        """End the child and unlink the shared memory (idempotent)."""
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()
