"""Camera modes: ``WxH@FPS`` strings, the defaults, and matching them against a sensor's profiles."""

from __future__ import annotations

import re
from dataclasses import dataclass

from acquisition.errors import MexlabError

_MODE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*@\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Mode:
    width: int
    height: int
    fps: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}@{self.fps}"

    def as_dict(self, fmt: str) -> dict:
        return {"width": self.width, "height": self.height, "fps": self.fps, "format": fmt}


DEFAULT_RGB = Mode(848, 480, 30)
DEFAULT_DEPTH = Mode(848, 480, 30)


def parse_mode(text: str, option: str = "--rgb") -> Mode:
    m = _MODE_RE.match(text or "")
    if not m:
        raise MexlabError(f"{option} {text!r}: expected WIDTHxHEIGHT@FPS, for example 848x480@30")
    w, h, fps = int(m.group(1)), int(m.group(2)), float(m.group(3))
    if w <= 0 or h <= 0 or fps <= 0 or fps != int(fps):
        raise MexlabError(f"{option} {text!r}: width, height and a whole frame rate must be positive")
    if w > 4096 or h > 4096 or fps > 1000:
        raise MexlabError(f"{option} {text!r}: no camera delivers that mode")
    return Mode(w, h, int(fps))
