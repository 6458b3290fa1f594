"""Live spotting: :class:`StreamingSpotter` consumes frames as they arrive and flags expressions.

Per frame it runs the same stages as offline spotting (face model every ``stride``-th frame,
registered optical flow every frame); every ``check_s`` it runs detection and interference
elimination on the last ``window_s`` seconds. An interval is flagged once the face has been back at
rest for ``confirm_s`` after its offset, so a micro-expression is flagged a few frames after it
ends (the measured delay is in docs/spotting.md). Each flag carries the interval (frame numbers
as given to ``push(..., index=)`` — a recording passes rgb.mkv's — else counted from the first frame
pushed; 0-based, inclusive), the timestamps of its frames, and a
thumbnail of the apex (the aligned face crop).

    spotter = StreamingSpotter(fps=30)
    for frame, t in camera:                      # RGB uint8 H×W×3, timestamp in seconds
        for flag in spotter.push(frame, t):
            show(flag.thumbnail, flag.type, flag.onset_t, flag.offset_t)
    spotter.close()

Not thread-safe: call ``push`` from one thread (the GUI's processing thread).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from analysis.spotting.detect import iou
from analysis.spotting.features import Features
from analysis.spotting.frames import FrameProcessor, RecordArrays

if TYPE_CHECKING:
    from analysis.spotting.pipeline import SpotParams


@dataclass
class LiveFlag:
    onset: int
    apex: int
    offset: int
    type: str  # micro | macro
    score: float
    aus: list[str]
    regions: list[str]
    onset_t: float  # timestamps (as pushed) of onset, apex and offset frames
    apex_t: float
    offset_t: float
    flagged_at: float  # timestamp of the frame whose push raised the flag
    latency_s: float  # flagged_at - offset_t (stream time)
    thumbnail: np.ndarray | None = None  # RGB, thumb×thumb px, aligned face at the apex
    processing_s: float = 0.0  # wall time of the push that raised it

    def as_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "onset",
                "apex",
                "offset",
                "type",
                "score",
                "aus",
                "regions",
                "onset_t",
                "apex_t",
                "offset_t",
                "flagged_at",
                "latency_s",
            )
        }


@dataclass
class LiveStats:
    frames: int = 0
    frames_with_face: int = 0
    push_s: list = field(default_factory=list)  # wall time per push (last 1000)


class StreamingSpotter:
    def __init__(
        self,
        fps: float,
        *,
        stride: int = 3,
        crop: int = 128,
        window_s: float = 8.0,
        check_s: float = 0.1,
        confirm_s: float = 0.1,
        min_history_s: float = 2.0,
        interference: bool = True,
        thumb: int = 96,
        params: SpotParams | None = None,
        max_side: int = 640,
    ):
        from analysis.spotting.pipeline import SpotParams

        if not fps or fps <= 0:
            raise ValueError("fps must be positive")
        self.fps = float(fps)
        self.params = params or SpotParams(stride=stride, crop=crop)
        self.proc = FrameProcessor(stride=stride, crop=crop, max_side=max_side)
        self.window = max(int(round(window_s * fps)), 16)
        self.check_every = max(1, int(round(check_s * fps)))
        self.confirm = max(1, int(round(confirm_s * fps)))
        self.min_history = int(round(min_history_s * fps))
        self.interference = interference
        self.thumb = int(thumb)
        self._recs: deque = deque(maxlen=self.window)
        self._thumbs: dict[int, np.ndarray | None] = {}
        self._emitted: deque = deque(maxlen=256)  # (onset, apex, offset) already flagged
        self._n = 0
        self._file_index: dict[int, int] = {}  # push number -> frame number given to push()
        self.stats = LiveStats()
        self.flags: list[LiveFlag] = []

    def close(self) -> None:
        self.proc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ per frame
    def push(self, frame: np.ndarray, timestamp: float, index: int | None = None) -> list[LiveFlag]:
        """Feed one RGB frame (H×W×3 uint8) with its timestamp (s); returns new flags. ``index``: the
        frame's number in the recorded video (flags then name file frames, even when frames were
        skipped before this one); by default frames are numbered as pushed."""
        t0 = time.perf_counter()
        i = self._n
        self._n += 1
        self._file_index[i] = i if index is None else int(index)
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        rgb = frame if self.proc.wants_rgb(i) else None
        if self.proc.flow.m is not None:
            self._thumbs[i] = self._thumbnail(frame)
        for rec in self.proc.process(i, float(timestamp), gray, rgb):
            self._add(rec)
        out: list[LiveFlag] = []
        if len(self._recs) >= self.min_history and i % self.check_every == 0:
            out = self._check(float(timestamp))
        dt = time.perf_counter() - t0
        for f in out:
            f.processing_s = dt
        self.stats.push_s.append(dt)
        if len(self.stats.push_s) > 1000:
            del self.stats.push_s[:-1000]
        self.flags.extend(out)
        return out

    def flush(self) -> list[LiveFlag]:
        """At the end of a stream: flag what the last frames can still confirm."""
        for rec in self.proc.flush():
            self._add(rec)
        if not self._recs:
            return []
        out = self._check(self._recs[-1].t)
        self.flags.extend(out)
        return out

    last_box: tuple | None = None  # the face box of the latest frame with a face (frame pixels)

    def _add(self, rec) -> None:
        self._recs.append(rec)
        if rec.present and rec.box is not None and np.all(np.isfinite(rec.box)):
            self.last_box = tuple(float(v) for v in rec.box)
        self.stats.frames += 1
        self.stats.frames_with_face += int(rec.present)
        first = self._recs[0].index
        for k in [k for k in self._thumbs if k < first]:
            del self._thumbs[k]
        for k in [k for k in self._file_index if k < first]:
            del self._file_index[k]

    def _thumbnail(self, frame: np.ndarray) -> np.ndarray | None:
        m = self.proc.flow.m
        if m is None:
            return None
        s = self.thumb / self.proc.flow.size
        full = self.proc.flow._full_m * s
        return cv2.warpAffine(
            frame, full, (self.thumb, self.thumb), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )

    # ------------------------------------------------------------------ detection
    def _check(self, now_t: float) -> list[LiveFlag]:
        from analysis.spotting.pipeline import spot_features

        recs = list(self._recs)
        first = recs[0].index
        store = RecordArrays(len(recs))
        for r in recs:
            store.add(r)
        arrays = store.arrays()
        if arrays["flow_valid"].sum() < self.min_history // 2:
            return []
        feat = Features(
            video="<live>",
            fps=self.fps,
            n_frames=len(recs),
            width=0,
            height=0,
            crop=self.proc.flow.size,
            stride=self.proc.stride,
            arrays=arrays,
        )
        groups, _ = spot_features(feat, self.fps, interference=self.interference, params=self.params)
        n = len(recs)
        out = []
        for g in groups:
            # confirmed once every member's detection extent (not only the refined reported
            # offset, which can be earlier) has been at rest for `confirm` frames
            settled = max([g.offset] + [m.offset for m in g.members])
            if settled > n - 1 - self.confirm or g.onset <= 1:
                continue  # not yet back at rest long enough / cut by the window start
            on, ap, off = g.onset + first, g.apex + first, g.offset + first
            # the same movement seen again by a later check: compared on the detection extents
            d_on = min([g.onset] + [m.onset for m in g.members]) + first
            d_off = settled + first
            if any(iou(d_on, d_off, a, c) > 0.3 or a <= ap <= c for a, _, c in self._emitted):
                continue
            self._emitted.append((d_on, ap, d_off))
            thumb = self._thumbs.get(ap)
            fi = self._file_index
            out.append(
                LiveFlag(
                    fi.get(on, on),
                    fi.get(ap, ap),
                    fi.get(off, off),
                    g.type,
                    round(float(g.score), 3),
                    g.aus,
                    g.regions,
                    recs[g.onset].t,
                    recs[g.apex].t,
                    recs[g.offset].t,
                    now_t,
                    now_t - recs[g.offset].t,
                    None if thumb is None else thumb.copy(),
                )
            )
        return out
