"""Per-video features for spotting: one pass over the video (and its depth video), cached.

:func:`extract_features` decodes the video in a background thread, runs the face model on every
``stride``-th frame and registered optical flow on every frame (:class:`FrameProcessor`), and keeps,
per frame: face presence, confidence, head pose, blendshapes (pose and blendshapes interpolated
between face-model frames), the face box, the residual motion of every region, the global head-motion
model and face depth. The result is cached next to the video (:mod:`analysis.features_cache`), so a
second run on the same file costs only the cache read. A session recorded with live spotting may
already hold them: the live spotter's features, when it saw every frame, are taken as the cache
(:mod:`analysis.spotting.live_features`), and the video is not decoded at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis import features_cache
from analysis.face.video import iter_frames, probe
from analysis.spotting.codec import gop_start_mask
from analysis.spotting.frames import FrameProcessor, RecordArrays
from analysis.spotting.frames import interpolate_keyframes as _interpolate_keyframes

if TYPE_CHECKING:
    from analysis.face.depth import DepthMapper

VERSION = 7  # 7: every frame's brightness over the previous one (gain: the light rule); 6: H.264 RGB (gbrp) sessions take OpenCV's luma, as FFV1 sessions and live spotting do
Progress = Callable[[int, int, str], None]


@dataclass
class Features:
    video: str
    fps: float
    n_frames: int
    width: int
    height: int
    crop: int
    stride: int
    arrays: dict
    timings: dict = field(default_factory=dict)
    from_cache: bool = False
    cache_file: str | None = None

    def __getattr__(self, name):
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def frames_with_face(self) -> int:
        return int(self.arrays["present"].sum())

    def landmarks_at(self, frame: int) -> np.ndarray | None:
        """Landmarks (478, 2) of the face-model frame nearest to ``frame`` (None: no face)."""
        idx = self.arrays["kf_index"]
        if len(idx) == 0:
            return None
        k = int(np.argmin(np.abs(idx - frame)))
        return self.arrays["kf_landmarks"][k].astype(np.float32)


def cache_key(
    video: str | Path,
    depth: str | Path | None = None,
    depth_mapper: DepthMapper | None = None,
    stride: int = 3,
    crop: int = 128,
    max_side: int = 640,
) -> str:
    """The feature cache key of ``video`` extracted with these parameters (see :func:`extract_features`)."""
    params = {
        "v": VERSION,
        "stride": stride,
        "crop": crop,
        "max_side": max_side,
        "depth": depth is not None,
        "depth_map": None if depth_mapper is None else depth_mapper.params(),
    }
    return features_cache.cache_key([Path(video), depth], params)


def extract_features(
    video: str | Path,
    *,
    depth: str | Path | None = None,
    depth_mapper: DepthMapper | None = None,
    stride: int = 3,
    crop: int = 128,
    max_side: int = 640,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> Features:
    """Features of ``video`` (and its registered ``depth`` video, with ``depth_mapper``)."""
    video = Path(video)
    info = probe(video)
    key = None
    meta = dict(video=str(video), fps=info.fps, width=info.width, height=info.height, crop=crop, stride=stride)
    if use_cache:
        t0 = time.perf_counter()
        key = cache_key(video, depth, depth_mapper, stride, crop, max_side)
        cached, stage, timings = features_cache.load(video, key), "features (cached)", {}
        if cached is None:
            from analysis.spotting.live_features import adopt

            cached, stage, timings = (
                adopt(
                    video,
                    key,
                    version=VERSION,
                    depth_mapper=depth_mapper if depth is not None else None,
                    stride=stride,
                    crop=crop,
                    max_side=max_side,
                ),
                "features (kept by live spotting)",
                {"live": True},
            )
        if cached is not None:
            n = len(cached["t"])
            cached["gop_start"] = gop_start_mask(video, n)
            if progress:
                progress(n, n, stage)
            return Features(
                n_frames=n,
                arrays=cached,
                from_cache=True,
                timings={"cache_read_s": time.perf_counter() - t0, **timings},
                cache_file=str(features_cache.cache_path(video, key)),
                **meta,
            )
    proc = FrameProcessor(
        stride=stride, crop=crop, max_side=max_side, depth_mapper=depth_mapper if depth is not None else None
    )
    store = RecordArrays(info.n_frames + 16, spill=True)  # landmarks to a temp file, not memory
    depth_it = iter_frames(depth, gray=False, prefetch=8) if depth is not None else None
    t_start = time.perf_counter()
    wait = 0.0
    total = max(info.n_frames, 1)
    try:
        it = iter_frames(video, want_rgb=proc.wants_rgb, prefetch=16)
        while True:
            t0 = time.perf_counter()
            fr = next(it, None)
            draw = None
            if fr is not None and depth_it is not None:
                d = next(depth_it, None)
                if d is None:
                    depth_it = None
                else:
                    draw = d.raw
            wait += time.perf_counter() - t0
            if fr is None:
                break
            for rec in proc.process(fr.index, fr.t, fr.gray, fr.rgb, draw):
                store.add(rec)
            if progress and (fr.index % 60 == 0):
                progress(fr.index + 1, max(total, fr.index + 1), "features")
        for rec in proc.flush():
            store.add(rec)
    finally:
        proc.close()
        if depth_it is not None:
            depth_it.close()
    elapsed = time.perf_counter() - t_start
    arrays = store.arrays()
    _interpolate_keyframes(arrays)
    n = store.n
    tm = proc.times
    timings = {
        "total_s": elapsed,
        "decode_wait_s": wait,
        "face_s": tm.face,
        "face_wait_s": tm.face_wait,
        "flow_s": tm.flow,
        "depth_s": tm.depth,
        "face_calls": tm.face_calls,
        "frames": n,
    }
    if progress:
        progress(n, n, "features")
    cache_file = None
    if use_cache and key is not None:
        p = features_cache.save(video, key, arrays)
        cache_file = str(p) if p else None
    arrays["gop_start"] = gop_start_mask(video, n)  # from the packets, not cached (codec.py)
    return Features(n_frames=n, arrays=arrays, timings=timings, cache_file=cache_file, **meta)
