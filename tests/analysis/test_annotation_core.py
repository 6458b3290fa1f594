"""Annotation core: AUs, undo/redo, reliability on hand-computed cases, every exchange format
round-tripped on a real recorded (simulated) session, the CLI, and the catalog store on SQLite and
PostgreSQL (revisions, conflicts)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import MexlabError
from analysis.annotation import formats
from analysis.annotation.clip import open_clip
from analysis.annotation.model import AU, Coding, Event, derive_type, parse_aus
from analysis.annotation.reliability import casme_r, cohen_kappa, fleiss_kappa, pair_events, reliability
from analysis.annotation.store import AnnotationStore, ConflictError
from tests.helpers_paths import MEXLAB, REPO


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("annrec") / "s1"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "8", "--out", str(out), "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ann.sqlite'}"
    return request.getfixturevalue("pg_server").create_database()


# ------------------------------------------------------------------------------- model
def test_aus_are_parsed_in_every_notation():
    assert parse_aus("AU4+AU7") == (AU(4), AU(7))
    assert parse_aus("4, R12C") == (AU(4), AU(12, "R", "C"))
    assert parse_aus("L AU12") == (AU(12, "L"),)
    assert parse_aus("AU12B") == (AU(12, "", "B"),)
    assert Event(onset=0, offset=3, aus="AU4 + RAU12E").aus == "4+R12E"
    with pytest.raises(MexlabError, match="'smile' is not an action unit"):
        parse_aus("AU4+smile")


def test_type_is_derived_from_duration_at_the_frame_rate():
    assert derive_type(0, 14, 30) == "micro"  # 15 frames = 0.5 s
    assert derive_type(0, 15, 30) == "macro"  # 16 frames
    assert derive_type(0, 15, 200) == "micro"


def test_undo_redo_and_changes_reported():
    seen = []
    c = Coding("ann", 30, on_change=lambda b, a: seen.append((b and b.onset, a and a.onset)))
    e = c.add(Event(onset=10, offset=40))
    assert e.type == "macro"
    c.update(e.uid, offset=20, aus="AU4")
    assert c.events[e.uid].type == "micro" and c.events[e.uid].aus == "4"
    c.update(e.uid, type="macro")
    assert c.events[e.uid].type_overridden
    assert c.undo() == "edit event" and c.events[e.uid].type == "micro"
    assert c.undo() == "edit event" and c.events[e.uid].offset == 40
    assert c.undo() == "add event" and not c.events
    assert c.undo() is None
    c.redo()
    c.redo()
    assert c.events[e.uid].offset == 20
    assert seen[-1] == (10, 10) and len(seen) == 8


# ------------------------------------------------------------------------------- reliability
def ev(on, off, aus="", apex=None):
    return Event(onset=on, offset=off, aus=aus, apex=apex)


def test_casme_r_and_pairing_by_hand():
    a = [ev(10, 20, "AU4+AU7", 14), ev(60, 75, "AU12", 66), ev(150, 200, "AU1+AU2")]
    b = [ev(11, 21, "AU4", 14), ev(62, 74, "AU12+AU6", 66), ev(100, 110, "AU14")]
    # IoUs 10/12 and 13/16; the third events overlap nobody
    assert [(i, j, round(v, 4)) for i, j, v in pair_events(a, b)] == [(0, 0, 0.8333), (1, 1, 0.8125)]
    assert casme_r(a, b) == pytest.approx(2 * 2 / (5 + 4))
    # IoU below 0.5 does not pair: 0-9 vs 5-19 = 5/20
    assert pair_events([ev(0, 9)], [ev(5, 19)]) == []
    assert casme_r([ev(0, 9, "AU4")], [ev(5, 19, "AU4")]) == 0.0
    rep = reliability({"c1": {"x": a, "y": b}}, {"c1": 240})
    ia = rep["interval_agreement"]
    assert ia["matched"] == 2 and ia["unmatched_1"] == 1 and ia["unmatched_2"] == 1
    assert ia["mean_iou"] == pytest.approx((10 / 12 + 13 / 16) / 2)
    assert ia["frame_differences"]["onset"]["mean"] == pytest.approx(1.5)
    assert ia["frame_differences"]["offset"]["mean_abs"] == pytest.approx(1.0)
    assert rep["kappa"]["method"] == "cohen" and rep["kappa"]["frames"] == 240


def test_kappas_by_hand():
    x = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    # po = 0.8, p1 = p2 = 0.3, pe = 0.09 + 0.49 = 0.58 -> (0.8-0.58)/0.42
    assert cohen_kappa(x, y) == pytest.approx(0.22 / 0.42)
    # Fleiss, 3 raters, 4 items: counts of "1": 3, 0, 2, 1
    m = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [1, 0, 0, 0]])
    p_i = np.array([1, 1, 1 / 3, 1 / 3])
    pj1 = 6 / 12
    pe = pj1**2 + (1 - pj1) ** 2
    assert fleiss_kappa(m) == pytest.approx((p_i.mean() - pe) / (1 - pe))
    rep = reliability({"c": {"a": [ev(0, 4)], "b": [ev(0, 4)], "c": [ev(0, 3)]}}, {"c": 10})
    assert rep["kappa"]["method"] == "fleiss" and 0.5 < rep["kappa"]["value"] < 1


# ------------------------------------------------------------------------------- formats
CODED = [
    dict(onset=10, apex=14, offset=20, aus="AU4+R12C", emotion="disgust"),
    dict(onset=60, apex=66, offset=75, aus="AU12", emotion="happiness"),
    dict(onset=110, apex=None, offset=140, aus="", emotion=None, type="micro", type_overridden=True),
]
# frames within the first 141 of the recording: import refuses frames beyond the video, and under
# heavy CPU load the 8-s simulated recording may hold fewer than its nominal 240 frames


def key(e):
    return (e.onset, e.apex, e.offset, e.type, e.aus, e.emotion)


@pytest.mark.parametrize(
    "fmt,suffix",
    [
        ("csv", ".csv"),
        ("megc", ".csv"),
        ("megc", ".xlsx"),
        ("casme2", ".xlsx"),
        ("casme2", ".csv"),
        ("samm", ".xlsx"),
        ("eaf", ".eaf"),
    ],
)
def test_export_then_import_gives_the_same_events(session_dir, tmp_path, fmt, suffix):
    clip = open_clip(session_dir)
    evs = [Event(coder="alice", **d).retyped(clip.fps) for d in CODED]
    if fmt == "casme2":  # the CASME II sheet has no type column: the type is derived
        evs = evs[:2]
    out = tmp_path / f"x{suffix}"
    assert formats.export(out, fmt, clip, {"alice": evs}) == len(evs)
    assert formats.guess_format(out) == fmt
    got = formats.import_file(out, clip, coder="alice")
    assert sorted(map(key, got["alice"])) == sorted(map(key, evs))


def test_eaf_is_xml_with_a_tier_per_coder_and_field(session_dir, tmp_path):
    clip = open_clip(session_dir)
    a = [Event(coder="alice", **CODED[0])]
    b = [Event(coder="bob", onset=30, offset=34, aus="AU1")]
    out = tmp_path / "two.eaf"
    formats.export(out, "eaf", clip, {"alice": a, "bob": b})
    root = ET.parse(out).getroot()
    tiers = {t.get("TIER_ID") for t in root.iter("TIER")}
    assert {"alice/event", "alice/AUs", "alice/apex", "alice/emotion", "bob/event", "bob/AUs"} <= tiers
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    first = next(t for t in root.iter("TIER") if t.get("TIER_ID") == "alice/event").find(".//ALIGNABLE_ANNOTATION")
    assert slots[first.get("TIME_SLOT_REF1")] == clip.ms_of(10)
    assert slots[first.get("TIME_SLOT_REF2")] == clip.ms_of(21)
    back = formats.import_file(out, clip)
    assert [key(e) for e in back["bob"]] == [key(b[0].retyped(clip.fps))]


def test_bad_files_name_the_file_and_the_problem(session_dir, tmp_path):
    clip = open_clip(session_dir)
    bad = tmp_path / "bad.csv"
    bad.write_text("onset,offset,aus\n10,x,AU4\n")
    with pytest.raises(MexlabError, match=r"bad.csv: row 2: offset 'x' is not a frame number"):
        formats.import_file(bad, clip, coder="a")
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("a,b\n1,2\n")
    with pytest.raises(MexlabError, match="nohead.csv: no header row"):
        formats.import_file(nohead, clip, coder="a")
    sheet = tmp_path / "s.csv"
    sheet.write_text(
        "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion\n1,EP01,5,7,9,4,others\n"
    )
    with pytest.raises(MexlabError, match="does not say who coded it"):
        formats.import_file(sheet, clip)


# ------------------------------------------------------------------------------- store
def test_store_revisions_and_conflicts(db_url):
    one, two = AnnotationStore(db_url), AnnotationStore(db_url)  # two workstations
    try:
        mine = one.insert("sess", Event(onset=5, offset=9, aus="AU4", coder="ann"))
        assert mine.version == 1
        theirs = two.get(mine.uid)
        theirs.notes = "checked"
        theirs = two.update("sess", theirs, by="ben")
        assert theirs.version == 2
        mine.aus = "AU4+AU7"
        with pytest.raises(ConflictError, match="changed by ben") as err:
            one.update("sess", mine, by="ann")
        assert err.value.current.notes == "checked"
        assert one.get(mine.uid).aus == "4"  # not overwritten
        with pytest.raises(ConflictError):
            one.delete("sess", mine, by="ann")
        fresh = one.get(mine.uid)
        fresh.aus = "AU4+AU7"
        assert one.update("sess", fresh, by="ann").version == 3
        hist = one.history(mine.uid)
        assert [(h["version"], h["action"], h["by"]) for h in hist] == [
            (1, "create", "ann"),
            (2, "update", "ben"),
            (3, "update", "ann"),
        ]
        assert hist[1]["data"]["notes"] == "checked"
        one.delete("sess", one.get(mine.uid), by="ann")
        assert one.get(mine.uid) is None and one.history(mine.uid)[-1]["action"] == "delete"
        # a coding's every change is saved through Coding.on_change
        c = Coding("ann", 30, on_change=lambda b, a: one.apply("sess", b, a, by="ann"))
        e = c.add(Event(onset=1, offset=3))
        c.update(e.uid, aus="AU12")
        c.undo()
        c.undo()
        c.redo()
        assert [x.onset for x in one.events("sess", "ann")] == [1]
        assert one.coders("sess") == ["ann"]
    finally:
        one.close()
        two.close()


def test_stale_version_caught_by_the_database_itself(db_url):
    """The version check is in the UPDATE (version_id_col), not only in Python."""
    from sqlalchemy import select, update
    from sqlalchemy.orm.exc import StaleDataError

    from acquisition.catalog.annotation_models import AnnotationEvent

    store = AnnotationStore(db_url)
    try:
        e = store.insert("s", Event(onset=1, offset=2, coder="a"))
        with store._sessions() as db:
            row = db.scalar(select(AnnotationEvent).where(AnnotationEvent.uid == e.uid))
            with store.catalog.engine.begin() as conn:  # another workstation, between read and write
                conn.execute(
                    update(AnnotationEvent)
                    .where(AnnotationEvent.uid == e.uid)
                    .values(notes="x", version=AnnotationEvent.version + 1)
                )
            row.notes = "mine"
            with pytest.raises(StaleDataError):
                db.commit()
    finally:
        store.close()


# ------------------------------------------------------------------------------- CLI
def mexlab(*args, db):
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args), "--db", db],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_cli_import_reliability_export(session_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(
        "onset,apex,offset,type,aus,emotion\n10,14,20,micro,AU4+AU7,disgust\n"
        "60,66,75,,AU12,happiness\n110,120,140,macro,AU1+AU2,surprise\n"
    )
    b.write_text(
        "onset,apex,offset,type,aus,emotion\n11,14,21,micro,AU4,disgust\n"
        "62,66,74,,AU12+AU6,happiness\n100,104,110,,AU14,others\n"
    )
    for f, c in ((a, "alice"), (b, "bob")):
        r = mexlab("annotations", "import", f, "--session", session_dir, "--coder", c, db=db)
        assert r.returncode == 0, r.stderr
        assert "imported 3 event(s)" in r.stdout
    r = mexlab("reliability", session_dir, "--json", db=db)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["coders"] == ["alice", "bob"]
    assert rep["casme_r"] == pytest.approx(4 / 9)
    assert rep["interval_agreement"]["matched"] == 2
    assert rep["kappa"]["method"] == "cohen" and rep["kappa"]["frames"] == open_clip(session_dir).n_frames
    out = tmp_path / "alice.xlsx"
    r = mexlab("annotations", "export", session_dir, "--coder", "alice", "--format", "samm", "--out", out, db=db)
    assert r.returncode == 0 and out.is_file(), r.stderr
    r = mexlab("annotations", "export", session_dir, "--format", "megc", "--out", tmp_path / "m.csv", db=db)
    assert r.returncode == 2 and "name one with --coder" in r.stderr
    r = mexlab("annotations", "import", tmp_path / "none.csv", "--session", session_dir, "--coder", "x", db=db)
    assert r.returncode == 2 and "none.csv: no such file" in r.stderr and "Traceback" not in r.stderr
