"""The self-report answers of protocol runs in the catalog: ``responses.csv`` read into rows.

A protocol run writes one line per self-report and per question's answer window to the session
folder's ``responses.csv`` (``protocols.runlog``); its name and columns are spelled once, in
:mod:`acquisition.session_read.names`, for the writer and this reader alike. Registering the session (:meth:`Catalog.register_session`,
:meth:`Catalog.rescan`) reads that file and replaces the session's rows in the ``responses`` table,
in the same transaction as the session row: registering again never duplicates them, and a file
that changed (or vanished) is reflected as it now is.

Reading is lenient: a malformed file never stops a session from being catalogued. A row whose number
of fields differs from the header's is skipped; a value that is not a number where one is expected
is left empty; a file without its header row is not read. Each problem becomes one warning line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session as DBSession

from acquisition.catalog.models import Session
from acquisition.catalog.response_models import Response
from acquisition.session_read.names import RESPONSE_COLUMNS, RESPONSES_NAME

ROLE = "responses"  # its role in session.json "files" (protocols.runlog.RunLog.files)
#: the columns of ``responses.csv`` (written by protocols.runlog with the same list)
COLUMNS = RESPONSE_COLUMNS
INT_COLUMNS = {"block_n", "trial", "row", "intensity", "valence", "arousal"}
FLOAT_COLUMNS = {"onset_lsl", "response_lsl", "rt_s"}
REQUIRED = ("step_id", "kind")  # a first line without these is not a header
MAX_WARNINGS = 20  # per file; the rest are counted

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def responses_path(folder: Path, meta: dict) -> Path:
    """Where a session's answers are: ``files.responses`` of ``session.json``, else ``responses.csv``."""
    named = meta.get("files")
    rel = named.get(ROLE) if isinstance(named, dict) else None
    if not isinstance(rel, str) or not rel or PurePath(rel).is_absolute() or ".." in PurePath(rel).parts:
        rel = RESPONSES_NAME
    return Path(folder) / rel


def _limit(column: str) -> int | None:
    length = getattr(Response.__table__.c[column].type, "length", None)
    return int(length) if length else None


_LIMITS = {c: _limit(c) for c in COLUMNS}


def _value(column: str, raw: str) -> tuple[Any, str | None]:
    """The typed value of one cell, and a problem (or None)."""
    text = raw.strip()
    if column == "simulated":
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE, None
        return False, f"simulated {raw!r} is not 0 or 1; taken as 0"
    if not text:
        return None, None
    if column in INT_COLUMNS:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**31:
            return int(number), None
        return None, f"{column} {raw!r} is not a whole number; left empty"
    if column in FLOAT_COLUMNS:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number, None
        return None, f"{column} {raw!r} is not a number; left empty"
    text = raw.replace("\x00", "")  # PostgreSQL stores no NUL characters
    limit = _LIMITS[column]
    return (text[:limit] if limit else text) or None, None


def read_responses(folder: Path, meta: dict) -> tuple[list[dict], list[str]]:
    """The rows of a session folder's ``responses.csv`` (no file: none), and warnings about it.

    Each row is a dict of :data:`COLUMNS` with typed values (``None`` for an empty cell);
    ``participant`` and ``protocol`` default to those of ``session.json``.
    """
    path = responses_path(folder, meta)
    if not path.is_file():
        return [], []
    rows: list[dict] = []
    warnings: list[str] = []
    extra = 0

    def warn(line: int | None, message: str) -> None:
        nonlocal extra
        if len(warnings) < MAX_WARNINGS:
            warnings.append(f"{path}{f' line {line}' if line else ''}: {message}")
        else:
            extra += 1

    defaults = {"participant": meta.get("participant"), "protocol": meta.get("protocol")}
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            first = next((cells for cells in reader if any(c.strip() for c in cells)), None)
            if first is None:
                return [], []  # empty: a run that wrote nothing yet
            header = [h.strip().lower() for h in first]
            if not all(name in header for name in REQUIRED):
                warn(
                    reader.line_num,
                    f"no header row naming the columns (expected {','.join(COLUMNS)}); "
                    "its rows are not read into the catalog",
                )
                return [], warnings
            index = {name: i for i, name in reversed(list(enumerate(header))) if name in COLUMNS}
            try:
                for cells in reader:
                    line = reader.line_num
                    if not any(c.strip() for c in cells):
                        continue
                    if len(cells) != len(header):
                        warn(line, f"{len(cells)} fields where the header has {len(header)}; row skipped")
                        continue
                    row: dict[str, Any] = {}
                    for column in COLUMNS:
                        value, problem = _value(column, cells[index[column]] if column in index else "")
                        if problem:
                            warn(line, problem)
                        row[column] = value
                    for column, default in defaults.items():
                        if row[column] is None and isinstance(default, str) and default.strip():
                            row[column] = default.strip()[: _LIMITS[column]]
                    rows.append(row)
            except csv.Error as exc:
                warn(reader.line_num, f"unreadable ({exc}); the rest of the file is not read")
    except OSError as exc:
        warn(None, f"cannot read: {exc.strerror or exc}")
    if extra:
        warnings.append(f"{path}: {extra} more problem(s) not shown")
    return rows, warnings


def replace_rows(db: DBSession, session_id: str, rows: Sequence[dict]) -> int:
    """Put ``rows`` in place of the session's rows, in the caller's transaction; returns how many."""
    delete_rows(db, session_id)
    if rows:
        db.execute(insert(Response), [{"session_id": session_id, **row} for row in rows])
    return len(rows)


def delete_rows(db: DBSession, session_id: str) -> None:
    db.execute(delete(Response).where(Response.session_id == session_id))


def count_rows(db: DBSession, session_id: str) -> int:
    return db.scalar(select(func.count(Response.id)).where(Response.session_id == session_id)) or 0


def list_rows(
    db: DBSession,
    *,
    session_id: str | None = None,
    participant: str | None = None,
    protocol: str | None = None,
) -> list[dict]:
    """Rows as dicts (``session_id`` then :data:`COLUMNS`): sessions oldest first, each in file order."""
    query = select(Response).outerjoin(Session, Session.session_id == Response.session_id)
    if session_id is not None:
        query = query.where(Response.session_id == session_id)
    if participant:
        query = query.where(Response.participant == participant)
    if protocol:
        query = query.where(Response.protocol == protocol)
    query = query.order_by(func.coalesce(Session.started_at, Session.registered_at), Response.session_id, Response.id)
    return [{"session_id": r.session_id, **{c: getattr(r, c) for c in COLUMNS}} for r in db.scalars(query)]


# --------------------------------------------------------------------------------------------------
# plain-text rendering (``mexlab sessions responses``)

TABLE_COLUMNS = (
    "session",
    "participant",
    "block",
    "trial",
    "kind",
    "about",
    "category",
    "intensity",
    "valence",
    "arousal",
    "rt_s",
    "text",
)
_RIGHT = {"trial", "intensity", "valence", "arousal", "rt_s"}
_WIDTH = 32


def _cell(value: Any, width: int = _WIDTH) -> str:
    if value is None or value == "":
        return "-"
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_responses_table(rows: Iterable[dict]) -> str:
    """A plain-text table of rows as :meth:`Catalog.list_responses` returns them."""
    cells = []
    for r in rows:
        block = r.get("block")
        if block and r.get("block_n") is not None:
            block = f"{block} #{r['block_n']}"
        cells.append(
            {
                "session": (r.get("session_id") or "-")[:8],
                "participant": _cell(r.get("participant")),
                "block": _cell(block),
                "trial": _cell(r.get("trial")),
                "kind": _cell(r.get("kind")) + (" (sim)" if r.get("simulated") else ""),
                "about": _cell(r.get("stimulus") or r.get("question")),
                "category": _cell(r.get("category")),
                "intensity": _cell(r.get("intensity")),
                "valence": _cell(r.get("valence")),
                "arousal": _cell(r.get("arousal")),
                "rt_s": "-" if r.get("rt_s") is None else f"{r['rt_s']:.3f}",
                "text": _cell(r.get("text"), 60),
            }
        )
    if not cells:
        return "No responses in the catalog."
    widths = {c: max(len(c), *(len(row[c]) for row in cells)) for c in TABLE_COLUMNS}

    def line(values: dict[str, str]) -> str:
        parts = []
        for c in TABLE_COLUMNS:
            if c == TABLE_COLUMNS[-1]:
                parts.append(values[c])
            elif c in _RIGHT:
                parts.append(values[c].rjust(widths[c]))
            else:
                parts.append(values[c].ljust(widths[c]))
        return "  ".join(parts).rstrip()

    out = [line({c: c for c in TABLE_COLUMNS}), line({c: "-" * widths[c] for c in TABLE_COLUMNS})]
    out.extend(line(r) for r in cells)
    return "\n".join(out)
