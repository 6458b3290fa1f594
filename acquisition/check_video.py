"""The video checks of ``mexlab check``: frames in each video file against its frame-index stream.

:func:`check_video` returns a video entry of an :func:`acquisition.check.check_path` report
(``{"name", "frames_in_file", "frames_in_index", "missing_frames"}``) and :func:`video_problems` the
problems it shows. A video is demuxed without decoding (:func:`count_video_frames`, through the
one PyAV layer :mod:`acquisition.session_read.video`); a file cut by a crash counts the packets that
were complete. A video that cannot be opened raises
:class:`~acquisition.errors.SessionFormatError`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from acquisition.errors import SessionFormatError
from acquisition.session_read.names import frame_index_stream
from acquisition.session_read.video import count_frames
from acquisition.xdf_read import XdfContents, desc_value, info_value

FRAME_INDEX_TYPE = "VideoFrameIndex"


def count_video_frames(path: Path) -> int:
    """Number of complete video packets in ``path``, counted by demuxing (no decoding).

    Every codec mexlab writes (H.264 RGB all-intra with zero latency, FFV1) is intra-only: one
    packet is one frame. A file cut by a crash is counted up to its first broken or incomplete
    packet.
    """
    return video_facts(path)[0]


def video_facts(path: Path) -> tuple[int, int | None, int | None]:
    """``(frames, width, height)`` of a video file: frames counted as :func:`count_video_frames`
    says, the picture size from the stream's header (None when the header does not say); read by
    :func:`acquisition.session_read.video.count_frames`."""
    return count_frames(path, SessionFormatError)


def _find_index_stream(xdf: XdfContents, kind: str, file_name: str):
    """The frame-index stream of one video: by desc/video/file, then exact name, then name part."""
    candidates = [s for s in xdf.streams if info_value(s["info"], "type") == FRAME_INDEX_TYPE]
    for s in candidates:
        if desc_value(s["info"], "video", "file") == file_name:
            return s
    for s in candidates:
        if info_value(s["info"], "name") == frame_index_stream(kind):
            return s
    for s in candidates:
        if kind in str(info_value(s["info"], "name", "")).lower():
            return s
    return None


def _index_frame_numbers(stream) -> np.ndarray:
    series = stream["time_series"]
    if isinstance(series, list):  # a string-format stream: not what the format says, but cope
        values = []
        for row in series:
            try:
                values.append(float(row[0]))
            except (TypeError, ValueError, IndexError):
                values.append(math.nan)
        col = np.asarray(values, dtype=float)
    else:
        arr = np.asarray(series)
        col = arr[:, 0].astype(float) if arr.ndim == 2 and arr.shape[1] else np.zeros(0)
    col = col[np.isfinite(col)]
    return np.rint(col).astype(np.int64)


def check_video(
    folder: Path,
    kind: str,
    file_name: str,
    xdf: XdfContents | None,
    xdf_name: str,
    problems: list[str],
) -> dict:
    """The report entry of one video of a session folder.

    Problems met on the way (file missing, no frame-index stream) are appended to ``problems``.
    The entry may carry ``_detail`` (frames unmatched either way) for :func:`video_problems`; the
    caller removes it before reporting.
    """
    video_path = folder / file_name
    frames_in_file = None
    size = None
    if video_path.is_file():
        frames_in_file, width, height = video_facts(video_path)
        size = (width, height)
    else:
        problems.append(f"{file_name} is named in session.json but missing")

    frames_in_index = None
    frame_numbers = None
    index = None
    if xdf is not None:
        index = _find_index_stream(xdf, kind, file_name)
        if index is None:
            problems.append(f"{file_name}: no frame-index stream ({FRAME_INDEX_TYPE}, '{kind}') in {xdf_name}")
            frames_in_index = 0
            frame_numbers = np.zeros(0, dtype=np.int64)
        else:
            frames_in_index = len(index["time_stamps"])
            frame_numbers = _index_frame_numbers(index)

    missing = None
    if frames_in_file is not None and frame_numbers is not None:
        listed = np.unique(frame_numbers)
        in_file = (listed >= 0) & (listed < frames_in_file)
        not_indexed = frames_in_file - int(np.count_nonzero(in_file))
        not_in_file = int(listed.size - np.count_nonzero(in_file))
        missing = not_indexed + not_in_file
        video = _video(file_name, frames_in_file, frames_in_index, missing)
        video["_detail"] = (not_indexed, not_in_file)
    else:
        video = _video(file_name, frames_in_file, frames_in_index, missing)
    if size is not None:
        video["width"], video["height"] = size
    if frame_numbers is not None and len(frame_numbers) and xdf is not None and index is not None:
        ts = index["time_stamps"]
        video["first_timestamp"], video["last_timestamp"] = float(ts[0]), float(ts[-1])
    return video


def mode_problem(video: dict, kind: str, mode: object) -> str | None:
    """The video's picture size against ``modes.<kind>`` of session.json; None when they agree."""
    if not isinstance(mode, dict) or video.get("width") is None:
        return None
    w, h = mode.get("width"), mode.get("height")
    if not isinstance(w, int) or not isinstance(h, int):
        return None  # reported by the sidecar field check
    if (w, h) != (video["width"], video["height"]):
        return (
            f"{video['name']} is {video['width']}x{video['height']} but session.json field 'modes.{kind}' says {w}x{h}"
        )
    return None


def _video(name, frames_in_file, frames_in_index, missing) -> dict:
    return {
        "name": name,
        "frames_in_file": frames_in_file,
        "frames_in_index": frames_in_index,
        "missing_frames": missing,
    }


def video_problems(video: dict) -> list[str]:
    """The problems one :func:`check_video` entry shows (frame counts that do not match)."""
    out = []
    name, n_file, n_index = video["name"], video["frames_in_file"], video["frames_in_index"]
    if n_file is not None and n_index is not None and n_file != n_index:
        out.append(f"{name}: {n_file} frames in the file but {n_index} in the frame index")
    if video["missing_frames"]:
        not_indexed, not_in_file = video.get("_detail", (None, None))
        parts = []
        if not_indexed:
            parts.append(f"{not_indexed} frame(s) of the file have no index entry")
        if not_in_file:
            parts.append(f"{not_in_file} index entr(y/ies) name frames the file does not hold")
        out.append(
            f"{name}: {video['missing_frames']} frame(s) unmatched between the file and the "
            f"frame index ({'; '.join(parts)})"
        )
    return out
