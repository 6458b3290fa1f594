"""A lab's own coded sessions as a release in the CAS(ME)^3 Part A layout (colour + depth frames and
the sheet), so that a lab can share its depth ME database the way the public ones are shared.

Subjects appear under pseudonyms only (``spNO.1``, ``spNO.2`` … in the order of first appearance;
no participant ID, session ID or folder name is written), videos as letters ``a``, ``b`` ….
For every expression the frames onset … offset are written, colour as JPEG (quality 95) and depth as
16-bit PNG in mm; frames outside the expressions are not exported (the reader counts frames in an
expression's range only). The sheet is ``part_A/annotation/CAS(ME)3_part_A_v2.xlsx``. The export is
written to a temporary folder beside ``out`` and renamed into place: an existing ``out`` is never
touched.
"""

from __future__ import annotations

import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import DataError, OutputError
from acquisition.session_read.names import SIDECAR
from analysis.datasets.casme3 import SHEET
from analysis.datasets.classes import Scheme, get_scheme
from analysis.datasets.sample import DatasetRead, read_frames

if TYPE_CHECKING:
    from collections.abc import Callable

HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion", "Expression type"]


def _letters(k: int) -> str:
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = string.ascii_lowercase[r] + s
    return s


def export_casme3(res: DatasetRead, out: Path, progress: Callable[[int, int, str], None] | None = None) -> dict:
    import cv2
    import openpyxl

    out = Path(out)
    if out.exists():
        raise OutputError(f"{out}: already exists; choose a new --out folder")
    if not res.samples:
        raise DataError(f"{res.root}: no coded expression to export")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{parent}: no such folder")
    subjects: dict[str, str] = {}
    videos: dict[tuple[str, str], str] = {}
    for s in res.samples:
        subjects.setdefault(s.subject, f"spNO.{len(subjects) + 1}")
        key = (s.subject, s.rgb.path)
        if key not in videos:
            videos[key] = _letters(sum(1 for k in videos if k[0] == s.subject))
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    try:
        data = tmp / "part_A" / "data" / "part_A"
        rows = []
        by_video: dict[tuple[str, str], list] = {}
        for s in res.samples:
            by_video.setdefault((s.subject, s.rgb.path), []).append(s)
        n_frames = 0
        for (subj, path), items in by_video.items():
            vdir = data / subjects[subj] / videos[(subj, path)]
            (vdir / "color").mkdir(parents=True)
            (vdir / "depth").mkdir()
            want = sorted({k for s in items for k in range(s.onset, s.offset + 1)})
            rgb = read_frames(items[0].rgb, want)
            dep = read_frames(items[0].depth, want, depth=True) if items[0].depth else {}
            to_mm = 1.0
            meta_p = Path(path).parent / SIDECAR
            if items[0].dataset == "mexlab" and meta_p.is_file():
                import json

                try:
                    to_mm = float(json.loads(meta_p.read_text("utf-8")).get("depth_units_m") or 0.001) * 1000.0
                except (OSError, ValueError):
                    pass
            for k, img in rgb.items():
                if not cv2.imwrite(
                    str(vdir / "color" / f"{k}.jpg"),
                    cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95],
                ):
                    raise OSError(f"cannot write {vdir / 'color' / f'{k}.jpg'}")
                n_frames += 1
            for k, d in dep.items():
                mm = np.clip(np.round(d.astype(np.float64) * to_mm), 0, 65535).astype(np.uint16)
                if not cv2.imwrite(str(vdir / "depth" / f"{k}.png"), mm):
                    raise OSError(f"cannot write {vdir / 'depth' / f'{k}.png'}")
            for s in sorted(items, key=lambda s: s.onset):
                rows.append(
                    [
                        subjects[subj],
                        videos[(subj, path)],
                        s.onset,
                        s.apex,
                        s.offset,
                        s.aus,
                        s.label or "",
                        s.emotion,
                        "Macro-expression" if s.type == "macro" else "Micro-expression",
                    ]
                )
        ann = tmp / "part_A" / "annotation"
        ann.mkdir(parents=True)
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(HEADER)
        for r in rows:
            ws.append(r)
        wb.save(ann / SHEET)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{out}: cannot write the export ({exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "out": str(out),
        "subjects": len(subjects),
        "videos": len(videos),
        "expressions": len(rows),
        "frames": n_frames,
    }


def scheme_of(classes: str | Scheme) -> Scheme:
    return classes if isinstance(classes, Scheme) else get_scheme(classes)
