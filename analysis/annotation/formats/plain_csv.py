"""mexlab's own CSV coding: one row per event, any number of coders (column ``coder``), frames
0-based. Import needs only onset and offset; apex, type (derived from the duration when absent),
aus (``AU4+AU7``; also read from a column au / action units), emotion, confidence, notes, status
and source are optional."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from acquisition.errors import FileFormatError
from analysis.annotation.formats.rows import cell, frame_number, make_event, rows_checked
from analysis.annotation.formats.tables import write_rows
from analysis.annotation.model import Event

if TYPE_CHECKING:
    from analysis.annotation.clip import Clip

CSV_COLUMNS = [
    "coder",
    "uid",
    "onset",
    "apex",
    "offset",
    "type",
    "aus",
    "emotion",
    "confidence",
    "notes",
    "status",
    "source",
]


def _o(v):
    return "" if v is None else v


def write_csv(path: Path, events: list[Event]) -> None:
    write_rows(
        path,
        CSV_COLUMNS,
        [
            [
                e.coder,
                e.uid,
                e.onset,
                _o(e.apex),
                e.offset,
                e.type,
                e.aus,
                e.emotion or "",
                _o(e.confidence),
                e.notes,
                e.status,
                e.source,
            ]
            for e in events
        ],
    )


def read_csv(
    path: str | Path, header: list[str], body: list[list[str]], clip: Clip, coder: str | None
) -> dict[str, list[Event]]:
    """``{coder: events}`` of a CSV coding's rows (coder '' for rows that name none)."""
    idx = {h.lower(): i for i, h in enumerate(header)}
    if "aus" not in idx:
        for alt in ("au", "action units", "action_units"):
            if alt in idx:
                idx["aus"] = idx[alt]
    missing = [c for c in ("onset", "offset") if c not in idx]
    if missing:
        raise FileFormatError(
            f"{path}: no column {' or '.join(repr(c) for c in missing)} (columns: "
            f"{', '.join(header[:12])}); a CSV coding needs onset and offset"
        )

    def row(n, r):
        g = lambda k: cell(r, idx, k)  # noqa: E731
        conf = g("confidence")
        kw = dict(
            onset=frame_number(path, n, "onset", g("onset")),
            offset=frame_number(path, n, "offset", g("offset")),
            apex=frame_number(path, n, "apex", g("apex"), required=False),
            aus=g("aus"),
            emotion=g("emotion") or None,
            type=g("type"),
            notes=g("notes"),
            status=g("status") or "accepted",
            source=g("source") or "import",
        )
        if g("uid"):
            kw["uid"] = g("uid")
        try:
            kw["confidence"] = float(conf) if conf else None
        except ValueError:
            raise FileFormatError(f"{path}: row {n}: confidence {conf!r} is not a number") from None
        return g("coder") or "", make_event(path, n, clip, **kw)

    out: dict[str, list[Event]] = {}
    for c, ev in rows_checked(path, [lambda n=n, r=r: row(n, r) for n, r in enumerate(body, start=2)]):
        out.setdefault(c, []).append(ev)
    return out
