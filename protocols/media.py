"""Stimulus media without Qt: probing files, and decoding video frames and audio ahead of display.

A :class:`VideoReader` decodes ahead into a bounded queue, already scaled to the size it will be
drawn at (the display thread only copies a finished picture), and keeps every frame's presentation
time in the file (``pts`` seconds). An :class:`AudioReader` does the same for the sound track as
16-bit stereo PCM at 48 kHz. Both decode through the session-reading layer's one thread-plus-queue
decoder (:class:`acquisition.session_read.ahead.DecodeAhead`).
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from acquisition.session_read.ahead import END, DecodeAhead
from protocols.errors import ProtocolError

AUDIO_RATE = 48000
AUDIO_CHANNELS = 2


def probe_file(path: Path, src: str, video: bool) -> dict:
    """Decode the first picture of ``path``; a clear error when it is not a picture or a video."""
    what = "video" if video else "image"
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise ProtocolError(f"{src}: {path} has no picture (is it a {what}?)")
            vs = c.streams.video[0]
            info = {"width": vs.codec_context.width, "height": vs.codec_context.height,
                    "fps": float(vs.average_rate or vs.guessed_rate or 0) or None,
                    "audio": bool(c.streams.audio),
                    "duration": float(c.duration / 1e6) if c.duration else None}
            for _ in c.decode(video=0):
                return info
    except ProtocolError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ProtocolError(f"{src}: {path} cannot be decoded as a {what} ({exc})") from None
    raise ProtocolError(f"{src}: {path} holds no decodable picture")


@dataclass
class VideoFrame:
    index: int  # 0-based frame number in the file
    pts: float  # presentation time in the file, seconds from the first frame
    rgb: np.ndarray  # HxWx3 uint8, already scaled


class VideoReader:
    """Frames of a stimulus video, decoded ahead in a thread and scaled to fit ``box`` (w, h)."""

    def __init__(self, path: Path, box: tuple[int, int], ahead: int = 24):
        self.path = Path(path)
        self._c = av.open(str(path))
        if not self._c.streams.video:
            self._c.close()
            raise ProtocolError(f"{path}: no video stream")
        vs = self._c.streams.video[0]
        vs.thread_type = "AUTO"
        self.fps = float(vs.average_rate or vs.guessed_rate or 30.0)
        self.frames_declared = vs.frames or None
        w, h = vs.codec_context.width, vs.codec_context.height
        s = min(box[0] / w, box[1] / h)
        self.size = (max(2, int(w * s) // 2 * 2), max(2, int(h * s) // 2 * 2))
        self.has_audio = bool(self._c.streams.audio)
        self.error: str | None = None
        self.eof = False
        self._ahead = DecodeAhead(self._run, ahead, "mexlab-video-decode")

    def _run(self, put) -> None:
        first = None
        try:
            for i, fr in enumerate(self._c.decode(video=0)):
                t = float(fr.time) if fr.time is not None else i / self.fps
                first = t if first is None else first
                img = fr.to_ndarray(format="rgb24", width=self.size[0], height=self.size[1])
                if not put(VideoFrame(i, t - first, img)):
                    return
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self.error = f"{self.path}: decoding stopped ({exc})"

    def next(self, timeout: float = 2.0) -> VideoFrame | None:
        """The next frame in file order, or None at the end of the file."""
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
                self.error = self.error or f"{self.path}: decoding stopped ({item})"
            self.eof = True
            return None
        return item

    def close(self) -> None:
        self._ahead.close(timeout=2)
        try:
            self._c.close()
        except Exception:  # noqa: BLE001 - closing after a decode error
            pass


class AudioReader:
    """The sound track as s16 stereo 48 kHz PCM chunks, decoded ahead in a thread."""

    def __init__(self, path: Path, ahead_chunks: int = 64):
        self.path = Path(path)
        self.error: str | None = None
        self.eof = False
        self._ahead = DecodeAhead(self._run, ahead_chunks, "mexlab-audio-decode")

    def _run(self, put) -> None:
        try:
            with av.open(str(self.path)) as c:
                if not c.streams.audio:
                    return
                res = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)
                for fr in c.decode(audio=0):
                    for out in res.resample(fr):
                        if not put(bytes(out.planes[0])[: out.samples * 4]):
                            return
                for out in res.resample(None):
                    put(bytes(out.planes[0])[: out.samples * 4])
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self.error = f"{self.path}: audio decoding stopped ({exc})"

    def read(self) -> bytes | None:
        """The next chunk (b'' when none is decoded yet), None at the end."""
        if self.eof:
            return None
        try:
            item = self._ahead.get(timeout=0)
        except queue.Empty:
            return b""
        if item is END or isinstance(item, BaseException):
            if isinstance(item, BaseException):
                self.error = self.error or f"{self.path}: audio decoding stopped ({item})"
            self.eof = True
            return None
        return item

    def close(self) -> None:
        self._ahead.close(timeout=2)
