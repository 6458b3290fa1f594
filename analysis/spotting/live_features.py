"""The live spotter's per-frame features, kept as the session's feature cache (issue 14).

During a recording the live spotter (:class:`~analysis.spotting.live.StreamingSpotter`) runs the same
per-frame stages as offline spotting (:class:`~analysis.spotting.frames.FrameProcessor`: the face model
on every ``stride``-th frame, registered flow on every frame, the face's depth). When it saw every
frame of the recording, in order, with its depth frame, what it computed is what
:func:`~analysis.spotting.features.extract_features` would compute from the files — the colour video is
lossless, the face model gets the file's frame times — so ``mexlab spot`` on the session need not
decode the video again.

* :class:`FeatureLog` collects the spotter's final frame records, notes whether the sequence is
  complete (frame numbers 0, 1, 2, … as given to ``push``, a depth frame with each when depth is fed)
  and keeps the CRC-32 of every grey frame; :meth:`FeatureLog.save` writes
  ``<session>/.mexlab-cache/live-features.npz`` (temp-and-rename) when the recording stops.
* :func:`adopt` is what offline extraction calls on a cache miss: it takes the file only when its
  parameters (version, stride, crop, face-model size, depth mapping) equal the extraction's, it is
  complete, its frame count equals the video's, and three frames decoded from the video (first,
  middle, last) have the logged CRCs — so an edited, re-encoded or lossy video is never given
  features it did not produce. It then stores the arrays as the ordinary feature cache (keyed on the
  files' content) and removes the live file.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acquisition.session_read.names import CACHE_DIR

if TYPE_CHECKING:
    from analysis.face.depth import DepthMapper
    from analysis.spotting.frames import FrameRecord

LIVE_FILE = "live-features.npz"


def live_path(video: str | Path) -> Path:
    """Where the live spotter's features of ``video`` (a session's rgb.mkv) are kept."""
    return Path(video).parent / CACHE_DIR / LIVE_FILE


def method(version: int, stride: int, crop: int, max_side: int, depth_mapper: DepthMapper | None) -> dict:
    """What the features were computed with: kept in the file, compared by :func:`adopt`."""
    return {
        "version": int(version),
        "stride": int(stride),
        "crop": int(crop),
        "max_side": int(max_side),
        "depth": depth_mapper is not None,
        "depth_map": None if depth_mapper is None else depth_mapper.params(),
    }


class FeatureLog:
    """The records a live FrameProcessor made final, in a column store, and whether they are complete."""

    def __init__(
        self, fps: float, *, version: int, stride: int, crop: int, max_side: int, depth_mapper: DepthMapper | None
    ):
        from analysis.spotting.frames import RecordArrays

        self.fps = float(fps)
        self.meta: dict[str, Any] = method(version, stride, crop, max_side, depth_mapper)
        self.store = RecordArrays(1024)
        self._crc: list[int] = []
        self.next_index = 0  # the frame number the next push must carry to stay complete
        self.gap: str | None = None  # why the log is not complete (None: complete so far)

    def frame(self, index: int | None, gray: np.ndarray, has_depth: bool) -> None:
        """Account for one pushed frame (before it is processed)."""
        if self.gap is not None:
            return
        if index is None:
            self.gap = "frames were pushed without their frame numbers"
        elif index != self.next_index:
            self.gap = f"frame {self.next_index} was not spotted live (the next was {index})"
        elif self.meta["depth"] and not has_depth:
            self.gap = f"frame {index} came without its depth frame"
        else:
            self._crc.append(zlib.crc32(np.ascontiguousarray(gray)))
            self.next_index += 1

    def add(self, rec: FrameRecord) -> None:
        if self.gap is None:
            self.store.add(rec)

    def save(self, path: str | Path, *, error: str | None = None) -> dict:
        """Write the log (complete or not: what was missing is said in it); returns a summary."""
        from analysis.spotting.frames import interpolate_keyframes

        gap = error or self.gap
        if gap is None and self.store.n != self.next_index:
            gap = f"{self.next_index} frames pushed but {self.store.n} made final"
        summary = {"frames": self.next_index, "complete": gap is None, "why_not": gap, "file": None}
        if gap is not None or self.next_index == 0:
            return summary
        arrays = self.store.arrays()
        interpolate_keyframes(arrays)
        meta = dict(self.meta, fps=self.fps, frames=self.next_index)
        arrays = dict(arrays, crc32=np.asarray(self._crc, np.uint32), meta=np.array(json.dumps(meta)))
        from acquisition.atomic import atomic_write

        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(p, "wb") as fh:
                np.savez(fh, **arrays)
        except OSError as exc:
            summary.update(complete=False, why_not=f"{p}: cannot be written ({exc.strerror})")
            return summary
        summary["file"] = str(p)
        return summary


def adopt(
    video: str | Path,
    key: str,
    *,
    version: int,
    depth_mapper: DepthMapper | None,
    stride: int,
    crop: int,
    max_side: int,
) -> dict | None:
    """The live spotter's features of ``video`` when they are exactly what extraction would compute
    (see the module's text), stored under the feature cache ``key``; None otherwise."""
    from analysis import features_cache

    p = live_path(video)
    if not p.is_file():
        return None
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        crc = arrays.pop("crc32")
    except Exception:  # noqa: BLE001 - a damaged file is not used (offline extraction runs)
        return None
    want = method(version, stride, crop, max_side, depth_mapper)
    if any(meta.get(k) != v for k, v in want.items()):
        return None
    n = int(meta.get("frames", -1))
    if n <= 0 or len(arrays.get("t", ())) != n or len(crc) != n:
        return None
    from acquisition.errors import MexlabError
    from acquisition.session_read.video import frame_times

    try:
        t = frame_times(video, from_first=True)
    except MexlabError:
        return None
    if len(t) != n or not _same_frames(video, n, crc):
        return None
    arrays["t"] = t
    features_cache.save(video, key, arrays)
    if features_cache.cache_path(video, key).is_file():
        try:
            p.unlink()
        except OSError:
            pass
    return arrays


def _same_frames(video: str | Path, n: int, crc: np.ndarray) -> bool:
    """Whether the video's first, middle and last frames are the ones the live spotter saw."""
    import cv2

    from acquisition.errors import MexlabError
    from acquisition.session_read.frame_reader import FrameReader

    try:
        reader = FrameReader(video, read_ahead=0)
    except MexlabError:
        return False
    try:
        for k in sorted({0, n // 2, n - 1}):
            gray = cv2.cvtColor(reader.frame(k, ahead=False), cv2.COLOR_RGB2GRAY)
            if zlib.crc32(np.ascontiguousarray(gray)) != int(crc[k]):
                return False
    except (MexlabError, IndexError):
        return False
    finally:
        reader.close()
    return True
