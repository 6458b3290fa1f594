"""Reading video files for the analysis: the session-reading layer's one PyAV reader
(:mod:`acquisition.session_read.video`), under the names the analysis has always used.

``iter_frames`` decodes ahead in a background thread; ``probe`` gives codec, size, frame rate and
frame count; ``read_frames`` picks frames by number. Every problem a user can meet (missing file,
not a video, undecodable) is a :class:`MexlabError` naming the file.
"""

from __future__ import annotations

from acquisition.session_read.video import (
    VIDEO_SUFFIXES,
    VideoFrame,
    VideoInfo,
    iter_frames,
    probe,
    read_frames,
)

__all__ = ["VIDEO_SUFFIXES", "VideoFrame", "VideoInfo", "iter_frames", "probe", "read_frames"]
