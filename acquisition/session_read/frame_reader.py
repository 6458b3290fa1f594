"""Frame-accurate reading of a video by frame number, fast enough to step and scrub
(:class:`FrameReader`; :func:`read_frame` for one frame).

FFV1 files written by mexlab are all-intra with pts = round(n·1000/fps) ms, so frame ``n`` is one
seek to its pts and one packet decode. A small LRU cache keeps recent frames, and stepping forward
decodes on from the open position instead of seeking again.

Read-ahead: after every frame asked for, a background thread decodes the next ``read_ahead`` frames
(the previous ones when stepping backwards) into the cache, so the next step is a cache hit. The
decoder is shared under a lock: a frame asked for while the thread decodes waits for at most that
one frame, then finds it cached or decodes it itself. ``convert`` (e.g. a depth colour map) is
applied before caching, in the thread too. Any other video works too: frames are then found by
their pts (seek to the keyframe before, decode on). A frame past the end of a file cut by a crash
is an IndexError naming the file; a frame that does not decode, a SessionFormatError.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from acquisition.errors import SessionFormatError
from acquisition.session_read.video import open_video


class FrameReader:
    def __init__(
        self,
        path: Path | str,
        fmt: str | None = None,
        cache: int = 48,
        threads: int = 0,
        convert: Callable[[np.ndarray], np.ndarray] | None = None,
        read_ahead: int = 6,
    ):
        self.path = Path(path)
        self._c = open_video(self.path, SessionFormatError)
        self._s = self._c.streams.video[0]
        self._s.thread_type = "AUTO" if threads else "SLICE"
        pix = self._s.codec_context.pix_fmt or ""
        self.fmt = fmt or ("gray16le" if pix.startswith("gray16") else "rgb24")
        rate = self._s.average_rate or self._s.guessed_rate or 30
        self.fps = float(rate)
        self.tb = float(self._s.time_base)
        self.width, self.height = self._s.codec_context.width, self._s.codec_context.height
        self.n_frames = int(self._s.frames or 0) or int(round(float(self._c.duration or 0) / 1e6 * self.fps))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(cache, 2 * read_ahead + 2)
        self._convert = convert
        self._iter = None
        self._next = None  # frame number the open decoder delivers next
        self._dec = threading.Lock()  # the decoder (container, iterator, _next)
        self._clk = threading.Lock()  # the cache
        self._want = threading.Condition()
        self._ahead: list[int] | None = None
        self._last = None
        self._urgent = 0  # callers waiting for the decoder (they go first)
        self._closed = False
        self.read_ahead = read_ahead
        self.ahead_decoded = 0  # frames the thread decoded (tests, bench)
        self._thread = None
        if read_ahead > 0:
            self._thread = threading.Thread(target=self._worker, name=f"read-ahead {self.path.name}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._want:
            self._closed = True
            self._want.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._dec:
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
        img = frame.to_ndarray(format=self.fmt)
        return self._convert(img) if self._convert is not None else img

    def _cached(self, n: int) -> np.ndarray | None:
        with self._clk:
            img = self._cache.get(n)
            if img is not None:
                self._cache.move_to_end(n)
            return img

    def cached(self, n: int) -> bool:
        with self._clk:
            return n in self._cache

    def frame(self, n: int, ahead: bool = True) -> np.ndarray:
        """Frame ``n`` (0-based) as an array (HxWx3 uint8 RGB, or HxW uint16 depth; or what
        ``convert`` makes of it), then the frames after it are read ahead (``ahead`` False: not
        yet — call :meth:`prefetch` once every video's frame is shown, so the read-ahead of one
        video does not slow down decoding the other's)."""
        img = self._cached(n)
        if img is None:
            if n < 0 or (self.n_frames and n >= self.n_frames):
                raise IndexError(f"{self.path.name}: no frame {n} (frames 0-{self.n_frames - 1})")
            self._urgent += 1  # the read-ahead stops after the frame it is decoding
            try:
                with self._dec:
                    img = self._cached(n)  # the read-ahead may just have decoded it
                    if img is None:
                        img = self._decode(n)
            finally:
                self._urgent -= 1
        if ahead:
            self.prefetch(n)
        return img

    def _decode(self, n: int) -> np.ndarray:
        """Decode frame ``n`` into the cache (the caller holds ``_dec``)."""
        import av

        if self._closed:
            raise IndexError(f"{self.path.name}: closed")
        if self._next != n:  # all-intra: a seek is one packet decode; go on decoding only for the next frame
            self._decode_from(n)
        try:
            for fr in self._iter:
                i = self._index_of(fr)
                self._next = i + 1
                if i == n:
                    img = self._take(fr)
                    self._put(n, img)
                    return img
                if i > n:  # not found where it should be: the pts do not follow n/fps
                    break
        except av.FFmpegError as exc:
            raise SessionFormatError(f"{self.path.name}: frame {n} cannot be decoded ({exc})") from None
        self._next = None
        raise IndexError(f"{self.path.name}: frame {n} not found")

    def _put(self, n: int, img: np.ndarray) -> None:
        with self._clk:
            self._cache[n] = img
            self._cache.move_to_end(n)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # ------------------------------------------------------------------ read-ahead
    def prefetch(self, n: int) -> None:
        """Read ahead from frame ``n`` (backwards when ``n`` is before the previous one) in the thread."""
        if self._thread is None:
            return
        back = self._last is not None and n < self._last
        self._last = n
        last = self.n_frames - 1 if self.n_frames else n + self.read_ahead
        todo = (
            range(n - 1, max(-1, n - 1 - self.read_ahead), -1)
            if back
            else range(n + 1, min(last, n + self.read_ahead) + 1)
        )
        with self._want:
            self._ahead = list(todo)
            self._want.notify()

    def _worker(self) -> None:
        while True:
            with self._want:
                while self._ahead is None and not self._closed:
                    self._want.wait()
                if self._closed:
                    return
                todo, self._ahead = self._ahead, None
            for m in todo:
                if self._ahead is not None or self._urgent or self._closed:  # a caller first, then
                    break  # its own read-ahead
                if self.cached(m):
                    continue
                with self._dec:
                    if self._closed or self.cached(m):
                        continue
                    try:
                        self._decode(m)
                        self.ahead_decoded += 1
                    except (IndexError, SessionFormatError):
                        break


def read_frame(path: Path | str, index: int, fmt: str | None = None) -> np.ndarray:
    """Frame ``index`` of a video (RGB, or uint16 for depth); IndexError when the file has no such
    frame, SessionFormatError when it is not a readable video."""
    reader = FrameReader(path, fmt=fmt, cache=2, read_ahead=0)
    try:
        return reader.frame(index, ahead=False)
    finally:
        reader.close()
