"""Action-unit (AU) intensities: proxies from MediaPipe blendshapes, and OpenFace CSV import.

**Blendshape proxies are not FACS intensities.** MediaPipe's 52 blendshapes are ARKit-style
animation coefficients learnt from faces; several of them move with a FACS action unit and are used
here as that AU's *proxy* (0..1, not the 0-5 A-E FACS scale, never validated against certified FACS
coders). Use them to find candidates and to sort; report OpenFace (or human-coded) AUs as the
validated source. Left/right pairs are averaged.

=====  ============================================  ======
AU     blendshape(s)                                 name
=====  ============================================  ======
AU1    browInnerUp                                   inner brow raiser
AU2    browOuterUpLeft, browOuterUpRight             outer brow raiser
AU4    browDownLeft, browDownRight                   brow lowerer
AU5    eyeWideLeft, eyeWideRight                     upper lid raiser
AU6    cheekSquintLeft, cheekSquintRight             cheek raiser
AU7    eyeSquintLeft, eyeSquintRight                 lid tightener
AU9    noseSneerLeft, noseSneerRight                 nose wrinkler
AU10   mouthUpperUpLeft, mouthUpperUpRight           upper lip raiser
AU12   mouthSmileLeft, mouthSmileRight               lip corner puller
AU14   mouthDimpleLeft, mouthDimpleRight             dimpler
AU15   mouthFrownLeft, mouthFrownRight               lip corner depressor
AU16   mouthLowerDownLeft, mouthLowerDownRight       lower lip depressor
AU17   mouthShrugLower                               chin raiser
AU18   mouthPucker                                   lip pucker
AU20   mouthStretchLeft, mouthStretchRight           lip stretcher
AU22   mouthFunnel                                   lip funneler
AU24   mouthPressLeft, mouthPressRight               lip pressor
AU26   jawOpen                                       jaw drop
AU28   mouthRollLower, mouthRollUpper                lip suck
AU45   eyeBlinkLeft, eyeBlinkRight                   blink
=====  ============================================  ======

OpenFace 2.x ``FeatureExtraction`` CSVs (and the older layout without ``face_id``/gaze angles/eye
landmarks) are read with :func:`read_openface_csv`; their header uses ", " separators, stripped here.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.errors import FileFormatError, InputError
from analysis.face.landmarker import BLENDSHAPE_INDEX

AU_PROXIES: dict[str, tuple[str, ...]] = {
    "AU1": ("browInnerUp",),
    "AU2": ("browOuterUpLeft", "browOuterUpRight"),
    "AU4": ("browDownLeft", "browDownRight"),
    "AU5": ("eyeWideLeft", "eyeWideRight"),
    "AU6": ("cheekSquintLeft", "cheekSquintRight"),
    "AU7": ("eyeSquintLeft", "eyeSquintRight"),
    "AU9": ("noseSneerLeft", "noseSneerRight"),
    "AU10": ("mouthUpperUpLeft", "mouthUpperUpRight"),
    "AU12": ("mouthSmileLeft", "mouthSmileRight"),
    "AU14": ("mouthDimpleLeft", "mouthDimpleRight"),
    "AU15": ("mouthFrownLeft", "mouthFrownRight"),
    "AU16": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "AU17": ("mouthShrugLower",),
    "AU18": ("mouthPucker",),
    "AU20": ("mouthStretchLeft", "mouthStretchRight"),
    "AU22": ("mouthFunnel",),
    "AU24": ("mouthPressLeft", "mouthPressRight"),
    "AU26": ("jawOpen",),
    "AU28": ("mouthRollLower", "mouthRollUpper"),
    "AU45": ("eyeBlinkLeft", "eyeBlinkRight"),
}
AU_NAMES = tuple(AU_PROXIES)
_AU_RE = re.compile(r"^AU0*(\d+)$", re.IGNORECASE)


def normalize_au(name: str) -> str:
    """``"AU01"``, ``"au1"``, ``"1"`` → ``"AU1"`` (MexlabError if it is not an AU name)."""
    s = str(name).strip()
    if s.isdigit():
        s = "AU" + s
    m = _AU_RE.match(s)
    if not m:
        raise InputError(f"{name!r} is not an action unit name (expected e.g. AU12)")
    return f"AU{int(m.group(1))}"


def _matrix() -> np.ndarray:
    """(n_AU, 52) averaging matrix: AU proxies = M @ blendshapes."""
    m = np.zeros((len(AU_NAMES), len(BLENDSHAPE_INDEX)), np.float32)
    for i, au in enumerate(AU_NAMES):
        for b in AU_PROXIES[au]:
            m[i, BLENDSHAPE_INDEX[b]] = 1.0 / len(AU_PROXIES[au])
    return m


_M = _matrix()


def au_proxies(blendshapes: np.ndarray) -> np.ndarray:
    """AU proxy intensities (0..1) from blendshape scores: (..., 52) → (..., len(AU_NAMES)).
    NaN rows (no face) stay NaN."""
    b = np.asarray(blendshapes, dtype=np.float32)
    return b @ _M.T


def au_proxy_dict(blendshapes: np.ndarray) -> dict[str, float]:
    """One frame's AU proxies as ``{"AU1": 0.12, …}``."""
    v = au_proxies(np.asarray(blendshapes).reshape(-1))
    return {au: float(x) for au, x in zip(AU_NAMES, v)}


# --------------------------------------------------------------------------- OpenFace
@dataclass
class OpenFaceAUs:
    """AUs read from an OpenFace CSV. ``frame`` is 0-based (OpenFace counts from 1)."""

    path: str
    frame: np.ndarray  # int, 0-based
    timestamp: np.ndarray  # s (NaN when the CSV has none)
    confidence: np.ndarray  # 0..1 (NaN when absent)
    success: np.ndarray  # bool (True when absent)
    intensity: dict[str, np.ndarray] = field(default_factory=dict)  # AUx_r, 0..5
    presence: dict[str, np.ndarray] = field(default_factory=dict)  # AUx_c, 0/1
    layout: str = "2.x"  # "2.x" or "legacy"

    def intensity_at(self, au: str, n_frames: int) -> np.ndarray:
        """Intensity of ``au`` per video frame ``0..n_frames-1`` (NaN where the CSV has no row or
        the tracking failed)."""
        au = normalize_au(au)
        if au not in self.intensity:
            have = ", ".join(sorted(self.intensity, key=lambda a: int(a[2:]))) or "none"
            raise FileFormatError(f"{self.path}: no intensity column for {au} (has {have})")
        out = np.full(n_frames, np.nan, np.float32)
        ok = (self.frame >= 0) & (self.frame < n_frames) & self.success
        out[self.frame[ok]] = self.intensity[au][ok]
        return out


def read_openface_csv(path: str | Path) -> OpenFaceAUs:
    """Read an OpenFace ``FeatureExtraction`` CSV (2.x or the older legacy layout)."""
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot open the OpenFace CSV ({exc.strerror})") from None
    with fh:
        rows = csv.reader(fh)
        try:
            header = [h.strip() for h in next(rows)]
        except StopIteration:
            raise FileFormatError(f"{path}: the OpenFace CSV is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{path}: not a CSV file ({exc})") from None
        col = {h: i for i, h in enumerate(header)}
        if "frame" not in col:
            raise FileFormatError(f"{path}: not an OpenFace CSV (no 'frame' column)")
        r_cols = {normalize_au(h[:-2]): col[h] for h in header if _AU_RE.match(h[:-2] or "x") and h.endswith("_r")}
        c_cols = {normalize_au(h[:-2]): col[h] for h in header if _AU_RE.match(h[:-2] or "x") and h.endswith("_c")}
        if not r_cols and not c_cols:
            raise FileFormatError(f"{path}: the OpenFace CSV has no AU columns (AU01_r … AU45_c)")
        data = []
        try:
            for lineno, row in enumerate(rows, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise FileFormatError(f"{path}, line {lineno}: {len(row)} values, the header has {len(header)}")
                try:
                    data.append([float(c) for c in row])
                except ValueError:
                    bad = next(c for c in row if not _is_float(c))
                    raise FileFormatError(f"{path}, line {lineno}: {bad.strip()!r} is not a number") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileFormatError(f"{path}: not a readable CSV file ({exc})") from None
    a = np.array(data, dtype=np.float64).reshape(-1, len(header))
    if "face_id" in col and len(a):
        ids, counts = np.unique(a[:, col["face_id"]], return_counts=True)
        a = a[a[:, col["face_id"]] == ids[np.argmax(counts)]]  # the face tracked longest
    n = len(a)

    def get(name: str, default: float) -> np.ndarray:
        return a[:, col[name]] if name in col else np.full(n, default, np.float64)

    return OpenFaceAUs(
        path=str(path),
        frame=(a[:, col["frame"]].astype(np.int64) - 1),
        timestamp=get("timestamp", np.nan),
        confidence=get("confidence", np.nan).astype(np.float32),
        success=get("success", 1.0) > 0.5,
        intensity={au: a[:, i].astype(np.float32) for au, i in r_cols.items()},
        presence={au: a[:, i].astype(np.float32) for au, i in c_cols.items()},
        layout="2.x" if "face_id" in col else "legacy",
    )


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
