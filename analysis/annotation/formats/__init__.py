"""Exchange of codings: MEGC / CAS(ME)² sheet, CASME II coding sheet, SAMM, ELAN .eaf, plain CSV.

| format | columns | frames | module |
|---|---|---|---|
| ``csv`` | coder, uid, onset, apex, offset, type, aus, emotion, confidence, notes, status, source | 0-based | :mod:`.plain_csv` |
| ``megc`` | Subject, Video, Onset, Apex, Offset, AUs, Emotion, Type | 1-based | :mod:`.sheets` |
| ``casme2`` | Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion | 1-based | :mod:`.sheets` |
| ``samm`` | Subject, Filename, Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Type, Action Units, Estimated Emotion, Notes | 1-based | :mod:`.sheets` |
| ``eaf`` | ELAN 3.0: tiers ``<coder>/event`` (value: type), ``/apex``, ``/AUs``, ``/emotion``, ``/confidence``, ``/notes``; time slots in ms from the first frame's timestamp | — | :mod:`.elan` |

The sheets (megc, casme2, samm) are written as xlsx (openpyxl) when the file name ends in .xlsx,
else as CSV; they hold one coder. Frame numbers are 1-based in the sheets, as the image numbers
of the public datasets are; mexlab (and its plain CSV) counts from 0.
Plain CSV import needs only onset and offset; apex, type (derived from the duration when absent),
aus (``AU4+AU7``), emotion, confidence and notes are optional.

This module is the entry point (:func:`export`, :func:`import_file`, :func:`guess_format`); the
table files are read and written in :mod:`.tables`, each row is checked in :mod:`.rows`.
"""

from __future__ import annotations

from pathlib import Path

from acquisition.errors import FileFormatError, InputError, NotFoundError, OutputError
from analysis.annotation.clip import Clip
from analysis.annotation.formats.elan import read_eaf, write_eaf
from analysis.annotation.formats.plain_csv import CSV_COLUMNS, read_csv, write_csv
from analysis.annotation.formats.sheets import SHEET_COLUMNS, SHEETS, read_sheet, write_sheet
from analysis.annotation.formats.tables import read_table
from analysis.annotation.model import Event

FORMATS = ("megc", "casme2", "samm", "eaf", "csv")
MAX_IMPORT_BYTES = 64 << 20  # a coding file is kilobytes; refuse what no coding file can be

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "MAX_IMPORT_BYTES",
    "SHEETS",
    "SHEET_COLUMNS",
    "check_import_file",
    "export",
    "guess_format",
    "import_file",
]


def guess_format(path: Path) -> str:
    path = Path(path)
    if path.suffix.lower() == ".eaf":
        return "eaf"
    header = [h.strip().lower() for h in read_table(path)[0]]
    if "onsetframe" in header:
        return "casme2"
    if "onset frame" in header:
        return "samm"
    if "onset" in header and ("video" in header or "subject" in header) and "coder" not in header:
        return "megc"
    if "onset" in header and "offset" in header:
        return "csv"
    missing = " and ".join(repr(c) for c in ("onset", "offset") if c not in header)
    raise FileFormatError(
        f"{path}: cannot tell its format from its columns ({', '.join(header[:12])}): "
        f"a mexlab CSV needs columns 'onset' and 'offset' (missing: {missing or 'none'}); "
        f"for a sheet give --format ({'|'.join(FORMATS)})"
    )


def check_export_path(path: Path) -> Path:
    """An export's file, before anything is read: never a session folder's own file, never an
    existing file of another kind (its folder is made when missing)."""
    from acquisition.atomic import check_out_file

    return check_out_file(path, (".xlsx", ".csv", ".eaf"), flag="", what="coding file", parent_must_exist=False)


def export(path: Path, fmt: str, clip: Clip, codings: dict[str, list[Event]]) -> int:
    """Write ``codings`` (``{coder: events}``) of ``clip``; returns the number of events written."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    check_export_path(path)
    events = [e for c in sorted(codings) for e in sorted(codings[c], key=lambda e: e.onset)]
    if fmt in SHEETS and len([c for c in codings if codings[c]]) > 1:
        raise InputError(
            f"the {fmt} sheet holds one coder's events; name one with --coder (coders: {', '.join(sorted(codings))})"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "eaf":
            write_eaf(path, clip, codings)
        elif fmt == "csv":
            write_csv(path, events)
        else:
            write_sheet(path, fmt, clip, events)
    except OSError as exc:
        raise OutputError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return len(events)


def check_import_file(path: Path) -> None:
    """A coding file that exists, is not empty and is of a size a coding can have."""
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise FileFormatError(f"{path}: the file is empty (no header row, no events)")
    if size > MAX_IMPORT_BYTES:
        raise FileFormatError(
            f"{path}: {size / 2**20:.0f} MB is far more than a coding file holds "
            f"(limit {MAX_IMPORT_BYTES >> 20} MB); not read"
        )


def import_file(path: Path, clip: Clip, coder: str | None = None, fmt: str | None = None) -> dict[str, list[Event]]:
    """The codings in ``path`` for ``clip``: ``{coder: events}``.

    Sheets carry no coder: their events go to ``coder``. CSV and ELAN files name their coders;
    ``coder`` then keeps only that coder's events (or names them, when the file names none).
    """
    path = Path(path)
    check_import_file(path)
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "eaf":
        got = read_eaf(path, clip)
    else:
        rows = read_table(path)
        header, body = [h.strip() for h in rows[0]], rows[1:]
        got = (
            read_csv(path, header, body, clip, coder)
            if fmt == "csv"
            else {coder or "": read_sheet(path, fmt, header, body, clip)}
        )
    if coder:
        named = {c for c in got if c}
        if named and coder not in named and "" not in got:
            if len(named) == 1:
                got = {coder: next(iter(got.values()))}
            else:
                raise NotFoundError(f"{path}: no events of coder {coder!r} (coders: {', '.join(sorted(named))})")
        got = {coder: got.get(coder, []) + got.get("", [])}
    elif "" in got:
        raise InputError(f"{path}: the {fmt} file does not say who coded it; give --coder NAME")
    for c, evs in got.items():
        for e in evs:
            e.coder = c
    return got
