"""What spotting reads from its input: a video file, or a session folder's colour video, depth video
and XDF (:func:`resolve_input`), and the mapping of depth onto the colour frames (:func:`depth_mapper`).
Kept apart from :mod:`analysis.spotting.pipeline` so that a reader of the spotting caches (Annotate's
face zoom and AU tracks) does not import the detector and its scipy modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acquisition.errors import FileFormatError, MexlabError, NotFoundError
from acquisition.session_read.names import RGB_NAME
from analysis.face.video import VIDEO_SUFFIXES, probe

if TYPE_CHECKING:
    from analysis.face.depth import DepthMapper

#: the face model runs on every STRIDE-th frame; the registered face crop is CROP px square
STRIDE = 3
CROP = 128


@dataclass
class SpotInput:
    path: Path
    video: Path
    depth: Path | None = None
    xdf: Path | None = None
    session: dict | None = None

    @property
    def is_session(self) -> bool:
        return self.session is not None


def resolve_input(path: str | Path) -> SpotInput:
    """A video file or a session folder → the files to use (MexlabError when neither)."""
    from acquisition.session import is_session_folder, read_sidecar

    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        if not is_session_folder(path):
            raise FileFormatError(f"{path}: not a mexlab session folder (no session.json) and not a video file")
        meta = read_sidecar(path)
        files = meta.get("files") or {}
        rgb = path / (files.get("rgb") or RGB_NAME)
        if not files.get("rgb") or not rgb.is_file():
            raise NotFoundError(f"{path}: the session has no video ({rgb.name} missing); there is nothing to spot")
        depth = path / files["depth"] if files.get("depth") else None
        xdf = path / files["xdf"] if files.get("xdf") else None
        return SpotInput(
            path, rgb, depth if depth and depth.is_file() else None, xdf if xdf and xdf.is_file() else None, meta
        )
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        probe(path)  # not a known suffix: accept it if FFmpeg reads a video from it
    return SpotInput(path, path)


def depth_mapper(inp: SpotInput, video_info: Any) -> DepthMapper | None:
    """How the session's depth frames map onto its colour frames; None when the depth video cannot be read."""
    from analysis.face.depth import DepthMapper

    meta = inp.session or {}
    try:
        dinfo = probe(inp.depth)
    except MexlabError:
        return None
    intr = meta.get("intrinsics") or {}
    return DepthMapper(
        float(meta.get("depth_units_m") or 0.001),
        intr.get("rgb"),
        intr.get("depth"),
        (video_info.width, video_info.height),
        (dinfo.width, dinfo.height),
    )
