"""A throwaway PostgreSQL server for the tests (the session-scoped fixture ``pg_server`` of conftest.py).

The server binaries (``initdb``, ``pg_ctl``) are looked for in ``$MEXLAB_PG_BIN``, on ``PATH``, in
``/usr/local/bin``, ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu package ``postgresql``),
``/usr/pgsql-*/bin`` and ``/usr/local/pgsql/bin``. A new cluster is made in a temporary folder and
started on a free port of 127.0.0.1 (its unix socket in that folder too); it is stopped and removed
at the end of the test session. ``initdb`` refuses to run as root: as root the server runs as the
``postgres`` user if there is one, else as a system user ``mexlabtest`` created for the purpose.

``MEXLAB_TEST_PG_URL`` (a PostgreSQL URL of a role allowed to create databases) uses an existing
server instead. With neither binaries nor that variable the tests that need PostgreSQL are skipped.

Use: ``url = pg_server.create_database()`` gives the URL of a fresh, empty database.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN_ENV = "MEXLAB_PG_BIN"
EXTERNAL_URL_ENV = "MEXLAB_TEST_PG_URL"
SUPERUSER = "mexlab"
PASSWORD = "mexlab-test-pw"
UNPRIVILEGED_USERS = ("postgres", "mexlabtest")


def _version_key(path: str) -> tuple:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None``."""
    candidates: list[Path] = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    found = shutil.which("initdb")
    if found:
        candidates += [Path(found).parent, Path(found).resolve().parent]
    candidates.append(Path("/usr/local/bin"))
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"):
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True)]
    candidates.append(Path("/usr/local/pgsql/bin"))
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user():
    """As root: the ``pwd`` entry of a user to run PostgreSQL as (``None`` when not root)."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "mexlabtest"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"useradd mexlabtest failed: {result.stderr.strip()}")
    return pwd.getpwnam("mexlabtest")


class PostgresServer:
    """Where a PostgreSQL server is, and databases made on it for tests."""

    def __init__(self, host: str, port: int, user: str, password: str | None, admin_db: str):
        self.host, self.port, self.user, self.password, self.admin_db = host, port, user, password, admin_db
        self.created: list[str] = []

    def url(self, dbname: str, *, password: str | None = None) -> str:
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=password if password is not None else self.password,
            host=self.host,
            port=self.port,
            database=dbname,
        ).render_as_string(hide_password=False)

    def _admin(self):
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.admin_db,
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self, prefix: str = "mexlab_test") -> str:
        """Make a new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url(name)

    def drop_created(self) -> None:
        try:
            with self._admin() as conn:
                for name in self.created:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:  # best effort: the server may be gone already
            pass
        self.created.clear()


class LocalPostgres:
    """A private PostgreSQL cluster in a temporary folder."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.runas = _unprivileged_user()
        self.base = Path(tempfile.mkdtemp(prefix="mexlab-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port: int | None = None
        if self.runas is not None:
            os.chown(self.base, self.runas.pw_uid, self.runas.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs = {}
        env = dict(os.environ, LC_ALL="C", LANG="C", HOME=str(self.base))
        if self.runas is not None:
            kwargs = dict(user=self.runas.pw_uid, group=self.runas.pw_gid, extra_groups=[])
            env["USER"] = env["LOGNAME"] = self.runas.pw_name
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )

    def start(self) -> PostgresServer:
        pwfile = self.base / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self.runas is not None:
            os.chown(pwfile, self.runas.pw_uid, self.runas.pw_gid)
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        last = ""
        for _ in range(5):  # a free port can be taken between finding and binding it
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            result = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start"
            )
            if result.returncode == 0:
                return PostgresServer("127.0.0.1", self.port, SUPERUSER, PASSWORD, "postgres")
            last = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else result.stderr
            if "already in use" not in last:
                break
        raise RuntimeError(f"PostgreSQL did not start (pg_ctl: {result.stderr.strip()}):\n{last}")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def running_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server until the generator is closed (skips when there is none): the
    body of the session-scoped ``pg_server`` fixture of tests/conftest.py."""
    pytest.importorskip("psycopg", reason="psycopg (PostgreSQL driver) is not installed")
    external = os.environ.get(EXTERNAL_URL_ENV, "").strip()
    if external:
        from sqlalchemy.engine import make_url

        u = make_url(external)
        server = PostgresServer(
            u.host or "127.0.0.1", u.port or 5432, u.username or "postgres", u.password, u.database or "postgres"
        )
        yield server
        server.drop_created()
        return
    bindir = find_pg_bin()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH, in /usr/local/bin or "
            "/usr/lib/postgresql/*/bin: install the Debian package 'postgresql', or set "
            f"{BIN_ENV}=<folder with initdb> or {EXTERNAL_URL_ENV}=<URL of a server>"
        )
    try:
        local = LocalPostgres(bindir)
    except RuntimeError as exc:
        pytest.skip(f"cannot run PostgreSQL as an unprivileged user here: {exc}")
    try:
        server = local.start()
        yield server
    finally:
        local.stop()
