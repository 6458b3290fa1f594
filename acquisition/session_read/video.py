"""The one PyAV video layer: opening with clear errors, probing, presentation times, counting frames
by demuxing (``mexlab check``), and decoding ahead in a thread
(:class:`~acquisition.session_read.ahead.DecodeAhead`). Frame-accurate random access with a cache is
:class:`acquisition.session_read.frame_reader.FrameReader`.

MP4/MKV/AVI/MOV holding H.264, HEVC, FFV1 (whatever FFmpeg decodes). Frames are numbered from 0 in
decoding order, which for the files mexlab writes (``rgb.mkv``, ``depth.mkv``) is the frame number
of the session's frame-index streams and ground truth. A grey image for optical flow is the luma
plane as is for YUV video (no colour conversion); an RGB image is made only for the frames asked
for. Every problem a user can meet (missing file, not a video, undecodable) is a
:class:`~acquisition.errors.MexlabError` naming the file; a file cut by a crash is read up to its
last decodable frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import MexlabError
from acquisition.session_read.ahead import END, DecodeAhead

if TYPE_CHECKING:
    import av.container
    import av.video.frame
    import av.video.stream

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm")
_YUV_LUMA = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}


@dataclass
class VideoFrame:
    index: int  # 0-based frame number in decoding order
    t: float  # seconds from the first frame (presentation time)
    gray: np.ndarray | None  # H×W uint8 (luma), or None for 16-bit (depth) video
    rgb: np.ndarray | None  # H×W×3 uint8 when asked for, else None
    raw: np.ndarray | None = None  # H×W uint16 for gray16 (depth) video


@dataclass(frozen=True)
class VideoInfo:
    path: str
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    n_frames: int  # from the container, or estimated from the duration (0 if unknown)


def reason(exc: Exception) -> str:
    """A short reason from a PyAV error (without the repeated file name)."""
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(text))  # FFmpeg's error number means nothing to a user
    return text.split(": '")[0]


def open_video(path: str | Path, error: type[MexlabError] = MexlabError) -> av.container.InputContainer:
    """An open PyAV container holding a video stream; ``error`` (naming the file) otherwise."""
    import av

    path = Path(path)
    if not path.exists():
        raise error(f"{path}: no such video file")
    if path.is_dir():
        raise error(f"{path}: is a folder, not a video file")
    try:
        container = av.open(str(path))
    except Exception as exc:  # noqa: BLE001 - av.error.* (InvalidDataError, …): not a container FFmpeg knows
        raise error(f"{path}: not a readable video file ({reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise error(f"{path}: holds no video stream")
    return container


def stream_fps(s: av.video.stream.VideoStream, default: float = 0.0) -> float:
    rate = s.average_rate or s.guessed_rate or s.base_rate
    fps = float(rate) if rate else 0.0
    return fps if fps > 0 and np.isfinite(fps) else default


def probe(path: str | Path) -> VideoInfo:
    """Codec, size, frame rate and frame count of ``path`` (raises MexlabError if unreadable)."""
    c = open_video(Path(path))
    try:
        s = c.streams.video[0]
        fps = stream_fps(s)
        if not fps:
            raise MexlabError(f"{path}: the video stream has no frame rate")
        n = int(s.frames or 0)
        if n <= 0:
            dur = None
            if s.duration is not None and s.time_base is not None:
                dur = float(s.duration * s.time_base)
            elif c.duration is not None:
                dur = c.duration / 1e6
            n = int(round(dur * fps)) if dur else 0
        fmt = s.codec_context.format
        return VideoInfo(
            str(path),
            s.codec_context.name,
            fmt.name if fmt else "?",
            int(s.codec_context.width),
            int(s.codec_context.height),
            fps,
            n,
        )
    finally:
        c.close()


def frame_times(path: str | Path, *, from_first: bool = False) -> np.ndarray:
    """Presentation time (s) of every frame of ``path``, from its packets (no decoding); a file cut
    by a crash gives the frames it holds. ``from_first``: counted from the first frame's, computed as
    :func:`iter_frames` computes each frame's ``t`` (the pts difference times the time base)."""
    from acquisition.errors import SessionFormatError

    c = open_video(Path(path), SessionFormatError)
    pts: list[int] = []
    try:
        s = c.streams.video[0]
        try:
            pts = [p.pts for p in c.demux(s) if p.pts is not None]
        except Exception:  # noqa: BLE001, S110 - a cut file: keep the packets read so far
            pass
        if from_first:
            ticks = np.sort(np.asarray(pts, dtype=np.int64))
            return (ticks - (ticks[0] if len(ticks) else 0)) * float(s.time_base)
        return np.sort(np.asarray(pts, dtype=float)) * float(s.time_base)
    finally:
        c.close()


#: x264's settings, written into the first frame, saying constant quantiser 0: lossless
_X264_LOSSLESS = re.compile(rb"x264 - core [^\x00]*?\sqp=0(?![0-9.])")


def gop_starts(path: str | Path) -> np.ndarray:
    """The frames (numbered as decoded, from 0) at which a lossy, inter-coded video starts a group of
    pictures again: its keyframes that follow frames coded from earlier ones. The encoder quantises
    such a frame afresh, so it differs from the one before by the codec's noise as well as by what
    moved (every 250 frames for FFmpeg's H.264 by default; every 1-2 s for many cameras). Empty for
    intra-only and lossless-only codecs (FFV1), and for H.264 that x264 wrote at qp 0 (lossless: the
    recorder's ``x264rgb`` colour codec; x264 names its settings in the first frame). From the
    packets, without decoding; a file cut by a crash gives what its packets before the cut say."""
    c = open_video(Path(path))
    try:
        s = c.streams.video[0]
        codec = s.codec_context.codec
        if codec.intra_only or not codec.lossy:
            return np.zeros(0, np.int64)
        packets: list[tuple[int, bool]] = []
        try:
            for p in c.demux(s):
                if p.size == 0:
                    continue
                if p.pts is None:  # no presentation order to number the frames by
                    return np.zeros(0, np.int64)
                if not packets and _X264_LOSSLESS.search(bytes(p)):
                    return np.zeros(0, np.int64)  # x264 at qp 0 (the recorder's "x264rgb"): lossless
                packets.append((int(p.pts), bool(p.is_keyframe)))
        except Exception:  # noqa: BLE001, S110 - a cut file: keep the packets read so far
            pass
    finally:
        c.close()
    key = np.array([k for _, k in sorted(packets)], bool)
    if key.size < 2:
        return np.zeros(0, np.int64)
    return (np.flatnonzero(key[1:] & ~key[:-1]) + 1).astype(np.int64)


def count_frames(path: str | Path, error: type[MexlabError] = MexlabError) -> tuple[int, int | None, int | None]:
    """``(frames, width, height)`` of ``path`` without decoding: the complete video packets, counted by
    demuxing (every codec mexlab writes, FFV1, is intra-only: one packet is one frame), and the picture
    size from the stream's header (None when it does not say). A file cut by a crash is counted up to
    its first broken or incomplete packet. ``error`` (naming the file) when it is not a video."""
    import av

    path = Path(path)
    c = open_video(path, error)
    try:
        stream = c.streams.video[0]
        width = stream.codec_context.width or None
        height = stream.codec_context.height or None
        size = path.stat().st_size
        count = 0
        try:
            for packet in c.demux(stream):
                if packet.size == 0:  # the empty packet that ends demuxing
                    continue
                if packet.is_corrupt:
                    break
                pos = packet.pos
                if pos is not None and pos >= 0 and pos + packet.size > size:
                    break  # a packet that runs past the end of the file
                count += 1
        except (av.error.FFmpegError, OSError):
            pass  # the first broken packet ends the count: what came before it is good
    finally:
        c.close()
    return count, width, height


def gray_of(frame: av.video.frame.VideoFrame) -> np.ndarray:
    """Luma of a decoded frame, as a new H×W uint8 array (no colour conversion for YUV)."""
    import cv2

    name = frame.format.name
    h, w = frame.height, frame.width
    if name in _YUV_LUMA:
        p = frame.planes[0]
        return np.frombuffer(p, np.uint8).reshape(h, p.line_size)[:, :w].copy()
    if name in ("bgr0", "bgra"):
        p = frame.planes[0]
        bgra = np.frombuffer(p, np.uint8).reshape(h, p.line_size // 4, 4)[:, :w]
        return cv2.cvtColor(bgra, cv2.COLOR_BGRA2GRAY)
    if name == "gbrp":
        # lossless H.264 RGB decodes to planar G, B, R: the same luma as the packed formats above
        # (OpenCV's), about 3x faster than swscale's conversion to gray
        g, b, r = _planes(frame)
        return cv2.cvtColor(cv2.merge((b, g, r)), cv2.COLOR_BGR2GRAY)
    return frame.to_ndarray(format="gray")


def _planes(frame: av.video.frame.VideoFrame) -> list[np.ndarray]:
    """The planes of a planar 8-bit frame as H×W views (no copy)."""
    h, w = frame.height, frame.width
    return [np.frombuffer(p, np.uint8).reshape(h, p.line_size)[:, :w] for p in frame.planes]


def rgb_of(frame: av.video.frame.VideoFrame) -> np.ndarray:
    import cv2

    if frame.format.name in ("bgr0", "bgra"):
        p = frame.planes[0]
        bgra = np.frombuffer(p, np.uint8).reshape(frame.height, p.line_size // 4, 4)[:, : frame.width]
        return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGB)
    if frame.format.name == "gbrp":
        g, b, r = _planes(frame)
        return cv2.merge((r, g, b))  # bit-identical to swscale's rgb24, ~7x faster
    return frame.to_ndarray(format="rgb24")


class FrameStream:
    """Frames of a video in file order, decoded ahead in a thread (:class:`DecodeAhead`).

    ``want_rgb``: True, False or a predicate on the frame number; ``size`` (w, h): RGB scaled to it
    (the stimulus player draws at that size); ``gray``: the luma plane too. 16-bit grey video
    (depth) comes as ``raw`` (uint16). A file that breaks off (a recording cut by a crash) ends at
    the last frame that decodes, and :attr:`error` says why; a file whose first frame does not
    decode is an error of type ``error`` naming the file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        want_rgb: Callable[[int], bool] | bool = False,
        gray: bool = True,
        start: int = 0,
        stop: int | None = None,
        prefetch: int = 8,
        size: tuple[int, int] | None = None,
        error: type[MexlabError] = MexlabError,
    ):
        self.path = Path(path)
        self._c = open_video(self.path, error)
        s = self._c.streams.video[0]
        self.fps = stream_fps(s, 30.0)
        self.frames_declared = int(s.frames or 0) or None
        self.width, self.height = int(s.codec_context.width), int(s.codec_context.height)
        self.has_audio = bool(self._c.streams.audio)
        self.error: str | None = None  # why decoding stopped before the end of the file
        self.eof = False
        self._wants = want_rgb if callable(want_rgb) else (lambda _i, _v=bool(want_rgb): _v)
        self._gray, self._start, self._stop, self._size, self._err = gray, start, stop, size, error
        self._ahead = DecodeAhead(self._produce, prefetch)

    def _produce(self, put) -> None:
        s = self._c.streams.video[0]
        s.thread_type = "AUTO"
        tb = float(s.time_base) if s.time_base else 0.0
        t0, i, n_out = None, -1, 0
        try:
            for frame in self._c.decode(s):
                i += 1
                if i < self._start:
                    continue
                if self._stop is not None and i >= self._stop:
                    break
                pts = frame.pts if frame.pts is not None else i
                t0 = pts if t0 is None else t0
                t = (pts - t0) * tb if tb else float(i)
                fmt = frame.format.name
                if fmt.startswith(("gray16", "gray1")):
                    item = VideoFrame(i, t, None, None, frame.to_ndarray())
                elif self._size is not None:
                    item = VideoFrame(
                        i,
                        t,
                        gray_of(frame) if self._gray else None,
                        frame.to_ndarray(format="rgb24", width=self._size[0], height=self._size[1])
                        if self._wants(i)
                        else None,
                    )
                else:
                    item = VideoFrame(
                        i, t, gray_of(frame) if self._gray else None, rgb_of(frame) if self._wants(i) else None
                    )
                if not put(item):
                    return
                n_out += 1
        except Exception as exc:  # noqa: BLE001 - corrupt/truncated stream
            self.error = f"{self.path}: decoding stopped after {n_out} frame(s) ({reason(exc)})"
            if n_out == 0:
                put(self._err(f"{self.path}: the video cannot be decoded ({reason(exc)})"))
            return
        if n_out == 0:
            put(
                self._err(
                    f"{self.path}: the video holds no decodable frame"
                    + (f" at or after frame {self._start}" if self._start else "")
                )
            )

    def __iter__(self) -> Iterator[VideoFrame]:
        return iter(self._ahead)

    def next(self, timeout: float | None = None) -> VideoFrame | None:
        """The next frame, or None at the end (or when none came within ``timeout`` s, or decoding
        failed: :attr:`error` says so)."""
        import queue

        if self.eof:
            return None
        try:
            item = self._ahead.get(timeout=timeout)
        except queue.Empty:
            self.error = self.error or f"{self.path}: the decoder fell behind by more than {timeout:g} s"
            self.eof = True
            return None
        if item is END or isinstance(item, BaseException):
            if isinstance(item, BaseException):
                self.error = self.error or str(item)
            self.eof = True
            return None
        return item

    def close(self) -> None:
        self._ahead.close()
        try:
            self._c.close()
        except Exception:  # noqa: BLE001, S110 - closing after a decode error
            pass


def iter_frames(
    path: str | Path,
    *,
    want_rgb: Callable[[int], bool] | bool = False,
    gray: bool = True,
    start: int = 0,
    stop: int | None = None,
    prefetch: int = 8,
) -> Iterator[VideoFrame]:
    """Frames ``start .. stop-1`` of ``path``, decoded ahead in a background thread (see
    :class:`FrameStream`: a cut file ends at its last decodable frame; a file whose first frame
    does not decode raises MexlabError)."""
    stream = FrameStream(path, want_rgb=want_rgb, gray=gray, start=start, stop=stop, prefetch=prefetch)
    try:
        yield from stream
    finally:
        stream.close()


def read_frames(path: str | Path, indices: Iterable[int], *, rgb: bool = True) -> dict[int, np.ndarray]:
    """The frames ``indices`` (a set of frame numbers) of ``path``, RGB (or grey) arrays."""
    want = sorted({int(i) for i in indices})
    out: dict[int, np.ndarray] = {}
    if not want:
        return out
    wanted = set(want)
    for fr in iter_frames(path, want_rgb=lambda i: i in wanted, gray=not rgb, start=want[0], stop=want[-1] + 1):
        if fr.index in wanted:
            out[fr.index] = fr.rgb if rgb else fr.gray
    return out
