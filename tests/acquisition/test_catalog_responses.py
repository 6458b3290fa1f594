"""Self-report answers (a protocol run's responses.csv) as rows of the catalog, on a real SQLite file
and a real PostgreSQL server: typed values, idempotent re-registering, malformed files, deletion,
the CLI, and a catalog made by an older mexlab (schema 0002) upgraded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from acquisition.catalog import Catalog
from acquisition.catalog import responses as catalog_responses
from acquisition.catalog.base import utcnow
from acquisition.catalog.connection import alembic_config
from acquisition.catalog.models import Session as SessionRow
from acquisition.errors import CatalogError
from app.cli import main as cli_main
from protocols.runlog import RESPONSE_COLUMNS, RESPONSES_NAME, RunLog
from tests.helpers_catalog import engine_of, make_session

# Rows as protocols/engine.py hands them to RunLog.response (numbers already formatted as text).
SELF_REPORT = {
    "participant": "P001",
    "protocol": "baseline-v1",
    "group": "B",
    "block": "films",
    "block_n": 2,
    "trial": 3,
    "row": 5,
    "step_id": "rate",
    "kind": "self_report",
    "stimulus": "clips/joy.mp4",
    "question": None,
    "question_kind": None,
    "condition": "positive",
    "category": "happiness",
    "intensity": 7,
    "valence": 8,
    "arousal": 4,
    "text": "it was funny, \"really\"",
    "onset_lsl": "1234.567891",
    "response_lsl": "1238.817891",
    "rt_s": "4.2500",
    "simulated": 0,
}
ANSWER = {
    "participant": "P001",
    "protocol": "baseline-v1",
    "group": "B",
    "block": "interview",
    "block_n": 3,
    "trial": None,
    "row": None,
    "step_id": "q1",
    "kind": "answer",
    "stimulus": None,
    "question": "What did you feel?",
    "question_kind": "spoken",
    "condition": None,
    "onset_lsl": "1300.000000",
    "response_lsl": "1330.500000",
    "rt_s": "30.5000",
    "simulated": 1,
}


def run_session(folder: Path, rows: list[dict], **fields) -> dict:
    """A session folder whose protocol run wrote ``rows`` to responses.csv (through RunLog)."""
    meta = make_session(folder, **fields)
    log = RunLog(folder)
    for row in rows:
        log.response(dict(row))
    log.close()
    return meta


def count_rows(url: str) -> int:
    engine = engine_of(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM responses")).scalar()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------


def test_the_catalog_reads_the_columns_the_run_log_writes():
    assert catalog_responses.COLUMNS == RESPONSE_COLUMNS
    assert catalog_responses.RESPONSES_NAME == RESPONSES_NAME
    assert RunLog.files()["responses"] == RESPONSES_NAME
    assert catalog_responses.ROLE == "responses"
    # one spelling for both sides (acquisition/session_read/names.py), and the table has every column
    from acquisition.catalog.response_models import Response
    from acquisition.session_read import names

    assert catalog_responses.COLUMNS is names.RESPONSE_COLUMNS is RESPONSE_COLUMNS
    assert set(Response.__table__.c.keys()) == {"id", "session_id", *RESPONSE_COLUMNS}


def test_answers_become_typed_rows(catalog, tmp_path):
    meta = run_session(tmp_path / "s1", [SELF_REPORT, ANSWER])
    other = run_session(
        tmp_path / "s2",
        [dict(SELF_REPORT, participant="P002", protocol="other-v2", intensity=2)],
        participant="P002",
        protocol="other-v2",
    )
    got = catalog.register_session(tmp_path / "s1")
    assert got["responses"] == 2
    assert got["warnings"] == []
    assert catalog.register_session(tmp_path / "s2")["responses"] == 1

    rows = catalog.list_responses(meta["session_id"])
    assert [r["kind"] for r in rows] == ["self_report", "answer"]
    first, second = rows
    assert first == {
        "session_id": meta["session_id"],
        "participant": "P001",
        "protocol": "baseline-v1",
        "group": "B",
        "block": "films",
        "block_n": 2,
        "trial": 3,
        "row": 5,
        "step_id": "rate",
        "kind": "self_report",
        "stimulus": "clips/joy.mp4",
        "question": None,
        "question_kind": None,
        "condition": "positive",
        "category": "happiness",
        "intensity": 7,
        "valence": 8,
        "arousal": 4,
        "text": 'it was funny, "really"',
        "onset_lsl": pytest.approx(1234.567891, abs=1e-9),
        "response_lsl": pytest.approx(1238.817891, abs=1e-9),
        "rt_s": 4.25,
        "simulated": False,
    }
    assert type(first["intensity"]) is int and type(first["onset_lsl"]) is float
    assert second["question"] == "What did you feel?" and second["question_kind"] == "spoken"
    assert second["trial"] is None and second["row"] is None
    assert second["intensity"] is None and second["valence"] is None and second["category"] is None
    assert second["simulated"] is True
    assert second["rt_s"] == 30.5

    # a unique prefix of the id; the filters
    assert catalog.list_responses(meta["session_id"][:6]) == rows
    assert len(catalog.list_responses()) == 3
    assert [r["session_id"] for r in catalog.list_responses(participant="P002")] == [other["session_id"]]
    assert catalog.list_responses(participant="P002")[0]["intensity"] == 2
    assert [r["step_id"] for r in catalog.list_responses(protocol="baseline-v1")] == ["rate", "q1"]
    assert catalog.list_responses(participant="P001", protocol="other-v2") == []
    with pytest.raises(CatalogError, match="no session 0000000 in the catalog"):
        catalog.list_responses("0000000")


def test_reregistering_replaces_the_rows(catalog, db_url, tmp_path):
    folder = tmp_path / "s1"
    meta = run_session(folder, [SELF_REPORT, ANSWER])
    catalog.register_session(folder)
    again = catalog.register_session(folder)
    assert again["responses"] == 2
    assert count_rows(db_url) == 2
    catalog.rescan(tmp_path)
    assert count_rows(db_url) == 2
    assert [r["step_id"] for r in catalog.list_responses(meta["session_id"])] == ["rate", "q1"]

    # the run goes on (RunLog appends): the new answer is added, nothing doubled
    log = RunLog(folder)
    log.response(dict(SELF_REPORT, step_id="rate2", intensity=1))
    log.close()
    assert catalog.register_session(folder)["responses"] == 3
    assert [(r["step_id"], r["intensity"]) for r in catalog.list_responses(meta["session_id"])] == [
        ("rate", 7),
        ("q1", None),
        ("rate2", 1),
    ]

    # the file is gone: so are its rows
    (folder / RESPONSES_NAME).unlink()
    assert catalog.register_session(folder)["responses"] == 0
    assert catalog.list_responses(meta["session_id"]) == []
    assert count_rows(db_url) == 0


def test_malformed_rows_are_skipped_with_a_warning(catalog, tmp_path):
    folder = tmp_path / "s1"
    meta = run_session(folder, [SELF_REPORT])
    with open(folder / RESPONSES_NAME, "a", newline="", encoding="utf-8") as fh:
        good = dict(
            SELF_REPORT,
            step_id="bad-values",
            intensity="lots",
            rt_s="fast",
            valence="2.5",
            text="a\x00b",
            simulated="maybe",
        )
        csv.writer(fh).writerow(["" if good[c] is None else good[c] for c in RESPONSE_COLUMNS])  # line 3
        fh.write("P001,baseline-v1,B,films,2\n")  # line 4: a row cut short
        csv.writer(fh).writerow(["" if ANSWER.get(c) is None else ANSWER[c] for c in RESPONSE_COLUMNS])  # line 5

    got = catalog.register_session(folder)  # registering never fails on responses.csv
    assert got["status"] == "complete"
    assert got["responses"] == 3
    path = folder.resolve() / RESPONSES_NAME
    assert got["warnings"] == [  # in the order of the columns
        f"{path} line 3: intensity 'lots' is not a whole number; left empty",
        f"{path} line 3: valence '2.5' is not a whole number; left empty",
        f"{path} line 3: rt_s 'fast' is not a number; left empty",
        f"{path} line 3: simulated 'maybe' is not 0 or 1; taken as 0",
        f"{path} line 4: 5 fields where the header has 22; row skipped",
    ]
    rows = catalog.list_responses(meta["session_id"])
    assert [r["step_id"] for r in rows] == ["rate", "bad-values", "q1"]
    bad = rows[1]
    assert bad["intensity"] is None and bad["valence"] is None and bad["rt_s"] is None
    assert bad["arousal"] == 4 and bad["category"] == "happiness"  # the row's good values are kept
    assert bad["text"] == "ab"  # no NUL (PostgreSQL stores none)
    assert bad["simulated"] is False

    # rescan reports the same problems through on_warning
    seen = []
    assert catalog.rescan(tmp_path, on_warning=lambda f, message: seen.append((f, message))) == 1
    assert sorted(m for _, m in seen) == sorted(got["warnings"])
    assert {f for f, _ in seen} == {folder}
    assert len(catalog.list_responses(meta["session_id"])) == 3


def test_a_file_without_its_header_is_not_read(catalog, tmp_path):
    folder = tmp_path / "s1"
    meta = make_session(folder)
    (folder / RESPONSES_NAME).write_text("P001,baseline-v1,B,films,2,3,5,rate,self_report\n", encoding="utf-8")
    got = catalog.register_session(folder)
    assert got["responses"] == 0
    assert len(got["warnings"]) == 1
    assert got["warnings"][0].startswith(f"{folder.resolve() / RESPONSES_NAME} line 1: no header row")
    assert catalog.get_session(meta["session_id"])["status"] == "complete"
    assert catalog.list_responses(meta["session_id"]) == []


def test_the_file_named_in_session_json_is_read(catalog, tmp_path):
    folder = tmp_path / "s1"
    meta = make_session(folder, files={"responses": "protocol/answers.csv"})
    (folder / "protocol").mkdir()
    (folder / RESPONSES_NAME).write_text("not,this,one\n", encoding="utf-8")
    log = RunLog(folder / "protocol")
    log.response(dict(SELF_REPORT))
    log.close()
    (folder / "protocol" / RESPONSES_NAME).rename(folder / "protocol" / "answers.csv")
    got = catalog.register_session(folder)
    assert (got["responses"], got["warnings"]) == (1, [])
    assert catalog.list_responses(meta["session_id"])[0]["category"] == "happiness"


def test_deleting_a_session_removes_its_responses(catalog, db_url, tmp_path):
    kept = run_session(tmp_path / "kept", [SELF_REPORT])
    gone = run_session(tmp_path / "gone", [SELF_REPORT, ANSWER])
    catalog.rescan(tmp_path)
    assert count_rows(db_url) == 3
    assert catalog.delete_session(gone["session_id"]) is True
    assert count_rows(db_url) == 1
    assert [r["session_id"] for r in catalog.list_responses()] == [kept["session_id"]]
    with pytest.raises(CatalogError, match="no session"):
        catalog.list_responses(gone["session_id"])
    assert (tmp_path / "gone" / RESPONSES_NAME).is_file()  # files are never deleted


# --------------------------------------------------------------------------------------------------
# the command line (the private SQLite catalog of conftest.py, through $MEXLAB_DB)


def test_cli_responses(tmp_path, capsys):
    meta = run_session(tmp_path / "s1", [SELF_REPORT, ANSWER])
    run_session(tmp_path / "s2", [dict(SELF_REPORT, participant="P002")], participant="P002")
    assert cli_main(["sessions", "rescan", str(tmp_path)]) == 0
    capsys.readouterr()

    assert cli_main(["sessions", "responses", meta["session_id"][:8], "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["step_id"] for r in rows] == ["rate", "q1"]
    assert rows[0]["session_id"] == meta["session_id"]
    assert rows[0]["intensity"] == 7 and rows[0]["rt_s"] == 4.25 and rows[0]["simulated"] is False
    assert rows[1]["intensity"] is None and rows[1]["simulated"] is True

    assert cli_main(["sessions", "responses", "--participant", "P002", "--json"]) == 0
    assert [r["participant"] for r in json.loads(capsys.readouterr().out)] == ["P002"]

    out = tmp_path / "answers.csv"
    assert cli_main(["sessions", "responses", "--protocol", "baseline-v1", "--csv", str(out)]) == 0
    assert "wrote 3 response(s)" in capsys.readouterr().out
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["session_id", *RESPONSE_COLUMNS]
        written = list(reader)
    assert len(written) == 3
    mine = [r for r in written if r["session_id"] == meta["session_id"]]
    assert (mine[0]["intensity"], mine[0]["simulated"], mine[1]["intensity"]) == ("7", "0", "")

    assert cli_main(["sessions", "responses", meta["session_id"]]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
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
    ]
    assert table[2].split()[:6] == [meta["session_id"][:8], "P001", "films", "#2", "3", "self_report"]
    assert "happiness" in table[2] and "4.250" in table[2]
    assert len(table) == 4


def test_cli_unknown_session_is_one_clear_error(capsys):
    assert cli_main(["sessions", "responses", "feedbeef", "--json"]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "mexlab sessions: error: no session feedbeef in the catalog"


def test_cli_register_shows_the_warnings(tmp_path, capsys):
    folder = tmp_path / "s1"
    run_session(folder, [SELF_REPORT])
    with open(folder / RESPONSES_NAME, "a", encoding="utf-8") as fh:
        fh.write("P001,baseline-v1\n")
    assert cli_main(["sessions", "register", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "1 response(s)" in captured.out
    assert "warning:" in captured.err and "line 3: 2 fields where the header has 22; row skipped" in captured.err


# --------------------------------------------------------------------------------------------------
# a catalog made by an older mexlab


HEAD = "0005"


def test_a_0002_catalog_is_upgraded_and_filled_on_rescan(db_url, tmp_path):
    from alembic import command

    meta = run_session(tmp_path / "root" / "s1", [SELF_REPORT, ANSWER])
    engine = engine_of(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
        assert "responses" not in inspect(engine).get_table_names()
        with engine.begin() as conn:  # the session as the older mexlab catalogued it (its columns only)
            conn.execute(
                SessionRow.__table__.insert().values(
                    session_id=meta["session_id"],
                    folder=str(tmp_path / "root" / "s1"),
                    status="complete",
                    dropped_frames=0,
                    dropped_samples=0,
                    disk_bytes=0,
                    registered_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
    finally:
        engine.dispose()

    with Catalog(db_url) as cat:
        assert cat.schema_revision() == HEAD
        assert [s["session_id"] for s in cat.list_sessions()] == [meta["session_id"]]
        assert cat.list_responses() == []  # filled when registered again
        assert cat.rescan(tmp_path / "root") == 1
        rows = cat.list_responses(meta["session_id"])
        assert [(r["step_id"], r["intensity"], r["simulated"]) for r in rows] == [
            ("rate", 7, False),
            ("q1", None, True),
        ]

    engine = engine_of(db_url)
    try:
        insp = inspect(engine)
        assert {ix["name"] for ix in insp.get_indexes("responses")} == {
            "ix_responses_session_id",
            "ix_responses_participant",
        }
        assert insp.get_pk_constraint("responses")["name"] == "pk_responses"
        with engine.begin() as conn:  # and back down: the table goes, the rest stays
            command.downgrade(alembic_config(conn), "0002")
        names = set(inspect(engine).get_table_names())
        assert "responses" not in names and "sessions" in names
    finally:
        engine.dispose()
    with Catalog(db_url) as cat:
        assert cat.schema_revision() == HEAD
        assert cat.list_responses() == []
