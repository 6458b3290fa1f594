"""The catalog's read queries on sessions and participants, each on a database session the caller
holds (:meth:`Catalog.reading <acquisition.catalog.db.Catalog.reading>`)."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import contains_eager, selectinload

from acquisition.catalog.models import Participant, ParticipantIdentity, Session, Stream
from acquisition.errors import CatalogError


def find_session(db: DBSession, session_id: str) -> Session | None:
    """The row of a session by its id, or by a unique prefix of it (at least 4 characters)."""
    session_id = str(session_id).strip().lower()
    row = db.scalar(select(Session).where(Session.session_id == session_id))
    if row is not None or len(session_id) < 4:
        return row
    like = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = db.scalars(select(Session).where(Session.session_id.like(like, escape="\\")).limit(2)).all()
    if len(rows) > 1:
        raise CatalogError(f"session id '{session_id}' is ambiguous: more than one session starts so")
    return rows[0] if rows else None


def sessions_query(participant: str | None, status: str | None, search: str | None) -> Select:
    """Sessions (with participant and streams loaded), newest first, filtered as
    :meth:`Catalog.list_sessions <acquisition.catalog.db.Catalog.list_sessions>` says."""
    query = (
        select(Session)
        .outerjoin(Session.participant)
        .options(contains_eager(Session.participant), selectinload(Session.streams))
    )
    if participant:
        query = query.where(Participant.pseudonym == participant)
    if status:
        query = query.where(Session.status == status)
    if search and search.strip():
        text = search.strip().lower()

        def has(column):
            return func.lower(column).contains(text, autoescape=True)

        query = query.where(
            or_(
                has(Session.session_id),
                has(Participant.pseudonym),
                has(Session.protocol),
                has(Session.folder),
                has(Session.source),
                has(Session.host),
                Session.streams.any(has(Stream.name)),
            )
        )
    return query.order_by(func.coalesce(Session.started_at, Session.registered_at).desc(), Session.id.desc())


def identity_of(db: DBSession, pseudonym: str) -> dict | None:
    """The identifying details stored for a pseudonym, or ``None``."""
    identity = db.scalar(
        select(ParticipantIdentity)
        .join(ParticipantIdentity.participant)
        .where(Participant.pseudonym == str(pseudonym).strip())
    )
    if identity is None:
        return None
    return {
        "pseudonym": identity.participant.pseudonym,
        "real_name": identity.real_name,
        "contact": identity.contact,
        "notes": identity.notes,
    }


def participant_counts(db: DBSession) -> list[dict]:
    """Every pseudonym with its number of sessions (no identifying details)."""
    rows = db.execute(
        select(Participant.pseudonym, func.count(Session.id))
        .outerjoin(Session, Session.participant_id == Participant.id)
        .group_by(Participant.id, Participant.pseudonym)
        .order_by(Participant.pseudonym)
    ).all()
    return [{"pseudonym": p, "sessions": n} for p, n in rows]
