"""The session catalog: one database listing every recording.

Where it lives: see :mod:`acquisition.catalog.connection` (``--db URL``, else ``$MEXLAB_DB``, else a
SQLite file in the user data directory). Any database SQLAlchemy can reach works; SQLite and
PostgreSQL (driver ``psycopg``) are the ones tested.

The session folders stay the truth: a row is only what was read from a folder's ``session.json``
and files (with the self-report answers of its ``responses.csv``, :mod:`acquisition.catalog.responses`),
and can always be rebuilt from them (:meth:`Catalog.register_session`, :meth:`Catalog.rescan`).
Deleting a row never deletes files.

This module holds :class:`Catalog` (register, list with reconciliation, rescan, delete, responses,
participants). A folder's values are read by :mod:`acquisition.catalog.values`, a row is turned into
the dicts returned by :mod:`acquisition.catalog.rows`, and the URL, engine and migrations are in
:mod:`acquisition.catalog.connection`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import platformdirs  # noqa: F401  (tests patch catalog_db.platformdirs)
from sqlalchemy import func, or_, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import contains_eager, selectinload, sessionmaker

from acquisition import session as sessionfmt
from acquisition.catalog import responses as responses_mod

# the URL, engine and migration helpers live in connection.py; importable from here as before
from acquisition.catalog.connection import (  # noqa: F401
    _MIGRATION_LOCK,
    APP_NAME,
    CONNECT_TIMEOUT_S,
    DEFAULT_FILENAME,
    ENV_VAR,
    MIGRATIONS_DIR,
    SQLITE_BUSY_TIMEOUT_S,
    URL_EXAMPLES,
    _cause,
    _check_sqlite_file,
    _create_engine,
    _normalize_url,
    _process_lock,
    alembic_config,
    connect_and_upgrade,
    default_db_path,
    mask_url,
    resolve_url,
)
from acquisition.catalog.models import (
    Participant,
    ParticipantIdentity,
    Session,
    SessionFile,
    Stream,
    utcnow,
)
from acquisition.catalog.rows import session_details, session_summary

# the sidecar value conversions and the file scan live in values.py; importable from here as before
from acquisition.catalog.values import (  # noqa: F401
    _KNOWN_ROLES,
    _float,
    _int,
    _iso,
    _parse_time,
    _str,
    scan_files,
)
from acquisition.errors import CatalogError, SessionFormatError

log = logging.getLogger(__name__)


def _folder_gone(row: dict) -> str | None:
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


def _db_errors(method):
    """Database errors met while using the catalog become one-line :class:`CatalogError`."""

    @functools.wraps(method)
    def wrapper(self: Catalog, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sa_exc.SQLAlchemyError as exc:
            raise CatalogError(
                f"catalog database {self.url}: {_cause(exc, self._password)}"
            ) from None

    return wrapper


# --------------------------------------------------------------------------------------------------


class Catalog:
    """The catalog of recorded sessions.

    Opening it connects and brings the schema up to date (Alembic); every failure to do so is a
    :class:`~acquisition.errors.CatalogError` naming the URL (password masked) and the cause.
    ``url`` is the masked URL, safe to show.
    """

    def __init__(self, url: str | None = None):
        real = resolve_url(url)
        self.url = mask_url(real)
        try:
            self._password = make_url(real).password
        except sa_exc.ArgumentError:
            self._password = None
        if self._password is not None:
            self._password = str(self._password) or None
        self.engine = _create_engine(real, self.url)
        try:
            self._connect_and_upgrade()
        except BaseException:
            self.engine.dispose()
            raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Catalog({self.url!r})"

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- schema

    def _connect_and_upgrade(self) -> None:
        connect_and_upgrade(self.engine, self.url, self._password)

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ---------------------------------------------------------------- helpers

    def _db(self) -> DBSession:
        return self._sessions()

    def _find(self, db: DBSession, session_id: str) -> Session | None:
        """The row of a session by its id, or by a unique prefix of it (at least 4 characters)."""
        session_id = str(session_id).strip().lower()
        row = db.scalar(select(Session).where(Session.session_id == session_id))
        if row is not None or len(session_id) < 4:
            return row
        like = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = db.scalars(
            select(Session).where(Session.session_id.like(like, escape="\\")).limit(2)
        ).all()
        if len(rows) > 1:
            raise CatalogError(f"session id '{session_id}' is ambiguous: more than one session starts so")
        return rows[0] if rows else None

    @staticmethod
    def _participant(db: DBSession, pseudonym: str) -> Participant:
        row = db.scalar(select(Participant).where(Participant.pseudonym == pseudonym))
        if row is None:
            row = Participant(pseudonym=pseudonym, created_at=utcnow())
            db.add(row)
            db.flush()
        return row

    # a session row as the dicts returned (rows.py)
    _summary = staticmethod(session_summary)
    _details = staticmethod(session_details)

    # ---------------------------------------------------------------- sessions

    @_db_errors
    def register_session(self, folder: Path, check: dict | None = None) -> dict:
        """Add or update the session in ``folder`` from its ``session.json`` and files.

        Keyed by the sidecar's ``session_id``: registering again (or from a moved folder) updates
        the same row. The answers of its ``responses.csv`` replace the session's ``responses`` rows.
        The session is checked (:func:`acquisition.check.check_path`, or ``check`` when the caller
        has just run it): the row keeps the health verdict (:mod:`acquisition.health`) and, for an
        interrupted recording, the duration found in the files, which is also written into its
        sidecar (:func:`acquisition.check.recover_interrupted`).
        Returns the session as :meth:`get_session` does, plus ``responses`` (how many rows) and
        ``warnings`` (problems met reading ``responses.csv``: lines skipped, values left empty).
        """
        from acquisition.check import recover_interrupted

        folder = Path(folder).expanduser().resolve()
        meta = sessionfmt.read_sidecar(folder)
        session_id = meta.get("session_id")
        if not isinstance(session_id, str) or not session_id.strip():
            raise SessionFormatError(f"{folder / sessionfmt.SIDECAR}: no 'session_id'")
        session_id = session_id.strip().lower()
        if check is None:
            check = check_for_catalog(folder)
        if recover_interrupted(folder, check):
            meta = sessionfmt.read_sidecar(folder)
        files = scan_files(folder, meta)
        status = sessionfmt.effective_status(meta)
        answers, warnings = responses_mod.read_responses(folder, meta)
        for attempt in (1, 2):
            try:
                with self._db() as db, db.begin():
                    row = self._upsert(db, session_id, folder, meta, files, status)
                    health = check.get("health") or {}
                    row.health = _str(health.get("verdict"), 16)
                    row.health_reasons = json.dumps(list(health.get("reasons") or []), ensure_ascii=False)
                    row.status_detail = sessionfmt.status_detail(meta)
                    if status == "interrupted" and check.get("duration_s") is not None:
                        row.duration_s = float(check["duration_s"])
                    db.flush()
                    n = responses_mod.replace_rows(db, session_id, answers)
                    return {**self._details(row), "responses": n, "warnings": warnings}
            except sa_exc.IntegrityError:
                # another process registered the same session or participant at the same moment
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _upsert(self, db, session_id, folder, meta, files, status) -> Session:
        row = db.scalar(
            select(Session)
            .where(Session.session_id == session_id)
            .options(selectinload(Session.files), selectinload(Session.streams))
        )
        now = utcnow()
        pseudonym = (_str(meta.get("participant"), 255) or "").strip()
        participant = self._participant(db, pseudonym) if pseudonym else None
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

    @_db_errors
    def reconcile(self) -> int:
        """Re-check every session still marked ``recording``; returns how many changed status.

        A session whose writer is gone becomes ``interrupted``. When its folder is still there the
        sidecar is read again (the recording may have finished since) and the whole row refreshed.
        """
        with self._db() as db:
            pending = [
                (r.session_id, r.folder, r.sidecar)
                for r in db.scalars(select(Session).where(Session.status == "recording"))
            ]
        changed = 0
        for session_id, folder, stored in pending:
            path = Path(folder)
            if sessionfmt.is_session_folder(path):
                try:
                    meta = sessionfmt.read_sidecar(path)
                except SessionFormatError:
                    meta = None
                if meta is not None and str(meta.get("session_id", "")).strip().lower() == session_id:
                    if self.register_session(path)["status"] != "recording":
                        changed += 1
                    continue
            # the folder is gone or holds something else: judge from the sidecar last read
            try:
                meta = json.loads(stored) if stored else {}
            except ValueError:
                meta = {}
            status = sessionfmt.effective_status(meta) if isinstance(meta, dict) else "unknown"
            if status == "unknown":
                status = "interrupted"  # marked recording, and nothing shows its writer alive
            if status != "recording":
                with self._db() as db, db.begin():
                    row = db.scalar(select(Session).where(Session.session_id == session_id))
                    if row is not None and row.status == "recording":
                        row.status = status
                        row.updated_at = utcnow()
                        changed += 1
        return changed

    @_db_errors
    def list_sessions(
        self,
        *,
        participant: str | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> list[dict]:
        """Sessions, newest first, after :meth:`reconcile`.

        ``participant``: pseudonym (exact); ``status``: complete | aborted | interrupted | recording |
        unknown;
        ``search``: case-insensitive text in the session id, participant, protocol, folder, source,
        host or a stream name.
        """
        self.reconcile()
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
        query = query.order_by(
            func.coalesce(Session.started_at, Session.registered_at).desc(), Session.id.desc()
        )
        with self._db() as db:
            rows = [self._summary(row) for row in db.scalars(query).unique()]
        for r in rows:
            gone = _folder_gone(r)
            if gone:
                r["health"] = {"verdict": "bad", "reasons": [gone]}
        return rows

    @_db_errors
    def get_session(self, session_id: str) -> dict | None:
        """One session with its files, streams and sidecar; ``None`` when not in the catalog.

        ``session_id`` may be a unique prefix (4 characters or more) of the id.
        """
        with self._db() as db:
            row = self._find(db, session_id)
            return self._details(row) if row is not None else None

    @_db_errors
    def delete_session(self, session_id: str) -> bool:
        """Remove a session from the catalog (its folder and files are left alone).

        Returns False when no such session is catalogued.
        """
        with self._db() as db, db.begin():
            row = self._find(db, session_id)
            if row is None:
                return False
            responses_mod.delete_rows(db, row.session_id)
            db.delete(row)
            return True

    def rescan(
        self,
        root: Path,
        *,
        on_error: Callable[[Path, Exception], None] | None = None,
        on_warning: Callable[[Path, str], None] | None = None,
    ) -> int:
        """Register every session folder under ``root`` (``root`` itself included).

        Returns how many were registered. A folder whose sidecar is malformed is skipped:
        ``on_error(folder, error)`` is called for it (by default a warning is logged). A problem in
        a registered folder's ``responses.csv`` calls ``on_warning(folder, message)`` (by default
        logged too).
        """
        root = Path(root).expanduser()
        if not root.is_dir():
            raise CatalogError(f"cannot rescan {root}: no such folder")
        count = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if sessionfmt.SIDECAR not in filenames:
                continue
            dirnames[:] = []  # a session folder holds no other sessions
            try:
                registered = self.register_session(Path(dirpath))
                count += 1
            except SessionFormatError as exc:
                if on_error is not None:
                    on_error(Path(dirpath), exc)
                else:
                    log.warning("skipped %s: %s", dirpath, exc)
                continue
            for message in registered["warnings"]:
                if on_warning is not None:
                    on_warning(Path(dirpath), message)
                else:
                    log.warning("%s", message)
        return count

    # ---------------------------------------------------------------- responses

    @_db_errors
    def list_responses(
        self,
        session_id: str | None = None,
        *,
        participant: str | None = None,
        protocol: str | None = None,
    ) -> list[dict]:
        """Self-report answers of protocol runs (rows of the sessions' ``responses.csv``).

        ``session_id`` (or a unique prefix of it, 4 characters or more) must be catalogued, else a
        :class:`CatalogError`; ``participant`` (pseudonym) and ``protocol`` (name) are exact. Each
        row is a dict: ``session_id`` and the columns of ``responses.csv``, typed (``None`` when
        empty); sessions oldest first, each in the order of its file.
        """
        with self._db() as db:
            if session_id is not None:
                row = self._find(db, session_id)
                if row is None:
                    raise CatalogError(f"no session {str(session_id).strip()} in the catalog")
                session_id = row.session_id
            return responses_mod.list_rows(
                db, session_id=session_id, participant=participant, protocol=protocol
            )

    # ---------------------------------------------------------------- participants

    @_db_errors
    def set_identity(
        self,
        pseudonym: str,
        *,
        real_name: str | None = None,
        contact: str | None = None,
        notes: str | None = None,
    ) -> None:
        """Store who a pseudonym is, in the separate identity table (created if need be)."""
        pseudonym = str(pseudonym).strip()
        if not pseudonym:
            raise CatalogError("a participant needs a pseudonym")
        with self._db() as db, db.begin():
            participant = self._participant(db, pseudonym)
            identity = participant.identity
            if identity is None:
                identity = ParticipantIdentity(participant=participant)
                db.add(identity)
            identity.real_name = real_name
            identity.contact = contact
            identity.notes = notes

    @_db_errors
    def get_identity(self, pseudonym: str) -> dict | None:
        """The identifying details stored for a pseudonym, or ``None``."""
        with self._db() as db:
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

    @_db_errors
    def list_participants(self) -> list[dict]:
        """Every pseudonym with its number of sessions (no identifying details)."""
        with self._db() as db:
            rows = db.execute(
                select(Participant.pseudonym, func.count(Session.id))
                .outerjoin(Session, Session.participant_id == Participant.id)
                .group_by(Participant.id, Participant.pseudonym)
                .order_by(Participant.pseudonym)
            ).all()
            return [{"pseudonym": p, "sessions": n} for p, n in rows]
