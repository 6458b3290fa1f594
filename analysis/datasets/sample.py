"""The one sample type every recognition reader returns, and where its frames come from.

A :class:`Sample` is one expression: subject, video, onset/apex/offset (frame numbers as the source
numbers them — never shifted, even where the source dropped frames), AUs, the emotion label as the
source wrote it, its class under the chosen scheme (``None``: left out by the scheme, e.g. *others*
in the 3-class scheme), where its RGB and (when the source has them) depth frames are, and where
the sample came from (sheet and row, or session and coder).

Frames are a :class:`FrameSource`: either a video file (frame *k* = the *k*-th decoded frame,
0-based, as mexlab sessions number them) or a mapping frame number → image file (the public
releases: ``img46.jpg``, ``046.png`` …; numbers as in the file names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import FileFormatError

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class FrameSource:
    path: str  # a video file, or the folder holding the images
    files: dict[int, str] | None = None  # frame number → image path (None: ``path`` is a video)

    @property
    def is_video(self) -> bool:
        return self.files is None

    def has(self, k: int) -> bool:
        return True if self.files is None else k in self.files

    def anchor(self, k: int) -> str:
        """The file whose content a feature of frame ``k`` depends on (for the features cache)."""
        return self.path if self.files is None else self.files[k]


@dataclass
class Sample:
    dataset: str  # reader kind: casme2, samm, smic, casme3, casme_sq, samm_lv, mexlab
    subject: str
    video: str
    onset: int
    apex: int
    offset: int
    aus: str
    emotion: str  # the raw label
    label: str | None  # its class under the scheme (None: left out by the scheme)
    rgb: FrameSource
    depth: FrameSource | None = None
    origin: str = ""  # where it came from (sheet + row, session + coder)
    type: str = "micro"  # micro | macro
    missing: tuple[int, ...] = ()  # frames onset..offset that the source names but lacks

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.subject}/{self.video}/{self.onset}-{self.apex}-{self.offset}"


@dataclass
class DatasetRead:
    """What a reader found: every sample (those the scheme leaves out too), and the problems."""

    kind: str
    root: str
    scheme: str
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # notes (a session without coding …)
    errors: list[str] = field(default_factory=list)  # bad input (frames named but absent …)
    dropped: dict[str, int] = field(default_factory=dict)  # video → frames missing in its range
    left_out: dict[str, int] = field(default_factory=dict)  # reason → count

    def leave_out(self, reason: str) -> None:
        """Count one sheet row or sample left out, for ``reason``."""
        self.left_out[reason] = self.left_out.get(reason, 0) + 1

    @property
    def usable(self) -> list[Sample]:
        return [s for s in self.samples if s.label is not None]


def read_image(path: str | Path, *, depth: bool = False) -> np.ndarray:
    """An image as RGB uint8 (or, for ``depth``, the raw 16-bit values)."""
    import cv2

    flag = cv2.IMREAD_UNCHANGED if depth else cv2.IMREAD_COLOR
    img = cv2.imread(str(path), flag)
    if img is None:
        raise FileFormatError(f"{path}: cannot be read as an image")
    if depth:
        if img.ndim == 3:
            img = img[..., 0]
        return img
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_frames(src: FrameSource, frames: Iterable[int], *, depth: bool = False) -> dict[int, np.ndarray]:
    """Frames ``frames`` of ``src`` (RGB uint8, or raw uint16 depth); absent ones are left out."""
    want = sorted(set(int(k) for k in frames))
    if src.files is not None:
        return {k: read_image(src.files[k], depth=depth) for k in want if k in src.files}
    from analysis.face.video import iter_frames

    out: dict[int, np.ndarray] = {}
    if not want:
        return out
    wanted = set(want)
    for fr in iter_frames(src.path, want_rgb=lambda i: i in wanted, gray=False, start=want[0], stop=want[-1] + 1):
        if fr.index in wanted:
            out[fr.index] = fr.raw if fr.raw is not None else fr.rgb
    return out
