"""Reliability per clip: the coded protocol steps of a session, cut from its markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from acquisition.session_read.names import MARKER_STREAM, XDF_NAME
from analysis.annotation.clip import open_clip
from analysis.annotation.model import Event
from analysis.annotation.stimulus_clips import split_codings, stimulus_segments
from tests.screens import save_screenshot

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder]

REPO = Path(__file__).resolve().parents[2]


def mexlab(*args, db=None, timeout=180):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        MEXLAB_DEMO_STIMULI=str(Path(tempfile.gettempdir()) / "mexlab-test-demo-stimuli"),
    )
    if db:
        env["MEXLAB_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def protocol_session(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clips") / "P07"
    r = mexlab(
        "run-protocol",
        "passive-suppression",
        "--participant",
        "P07",
        "--out",
        out,
        "--simulate",
        "--headless",
        "--quick",
        "--rgb",
        "424x240@30",
        "--depth",
        "424x240@30",
        "--no-catalog",
    )
    assert r.returncode == 0, r.stderr
    return out


def test_segments_follow_the_stimulus_markers(protocol_session):
    from acquisition.session_read.streams import read_streams

    clip = open_clip(protocol_session)
    segs = stimulus_segments(clip)
    assert len(segs) == 1  # --quick: the first clip of the one film block
    seg = segs[0]
    assert seg.fields["step"] == "stimulus" and seg.fields["block"] == "clips"
    stream = read_streams(protocol_session / XDF_NAME).named(MARKER_STREAM)
    marks = [(t, json.loads(v[0])) for t, v in zip(stream.timestamps, stream.data)]
    onset = next(t for t, m in marks if m["event"] == "stimulus_onset" and m.get("seq") == seg.fields["seq"])
    offset = next(t for t, m in marks if m["event"] == "stimulus_offset" and m.get("seq") == seg.fields["seq"])
    times = clip.frame_times
    assert times[seg.start] <= onset < times[seg.start + 1]  # the frame on screen at the onset
    assert times[seg.end] < offset <= times[seg.end + 1]  # the last frame before the offset
    assert seg.n_frames == pytest.approx((offset - onset) * clip.fps, abs=2)


def test_events_are_cut_to_the_clip_by_their_apex():
    from analysis.annotation.stimulus_clips import Segment

    segs = [Segment("s#1 a", 100, 199, {}), Segment("s#2 b", 300, 349, {})]
    got = split_codings(
        {"x": [Event(95, 110, apex=102, aus="AU4"), Event(90, 105, apex=98), Event(310, 320)], "y": []}, segs
    )
    assert [(e.onset, e.apex, e.offset) for e in got["s#1 a"]["x"]] == [(0, 2, 10)]  # apex 98 is outside
    assert [(e.onset, e.apex, e.offset) for e in got["s#2 b"]["x"]] == [(10, None, 20)]
    assert got["s#1 a"]["y"] == [] and got["s#2 b"]["y"] == []


def test_reliability_per_clip_session_and_study_cli_and_gui(qtbot, protocol_session, tmp_path):
    seg = stimulus_segments(open_clip(protocol_session))[0]
    s, e = seg.start, seg.end
    db = f"sqlite:///{tmp_path / 'rel.sqlite'}"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    # one event inside the clip for both coders (AU4+AU7 against AU4), and one before it for alice only
    a.write_text(f"onset,apex,offset,type,aus\n{s + 5},{s + 8},{s + 15},,AU4+AU7\n2,4,9,,AU12\n")
    b.write_text(f"onset,apex,offset,type,aus\n{s + 6},{s + 8},{s + 15},,AU4\n")
    for f, c in ((a, "alice"), (b, "bob")):
        r = mexlab("annotations", "import", f, "--session", protocol_session, "--coder", c, db=db)
        assert r.returncode == 0, r.stderr
    r = mexlab("reliability", protocol_session, "--json", db=db)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    clip = rep["clips"][seg.name]
    assert clip["casme_r"] == pytest.approx(2 * 1 / (2 + 1))
    assert clip["interval_agreement"]["matched"] == 1 and clip["interval_agreement"]["unmatched_1"] == 0
    assert clip["kappa"]["frames"] == e - s + 1
    sess = rep["sessions"][protocol_session.name]
    assert sess["casme_r"] == pytest.approx(2 * 1 / (3 + 1))  # alice's AU12 outside the clip counts here
    assert sess["interval_agreement"]["unmatched_1"] == 1
    assert rep["casme_r"] == sess["casme_r"] and rep["kappa"]["frames"] == open_clip(protocol_session).n_frames
    text = mexlab("reliability", protocol_session, db=db).stdout
    assert "-- clips" in text and seg.name in text and "-- study" in text

    # the same figures in the Annotate workspace's reliability table
    from PySide6.QtCore import Qt

    from app.gui.workspaces.annotate import AnnotateWorkspace

    ws = AnnotateWorkspace(db, coder="alice", journal_dir=tmp_path / "j")
    qtbot.addWidget(ws)
    ws.open_session(protocol_session)
    qtbot.mouseClick(ws.reliability_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: ws.reliability_dialog is not None, timeout=30000)
    table = ws.reliability_dialog.table
    got = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    assert got == [["clip", seg.name, "0.667", "1"], ["session", protocol_session.name, "0.500", "1"]]
    ws.reliability_dialog.show()
    qtbot.wait(100)
    save_screenshot(ws.reliability_dialog, "annotate-reliability", tmp_path)
    ws.reliability_dialog.close()
    ws.close_session()
    ws.store.close()
