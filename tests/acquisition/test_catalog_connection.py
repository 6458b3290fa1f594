"""The session catalog's connection: a server that is not there, silent, refuses the password or
lacks the database, bad URLs and unusable SQLite paths (one clear CatalogError, password masked);
which URL is used; nothing outside acquisition/catalog reaches into it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from acquisition.catalog import Catalog, resolve_url
from acquisition.catalog import connection as catalog_db
from acquisition.catalog.connection import mask_url
from acquisition.catalog.format import format_sessions_table
from acquisition.errors import CatalogError

# --------------------------------------------------------------------------------------------------
# connection failures: one clear CatalogError, password masked


def _assert_one_clear_line(exc: CatalogError, shown_url: str, secret: str | None = None) -> None:
    message = str(exc)
    assert "\n" not in message
    assert shown_url in message
    assert "Traceback" not in message
    if secret:
        assert secret not in message


def test_unreachable_postgresql_fails_fast_with_the_masked_url():
    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://mexlab:s3cr3t-pw@127.0.0.1:{port}/mexlab"
    start = time.monotonic()
    with pytest.raises(CatalogError) as info:
        Catalog(url)
    assert time.monotonic() - start < 10
    _assert_one_clear_line(info.value, f"postgresql+psycopg://mexlab:***@127.0.0.1:{port}/mexlab", "s3cr3t-pw")
    assert "cannot connect" in str(info.value)


def test_silent_postgresql_server_times_out():
    """A host that accepts the connection and never answers: the connect timeout (5 s) ends it."""
    pytest.importorskip("psycopg")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes the handshake; nobody ever answers
        port = listener.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(CatalogError) as info:
            Catalog(f"postgresql+psycopg://mexlab:s3cr3t-pw@127.0.0.1:{port}/mexlab")
        elapsed = time.monotonic() - start
    assert catalog_db.CONNECT_TIMEOUT_S - 1 < elapsed < catalog_db.CONNECT_TIMEOUT_S + 5
    _assert_one_clear_line(info.value, f"postgresql+psycopg://mexlab:***@127.0.0.1:{port}/mexlab", "s3cr3t-pw")


def test_plain_postgresql_scheme_uses_psycopg():
    pytest.importorskip("psycopg")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CatalogError) as info:
        Catalog(f"postgresql://u:pw@127.0.0.1:{port}/db")
    _assert_one_clear_line(info.value, f"postgresql+psycopg://u:***@127.0.0.1:{port}/db", ":pw@")


def test_wrong_postgresql_password(pg_server):
    url = pg_server.url("postgres", password="not-the-password")
    with pytest.raises(CatalogError) as info:
        Catalog(url)
    _assert_one_clear_line(info.value, mask_url(url), "not-the-password")
    assert "password authentication failed" in str(info.value)


def test_missing_postgresql_database(pg_server):
    url = pg_server.url("no_such_database")
    with pytest.raises(CatalogError) as info:
        Catalog(url)
    _assert_one_clear_line(info.value, mask_url(url), pg_server.password)
    assert "no_such_database" in str(info.value)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("foo://user:hunter2@host/db", "unknown database type 'foo'"),
        ("postgresql+nosuchdriver://user:hunter2@localhost/db", "unknown database type"),
        ("not a url at all", "not a database URL"),
        ("mysql://user:hunter2@localhost/db", "driver for 'mysql' is not installed"),
    ],
)
def test_bad_urls(url, expected):
    with pytest.raises(CatalogError) as info:
        Catalog(url)
    assert expected in str(info.value)
    _assert_one_clear_line(info.value, mask_url(url), "hunter2")


def test_unusable_sqlite_paths(tmp_path):
    with pytest.raises(CatalogError, match="does not exist") as info:
        Catalog(f"sqlite:///{tmp_path / 'missing' / 'catalog.sqlite'}")
    _assert_one_clear_line(info.value, f"sqlite:///{tmp_path / 'missing' / 'catalog.sqlite'}")
    with pytest.raises(CatalogError, match="is a folder"):
        Catalog(f"sqlite:///{tmp_path}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog(f"sqlite:///{tmp_path / 'file' / 'catalog.sqlite'}")
    (tmp_path / "garbage.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="garbage.sqlite"):
        Catalog(f"sqlite:///{tmp_path / 'garbage.sqlite'}")


# --------------------------------------------------------------------------------------------------
# URLs


def test_resolve_url_order(monkeypatch, tmp_path):
    data_dir = tmp_path / "user-data" / "mexlab"
    monkeypatch.setattr(catalog_db.platformdirs, "user_data_dir", lambda app: str(data_dir))
    monkeypatch.delenv("MEXLAB_DB", raising=False)
    default = resolve_url(None)
    assert default == f"sqlite:///{data_dir / 'catalog.sqlite'}"
    assert data_dir.is_dir()  # its folder was created
    monkeypatch.setenv("MEXLAB_DB", "sqlite:////env/catalog.sqlite")
    assert resolve_url(None) == "sqlite:////env/catalog.sqlite"
    assert resolve_url("") == "sqlite:////env/catalog.sqlite"
    assert resolve_url("sqlite:////arg.sqlite") == "sqlite:////arg.sqlite"
    assert resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"


def test_default_catalog_is_created_in_the_user_data_dir(monkeypatch, tmp_path):
    data_dir = tmp_path / "user-data" / "mexlab"
    monkeypatch.setattr(catalog_db.platformdirs, "user_data_dir", lambda app: str(data_dir))
    monkeypatch.delenv("MEXLAB_DB", raising=False)
    with Catalog() as cat:
        assert cat.list_sessions() == []
    assert (data_dir / "catalog.sqlite").is_file()
    monkeypatch.setenv("MEXLAB_DB", f"sqlite:///{tmp_path / 'env.sqlite'}")
    with Catalog():
        pass
    assert (tmp_path / "env.sqlite").is_file()


def test_mask_url():
    assert (
        mask_url("postgresql+psycopg://me:secret@db.lab:5432/mexlab")
        == "postgresql+psycopg://me:***@db.lab:5432/mexlab"
    )
    assert mask_url("postgresql+psycopg://me@db.lab/mexlab") == "postgresql+psycopg://me@db.lab/mexlab"
    assert "secret" not in mask_url("postgresql+psycopg://db.lab/mexlab?password=secret")
    assert "secret" not in mask_url("weird url://me:secret@x")


def test_format_empty_table():
    assert format_sessions_table([]) == "No sessions in the catalog."


def test_nobody_reaches_into_the_catalog():
    """Code outside acquisition/catalog uses the public API (Catalog.transaction/reading), never the
    catalog's session factory or private helpers."""
    import re

    repo = Path(__file__).resolve().parents[2]
    private = re.compile(r"\b(?:cat|catalog|self\.catalog)\._(?:sessions|db|find|password)\b")
    found = []
    for top in ("acquisition", "analysis", "protocols", "app"):
        for path in (repo / top).rglob("*.py"):
            if "catalog" in path.relative_to(repo / top).parts[:1] and top == "acquisition":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if private.search(line):
                    found.append(f"{path.relative_to(repo)}:{n}: {line.strip()}")
    assert found == []
