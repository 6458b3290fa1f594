"""``samm_lv:ROOT`` — SAMM Long Videos (also spelt ``sammlv:ROOT``).

Layout: ``ROOT/SAMM_longvideos/NNN_V/NNN_V_KKKK.jpg`` (a folder per long video, ``006_1``; frames
numbered by the last number of the file name; 200 fps, grey-level), and the sheet
``SAMM_LongVideos_V*_Release.xlsx`` anywhere under ROOT, whose header row (Subject, Filename,
Inducement Code, Onset, Apex, Offset, Duration, Type, Action Units, Notes) comes after a preamble:
it is found, never assumed at a fixed row. A row's Filename is ``NNN_V_E`` (video ``NNN_V``, its
E-th expression); Type is ``Micro - 1/2`` or ``Macro``.

The sheet has no emotion column, so the samples have no class (spotting is what the long videos are
for). An apex of -1 or 0 (frames are numbered from 1) is not coded (the middle frame is used, said so); an offset of 0 is not coded
(the apex is taken, as the MEGC spotting code does); macro rows with onset 0 are left out, as the
published MEGC spotting code (SOFTNet) leaves them out, counted.
"""

from __future__ import annotations

import re
from pathlib import Path

from acquisition.errors import FileFormatError, NotFoundError
from analysis.datasets.classes import Scheme
from analysis.datasets.common import add_sample, finish, offset_or_apex
from analysis.datasets.sample import DatasetRead
from analysis.datasets.sheets import check_root, find_header, find_sheet, read_rows, sheet_rows, to_int

COLUMNS = {
    "filename": ("Filename",),
    "onset": ("Onset", "Onset Frame"),
    "apex": ("Apex", "Apex Frame"),
    "offset": ("Offset", "Offset Frame"),
    "type": ("Type",),
}
OPTIONAL = {"subject": ("Subject",), "aus": ("Action Units", "AU")}
FRAME_DIRS = ("SAMM_longvideos", "SAMM_longvideos/SAMM_longvideos", "SAMM_LongVideos", ".")
_VIDEO = re.compile(r"^(\d+)_(\d+)$")


def frames_dir(root: Path) -> Path:
    for d in FRAME_DIRS:
        cand = root / d
        if cand.is_dir() and any(p.is_dir() and _VIDEO.match(p.name) for p in cand.iterdir()):
            return cand
    raise NotFoundError(f"{root}: no SAMM long videos (SAMM_longvideos/NNN_V/NNN_V_KKKK.jpg)")


def long_videos(root: str | Path) -> dict[str, Path]:
    """Every long video of the release: ``NNN/NNN_V`` → its frames folder."""
    base = frames_dir(Path(root))
    return {
        f"{p.name.split('_')[0]}/{p.name}": p for p in sorted(base.iterdir()) if p.is_dir() and _VIDEO.match(p.name)
    }


def read(root: str, scheme: Scheme, *, include_macro: bool = False) -> DatasetRead:
    root_p = check_root(root)
    sheet = find_sheet(root_p, ("SAMM_LongVideos*.xls*", "SAMM_LongVideos*.csv", "*LongVideos*.xls*"), "SAMM-LV")
    rows = read_rows(sheet)
    h, col = find_header(rows, COLUMNS, sheet, OPTIONAL)
    base = frames_dir(root_p)
    res = DatasetRead("samm_lv", str(root_p), scheme.name)
    labels: dict = {}
    cache: dict = {}
    for r, get in sheet_rows(rows, h, col):
        origin = f"{sheet.name} row {r}"
        fname = get("filename")
        m = re.match(r"^(\d+)_(\d+)(?:_\d+)?$", fname)
        if not m:
            res.errors.append(f"{origin}: Filename {fname!r} is not NNN_V_E")
            continue
        subj, video = m.group(1).zfill(3), f"{m.group(1).zfill(3)}_{m.group(2)}"
        typ_raw = get("type").lower()
        if not typ_raw.startswith(("micro", "macro")):
            res.errors.append(f"{origin}: Type {get('type')!r} is neither Micro nor Macro")
            continue
        typ = "macro" if typ_raw.startswith("macro") else "micro"
        if typ == "macro" and not include_macro:
            res.leave_out("macro-expression")
            continue
        onset = to_int(get("onset"), sheet, r, "Onset")
        apex_s = get("apex")
        apex = to_int(apex_s, sheet, r, "Apex") if apex_s not in ("", "-1", "0", "/") else None
        offset = to_int(get("offset"), sheet, r, "Offset")
        if typ == "macro" and onset == 0:
            key = "macro-expression with onset 0 (not coded)"
            res.leave_out(key)
            continue
        if offset in (0, -1):
            offset = offset_or_apex(res, origin, get("offset"), apex)
            if offset is None:
                continue
        folder = base / video
        if not folder.is_dir():
            res.errors.append(f"{origin}: the video folder {folder} does not exist")
            continue
        add_sample(
            res,
            scheme,
            labels,
            kind="samm_lv",
            subject=subj,
            video=video,
            onset=onset,
            apex=apex,
            offset=offset,
            aus=get("aus"),
            emotion="",
            folder=folder,
            depth_folder=None,
            origin=origin,
            type_=typ,
            dropped_ok=True,
            cache=cache,
        )
    if not res.samples and not res.errors:
        raise FileFormatError(f"{sheet}: no expression rows under the header")
    labels.pop("", None)  # no emotion column: the samples are left out of recognition, not unknown labels
    finish(res, scheme, labels, str(sheet))
    n = res.left_out.pop(f"label (none) left out by scheme {scheme.name}", 0)
    if n:
        res.left_out["no emotion label (the SAMM-LV sheet has none)"] = n
    return res
