"""``casme3:ROOT`` — CAS(ME)^3 Part A (colour + depth).

Layout: ``ROOT/part_A/data/part_A/spNO.N/<letter>/color/<K>.jpg`` and ``depth/<K>.png`` (16-bit,
mm), frames numbered from 0; long videos, each holding several expressions; the sheet
``CAS(ME)3_part_A_v2.xlsx`` (or ``.xls``, read only when xlrd is installed) found anywhere under ROOT
(e.g. ``part_A/annotation/``), columns Subject, Filename, Onset, Apex, Offset, AU, Objective class,
emotion, Expression type. Macro-expression rows are left out of recognition unless asked.
The release has dropped frames (missing files): they are counted per video, frame numbers are never
shifted, and features use the nearest frame present.
"""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import FileFormatError, NotFoundError
from analysis.datasets.classes import Scheme
from analysis.datasets.common import add_sample, finish
from analysis.datasets.sample import DatasetRead
from analysis.datasets.sheets import check_root, find_header, find_sheet, read_rows, sheet_rows, to_int

SHEET = "CAS(ME)3_part_A_v2.xlsx"
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("Onset", "OnsetFrame"),
    "apex": ("Apex", "ApexFrame"),
    "offset": ("Offset", "OffsetFrame"),
    "emotion": ("emotion", "Estimated Emotion"),
}
OPTIONAL = {"aus": ("AU", "Action Units"), "type": ("Expression type", "Type"), "objective": ("Objective class",)}


def data_dir(root: Path) -> Path:
    for cand in (root / "part_A" / "data" / "part_A", root / "data" / "part_A", root / "part_A", root):
        if cand.is_dir() and any(p.name.lower().startswith("spno") for p in cand.iterdir()):
            return cand
    raise NotFoundError(f"{root}: no CAS(ME)^3 Part A frames (part_A/data/part_A/spNO.N/…)")


def long_videos(root: str | Path) -> dict[str, Path]:
    """Every long video of the release: ``spNO.N/<letter>`` → its colour frames folder."""
    data = data_dir(Path(root))
    out = {}
    for sd in sorted(p for p in data.iterdir() if p.is_dir() and p.name.lower().startswith("spno")):
        for vd in sorted(p for p in sd.iterdir() if (p / "color").is_dir()):
            out[f"{sd.name}/{vd.name}"] = vd / "color"
    return out


def subject_name(s: str) -> str:
    s = s.strip()
    return f"spNO.{int(float(s))}" if s.replace(".", "", 1).isdigit() else s


def read(root: str, scheme: Scheme, *, include_macro: bool = False) -> DatasetRead:
    root_p = check_root(root)
    sheet = find_sheet(root_p, ("CAS(ME)3_part_A*.xls*", "CAS(ME)3_part_A*.csv", "*part_A*.xls*"), "CAS(ME)^3 Part A")
    rows = read_rows(sheet)
    h, col = find_header(rows, COLUMNS, sheet, OPTIONAL)
    data = data_dir(root_p)
    res = DatasetRead("casme3", str(root_p), scheme.name)
    labels: dict = {}
    cache: dict = {}
    for r, get in sheet_rows(rows, h, col):
        origin = f"{sheet.name} row {r}"
        typ = "macro" if get("type").lower().startswith("ma") else "micro"
        if typ == "macro" and not include_macro:
            res.leave_out("macro-expression")
            continue
        subj, letter = subject_name(get("subject")), get("filename")
        vid = data / subj / letter
        if not vid.is_dir():
            res.errors.append(f"{origin}: the video folder {vid} does not exist")
            continue
        add_sample(
            res,
            scheme,
            labels,
            kind="casme3",
            subject=subj,
            video=letter,
            onset=to_int(get("onset"), sheet, r, "Onset"),
            apex=to_int(get("apex"), sheet, r, "Apex") if get("apex") not in ("", "/") else None,
            offset=to_int(get("offset"), sheet, r, "Offset"),
            aus=get("aus"),
            emotion=get("emotion"),
            folder=vid / "color",
            depth_folder=vid / "depth",
            origin=origin,
            type_=typ,
            dropped_ok=True,
            cache=cache,
        )
    if not res.samples and not res.errors:
        raise FileFormatError(f"{sheet}: no sample rows under the header")
    return finish(res, scheme, labels, str(sheet))
