"""One frame at a time: face tracking (every ``stride``-th frame) and registered optical flow (every
frame). Shared by the offline extractor (:mod:`analysis.spotting.features`) and the live
:class:`~analysis.spotting.live.StreamingSpotter`.

Between two runs of the face model the registration is held (the head moves little in 1/15 s and
the flow pair is always warped alike, so this costs no accuracy); face presence is held too. The
face model runs in a thread of its own, in parallel with the flow of the following frames.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analysis.face.landmarker import BLENDSHAPE_NAMES, FaceTracker
from analysis.spotting import regions as R
from analysis.spotting.flow import N_GLOBAL, FlowEstimator

if TYPE_CHECKING:
    from analysis.face.depth import DepthMapper

N_REG = len(R.REGION_NAMES)
_NO_FLOW = np.zeros((N_REG, 2), np.float32)


@dataclass
class FrameRecord:
    index: int
    t: float
    keyframe: bool
    present: bool
    confidence: float = 0.0
    pose: np.ndarray | None = None  # (6,) at keyframes with a face
    blendshapes: np.ndarray | None = None  # (52,) at keyframes with a face
    landmarks: np.ndarray | None = None  # (478, 2) at keyframes with a face
    box: tuple | None = None
    flow: np.ndarray | None = None  # (n_regions, 2) residual motion since the last frame
    head_flow: np.ndarray | None = None  # (n_regions, 2) rigid motion taken out of it
    glob: np.ndarray | None = None  # (N_GLOBAL,) global (head) motion model
    rms: float = 0.0
    gain: float = 1.0  # the face crop's brightness over the previous frame's (flow.crop_gain)
    depth_face: np.ndarray | None = None  # (4,) distance, X, Y, Z (mm)


@dataclass
class StageTimes:
    face: float = 0.0  # time in the face model (its own thread when threaded)
    face_wait: float = 0.0  # time the frame loop waited for it
    flow: float = 0.0
    depth: float = 0.0
    face_calls: int = 0
    frames: int = 0
    extra: dict = field(default_factory=dict)


class _Done:
    """A finished 'future' (the face model run inline)."""

    def __init__(self, value):
        self._v = value

    def result(self):
        return self._v


class FrameProcessor:
    """Face model every ``stride``-th frame, flow every frame.

    The face model runs in its own thread (``threaded``), in parallel with the flow of the next
    frames; the result for keyframe ``k`` is applied when frame ``k + lag`` is processed (waiting
    for it if need be), so the output does not depend on timing. ``process`` returns the records
    that are final: frames up to ``index - lag`` (``flush`` returns the rest).
    """

    def __init__(
        self,
        *,
        stride: int = 3,
        crop: int = 128,
        max_side: int = 640,
        depth_mapper: DepthMapper | None = None,
        threaded: bool = True,
        lag: int | None = None,
    ):
        self.stride = max(1, int(stride))
        self.lag = self.stride if lag is None else max(0, int(lag))
        self.flow = FlowEstimator(crop)
        self.depth_mapper = depth_mapper
        self.times = StageTimes()
        self._pool = None
        if threaded:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="mexlab-face")
            self.tracker = self._pool.submit(FaceTracker, max_side=max_side).result()
        else:
            self.tracker = FaceTracker(max_side=max_side)
        self._present = False
        self._conf = 0.0
        self._box = None
        self._pending: deque = deque()  # (keyframe index, future, submit time)
        self._window: deque = deque()  # records not yet final

    def close(self) -> None:
        if self._pool is not None:
            self._pool.submit(self.tracker.close).result()
            self._pool.shutdown(wait=True)
            self._pool = None
        else:
            self.tracker.close()

    def wants_rgb(self, index: int) -> bool:
        return index % self.stride == 0

    def _timed_face(self, rgb, t_ms):
        t0 = time.perf_counter()
        ff = self.tracker.process(rgb, t_ms)
        self.times.face += time.perf_counter() - t0
        self.times.face_calls += 1
        return ff

    def _apply(self, k: int, ff) -> None:
        """Apply the face model's result for keyframe ``k`` to the records from ``k`` on."""
        self._present = ff is not None
        if ff is None:
            self.flow.reset()
            for r in self._window:
                if r.index >= k:
                    r.present, r.confidence, r.box = False, 0.0, None
                    r.flow = r.head_flow = r.glob = r.depth_face = None
            return
        self._conf, self._box = ff.confidence, ff.box
        t0 = time.perf_counter()
        self.flow.set_landmarks(ff.landmarks)
        self.times.flow += time.perf_counter() - t0
        for r in self._window:
            if r.index == k:
                r.pose, r.blendshapes, r.landmarks = ff.pose, ff.blendshapes, ff.landmarks[:, :2]
            if r.index >= k:
                r.present, r.confidence, r.box = True, ff.confidence, ff.box

    def process(
        self,
        index: int,
        t: float,
        gray: np.ndarray,
        rgb: np.ndarray | None = None,
        depth_raw: np.ndarray | None = None,
        face_t: float | None = None,
    ) -> list[FrameRecord]:
        """One frame (``face_t``: the time the face model is given, s; default ``t``). The face model's
        results depend on its timestamps (its tracking smooths over time): the live spotter gives it
        the frame's time in the file, as offline extraction does, so both compute the same."""
        ft = t if face_t is None else face_t
        rec = FrameRecord(
            index,
            t,
            keyframe=rgb is not None,
            present=self._present,
            confidence=self._conf if self._present else 0.0,
            box=self._box if self._present else None,
        )
        self.times.frames += 1
        self._window.append(rec)
        if rgb is not None:
            fut = (
                self._pool.submit(self._timed_face, rgb, ft * 1000.0)
                if self._pool
                else _Done(self._timed_face(rgb, ft * 1000.0))
            )
            self._pending.append((index, fut))
        while self._pending and self._pending[0][0] <= index - self.lag:
            k, fut = self._pending.popleft()
            t0 = time.perf_counter()
            ff = fut.result()
            self.times.face_wait += time.perf_counter() - t0
            self._apply(k, ff)
        rec.present = self._present
        if self._present and self.flow.m is not None:
            self._flow(rec, gray, depth_raw)
        out = []
        while self._window and self._window[0].index <= index - self.lag:
            out.append(self._window.popleft())
        return out

    def flush(self) -> list[FrameRecord]:
        """Wait for the face model and return the records still held back."""
        while self._pending:
            k, fut = self._pending.popleft()
            self._apply(k, fut.result())
        out = list(self._window)
        self._window.clear()
        return out

    def _flow(self, rec: FrameRecord, gray: np.ndarray, depth_raw) -> None:
        depth_reg, scale = None, 1.0
        if depth_raw is not None and self.depth_mapper is not None:
            t0 = time.perf_counter()
            rec.depth_face = self.depth_mapper.face(depth_raw, self._box)
            if self.depth_mapper.registered:  # the flow scales its crop of the raw frame to mm
                depth_reg, scale = depth_raw, self.depth_mapper.to_mm
            self.times.depth += time.perf_counter() - t0
        t0 = time.perf_counter()
        out = self.flow.step(gray, depth_reg, scale)
        self.times.flow += time.perf_counter() - t0
        if out is not None:
            rec.flow, rec.head_flow, rec.glob, rec.rms = out
            rec.gain = self.flow.last_gain


class RecordArrays:
    """Column store of FrameRecords (grown in blocks).

    With ``spill`` the face model's landmarks (1.9 KB per face-model frame, half of all the
    features: 66 MiB for an hour at stride 3) and the rigid head flow taken out of each region's
    (144 B per frame, 15 MiB an hour; only spotting without interference elimination reads it) are
    not held in memory: each is appended to a temporary file as it comes (:class:`SpilledRows`), and
    :meth:`arrays` gives them as read-only memory maps of those files, whose pages are read only
    when asked for.
    """

    def __init__(self, n_hint: int = 1024, *, spill: bool = False):
        self.n = 0
        self._cap = 0
        self.kf_index: list[int] = []
        self._kf = np.zeros((0, 478, 2), np.float16)  # the face model's landmarks, grown in blocks
        self._spill: SpilledRows | None = SpilledRows((478, 2), np.float16) if spill else None
        self._head: SpilledRows | None = SpilledRows((N_REG, 2), np.float32) if spill else None
        self._grow(max(64, n_hint))

    def _grow(self, cap: int) -> None:
        def g(name, shape, dtype, fill):
            new = np.full((cap,) + shape, fill, dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[: self.n] = old[: self.n]
            setattr(self, name, new)

        g("t", (), np.float64, np.nan)
        g("present", (), bool, False)
        g("keyframe", (), bool, False)
        g("confidence", (), np.float32, 0.0)
        g("pose", (6,), np.float32, np.nan)
        g("blendshapes", (len(BLENDSHAPE_NAMES),), np.float32, np.nan)
        g("box", (4,), np.float32, np.nan)
        g("flow", (N_REG, 2), np.float32, 0.0)
        if self._head is None:
            g("head_flow", (N_REG, 2), np.float32, 0.0)
        g("flow_valid", (), bool, False)
        g("glob", (N_GLOBAL,), np.float32, 0.0)
        g("rms", (), np.float32, 0.0)
        g("gain", (), np.float32, 1.0)
        g("depth_face", (4,), np.float32, np.nan)
        self._cap = cap

    def add(self, r: FrameRecord) -> None:
        if self.n >= self._cap:
            self._grow(self._cap * 2)
        i = self.n
        self.t[i], self.present[i], self.keyframe[i] = r.t, r.present, r.keyframe
        self.confidence[i] = r.confidence
        if r.pose is not None:
            self.pose[i], self.blendshapes[i] = r.pose, r.blendshapes
        if r.landmarks is not None:
            k = len(self.kf_index)
            if self._spill is not None:
                self._spill.append(r.landmarks)
            else:
                if k >= self._kf.shape[0]:  # a third of the frames at the default stride, then doubling
                    grown = np.zeros((max(64, k * 2, self._cap // 3 + 8),) + r.landmarks.shape, np.float16)
                    grown[:k] = self._kf[:k]
                    self._kf = grown
                self._kf[k] = r.landmarks
            self.kf_index.append(r.index)
        if r.box is not None:
            self.box[i] = r.box
        if r.flow is not None:
            self.flow[i] = r.flow
            if self._head is None:
                self.head_flow[i] = r.head_flow
            self.glob[i], self.rms[i], self.gain[i] = r.glob, r.rms, r.gain
            self.flow_valid[i] = True
        if self._head is not None:
            self._head.append(r.head_flow if r.flow is not None else _NO_FLOW)
        if r.depth_face is not None:
            self.depth_face[i] = r.depth_face
        self.n += 1

    def arrays(self) -> dict[str, np.ndarray]:
        names = (
            "t",
            "present",
            "keyframe",
            "confidence",
            "pose",
            "blendshapes",
            "box",
            "flow",
            "flow_valid",
            "glob",
            "rms",
            "gain",
            "depth_face",
        )
        # views, not copies, when the store was sized right (an hour of frames is not held twice)
        out = {k: _trimmed(getattr(self, k), self.n) for k in names}
        out["head_flow"] = self._head.array() if self._head is not None else _trimmed(self.head_flow, self.n)
        out["kf_index"] = np.array(self.kf_index, np.int32)
        if self._spill is not None:
            out["kf_landmarks"] = self._spill.array()
        else:
            out["kf_landmarks"] = _trimmed(self._kf, len(self.kf_index))
        return out


class SpilledRows:
    """Rows of one shape and dtype appended to a temporary file, read back at the end as a
    read-only memory map (:meth:`array`); the file is removed when the map, every view of it and
    this object are gone. When no temporary file can be made or written (a full or read-only temp folder), the rows
    are kept in memory instead: spilling saves memory, it is never an error."""

    def __init__(self, shape: tuple[int, ...], dtype: np.typing.DTypeLike):
        import tempfile

        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.n = 0
        self._mem: list[np.ndarray] = []
        self._done = False
        try:
            # unbuffered: a write that fails (full disk) fails in append(), where it is handled
            self._fh = tempfile.NamedTemporaryFile(prefix="mexlab-rows-", suffix=".bin", delete=False, buffering=0)  # noqa: SIM115
        except OSError:
            self._fh = None
        # a store dropped before array() (an extraction that failed) takes its file with it
        self._cleanup = weakref.finalize(self, _unlink, self._fh.name) if self._fh is not None else None

    def append(self, row: np.ndarray) -> None:
        if self._done:
            raise RuntimeError("SpilledRows: no rows can be added after array()")
        row = np.ascontiguousarray(row, dtype=self.dtype).reshape(self.shape)
        if self._fh is not None:
            try:
                if self._fh.write(row.tobytes()) != row.nbytes:
                    raise OSError("short write")
                self.n += 1
                return
            except OSError:  # e.g. the temp folder filled up: what was written comes back to memory
                self._to_memory()
        self._mem.append(row.copy())
        self.n += 1

    def _to_memory(self) -> None:
        name = self._fh.name
        try:
            self._fh.close()
            back = np.fromfile(name, self.dtype, count=(self.n - len(self._mem)) * int(np.prod(self.shape)))
            self._mem = list(back.reshape((-1,) + self.shape)) + self._mem
        finally:
            self._fh = None
            _unlink(name)

    def array(self) -> np.ndarray:
        """Every row, (n, *shape): a read-only memory map of the file (not read into memory). Once
        called, no more rows can be added; it gives the same array again."""
        if self._done:
            return self._array
        self._array = self._final()
        self._done = True
        return self._array

    def _final(self) -> np.ndarray:
        if self._fh is not None:
            name = self._fh.name
            self._fh.close()
            self._fh = None
            if self.n == 0:
                _unlink(name)
                return np.zeros((0,) + self.shape, self.dtype)
            mm = np.memmap(name, self.dtype, mode="r", shape=(self.n,) + self.shape)
            weakref.finalize(mm.base, _unlink, name)  # views keep mm, mm keeps its map
            if self._cleanup is not None:
                self._cleanup.detach()  # the map's finalizer removes the file now
            return mm
        return np.stack(self._mem) if self._mem else np.zeros((0,) + self.shape, self.dtype)


def _unlink(name: str) -> None:
    import os

    try:
        os.unlink(name)
    except OSError:
        pass


def _trimmed(a: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` rows of ``a``: a view when they are most of it, else a copy (so that a store
    grown far beyond its content does not keep its spare rows alive)."""
    return a[:n] if n >= 0.75 * a.shape[0] else a[:n].copy()


def interpolate_keyframes(a: dict) -> None:
    """Fill pose/blendshapes between face-model frames (only inside runs of face presence)."""
    n = len(a["t"])
    have = np.flatnonzero(np.isfinite(a["pose"][:, 0]))
    if len(have) == 0:
        return
    idx = np.arange(n)
    fill = a["present"] & ~np.isfinite(a["pose"][:, 0])
    if not fill.any():
        return
    for key in ("pose", "blendshapes"):
        src = a[key]
        for c in range(src.shape[1]):
            src[fill, c] = np.interp(idx[fill], have, src[have, c])
