"""The session catalog: one database listing every recording.

Where it lives: see :mod:`acquisition.catalog.connection` (``--db URL``, else ``$MEXLAB_DB``, else a
SQLite file in the user data directory). Any database SQLAlchemy can reach works; SQLite and
PostgreSQL (driver ``psycopg``) are the ones tested.

The session folders stay the truth: a row is only what was read from a folder's ``session.json``
and files (with the self-report answers of its ``responses.csv``, :mod:`acquisition.catalog.responses`),
and can always be rebuilt from them (:meth:`Catalog.register_session`, :meth:`Catalog.rescan`).
Deleting a row never deletes files.

This module holds :class:`Catalog` (register, list with reconciliation, rescan, delete, responses,
participants, and :meth:`Catalog.transaction` for code that keeps its own tables in the catalog).
A folder's values are read by :mod:`acquisition.catalog.values` and written into rows by
:mod:`acquisition.catalog.register`; the read queries are in :mod:`acquisition.catalog.queries`, a row
is turned into the dicts returned by :mod:`acquisition.catalog.rows`, the tables are registered in
:mod:`acquisition.catalog.tables`, and the URL, engine and migrations are in
:mod:`acquisition.catalog.connection`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from acquisition import session as sessionfmt
from acquisition.catalog import responses as responses_mod
from acquisition.catalog import tables  # noqa: F401  (registers every table of the catalog)
from acquisition.catalog.base import utcnow
from acquisition.catalog.connection import _cause, _create_engine, connect_and_upgrade, mask_url, resolve_url
from acquisition.catalog.models import ParticipantIdentity, Session
from acquisition.catalog.queries import find_session, identity_of, participant_counts, sessions_query
from acquisition.catalog.register import (
    check_for_catalog,
    folder_gone,
    holds_session,
    participant_row,
    status_from_stored,
    upsert_session,
)
from acquisition.catalog.rows import session_details, session_summary
from acquisition.catalog.values import _str, scan_files
from acquisition.errors import CatalogError, SessionFormatError

log = logging.getLogger(__name__)


def _db_errors(method):
    """Database errors met while using the catalog become one-line :class:`CatalogError`."""

    @functools.wraps(method)
    def wrapper(self: Catalog, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sa_exc.SQLAlchemyError as exc:
            raise CatalogError(f"catalog database {self.url}: {_cause(exc, self._password)}") from None

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

    # ---------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[DBSession]:
        """A database session inside one transaction: committed when the block ends, rolled back
        when it raises. The unit of work for code that keeps its own tables in the catalog
        (:class:`analysis.annotation.store.AnnotationStore`, the recognition models)::

            with catalog.transaction() as tx:
                tx.add(row)

        SQLAlchemy's errors (``IntegrityError``, ``StaleDataError``, …) reach the caller unchanged,
        to act on (a conflict, a duplicate); :meth:`error` makes one a :class:`CatalogError`.
        """
        with self._sessions() as db, db.begin():
            yield db

    @contextmanager
    def reading(self) -> Iterator[DBSession]:
        """A database session for queries only (nothing is committed); errors as :meth:`transaction`."""
        with self._sessions() as db:
            yield db

    def error(self, exc: BaseException, doing: str) -> CatalogError:
        """The one-line :class:`CatalogError` for a database error met while ``doing`` something
        (``"save an annotation"``): the URL (password masked), what failed and the cause."""
        return CatalogError(f"catalog {self.url}: cannot {doing}: {_cause(exc, self._password)[:300]}")

    # ---------------------------------------------------------------- helpers

    _find = staticmethod(find_session)

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
                with self.transaction() as db:
                    row = upsert_session(db, session_id, folder, meta, files, status)
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

    @_db_errors
    def reconcile(self) -> int:
        """Re-check every session still marked ``recording``; returns how many changed status.

        A session whose writer is gone becomes ``interrupted``. When its folder is still there the
        sidecar is read again (the recording may have finished since) and the whole row refreshed.
        """
        with self.reading() as db:
            pending = [
                (r.session_id, r.folder, r.sidecar)
                for r in db.scalars(select(Session).where(Session.status == "recording"))
            ]
        changed = 0
        for session_id, folder, stored in pending:
            path = Path(folder)
            if holds_session(path, session_id):
                if self.register_session(path)["status"] != "recording":
                    changed += 1
                continue
            status = status_from_stored(stored)  # the folder is gone or holds something else
            if status != "recording":
                with self.transaction() as db:
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
        query = sessions_query(participant, status, search)
        with self.reading() as db:
            rows = [self._summary(row) for row in db.scalars(query).unique()]
        for r in rows:
            gone = folder_gone(r)
            if gone:
                r["health"] = {"verdict": "bad", "reasons": [gone]}
        return rows

    @_db_errors
    def get_session(self, session_id: str) -> dict | None:
        """One session with its files, streams and sidecar; ``None`` when not in the catalog.

        ``session_id`` may be a unique prefix (4 characters or more) of the id.
        """
        with self.reading() as db:
            row = self._find(db, session_id)
            return self._details(row) if row is not None else None

    @_db_errors
    def delete_session(self, session_id: str) -> bool:
        """Remove a session from the catalog (its folder and files are left alone).

        Returns False when no such session is catalogued.
        """
        with self.transaction() as db:
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
        with self.reading() as db:
            if session_id is not None:
                row = self._find(db, session_id)
                if row is None:
                    raise CatalogError(f"no session {str(session_id).strip()} in the catalog")
                session_id = row.session_id
            return responses_mod.list_rows(db, session_id=session_id, participant=participant, protocol=protocol)

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
        with self.transaction() as db:
            participant = participant_row(db, pseudonym)
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
        with self.reading() as db:
            return identity_of(db, pseudonym)

    @_db_errors
    def list_participants(self) -> list[dict]:
        """Every pseudonym with its number of sessions (no identifying details)."""
        with self.reading() as db:
            return participant_counts(db)
