"""Onset-apex samples for recognition training, CASME-style.

Apex frames are the peaks of an AU's intensity above a threshold (at least two spans apart); the
onset is back-tracked a fixed span (default 8 frames at 30 fps, scaled with the frame rate); the
offset is the first frame after the apex where the intensity is below the threshold again (at most
two spans after the apex). The AU intensity comes from the blendshape proxies
(:mod:`analysis.face.aus`, not FACS-validated) or from an OpenFace CSV (validated).

Each sample is written as a folder of PNG frames ``<out>/<Subject>/<Filename>/img<frame>.png``
(frames onset … offset, 0-based frame numbers of the video; the aligned face crop, or the whole
frame) and listed in ``<out>/samples.csv`` (and ``samples.xlsx`` when openpyxl is installed) with the
CASME II columns Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated
Emotion.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import InputError, OutputError
from analysis.face.aus import AU_NAMES, au_proxies, normalize_au

if TYPE_CHECKING:
    from collections.abc import Callable

COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")


@dataclass
class Sample:
    subject: str
    filename: str
    onset: int
    apex: int
    offset: int
    au: str
    intensity: float
    emotion: str = ""

    def row(self) -> dict:
        return {
            "Subject": self.subject,
            "Filename": self.filename,
            "OnsetFrame": self.onset,
            "ApexFrame": self.apex,
            "OffsetFrame": self.offset,
            "Action Units": self.au[2:],
            "Estimated Emotion": self.emotion,
        }


def default_span(fps: float) -> int:
    """8 frames at 30 fps, scaled with the frame rate (at least 1)."""
    return max(1, int(round(8 * fps / 30.0)))


def find_samples(intensity: np.ndarray, threshold: float, span: int) -> list[tuple[int, int, int]]:
    """``[(onset, apex, offset), …]`` from an AU intensity per frame (NaN: no face)."""
    from scipy.signal import find_peaks

    x = np.asarray(intensity, dtype=np.float64)
    peaks, _ = find_peaks(np.where(np.isfinite(x), x, -1e9), height=threshold, distance=max(1, 2 * span))
    out = []
    for a in peaks:
        on = int(a) - span
        if on < 0 or not np.isfinite(x[on : a + 1]).all():
            continue
        stop = min(len(x) - 1, int(a) + 2 * span)
        off = int(a)
        while off < stop and np.isfinite(x[off + 1]) and x[off + 1] >= threshold:
            off += 1
        off = min(off + 1, stop) if off < stop else off
        out.append((on, int(a), off))
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "subject"


def make_samples(
    input_path: str | Path,
    au: str,
    threshold: float,
    out_dir: str | Path,
    *,
    span: int | None = None,
    openface: Path | None = None,
    subject: str | None = None,
    emotion: str = "",
    crop: str = "face",
    crop_size: int = 256,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Sample]:
    """Build the samples of ``au`` in a video or session folder and write them to ``out_dir``."""
    import cv2

    from analysis.face.aus import read_openface_csv
    from analysis.face.video import iter_frames
    from analysis.spotting import regions as R
    from analysis.spotting.features import extract_features
    from analysis.spotting.inputs import resolve_input

    au = normalize_au(au)
    if crop not in ("face", "full"):
        raise InputError(f"crop must be 'face' or 'full', not {crop!r}")
    inp = resolve_input(input_path)
    # the OpenFace CSV is read (and checked) before the minutes the face model takes
    openface_aus = read_openface_csv(openface) if openface is not None else None
    if openface_aus is None and au not in AU_NAMES:
        raise InputError(
            f"{au} has no blendshape proxy (proxies: {', '.join(AU_NAMES)}); give its intensities with --openface"
        )
    feat = extract_features(inp.video, progress=progress)
    if openface_aus is not None:
        inten = openface_aus.intensity_at(au, feat.n_frames)
    else:
        if au not in AU_NAMES:
            raise InputError(
                f"{au} has no blendshape proxy (proxies: {', '.join(AU_NAMES)}); give its intensities with --openface"
            )
        inten = au_proxies(feat.blendshapes)[:, AU_NAMES.index(au)]
        inten = np.where(feat.present, inten, np.nan)
    span = span or default_span(feat.fps)
    found = find_samples(inten, threshold, span)
    if subject:
        subj = subject
    elif inp.is_session:
        subj = (inp.session or {}).get("participant") or inp.path.name
    else:
        subj = inp.video.stem
    subj = _safe(str(subj))
    out_dir = Path(out_dir)
    sheet = out_dir / "samples.csv"
    if sheet.exists():
        raise OutputError(f"{out_dir}: already holds samples.csv; choose another --out folder")
    stem = _safe(inp.path.name if inp.is_session else inp.video.stem)
    samples = [
        Sample(subj, f"{stem}_{k + 1:03d}", on, ap, off, au, float(inten[ap]), emotion)
        for k, (on, ap, off) in enumerate(found)
    ]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        wanted = {}
        for s in samples:
            for f in range(s.onset, s.offset + 1):
                wanted.setdefault(f, []).append(s)
        mats = {}
        for s in samples:
            lm = feat.landmarks_at(s.onset)
            mats[s.filename] = R.align_matrix(lm, crop_size) if lm is not None else None
            (out_dir / s.subject / s.filename).mkdir(parents=True, exist_ok=True)
        if wanted:
            first, last = min(wanted), max(wanted)
            for fr in iter_frames(inp.video, want_rgb=lambda i: i in wanted, gray=False, start=first, stop=last + 1):
                for s in wanted.get(fr.index, []):
                    img = cv2.cvtColor(fr.rgb, cv2.COLOR_RGB2BGR)
                    m = mats[s.filename]
                    if crop == "face" and m is not None:
                        img = cv2.warpAffine(
                            img, m, (crop_size, crop_size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
                        )
                    path = out_dir / s.subject / s.filename / f"img{fr.index:06d}.png"
                    if not cv2.imwrite(str(path), img):
                        raise OSError(f"cannot write {path}")
        write_sheet(out_dir, samples)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write the samples ({exc})") from None
    return samples


def write_sheet(out_dir: Path, samples: list[Sample]) -> list[Path]:
    """``samples.csv`` (always) and ``samples.xlsx`` (when openpyxl is installed)."""
    out_dir = Path(out_dir)
    written = [out_dir / "samples.csv"]
    from acquisition.atomic import atomic_path, atomic_write

    with atomic_write(written[0], newline="") as fh:  # temp-and-rename: never half a sheet
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for s in samples:
            w.writerow(s.row())
    try:
        import openpyxl
    except ImportError:
        return written
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "samples"
    ws.append(list(COLUMNS))
    for s in samples:
        r = s.row()
        ws.append([r[c] for c in COLUMNS])
    with atomic_path(out_dir / "samples.xlsx") as tmp:
        wb.save(tmp)
    written.append(out_dir / "samples.xlsx")
    return written
