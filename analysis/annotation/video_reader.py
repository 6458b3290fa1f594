"""Frame-accurate reading of a video by frame number, fast enough to step and scrub.

FFV1 files written by mexlab are all-intra with pts = round(n·1000/fps) ms, so frame ``n`` is one
seek to its pts and one packet decode. A small LRU cache keeps recent frames, and stepping forward
decodes on from the open position (read-ahead) instead of seeking again.
Any other video works too: frames are then found by their pts (seek to the keyframe before, decode
on).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from acquisition.errors import SessionFormatError


class VideoReader:
    def __init__(self, path: Path | str, fmt: str | None = None, cache: int = 48, threads: int = 0):
        import av

        self.path = Path(path)
        try:
            self._c = av.open(str(self.path))
            self._s = self._c.streams.video[0]
        except (av.FFmpegError, IndexError, OSError) as exc:
            raise SessionFormatError(f"{self.path}: not a readable video ({exc})") from None
        self._s.thread_type = "AUTO" if threads else "SLICE"
        pix = self._s.codec_context.pix_fmt or ""
        self.fmt = fmt or ("gray16le" if pix.startswith("gray16") else "rgb24")
        rate = self._s.average_rate or self._s.guessed_rate or 30
        self.fps = float(rate)
        self.tb = float(self._s.time_base)
        self.width, self.height = self._s.codec_context.width, self._s.codec_context.height
        self.n_frames = int(self._s.frames or 0) or int(round(float(self._c.duration or 0) / 1e6 * self.fps))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache
        self._iter = None
        self._next = None     # frame number the open decoder delivers next

    def close(self) -> None:
        self._c.close()

    def _index_of(self, frame) -> int:
        return int(round(frame.pts * self.tb * self.fps)) if frame.pts is not None else -1

    def _pts_of(self, n: int) -> int:
        return int(round(n / self.fps / self.tb))

    def _decode_from(self, n: int):
        self._c.seek(self._pts_of(n), stream=self._s, backward=True, any_frame=False)
        self._iter = self._c.decode(self._s)
        self._next = None

    def _take(self, frame) -> np.ndarray:
        return frame.to_ndarray(format=self.fmt)

    def frame(self, n: int) -> np.ndarray:
        """Frame ``n`` (0-based) as an array (HxWx3 uint8 RGB, or HxW uint16 depth)."""
        if n in self._cache:
            self._cache.move_to_end(n)
            return self._cache[n]
        if n < 0 or (self.n_frames and n >= self.n_frames):
            raise IndexError(f"{self.path.name}: no frame {n} (frames 0-{self.n_frames - 1})")
        if self._next != n:   # all-intra: a seek is one packet decode; go on decoding only for the next frame
            self._decode_from(n)
        import av

        try:
            for fr in self._iter:
                i = self._index_of(fr)
                self._next = i + 1
                if i == n:
                    img = self._take(fr)
                    self._put(n, img)
                    return img
                if i > n:       # not found where it should be: the pts do not follow n/fps
                    break
        except av.FFmpegError as exc:
            raise SessionFormatError(f"{self.path.name}: frame {n} cannot be decoded ({exc})") from None
        self._next = None
        raise IndexError(f"{self.path.name}: frame {n} not found")

    def _put(self, n: int, img: np.ndarray) -> None:
        self._cache[n] = img
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def colorize_depth(depth: np.ndarray, near_mm: float = 300, far_mm: float = 1500) -> np.ndarray:
    """uint16 depth (mm) -> RGB uint8 (turbo-like ramp; 0 = no depth = black)."""
    d = depth.astype(np.float32)
    x = np.clip((d - near_mm) / (far_mm - near_mm), 0, 1)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    rgb = (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)
    rgb[depth == 0] = 0
    return rgb
