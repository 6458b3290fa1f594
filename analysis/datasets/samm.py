"""``samm:ROOT`` — SAMM.

Layout: ``ROOT/NNN/NNN_x_y/NNN_xxxxx.jpg`` (subject, clip, frames numbered by the 5-digit suffix),
and the SAMM sheet (``SAMM_Micro_FACS_Codes_v2.xlsx`` or any ``*.xls*`` with its columns) whose header
row comes after a preamble: the header is found, never assumed at a fixed row.
"""

from __future__ import annotations

from acquisition.errors import FileFormatError
from analysis.datasets.classes import Scheme
from analysis.datasets.common import add_sample, finish
from analysis.datasets.sample import DatasetRead
from analysis.datasets.sheets import check_root, find_header, find_sheet, read_rows, sheet_rows, to_int

COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("Onset Frame", "Onset"),
    "apex": ("Apex Frame", "Apex"),
    "offset": ("Offset Frame", "Offset"),
    "aus": ("Action Units", "AU"),
    "emotion": ("Estimated Emotion", "Emotion"),
}
OPTIONAL = {"type": ("Type",)}


def read(root: str, scheme: Scheme) -> DatasetRead:
    root_p = check_root(root)
    sheet = find_sheet(root_p, ("SAMM*.xls*", "SAMM*.csv", "*.xlsx"), "SAMM")
    rows = read_rows(sheet)
    h, col = find_header(rows, COLUMNS, sheet, OPTIONAL)
    res = DatasetRead("samm", str(root_p), scheme.name)
    labels: dict = {}
    cache: dict = {}
    for r, get in sheet_rows(rows, h, col):
        origin = f"{sheet.name} row {r}"
        subj = get("subject")
        subj = subj.zfill(3) if subj.isdigit() else subj
        clip = get("filename")
        typ = get("type").lower()
        add_sample(
            res,
            scheme,
            labels,
            kind="samm",
            subject=subj,
            video=clip,
            onset=to_int(get("onset"), sheet, r, "Onset Frame"),
            apex=to_int(get("apex"), sheet, r, "Apex Frame") if get("apex") not in ("", "-1", "/") else None,
            offset=to_int(get("offset"), sheet, r, "Offset Frame"),
            aus=get("aus"),
            emotion=get("emotion"),
            folder=root_p / subj / clip,
            depth_folder=None,
            origin=origin,
            type_="macro" if typ.startswith("macro") else "micro",
            cache=cache,
        )
    if not res.samples and not res.errors:
        raise FileFormatError(f"{sheet}: no sample rows under the header")
    return finish(res, scheme, labels, str(sheet))
