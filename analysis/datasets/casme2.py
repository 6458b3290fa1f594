"""``casme2:ROOT`` — CASME II.

Layout: ``ROOT/CASME2_RAW_selected/subNN/EPxx_yy[f]/img<K>.jpg`` (or the cropped release,
``Cropped/subNN/…/reg_img<K>.jpg``, or any folder holding ``subNN``), and the coding sheet at the
release's root, ``CASME2-coding-*.xlsx`` (columns Subject, Filename, OnsetFrame, ApexFrame,
OffsetFrame, Action Units, Estimated Emotion; blank columns between are fine). Frame numbers are the
img numbers. An apex written ``/`` (a few rows of the release) is taken as the middle frame, said so.
"""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import FileFormatError
from analysis.datasets.classes import Scheme
from analysis.datasets.common import add_sample, finish
from analysis.datasets.sample import DatasetRead
from analysis.datasets.sheets import check_root, find_header, find_sheet, read_rows, sheet_rows, to_int

COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("OnsetFrame",),
    "apex": ("ApexFrame",),
    "offset": ("OffsetFrame",),
    "aus": ("Action Units", "AU"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
FRAME_DIRS = ("CASME2_RAW_selected", "CASME2-RAW-selected", "CASME2_RAW", "CASME2_Cropped", "Cropped", "CASME2_cropped")


def subject_dir(root: Path, subj: str) -> Path | None:
    name = f"sub{int(subj):02d}" if subj.isdigit() else subj
    for d in FRAME_DIRS:
        for base in (root / d, root / d / d, root / d / "Cropped"):
            if (base / name).is_dir():
                return base / name
    hits = [p for p in root.glob(f"*/{name}") if p.is_dir()] + [p for p in root.glob(f"*/*/{name}") if p.is_dir()]
    return hits[0] if hits else None


def read(root: str, scheme: Scheme) -> DatasetRead:
    root_p = check_root(root)
    sheet = find_sheet(root_p, ("CASME2-coding*.xls*", "CASME2*coding*.xls*", "CASME2-coding*.csv"), "CASME II")
    rows = read_rows(sheet)
    h, col = find_header(rows, COLUMNS, sheet)
    res = DatasetRead("casme2", str(root_p), scheme.name)
    labels: dict = {}
    cache: dict = {}
    for r, get in sheet_rows(rows, h, col):
        origin = f"{sheet.name} row {r}"
        subj = get("subject")
        sd = subject_dir(root_p, subj)
        if sd is None:
            res.errors.append(
                f"{origin}: no folder for subject {subj} (looked for sub{int(subj):02d} under {root_p})"
                if subj.isdigit()
                else f"{origin}: no folder for subject {subj} under {root_p}"
            )
            continue
        ap = get("apex")
        apex = None if ap in ("/", "", "-") else to_int(ap, sheet, r, "ApexFrame")
        add_sample(
            res,
            scheme,
            labels,
            kind="casme2",
            subject=sd.name,
            video=get("filename"),
            onset=to_int(get("onset"), sheet, r, "OnsetFrame"),
            apex=apex,
            offset=to_int(get("offset"), sheet, r, "OffsetFrame"),
            aus=get("aus"),
            emotion=get("emotion"),
            folder=sd / get("filename"),
            depth_folder=None,
            origin=origin,
            cache=cache,
        )
    if not res.samples and not res.errors:
        raise FileFormatError(f"{sheet}: no sample rows under the header")
    return finish(res, scheme, labels, str(sheet))
