"""Annotations in the catalog: every change saved at once, with its revision, and concurrent edits
detected.

:class:`AnnotationStore` works on any catalog URL (SQLite file, PostgreSQL). Each save is its own
transaction (:meth:`Catalog.transaction <acquisition.catalog.db.Catalog.transaction>`, the catalog's
public unit of work); an UPDATE or DELETE carries the version the coder last read (SQLAlchemy
``version_id_col``), so when someone else changed or deleted the event meanwhile the change is
refused with :class:`ConflictError` (holding the current state) and nothing is overwritten.
"""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import delete, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

from acquisition.catalog import Catalog
from acquisition.catalog.annotation_models import AnnotationEvent, AnnotationRevision
from acquisition.catalog.base import utcnow
from acquisition.errors import CatalogError, MexlabError
from analysis.annotation.model import Event


class ConflictError(MexlabError):
    """An event was changed or deleted by someone else since it was read."""

    def __init__(self, message: str, current: Event | None):
        super().__init__(message)
        self.current = current


_FIELDS = {"onset": "onset_frame", "apex": "apex_frame", "offset": "offset_frame"}


def _to_event(row: AnnotationEvent) -> Event:
    return Event(
        onset=row.onset_frame,
        offset=row.offset_frame,
        apex=row.apex_frame,
        aus=row.aus,
        emotion=row.emotion,
        type=row.type,
        type_overridden=bool(row.type_overridden),
        confidence=row.confidence,
        notes=row.notes or "",
        status=row.status,
        source=row.source,
        coder=row.coder,
        uid=row.uid,
        version=row.version,
        id=row.id,
    )


def _fill(row: AnnotationEvent, e: Event) -> None:
    row.onset_frame, row.apex_frame, row.offset_frame = int(e.onset), e.apex, int(e.offset)
    row.aus, row.emotion, row.type = e.aus, e.emotion, e.type
    row.type_overridden = int(bool(e.type_overridden))
    row.confidence, row.notes, row.status, row.source = e.confidence, e.notes or None, e.status, e.source
    row.coder = e.coder


class AnnotationStore:
    """Coded events of sessions, in a catalog (``Catalog`` or its URL; None = the default one)."""

    def __init__(self, catalog: Catalog | str | None = None):
        self._own = not isinstance(catalog, Catalog)
        self.catalog = Catalog(catalog) if self._own else catalog
        self._sessions = self.catalog.reading  # a plain database session (tests use it to race a write)

    def close(self) -> None:
        if self._own:
            self.catalog.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _errors(self, exc: Exception, what: str) -> CatalogError:
        return self.catalog.error(exc, what)

    # ------------------------------------------------------------------ reading
    def events(self, session_id: str, coder: str | None = None, *, include_rejected: bool = True) -> list[Event]:
        q = select(AnnotationEvent).where(AnnotationEvent.session_id == session_id)
        if coder is not None:
            q = q.where(AnnotationEvent.coder == coder)
        if not include_rejected:
            q = q.where(AnnotationEvent.status != "rejected")
        q = q.order_by(AnnotationEvent.coder, AnnotationEvent.onset_frame, AnnotationEvent.id)
        try:
            with self.catalog.reading() as db:
                return [_to_event(r) for r in db.scalars(q)]
        except sa_exc.SQLAlchemyError as exc:
            raise self._errors(exc, "read annotations") from None

    def get(self, uid: str) -> Event | None:
        with self.catalog.reading() as db:
            row = db.scalar(select(AnnotationEvent).where(AnnotationEvent.uid == uid))
            return _to_event(row) if row is not None else None

    def coders(self, session_id: str) -> list[str]:
        with self.catalog.reading() as db:
            return sorted(
                set(db.scalars(select(AnnotationEvent.coder).where(AnnotationEvent.session_id == session_id)))
            )

    def history(self, uid: str) -> list[dict]:
        """Every revision of an event, oldest first: version, action, by, at (ISO), data."""
        with self.catalog.reading() as db:
            rows = db.scalars(
                select(AnnotationRevision).where(AnnotationRevision.event_uid == uid).order_by(AnnotationRevision.id)
            )
            return [
                {
                    "version": r.version,
                    "action": r.action,
                    "by": r.by,
                    "at": r.at.isoformat(),
                    "data": json.loads(r.data),
                }
                for r in rows
            ]

    # ------------------------------------------------------------------ writing
    def apply(self, session_id: str, before: Event | None, after: Event | None, by: str | None = None) -> Event | None:
        """Store one change (the ``on_change`` of :class:`~analysis.annotation.model.Coding`).

        ``before`` None: insert ``after``; ``after`` None: delete ``before``; else update. Returns
        the stored event (with its new version), None after a delete. ConflictError when the row
        changed (or vanished) since ``before``/``after`` was read.
        """
        if after is None:
            self.delete(session_id, before, by=by)
            return None
        if before is None or after.version == 0:
            return self.insert(session_id, after, by=by)
        return self.update(session_id, after, by=by)

    def insert(self, session_id: str, event: Event, by: str | None = None) -> Event:
        now = utcnow()
        try:
            with self.catalog.transaction() as db:
                row = AnnotationEvent(
                    uid=event.uid, session_id=session_id, created_at=now, updated_at=now, updated_by=by or event.coder
                )
                _fill(row, event)
                db.add(row)
                db.flush()
                self._revision(db, row, "create", by or event.coder)
                return _to_event(row)
        except sa_exc.IntegrityError:
            current = self.get(event.uid)
            raise ConflictError(
                f"event {event.uid[:8]} exists already (stored by {current.coder if current else '?'})", current
            ) from None
        except sa_exc.SQLAlchemyError as exc:
            raise self._errors(exc, "save an annotation") from None

    def update(self, session_id: str, event: Event, by: str | None = None) -> Event:
        try:
            with self.catalog.transaction() as db:
                row = db.scalar(select(AnnotationEvent).where(AnnotationEvent.uid == event.uid))
                if row is None:
                    raise ConflictError(
                        f"event {event.uid[:8]} ({event.onset}-{event.offset}) was deleted by someone else meanwhile",
                        None,
                    )
                if row.version != event.version:
                    raise ConflictError(self._changed(row, event), _to_event(row))
                _fill(row, event)
                row.updated_at, row.updated_by = utcnow(), by or event.coder
                db.flush()  # UPDATE ... WHERE version = read version: StaleDataError if raced
                self._revision(db, row, "update", by or event.coder)
                return _to_event(row)
        except StaleDataError:
            current = self.get(event.uid)
            raise ConflictError(
                self._changed(current, event) if current else f"event {event.uid[:8]} was deleted meanwhile", current
            ) from None
        except sa_exc.SQLAlchemyError as exc:
            raise self._errors(exc, "save an annotation") from None

    def delete(self, session_id: str, event: Event, by: str | None = None) -> None:
        try:
            with self.catalog.transaction() as db:
                row = db.scalar(select(AnnotationEvent).where(AnnotationEvent.uid == event.uid))
                if row is None:
                    return
                if row.version != event.version:
                    raise ConflictError(self._changed(row, event), _to_event(row))
                self._revision(db, row, "delete", by or event.coder, version=row.version + 1)
                db.delete(row)
                db.flush()
        except StaleDataError:
            current = self.get(event.uid)
            raise ConflictError(f"event {event.uid[:8]} was changed meanwhile; not deleted", current) from None
        except sa_exc.SQLAlchemyError as exc:
            raise self._errors(exc, "delete an annotation") from None

    def replace_coding(self, session_id: str, coder: str, events: list[Event]) -> list[Event]:
        """Store ``events`` as ``coder``'s whole coding of the session (import): the coder's earlier
        events are deleted (with revisions), the new ones inserted, in one transaction."""
        try:
            with self.catalog.transaction() as db:
                old = db.scalars(
                    select(AnnotationEvent).where(
                        AnnotationEvent.session_id == session_id, AnnotationEvent.coder == coder
                    )
                ).all()
                for row in old:
                    self._revision(db, row, "delete", coder, version=row.version + 1)
                db.execute(delete(AnnotationEvent).where(AnnotationEvent.id.in_([r.id for r in old])))
                out = []
                now = utcnow()
                for e in events:
                    row = AnnotationEvent(
                        uid=e.uid, session_id=session_id, created_at=now, updated_at=now, updated_by=coder
                    )
                    _fill(row, replace(e, coder=coder))
                    db.add(row)
                    db.flush()
                    self._revision(db, row, "create", coder)
                    out.append(_to_event(row))
                return out
        except sa_exc.IntegrityError as exc:
            raise CatalogError(
                f"catalog {self.catalog.url}: an imported event id is already used "
                f"by another coding ({' '.join(str(exc.orig).split())[:200]})"
            ) from None
        except sa_exc.SQLAlchemyError as exc:
            raise self._errors(exc, "import annotations") from None

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _changed(row, mine: Event) -> str:
        who = row.updated_by or row.coder
        return (
            f"conflict: event {row.uid[:8]} (frames {row.onset_frame}-{row.offset_frame}) was "
            f"changed by {who} at {row.updated_at:%H:%M:%S} (version {row.version}, you edited "
            f"version {mine.version}); your edit was not saved"
        )

    @staticmethod
    def _revision(db, row: AnnotationEvent, action: str, by: str | None, version: int | None = None):
        data = _to_event(row).content()
        db.add(
            AnnotationRevision(
                event_uid=row.uid,
                session_id=row.session_id,
                version=version if version is not None else row.version,
                action=action,
                by=by,
                at=utcnow(),
                data=json.dumps(data, ensure_ascii=False),
            )
        )
