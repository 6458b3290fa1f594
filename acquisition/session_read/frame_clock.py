"""The one frame clock: video frame number ↔ LSL time.

A session's frame *n* of ``rgb.mkv`` is the sample of the frame-index stream (``mexlab-rgb-frames``)
whose ``frame`` channel is *n*; its timestamp is the frame's capture time on the LSL clock. Between
indexed frames times are interpolated; beyond them (the last second before a crash, a video longer
than its index) they are extrapolated at the frame rate. A session without video but with a known
start (the simulated rig's ``ground_truth_physio.json``) has a linear clock ``t0 + n / fps``; a
plain video has the clock of its presentation times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class FrameClock:
    frames: np.ndarray  # (k,) frame numbers, ascending
    times: np.ndarray  # (k,) their times (LSL seconds for a session)
    fps: float
    source: str = ""  # where the clock came from, for messages

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_index(
        cls, frames: npt.ArrayLike, times: npt.ArrayLike, fps: float | None, source: str = "frame index"
    ) -> FrameClock | None:
        """From the samples of a frame-index stream (any order); None when it holds no sample."""
        f = np.asarray(frames, dtype=np.float64).reshape(-1)
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        n = min(f.size, t.size)
        if n == 0:
            return None
        f, t = f[:n], t[:n]
        order = np.argsort(f, kind="stable")
        return cls(f[order], t[order], float(fps) if fps and fps > 0 else 30.0, source)

    @classmethod
    def linear(cls, t0: float, fps: float, source: str = "") -> FrameClock:
        """``t0 + n / fps`` (a session without a frame index)."""
        return cls(np.zeros(1), np.array([float(t0)]), float(fps), source)

    @classmethod
    def of_times(cls, times: npt.ArrayLike, fps: float, source: str = "") -> FrameClock:
        """Frame *n* at ``times[n]`` (a video's presentation times, a clip's frame times)."""
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        return cls(np.arange(t.size, dtype=np.float64), t, float(fps) if fps > 0 else 30.0, source)

    # -- mapping --------------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self.frames.size == 0

    @property
    def last_frame(self) -> int:
        return int(self.frames[-1]) if self.frames.size else -1

    def time_of(self, frame: npt.ArrayLike) -> np.ndarray | float:
        """Time of frame number(s) ``frame`` (array in, array out; a scalar gives a float)."""
        f = np.asarray(frame, dtype=np.float64)
        if self.empty:
            t = f / self.fps
        else:
            fr, ti = self.frames, self.times
            t = np.interp(f, fr, ti)
            t = np.where(f > fr[-1], ti[-1] + (f - fr[-1]) / self.fps, t)
            t = np.where(f < fr[0], ti[0] - (fr[0] - f) / self.fps, t)
        return float(t) if t.ndim == 0 else t

    def frame_of(self, t: npt.ArrayLike) -> np.ndarray | float:
        """Fractional frame number(s) at time(s) ``t`` (the inverse of :meth:`time_of`)."""
        x = np.asarray(t, dtype=np.float64)
        if self.empty:
            f = x * self.fps
        elif self.frames.size == 1:
            f = self.frames[0] + (x - self.times[0]) * self.fps
        else:
            fr, ti = self.frames, self.times
            f = np.interp(x, ti, fr)
            f = np.where(x > ti[-1], fr[-1] + (x - ti[-1]) * self.fps, f)
            f = np.where(x < ti[0], fr[0] - (ti[0] - x) * self.fps, f)
        return float(f) if f.ndim == 0 else f

    def grid(self, n_frames: int | None = None) -> np.ndarray:
        """Times of frames ``0 .. n_frames-1`` (default: up to the last indexed frame)."""
        n = self.last_frame + 1 if n_frames is None else int(n_frames)
        return np.asarray(self.time_of(np.arange(max(n, 0))), dtype=np.float64)

    def nearest_frame(self, t: float, n_frames: int | None = None) -> int:
        """The frame on screen at time ``t``: the nearest frame time; beyond the last frame (more
        than one frame period after it), counted on at the frame rate; before the first, frame 0."""
        times = self.grid(n_frames)
        if times.size == 0:
            return int(round(t * self.fps))
        if t > times[-1] + 1.0 / self.fps:
            return times.size - 1 + int(round((t - times[-1]) * self.fps))
        i = int(np.searchsorted(times, t))
        if i > 0 and (i == times.size or abs(times[i - 1] - t) <= abs(times[i] - t)):
            i -= 1
        return i
