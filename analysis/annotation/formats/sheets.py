"""The public datasets' coding sheets, one coder each, frames 1-based as the datasets number their
images: MEGC / CAS(ME)² (``megc``), the CASME II coding sheet (``casme2``) and SAMM (``samm``);
xlsx when the file name ends in .xlsx, else CSV."""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import FileFormatError, NotFoundError
from analysis.annotation.clip import Clip
from analysis.annotation.formats.rows import cell, frame_number, make_event, rows_checked
from analysis.annotation.formats.tables import write_rows
from analysis.annotation.model import Event

SHEETS = {
    "megc": ["Subject", "Video", "Onset", "Apex", "Offset", "AUs", "Emotion", "Type"],
    "casme2": ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"],
    "samm": [
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Type",
        "Action Units",
        "Estimated Emotion",
        "Notes",
    ],
}
#: field -> column of each sheet
SHEET_COLUMNS = {
    "megc": dict(
        subject="Subject",
        video="Video",
        onset="Onset",
        apex="Apex",
        offset="Offset",
        aus="AUs",
        emotion="Emotion",
        type="Type",
    ),
    "casme2": dict(
        subject="Subject",
        video="Filename",
        onset="OnsetFrame",
        apex="ApexFrame",
        offset="OffsetFrame",
        aus="Action Units",
        emotion="Estimated Emotion",
    ),
    "samm": dict(
        subject="Subject",
        video="Filename",
        onset="Onset Frame",
        apex="Apex Frame",
        offset="Offset Frame",
        aus="Action Units",
        emotion="Estimated Emotion",
        type="Type",
        notes="Notes",
    ),
}


def sheet_row(fmt: str, clip: Clip, e: Event) -> list:
    one = lambda f: "" if f is None else f + 1  # noqa: E731 - 1-based frames in the sheets
    if fmt == "megc":
        return [
            clip.subject,
            clip.video_name,
            one(e.onset),
            one(e.apex),
            one(e.offset),
            "+".join(a.label for a in e.au_list),
            e.emotion or "",
            e.type,
        ]
    if fmt == "casme2":
        return [clip.subject, clip.video_name, one(e.onset), one(e.apex), one(e.offset), e.aus, e.emotion or ""]
    return [
        clip.subject,
        clip.video_name,
        "",
        one(e.onset),
        one(e.apex),
        one(e.offset),
        e.offset - e.onset + 1,
        e.type,
        "+".join(a.label for a in e.au_list),
        e.emotion or "",
        e.notes,
    ]


def write_sheet(path: Path, fmt: str, clip: Clip, events: list[Event]) -> None:
    write_rows(path, SHEETS[fmt], [sheet_row(fmt, clip, e) for e in events])


def read_sheet(path: str | Path, fmt: str, header: list[str], body: list[list[str]], clip: Clip) -> list[Event]:
    """The events of ``clip`` in a sheet (the rows of its video; all rows when the sheet names one video)."""
    cols = SHEET_COLUMNS[fmt]
    idx = {h.lower(): i for i, h in enumerate(header)}
    for f in ("onset", "offset"):
        if cols[f].lower() not in idx:
            raise FileFormatError(f"{path}: the {fmt} sheet has no column {cols[f]!r}")
    videos = {cell(r, idx, cols["video"]) for r in body} - {""}
    mine = {clip.video_name, clip.session_id, Path(clip.video_name).stem}
    keep = videos & mine
    if videos and not keep and len(videos) > 1:
        raise NotFoundError(
            f"{path}: no rows for {clip.video_name} (videos in the sheet: {', '.join(sorted(videos)[:10])})"
        )

    def row(n, r):
        g = lambda k: cell(r, idx, cols[k]) if k in cols else ""  # noqa: E731
        return make_event(
            path,
            n,
            clip,
            cols,
            1,
            onset=frame_number(path, n, "onset", g("onset"), 1, column=cols["onset"]),
            offset=frame_number(path, n, "offset", g("offset"), 1, column=cols["offset"]),
            apex=frame_number(path, n, "apex", g("apex"), 1, required=False, column=cols.get("apex")),
            aus=g("aus"),
            emotion=g("emotion") or None,
            type=g("type"),
            notes=g("notes"),
            source="import",
        )

    return rows_checked(
        path,
        [
            lambda n=n, r=r: row(n, r)
            for n, r in enumerate(body, start=2)
            if not (keep and cell(r, idx, cols["video"]) not in keep)
        ],
    )
