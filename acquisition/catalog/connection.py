"""Reaching the catalog database: its URL, the engine, the schema migrations.

Where it lives: the URL given (``--db URL`` on the command line), else the ``MEXLAB_DB`` environment
variable, else a SQLite file ``catalog.sqlite`` in the user data directory. Every failure is a
one-line :class:`~acquisition.errors.CatalogError` naming the URL (password masked) and the cause.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from acquisition.errors import CatalogError

if TYPE_CHECKING:
    from alembic.config import Config

APP_NAME = "mexlab"
ENV_VAR = "MEXLAB_DB"
DEFAULT_FILENAME = "catalog.sqlite"
CONNECT_TIMEOUT_S = 5  # PostgreSQL: give up on an unreachable server quickly
SQLITE_BUSY_TIMEOUT_S = 30  # SQLite: wait this long for another process's write to finish
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

URL_EXAMPLES = "sqlite:///path/to/catalog.sqlite or postgresql+psycopg://user:password@host:5432/dbname"

_MIGRATION_LOCK = threading.RLock()


# --------------------------------------------------------------------------------------------------
# URLs


def default_db_path() -> Path:
    """The SQLite file used when no URL is given."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / DEFAULT_FILENAME


def resolve_url(url: str | None = None) -> str:
    """The catalog's database URL: ``url`` if given, else ``$MEXLAB_DB``, else the default SQLite file.

    For the default file its folder is created. ``postgresql://`` and ``postgres://`` URLs are given
    the ``psycopg`` (version 3) driver, the one mexlab installs.
    """
    if url is not None and str(url).strip():
        return _normalize_url(str(url).strip())
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _normalize_url(env)
    path = default_db_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(f"cannot create the catalog folder {path.parent}: {exc.strerror or exc}") from None
    return URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def _normalize_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url[: len(prefix)].lower() == prefix:
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: safe to print."""
    try:
        text = make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable as a URL: mask what looks like user:password@
        text = re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1***@", str(url))
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", text)


def _cause(exc: BaseException, secret: str | None = None) -> str:
    """The driver's own message of a database error, on one line."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    # SQLAlchemy appends "(Background on this error at: https://sqlalche.me/…)" and the SQL: drop them
    text = text.split("(Background on this error")[0]
    text = text.split("\n[SQL:")[0]
    text = " ".join(text.split())
    if secret:  # drivers do not echo passwords, but be sure; only whole words, not "ex-p-ired"
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text or type(exc).__name__


# --------------------------------------------------------------------------------------------------
# engine


def _create_engine(url: str, shown: str) -> Engine:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise CatalogError(f"catalog database {shown}: not a database URL (expected e.g. {URL_EXAMPLES})") from None
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    if backend == "sqlite":
        _check_sqlite_file(parsed, shown)
        if parsed.get_driver_name() == "pysqlite":
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except sa_exc.NoSuchModuleError:
        raise CatalogError(
            f"catalog database {shown}: unknown database type '{parsed.drivername}' (expected e.g. {URL_EXAMPLES})"
        ) from None
    except ImportError as exc:
        hint = " (pip install 'mexlab[postgres]')" if backend == "postgresql" else ""
        raise CatalogError(
            f"catalog database {shown}: the driver for '{parsed.drivername}' is not installed: {exc}{hint}"
        ) from None
    except (sa_exc.ArgumentError, TypeError, ValueError) as exc:
        raise CatalogError(f"catalog database {shown}: {_cause(exc, parsed.password)}") from None
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_foreign_keys(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _check_sqlite_file(url: URL, shown: str) -> None:
    """A clear message for the usual SQLite mistakes, before SQLite's terse 'unable to open'."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CatalogError(f"catalog database {shown}: {path} is a folder, not a database file")
    if not parent.is_dir():
        raise CatalogError(f"catalog database {shown}: the folder {parent} does not exist")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise CatalogError(f"catalog database {shown}: {path} is not writable (permission denied)")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise CatalogError(f"catalog database {shown}: cannot create {path.name} in {parent} (permission denied)")


# --------------------------------------------------------------------------------------------------
# schema


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the catalog's migrations; no ``alembic.ini`` needed."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class _process_lock:
    """Serialise schema migrations between processes sharing one catalog."""

    def __init__(self, engine, conn):
        self.engine, self.conn, self._fh = engine, conn, None

    def __enter__(self):
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            import fcntl

            self._fh = open(f"{url.database}.lock", "a+")
            fcntl.flock(self._fh, fcntl.LOCK_EX)
        elif url.get_backend_name() == "postgresql":
            from sqlalchemy import text

            self.conn.execute(text("SELECT pg_advisory_lock(727011)"))
            self.conn.commit()
        return self

    def __exit__(self, *exc):
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
        elif self.engine.url.get_backend_name() == "postgresql":
            from sqlalchemy import text

            try:
                self.conn.rollback()
                self.conn.execute(text("SELECT pg_advisory_unlock(727011)"))
                self.conn.commit()
            except Exception:  # noqa: BLE001 - the lock ends with the connection anyway
                pass


def connect_and_upgrade(engine: Engine, shown: str, password: str | None = None) -> None:
    """Connect and bring the schema to the newest migration (Alembic ``upgrade head``).

    ``shown`` is the masked URL for messages; ``password`` is kept out of them.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        conn = engine.connect()
    except sa_exc.SQLAlchemyError as exc:
        raise CatalogError(f"cannot connect to the catalog database {shown}: {_cause(exc, password)}") from None
    except ImportError as exc:  # a driver importing its own C parts lazily
        raise CatalogError(f"catalog database {shown}: driver not usable: {exc}") from None
    try:
        with conn:
            cfg = alembic_config(conn)
            script = ScriptDirectory.from_config(cfg)
            current = set(MigrationContext.configure(conn).get_current_heads())
            conn.rollback()  # end the implicit transaction of the look-up
            heads = set(script.get_heads())
            if current == heads:
                return
            known = {rev.revision for rev in script.walk_revisions()}
            unknown = sorted(current - known)
            if unknown:
                raise CatalogError(
                    f"catalog database {shown}: its schema (revision {', '.join(unknown)}) "
                    "was made by a newer mexlab; update mexlab to use this catalog"
                )
            # one migration at a time: threads (Alembic's context is global) and processes
            # (a file lock beside a SQLite file; an advisory lock on PostgreSQL)
            with _MIGRATION_LOCK, _process_lock(engine, conn):
                conn.rollback()
                with conn.begin():
                    command.upgrade(cfg, "head")
    except CatalogError:
        raise
    except sa_exc.SQLAlchemyError as exc:
        raise CatalogError(f"cannot create or upgrade the catalog schema in {shown}: {_cause(exc, password)}") from None
    except CommandError as exc:
        raise CatalogError(f"cannot create or upgrade the catalog schema in {shown}: {exc}") from None
