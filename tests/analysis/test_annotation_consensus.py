"""Consensus of two coders (Qt-free logic and the CLI), the crash journal of typed text, the video
reader's read-ahead and the depth colour map."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import MexlabError
from acquisition.session_read.frame_reader import FrameReader
from analysis.annotation.clip import open_clip
from analysis.annotation.consensus import CONSENSUS_CODER, consensus, merge, reconcile
from analysis.annotation.journal import Journal, replay
from analysis.annotation.model import Coding, Event
from analysis.annotation.store import AnnotationStore
from analysis.annotation.video_reader import colorize_depth
from tests.helpers_paths import MEXLAB, REPO


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("anncons") / "s1"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "8", "--out", str(out), "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return out


def two_coders():
    a = [
        Event(onset=10, offset=20, apex=15, aus="4+R12C", emotion="happiness", coder="ann", notes="clear"),
        Event(onset=40, offset=50, aus="1", coder="ann"),
        Event(onset=100, offset=110, aus="9", coder="ann"),
        Event(onset=60, offset=70, aus="4", coder="ann", status="rejected"),
        Event(onset=80, offset=85, aus="4", coder="ann", status="candidate"),
    ]
    b = [
        Event(onset=12, offset=22, apex=17, aus="12+7", coder="bob", confidence=0.5),
        Event(onset=41, offset=49, aus="2", coder="bob"),
        Event(onset=200, offset=205, aus="15", coder="bob"),
    ]
    return a, b


def test_pairs_unpaired_and_merges_by_hand():
    a, b = two_coders()
    rec = reconcile(a, b, "ann", "bob")
    assert [(p.a.onset, p.b.onset, round(p.iou, 3)) for p in rec.pairs] == [
        (10, 12, round(9 / 13, 3)),
        (40, 41, round(9 / 11, 3)),
    ]
    assert [e.onset for e in rec.only_a] == [100]  # rejected and candidate events are not coded
    assert [e.onset for e in rec.only_b] == [200]
    u = merge(rec.pairs[0].a, rec.pairs[0].b, "union", 30)
    assert (u.onset, u.apex, u.offset, u.aus, u.emotion, u.confidence) == (11, 16, 21, "4+7+R12C", "happiness", 0.5)
    i = merge(rec.pairs[0].a, rec.pairs[0].b, "intersection", 30)
    assert i.aus == "R12C" and i.type == "micro"
    with pytest.raises(MexlabError, match="neither union nor intersection"):
        merge(rec.pairs[0].a, rec.pairs[0].b, "mean")
    out = consensus(rec, ["union", "b"], keep_a=[False], keep_b=[True], fps=30)
    assert [(e.onset, e.offset, e.aus) for e in out] == [(11, 21, "4+7+R12C"), (41, 49, "2"), (200, 205, "15")]
    assert all(e.coder == CONSENSUS_CODER and e.status == "accepted" for e in out)
    assert not {e.uid for e in out} & {e.uid for e in a + b}  # new events, the coders' stay theirs
    assert "bob's" in out[1].notes and "only bob" in out[2].notes
    assert [e.onset for e in consensus(rec, rule="a")] == [10, 40, 100, 200]
    assert [e.onset for e in consensus(rec, ["drop", "drop"], keep_a=[False], keep_b=[False])] == []
    with pytest.raises(MexlabError, match="unknown choice 'both'"):
        consensus(rec, ["both", "a"])


def test_cli_consensus_stores_coder_consensus(session_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    sid = open_clip(session_dir).session_id
    a, b = two_coders()
    with AnnotationStore(db) as st:
        for e in a + b:
            st.insert(sid, e)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "annotations", "consensus", str(session_dir), *args, "--db", db],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )

    r = cli("--coders", "ann", "bob", "--rule", "intersection", "--unpaired", "drop")
    assert r.returncode == 0, r.stderr
    assert "2 pair(s), 1 only ann, 1 only bob: stored 2 consensus event(s)" in r.stdout
    with AnnotationStore(db) as st:
        got = st.events(sid, CONSENSUS_CODER)
        assert [(e.onset, e.apex, e.offset, e.aus) for e in got] == [
            (11, 16, 21, "R12C"),
            (41, None, 50, ""),
        ]  # .5 rounds up
        assert len(st.events(sid, "ann")) == 5  # the coders' codings untouched
    r = cli("--coders", "ann", "bob", "--rule", "a")  # again: replaces the consensus
    assert r.returncode == 0, r.stderr
    with AnnotationStore(db) as st:
        assert [e.onset for e in st.events(sid, CONSENSUS_CODER)] == [10, 40, 100, 200]
    r = cli("--coders", "ann", "zoe")
    assert r.returncode != 0 and "no events of coder 'zoe'" in r.stderr and "ann, bob, consensus" in r.stderr


def test_journal_replays_what_was_typed_and_not_saved(tmp_path):
    db = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with AnnotationStore(db) as st:
        ev = st.insert("sess", Event(onset=5, offset=9, aus="4", coder="ann"))
        j = Journal.for_session(db, "sess", "ann", tmp_path / "journal")
        for k in range(1, 6):
            j.write(ev.uid, "notes", "brow"[:k])  # keystrokes, the last one "brow"
        j.write(ev.uid, "aus", "4+7")
        j.saved(ev.uid, "aus")  # the AUs were saved, the notes not
        j.close()
        with open(j.path, "a") as fh:
            fh.write('{"uid": "' + ev.uid + '", "fie')  # the line the crash cut
        again = Journal.for_session(db, "sess", "ann", tmp_path / "journal")
        assert again.path == j.path
        assert again.pending() == {(ev.uid, "notes"): "brow"}
        coding = Coding("ann", 30, st.events("sess", "ann"), on_change=lambda b, a: st.apply("sess", b, a, by="ann"))
        assert replay(again, coding) == ["restored notes of event 5-9 typed before a crash"]
        assert st.get(ev.uid).notes == "brow" and st.get(ev.uid).aus == "4"
        assert not again.path.exists()
        assert replay(again, coding) == []


def test_read_ahead_fills_the_cache_with_the_same_frames(session_dir):
    plain = FrameReader(session_dir / "rgb.mkv", read_ahead=0)
    r = FrameReader(session_dir / "rgb.mkv", read_ahead=6)
    try:
        r.frame(10)
        deadline = time.monotonic() + 10
        while not all(r.cached(k) for k in range(11, 17)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(r.cached(k) for k in range(11, 17)) and not r.cached(17)
        assert r.ahead_decoded >= 6
        for k in (11, 16, 13):
            assert np.array_equal(r.frame(k), plain.frame(k))
        r.frame(100)
        r.frame(99)  # stepping back: the frames before are read
        deadline = time.monotonic() + 10
        while not all(r.cached(k) for k in range(93, 99)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(r.cached(k) for k in range(93, 99))
        assert np.array_equal(r.frame(95), plain.frame(95))
        d = FrameReader(session_dir / "depth.mkv", "gray16le", convert=colorize_depth)
        raw = FrameReader(session_dir / "depth.mkv", "gray16le", read_ahead=0)
        assert np.array_equal(d.frame(30), colorize_depth(raw.frame(30)))
        d.close(), raw.close()
    finally:
        r.close(), plain.close()


def test_depth_colours_are_the_live_previews():
    from app.gui.widgets.preview import colorize_depth as preview_colours

    d = np.array([[0, 300, 800, 2000, 6000]], np.uint16)
    c = colorize_depth(d)
    assert np.array_equal(c, preview_colours(d))
    assert c[0, 0].tolist() == [0, 0, 0]  # no depth: black
    near, far = c[0, 1].astype(int), c[0, 4].astype(int)
    assert near[0] > 100 and near[0] > near[2]  # near: red
    assert far[2] > far[0] and far[0] < 80  # the far background: dark blue, never red
    assert np.array_equal(c[0, 3], c[0, 4])  # beyond 2000 mm: the far end's colour


def test_zoom_window_centres_on_the_face():
    import numpy as np

    from analysis.annotation.session_tracks import zoom_window

    # no face known: the centre of the picture
    assert zoom_window((480, 848), 2.0) == (120, 360, 212, 636)
    # a face at the left edge: the window moves there, stays inside the picture, keeps the face whole
    y0, y1, x0, x1 = zoom_window((480, 848), 3.0, (10.0, 100.0, 110.0, 220.0))
    assert x0 == 0 and y0 <= 100 and y1 >= 220 and x1 >= 110 and (y1 - y0) == 168  # 120 px face + 40 %
    # a face larger than the zoomed window: the window grows to hold it with a margin
    y0, y1, x0, x1 = zoom_window((480, 848), 3.0, (300.0, 100.0, 550.0, 400.0))
    assert y1 - y0 >= 300 * 1.4 - 1 and x0 <= 300 and x1 >= 550
    assert zoom_window((480, 848), 2.0, (np.nan,) * 4) == (120, 360, 212, 636)


def test_depth_colour_table_equals_the_formula():
    # uint16 frames are coloured through a table of every value; any other type by the formula
    every = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    assert np.array_equal(colorize_depth(every), colorize_depth(every.astype(np.float32)))
    frame = np.asfortranarray(np.random.default_rng(0).integers(0, 4000, (48, 85)).astype(np.uint16))
    c = colorize_depth(frame)
    assert c.shape == (48, 85, 3) and c.dtype == np.uint8 and c.flags["C_CONTIGUOUS"]
    assert np.array_equal(c, colorize_depth(frame.astype(np.float32)))
    assert np.array_equal(colorize_depth(every, 500, 1500), colorize_depth(every.astype(np.float32), 500, 1500))
