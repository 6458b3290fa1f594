"""Stimulus media without Qt: probing files, and decoding video frames and audio ahead of display.

A :class:`StimulusVideo` decodes ahead into a bounded queue, already scaled to the size it will be
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
from acquisition.session_read.video import FrameStream, open_video
from protocols.errors import ProtocolError

AUDIO_RATE = 48000
AUDIO_CHANNELS = 2


def probe_file(path: Path, src: str, video: bool) -> dict:
    """Decode the first picture of ``path`` (opened by the session-reading layer's one PyAV opener);
    a clear error when it is not a picture or a video."""
    what = "video" if video else "image"
    try:
        c = open_video(path, ProtocolError)
    except ProtocolError as exc:
        detail = str(exc).removeprefix(f"{path}: ")
        if detail == "holds no video stream":
            raise ProtocolError(f"{src}: {path} has no picture (is it a {what}?)") from None
        raise ProtocolError(f"{src}: {path} cannot be decoded as a {what} ({detail})") from None
    try:
        with c:
            vs = c.streams.video[0]
            info = {
                "width": vs.codec_context.width,
                "height": vs.codec_context.height,
                "fps": float(vs.average_rate or vs.guessed_rate or 0) or None,
                "audio": bool(c.streams.audio),
                "duration": float(c.duration / 1e6) if c.duration else None,
            }
            for _ in c.decode(video=0):
                return info
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ProtocolError(f"{src}: {path} cannot be decoded as a {what} ({exc})") from None
    raise ProtocolError(f"{src}: {path} holds no decodable picture")


@dataclass
class VideoFrame:
    index: int  # 0-based frame number in the file
    pts: float  # presentation time in the file, seconds from the first frame
    rgb: np.ndarray  # HxWx3 uint8, already scaled


class StimulusVideo:
    """Frames of a stimulus video, decoded ahead in a thread and scaled to fit ``box`` (w, h): the
    session-reading layer's :class:`~acquisition.session_read.video.FrameStream` with the size the
    display draws at."""

    def __init__(self, path: Path, box: tuple[int, int], ahead: int = 24):
        self.path = Path(path)
        c = open_video(path, ProtocolError)  # the picture's size, to fit it into the box
        w, h = c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height
        c.close()
        s = min(box[0] / w, box[1] / h)
        self.size = (max(2, int(w * s) // 2 * 2), max(2, int(h * s) // 2 * 2))
        self._frames = FrameStream(path, want_rgb=True, gray=False, prefetch=ahead, size=self.size, error=ProtocolError)
        self.fps = self._frames.fps
        self.frames_declared = self._frames.frames_declared
        self.has_audio = self._frames.has_audio

    @property
    def error(self) -> str | None:
        return self._frames.error

    @property
    def eof(self) -> bool:
        return self._frames.eof

    def next(self, timeout: float = 2.0) -> VideoFrame | None:
        """The next frame in file order, or None at the end of the file."""
        fr = self._frames.next(timeout)
        return VideoFrame(fr.index, fr.t, fr.rgb) if fr is not None else None

    def close(self) -> None:
        self._frames.close()


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
