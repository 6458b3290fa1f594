"""``casme_sq:ROOT`` — CAS(ME)^2 (long videos; also spelt ``cas(me)^2:ROOT``).

Layout: ``ROOT/rawpic/sNN/NN_CCCCname/img<K>.jpg`` (subject folders ``s15`` … ``s40``; a video
folder is the subject number, the four-digit video code and the clip's name, e.g.
``15_0101disgustingteeth``; frames numbered from 1 by the img number), or the same under
``cropped/``. The coding sheet ``CAS(ME)^2code_final.xlsx`` (any ``*code_final*.xlsx`` under ROOT)
has no header row: its first worksheet's columns are participant number, expression name
(``disgust1_1``: the clip ``disgust1``, its first expression), onset, apex, offset, AUs, emotion,
expression type (``macro-expression`` / ``micro-expression``), self-report. Its naming worksheets
map the participant number to the subject folder (``1`` → ``s15``) and the clip to its video code
(``disgust1`` → ``0101``); where they are absent the database's published naming is used, said so.

The coders wrote an offset of 0 where it was not coded: the apex is then taken as the offset, as the
MEGC spotting code does (said per row); an apex of 0 (frames are numbered from 1) is not coded either:
the middle frame is used, said so. Frame numbers are the img numbers, never shifted.
"""

from __future__ import annotations

import re
from pathlib import Path

from acquisition.errors import FileFormatError, NotFoundError
from analysis.datasets.classes import Scheme
from analysis.datasets.common import add_sample, finish, offset_or_apex
from analysis.datasets.sample import DatasetRead
from analysis.datasets.sheets import check_root, find_sheet, read_workbook, to_int

#: the database's published naming (used only when the workbook lacks its naming worksheets)
SUBJECTS = {
    str(i + 1): f"s{n}"
    for i, n in enumerate((15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40))
}
CLIPS = {
    "disgust1": "0101",
    "disgust2": "0102",
    "anger1": "0401",
    "anger2": "0402",
    "happy1": "0502",
    "happy2": "0503",
    "happy3": "0505",
    "happy4": "0507",
    "happy5": "0508",
}
FRAME_DIRS = ("rawpic", "rawpic/rawpic", "cropped", "cropped/cropped", "rawpic_crop")
_VIDEO = re.compile(r"^(\d+)_(\d{4})")
_CLIP = re.compile(r"^[a-z]{2,}\d+$")  # disgust1, not s15


def _is_subject(p: Path) -> bool:
    return p.is_dir() and re.fullmatch(r"s\d+", p.name.lower()) is not None


def frames_dir(root: Path) -> Path:
    """The folder holding the subject folders ``sNN`` (``rawpic/`` or ``cropped/``, or ROOT itself)."""
    for d in (*FRAME_DIRS, "."):
        cand = root / d
        if cand.is_dir() and any(_is_subject(p) for p in cand.iterdir()):
            return cand
    raise NotFoundError(f"{root}: no CAS(ME)^2 frames (rawpic/sNN/NN_CCCCname/img<K>.jpg)")


def long_videos(root: str | Path) -> dict[str, Path]:
    """Every long video of the release: ``sNN/NN_CCCCname`` → its frames folder."""
    base = frames_dir(Path(root))
    out = {}
    for sd in sorted(p for p in base.iterdir() if _is_subject(p)):
        for vd in sorted(p for p in sd.iterdir() if p.is_dir() and _VIDEO.match(p.name)):
            out[f"{sd.name}/{vd.name}"] = vd
    return out


def subject_code(value: str) -> str:
    """``s15``, ``S15``, ``15`` → ``s15``."""
    v = value.strip().lower()
    if v.startswith("s"):
        v = v[1:]
    return f"s{int(float(v))}" if v.replace(".", "", 1).isdigit() else value.strip()


def _naming(sheets: list[tuple[str, list[list[str]]]]) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """(clip → video code, participant number → subject folder) from the naming worksheets."""
    clips: dict[str, str] = {}
    subjects: dict[str, str] = {}
    for _, rows in sheets[1:]:
        found_clips = {}
        for row in rows:
            cells = [c.strip() for c in row if c and c.strip()]
            names = [c.lower() for c in cells if _CLIP.match(c.lower())]
            codes = [c for c in cells if c.isdigit() and len(c) <= 4]
            if len(names) == 1 and codes:
                found_clips[names[0]] = codes[0].zfill(4)
        if found_clips:
            clips.update(found_clips)
            continue
        found_subjects = {}
        for row in rows:  # participant number in the third column, subject in the second
            if len(row) >= 3 and row[2].strip().isdigit() and re.fullmatch(r"[sS]?\d+", row[1].strip()):
                found_subjects[row[2].strip()] = subject_code(row[1])
        subjects.update(found_subjects)
    return clips or None, subjects or None


def read(root: str, scheme: Scheme, *, include_macro: bool = False) -> DatasetRead:
    root_p = check_root(root)
    sheet = find_sheet(root_p, ("*code_final*.xls*", "*code_final*.csv"), "CAS(ME)^2 (CAS(ME)^2code_final.xlsx)")
    book = read_workbook(sheet)
    base = frames_dir(root_p)
    clips, subjects = _naming(book)
    res = DatasetRead("casme_sq", str(root_p), scheme.name)
    if clips is None or subjects is None:
        what = " and ".join(w for w, m in (("clip", clips), ("subject", subjects)) if m is None)
        res.problems.append(f"{sheet.name}: no {what} naming worksheet; the database's published naming is used")
    clips = clips or CLIPS
    subjects = subjects or SUBJECTS
    by_code: dict[tuple[str, str], list[Path]] = {}  # (subject folder, video code) → video folders
    for v in long_videos(root_p).values():
        by_code.setdefault((v.parent.name.lower(), _VIDEO.match(v.name).group(2)), []).append(v)
    labels: dict = {}
    cache: dict = {}
    rows = book[0][1]
    for r, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row] + [""] * max(0, 9 - len(row))
        if not cells[0] and not cells[1]:
            continue
        origin = f"{sheet.name} row {r}"
        if r == 1 and not cells[2].replace(".", "", 1).isdigit():
            continue  # a header row, where a copy of the sheet has one
        part, name = cells[0], cells[1]
        onset = to_int(cells[2], sheet, r, "onset (column 3)")
        apex = to_int(cells[3], sheet, r, "apex (column 4)") if cells[3] not in ("", "/", "0") else None
        offset = to_int(cells[4], sheet, r, "offset (column 5)")
        typ = "macro" if cells[7].lower().startswith("ma") else "micro"
        if typ == "micro" and not cells[7].lower().startswith("mi"):
            res.errors.append(f"{origin}: expression type {cells[7]!r} is neither macro- nor micro-expression")
            continue
        if typ == "macro" and not include_macro:
            res.leave_out("macro-expression")
            continue
        if offset == 0:
            offset = offset_or_apex(res, origin, cells[4], apex)
            if offset is None:
                continue
        clip = name.split("_")[0].lower()
        subj = subjects.get(part.split(".")[0]) or (subject_code(part) if part.lower().startswith("s") else None)
        code = clips.get(clip)
        if subj is None or code is None:
            res.errors.append(
                f"{origin}: participant {part!r}, clip {clip!r} not in the sheet's naming"
                + ("" if subj else f" (participants: {', '.join(sorted(subjects, key=lambda s: (len(s), s)))})")
            )
            continue
        hits = by_code.get((subj, code), [])
        if len(hits) != 1:
            where = base / subj / f"*_{code}*"
            res.errors.append(
                f"{origin}: {'no' if not hits else 'more than one'} video folder {where} "
                f"(participant {part} = {subj}, clip {clip} = {code})"
            )
            continue
        vid = hits[0]
        add_sample(
            res,
            scheme,
            labels,
            kind="casme_sq",
            subject=vid.parent.name,
            video=vid.name,
            onset=onset,
            apex=apex,
            offset=offset,
            aus=cells[5],
            emotion=cells[6],
            folder=vid,
            depth_folder=None,
            origin=origin,
            type_=typ,
            dropped_ok=True,
            cache=cache,
        )
    if not res.samples and not res.errors:
        raise FileFormatError(f"{sheet}: no expression rows in its first worksheet")
    return finish(res, scheme, labels, str(sheet))
