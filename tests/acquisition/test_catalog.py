"""The session catalog, on a real SQLite file and on a real PostgreSQL server: its schema, registering
and listing sessions, participants (the connection failures and URLs: test_catalog_connection.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from acquisition import session as sessionfmt
from acquisition.catalog import Catalog
from acquisition.catalog.connection import alembic_config
from acquisition.catalog.format import format_sessions_table
from acquisition.catalog.tables import TABLE_NAMES, metadata
from acquisition.errors import CatalogError, SessionFormatError
from tests.helpers_catalog import FILE_SIZES, dead_pid, engine_of, folder_bytes, make_session

TABLES = {
    "participants",
    "participant_identities",
    "sessions",
    "session_files",
    "streams",
    "annotation_events",
    "annotation_revisions",
    "responses",
    "models",
}


# --------------------------------------------------------------------------------------------------
# schema


def test_schema_is_created_by_the_migration_at_head(db_url):
    from alembic.script import ScriptDirectory

    cat = Catalog(db_url)
    try:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head == "0005"
        assert cat.schema_revision() == head
        engine = engine_of(db_url)
        try:
            tables = set(inspect(engine).get_table_names())
            assert tables == TABLES | {"alembic_version"}
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
        finally:
            engine.dispose()
    finally:
        cat.close()
    # opening again finds the schema at head and changes nothing
    with Catalog(db_url) as again:
        assert again.schema_revision() == head
        assert again.list_sessions() == []


def test_migration_matches_the_models(catalog, db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = engine_of(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
    finally:
        engine.dispose()


def test_every_table_is_registered_in_one_place():
    """acquisition/catalog/tables.py names every table, the catalog and the migrations' environment
    take the schema from it, and no table module imports another to get it registered."""
    import ast

    assert set(TABLE_NAMES) == TABLES and set(metadata.tables) == TABLES
    folder = Path(__file__).resolve().parents[2] / "acquisition" / "catalog"
    table_modules = {"models", "annotation_models", "response_models", "recognition_table"}

    def catalog_imports(name: str) -> set[str]:
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("acquisition.catalog"):
                out |= (
                    {node.module.rpartition(".")[2]}
                    if node.module != "acquisition.catalog"
                    else {a.name for a in node.names}
                )
        return out

    for module in table_modules:
        assert catalog_imports(f"{module}.py") == {"base"}, module
    assert catalog_imports("tables.py") == table_modules | {"base"}
    assert "tables" in catalog_imports("db.py") and "tables" in catalog_imports("migrations/env.py")


def test_transaction_commits_or_rolls_back(catalog):
    """The public unit of work: committed when the block ends, rolled back when it raises,
    SQLAlchemy's own errors passed on for the caller to act on, and made one line by ``error``."""
    from sqlalchemy import exc as sa_exc

    from acquisition.catalog.models import Participant

    with catalog.transaction() as tx:
        tx.add(Participant(pseudonym="P-kept"))
    with pytest.raises(RuntimeError):
        with catalog.transaction() as tx:
            tx.add(Participant(pseudonym="P-dropped"))
            tx.flush()
            raise RuntimeError("the caller changed its mind")
    with catalog.reading() as db:
        assert sorted(db.scalars(select(Participant.pseudonym))) == ["P-kept"]
    with pytest.raises(sa_exc.IntegrityError) as info:
        with catalog.transaction() as tx:
            tx.add(Participant(pseudonym="P-kept"))
    error = catalog.error(info.value, "add a participant")
    assert isinstance(error, CatalogError)
    message = str(error)
    assert message.startswith(f"catalog {catalog.url}: cannot add a participant: ")
    assert "\n" not in message and "[SQL:" not in message
    assert [p["pseudonym"] for p in catalog.list_participants()] == ["P-kept"]


def test_schema_from_a_newer_mexlab_is_refused(db_url):
    Catalog(db_url).close()
    engine = engine_of(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(CatalogError, match="newer mexlab"):
        Catalog(db_url)


# --------------------------------------------------------------------------------------------------
# registering and listing


def test_register_and_list(catalog, tmp_path):
    folder = tmp_path / "sessions" / "2026-11-24_P001"
    meta = make_session(folder)
    got = catalog.register_session(folder)
    assert got["session_id"] == meta["session_id"]
    assert got["status"] == "complete"

    rows = catalog.list_sessions()
    assert len(rows) == 1
    row = rows[0]
    assert row["session_id"] == meta["session_id"]
    assert row["participant"] == "P001"
    assert row["protocol"] == "baseline-v1"
    assert row["folder"] == str(folder.resolve())
    assert row["status"] == "complete"
    assert row["started_at"] == "2026-11-24T10:00:00+00:00"
    assert row["duration_s"] == 90.0
    assert row["streams"] == ["mexlab-sim-EMG", "mexlab-markers", "mexlab-rgb-frames"]
    assert row["dropped_frames"] == 2
    assert row["dropped_samples"] == 7
    assert row["disk_bytes"] == folder_bytes(folder)
    assert row["disk_bytes"] == sum(FILE_SIZES.values()) + (folder / "session.json").stat().st_size

    details = catalog.get_session(meta["session_id"])
    roles = {f["path"]: f["role"] for f in details["files"]}
    assert roles == {
        "recording.xdf": "xdf",
        "rgb.mkv": "rgb",
        "depth.mkv": "depth",
        "ground_truth.csv": "ground_truth",
        "session.json": "sidecar",
    }
    sizes = {f["path"]: f["size_bytes"] for f in details["files"]}
    assert sizes["depth.mkv"] == 4000
    emg = details["stream_details"][0]
    assert emg == {
        "name": "mexlab-sim-EMG",
        "type": "EMG",
        "source_id": "sim-emg",
        "role": "input",
        "channel_count": 8,
        "nominal_srate": 2000.0,
        "samples": 180000,
        "gaps": 0,
    }
    assert details["stopped_at"] == "2026-11-24T10:01:30+00:00"
    assert details["source"] == "simulate"
    assert details["sidecar"]["session_id"] == meta["session_id"]
    assert catalog.get_session(meta["session_id"][:8])["session_id"] == meta["session_id"]
    assert catalog.get_session("0" * 32) is None

    table = format_sessions_table(rows)
    lines = table.splitlines()
    assert lines[0].split() == [
        "started",
        "participant",
        "protocol",
        "status",
        "health",
        "duration",
        "streams",
        "drops",
        "size",
        "folder",
    ]
    assert "P001" in lines[2] and "complete" in lines[2] and "1:30" in lines[2] and "2/7" in lines[2]
    assert lines[2].endswith(str(folder.resolve()))


def test_reregistering_updates_the_same_row(catalog, tmp_path):
    folder = tmp_path / "s1"
    meta = make_session(folder)
    first = catalog.register_session(folder)
    again = catalog.register_session(folder)
    assert len(catalog.list_sessions()) == 1
    assert again["registered_at"] == first["registered_at"]
    assert len(again["files"]) == len(first["files"]) == 5
    assert len(again["stream_details"]) == 3
    assert catalog.list_participants() == [{"pseudonym": "P001", "sessions": 1}]

    # the folder changed: one stream less, a new file, another duration
    meta["streams"] = meta["streams"][:1]
    meta["duration_s"] = 91.5
    sessionfmt.write_sidecar(folder, meta)
    (folder / "notes.txt").write_text("hello")
    updated = catalog.register_session(folder)
    rows = catalog.list_sessions()
    assert len(rows) == 1
    assert rows[0]["streams"] == ["mexlab-sim-EMG"]
    assert rows[0]["duration_s"] == 91.5
    assert rows[0]["disk_bytes"] == folder_bytes(folder)
    assert {"role": "other", "path": "notes.txt", "size_bytes": 5} in updated["files"]
    assert updated["registered_at"] == first["registered_at"]


def test_a_moved_folder_updates_the_path(catalog, tmp_path):
    meta = make_session(tmp_path / "a")
    catalog.register_session(tmp_path / "a")
    (tmp_path / "a").rename(tmp_path / "b")
    catalog.register_session(tmp_path / "b")
    rows = catalog.list_sessions()
    assert [r["folder"] for r in rows] == [str((tmp_path / "b").resolve())]
    assert rows[0]["session_id"] == meta["session_id"]


def test_recording_with_a_dead_writer_lists_as_interrupted(catalog, tmp_path):
    # the writer is alive: still recording
    folder = tmp_path / "live"
    meta = make_session(folder, status="recording", pid=os.getpid(), stopped_at=None)
    assert catalog.register_session(folder)["status"] == "recording"
    assert catalog.list_sessions()[0]["status"] == "recording"
    assert catalog.list_sessions(status="recording")[0]["session_id"] == meta["session_id"]

    # the writer is gone and the sidecar still says recording: interrupted
    meta["pid"] = dead_pid()
    meta["duration_s"] = 42.0
    sessionfmt.write_sidecar(folder, meta)
    rows = catalog.list_sessions()
    assert rows[0]["status"] == "interrupted"
    assert rows[0]["duration_s"] == 42.0  # the sidecar was read again
    assert catalog.list_sessions(status="recording") == []
    assert catalog.get_session(meta["session_id"])["status"] == "interrupted"

    # registered with its writer already dead
    other = tmp_path / "dead"
    make_session(other, status="recording", pid=dead_pid())
    assert catalog.register_session(other)["status"] == "interrupted"


def test_recording_whose_folder_is_gone_lists_as_interrupted(catalog, tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = tmp_path / "gone"
        meta = make_session(folder, status="recording", pid=writer.pid, stopped_at=None)
        assert catalog.register_session(folder)["status"] == "recording"
    finally:
        writer.kill()
        writer.wait()
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    assert catalog.list_sessions()[0]["status"] == "interrupted"
    assert catalog.get_session(meta["session_id"])["status"] == "interrupted"


def test_filters(catalog, tmp_path):
    a = make_session(tmp_path / "a", participant="P001", protocol="baseline-v1", started_at="2026-11-24T09:00:00+00:00")
    b = make_session(
        tmp_path / "b", participant="P002", protocol="disgust-clips", started_at="2026-11-24T11:00:00+00:00"
    )
    c = make_session(
        tmp_path / "c",
        participant="P002",
        status="recording",
        pid=dead_pid(),
        started_at="2026-11-24T12:00:00+00:00",
        streams=[{"name": "ECG_chest", "type": "ECG", "role": "input"}],
    )
    for name in "abc":
        catalog.register_session(tmp_path / name)
    ids = lambda rows: [r["session_id"] for r in rows]  # noqa: E731
    assert ids(catalog.list_sessions()) == [c["session_id"], b["session_id"], a["session_id"]]
    assert ids(catalog.list_sessions(participant="P002")) == [c["session_id"], b["session_id"]]
    assert ids(catalog.list_sessions(status="interrupted")) == [c["session_id"]]
    assert ids(catalog.list_sessions(status="complete", participant="P002")) == [b["session_id"]]
    assert ids(catalog.list_sessions(search="DISGUST")) == [b["session_id"]]
    assert ids(catalog.list_sessions(search="ecg_chest")) == [c["session_id"]]  # a stream name
    assert ids(catalog.list_sessions(search="p001")) == [a["session_id"]]
    assert catalog.list_sessions(search="100%_") == []  # LIKE wildcards are taken literally
    assert catalog.list_participants() == [{"pseudonym": "P001", "sessions": 1}, {"pseudonym": "P002", "sessions": 2}]


def test_delete_removes_the_row_and_keeps_the_files(catalog, tmp_path):
    folder = tmp_path / "s"
    meta = make_session(folder)
    catalog.register_session(folder)
    before = sorted(p.name for p in folder.iterdir())
    assert catalog.delete_session(meta["session_id"]) is True
    assert catalog.delete_session(meta["session_id"]) is False
    assert catalog.list_sessions() == []
    assert catalog.get_session(meta["session_id"]) is None
    assert sorted(p.name for p in folder.iterdir()) == before
    engine = engine_of(catalog.engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:  # files and streams went with the row
            assert conn.execute(text("SELECT count(*) FROM session_files")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM streams")).scalar() == 0
    finally:
        engine.dispose()
    # and it can be registered again from its files
    assert catalog.register_session(folder)["session_id"] == meta["session_id"]


def test_rescan_registers_every_session_folder(catalog, tmp_path):
    root = tmp_path / "data"
    make_session(root / "2026" / "s1")
    make_session(root / "2026" / "s2")
    make_session(root / "s3")
    (root / "not-a-session").mkdir()
    (root / "not-a-session" / "x.txt").write_text("x")
    bad = root / "broken"
    bad.mkdir()
    (bad / "session.json").write_text("{not json")
    errors = []
    assert catalog.rescan(root, on_error=lambda folder, exc: errors.append((folder, exc))) == 3
    assert len(catalog.list_sessions()) == 3
    assert [f.name for f, _ in errors] == ["broken"]
    assert isinstance(errors[0][1], SessionFormatError)
    assert catalog.rescan(root, on_error=lambda *a: None) == 3  # again: same rows
    assert len(catalog.list_sessions()) == 3
    with pytest.raises(CatalogError):
        catalog.rescan(tmp_path / "missing")


def test_register_a_folder_without_sidecar_is_a_clear_error(catalog, tmp_path):
    with pytest.raises(SessionFormatError, match="not a mexlab session folder"):
        catalog.register_session(tmp_path)


# --------------------------------------------------------------------------------------------------
# participants and their identities


def test_identity_is_stored_apart(catalog, db_url, tmp_path):
    meta = make_session(tmp_path / "s")
    catalog.register_session(tmp_path / "s")
    catalog.set_identity("P001", real_name="Jane Q. Example", contact="jane@example.org", notes="left-handed")
    assert catalog.get_identity("P001") == {
        "pseudonym": "P001",
        "real_name": "Jane Q. Example",
        "contact": "jane@example.org",
        "notes": "left-handed",
    }
    assert catalog.get_identity("P999") is None
    # nothing the catalog gives out about sessions carries the identity
    assert "Jane" not in json.dumps(catalog.list_sessions())
    assert "Jane" not in json.dumps(catalog.get_session(meta["session_id"]))

    engine = engine_of(db_url)
    try:
        insp = inspect(engine)
        assert {c["name"] for c in insp.get_columns("participant_identities")} == {
            "id",
            "participant_id",
            "real_name",
            "contact",
            "notes",
        }
        assert {c["name"] for c in insp.get_columns("participants")} == {"id", "pseudonym", "created_at"}
        fks = insp.get_foreign_keys("participant_identities")
        assert fks[0]["referred_table"] == "participants"
        with engine.connect() as conn:
            # the shareable tables hold no identifying text
            for table in TABLES - {"participant_identities"}:
                for row in conn.execute(text(f"SELECT * FROM {table}")):
                    assert "Jane" not in repr(tuple(row))
            assert conn.execute(text("SELECT real_name FROM participant_identities")).scalar() == "Jane Q. Example"
    finally:
        engine.dispose()

    catalog.set_identity("P001", real_name="Jane Example")  # updates, no second row
    assert catalog.get_identity("P001")["real_name"] == "Jane Example"
    catalog.set_identity("P002", contact="x")  # a participant with no session yet
    assert catalog.list_participants() == [{"pseudonym": "P001", "sessions": 1}, {"pseudonym": "P002", "sessions": 0}]
