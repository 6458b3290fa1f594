"""Writing a session folder into its catalog rows, inside a transaction the caller holds
(:meth:`Catalog.register_session <acquisition.catalog.db.Catalog.register_session>`), and telling
whether a catalogued folder still holds its session."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import selectinload

from acquisition import session as sessionfmt
from acquisition.catalog.base import utcnow
from acquisition.catalog.models import Participant, Session, SessionFile, Stream
from acquisition.catalog.values import _float, _int, _parse_time, _str
from acquisition.errors import SessionFormatError


def participant_row(db: DBSession, pseudonym: str) -> Participant:
    """The participant of ``pseudonym``, added when new."""
    row = db.scalar(select(Participant).where(Participant.pseudonym == pseudonym))
    if row is None:
        row = Participant(pseudonym=pseudonym, created_at=utcnow())
        db.add(row)
        db.flush()
    return row


def upsert_session(
    db: DBSession, session_id: str, folder: Path, meta: dict, files: list[tuple[str, str, int]], status: str
) -> Session:
    """The session's row made from its sidecar ``meta`` and ``files`` (role, path, size): added, or
    updated in place; its files and streams replaced wholesale."""
    row = db.scalar(
        select(Session)
        .where(Session.session_id == session_id)
        .options(selectinload(Session.files), selectinload(Session.streams))
    )
    now = utcnow()
    pseudonym = (_str(meta.get("participant"), 255) or "").strip()
    participant = participant_row(db, pseudonym) if pseudonym else None
    if row is None:
        row = Session(session_id=session_id, registered_at=now)
        db.add(row)
    row.participant = participant
    row.protocol = _str(meta.get("protocol"), 255)
    row.folder = str(folder)
    row.status = status
    row.source = _str(meta.get("source"), 64)
    row.started_at = _parse_time(meta.get("started_at"))
    row.stopped_at = _parse_time(meta.get("stopped_at"))
    row.duration_s = _float(meta.get("duration_s"))
    row.dropped_frames = _int(meta.get("dropped_frames"))
    row.dropped_samples = _int(meta.get("dropped_samples"))
    row.disk_bytes = sum(size for _, _, size in files)
    row.host = _str(meta.get("host"), 255)
    row.pid = _int(meta.get("pid"), None)
    row.updated_at = now
    row.sidecar = json.dumps(meta, ensure_ascii=False)
    # files and streams are replaced wholesale; flush the removals first (unique paths)
    row.files.clear()
    row.streams.clear()
    db.flush()
    for role, rel, size in files:
        row.files.append(SessionFile(role=role[:64], path=rel, size_bytes=size))
    streams = meta.get("streams")
    for s in streams if isinstance(streams, list) else []:
        if not isinstance(s, dict):
            continue
        row.streams.append(
            Stream(
                name=_str(s.get("name")) or "",
                type=_str(s.get("type")),
                source_id=_str(s.get("source_id")),
                role=_str(s.get("role"), 32),
                channel_count=_int(s.get("channel_count"), None),
                nominal_srate=_float(s.get("nominal_srate")),
                samples=_int(s.get("samples"), None),
                gaps=_int(s.get("gaps"), None),
            )
        )
    db.flush()
    return row


def folder_gone(row: dict) -> str | None:
    """Why a catalogued session's folder no longer holds it (moved, deleted, replaced), or None."""
    folder = Path(row.get("folder") or "")
    if not row.get("folder") or not folder.is_dir():
        return f"the session folder {folder} is gone (moved or deleted): rescan its new place"
    try:
        sid = str(sessionfmt.read_sidecar(folder).get("session_id") or "").strip().lower()
    except SessionFormatError:
        return f"the session folder {folder} has no readable session.json any more"
    if sid != row["session_id"]:
        return f"the session folder {folder} now holds another session ({sid[:8] or 'no id'})"
    return None


def check_for_catalog(folder: Path) -> dict:
    """The check of a session folder as the catalog keeps it; a folder the check cannot read at
    all (a video that is not one, …) is ``bad`` with that message, and still catalogued."""
    from acquisition.check import check_path
    from acquisition.errors import MexlabError

    try:
        return check_path(folder)
    except MexlabError as exc:
        return {"status": None, "health": {"verdict": "bad", "reasons": [str(exc)]}, "duration_s": None}


def holds_session(folder: Path, session_id: str) -> bool:
    """Whether ``folder`` is a session folder whose readable sidecar names ``session_id``."""
    if not sessionfmt.is_session_folder(folder):
        return False
    try:
        meta = sessionfmt.read_sidecar(folder)
    except SessionFormatError:
        return False
    return str(meta.get("session_id", "")).strip().lower() == session_id


def status_from_stored(stored: str | None) -> str:
    """The status of a session marked ``recording`` judged from the sidecar last read (its folder
    is gone): ``interrupted`` unless that sidecar says how it ended."""
    try:
        meta = json.loads(stored) if stored else {}
    except ValueError:
        meta = {}
    status = sessionfmt.effective_status(meta) if isinstance(meta, dict) else "unknown"
    return "interrupted" if status == "unknown" else status  # nothing shows its writer alive
