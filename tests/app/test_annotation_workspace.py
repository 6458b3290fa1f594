"""The Annotate workspace's reconciliation dialog, tracks (spotted intervals, AU proxies, minimum
heights), candidate buttons, shortcuts from data and the notes journal surviving a killed process,
on a real recorded (simulated) session; screenshots annotate-{coding,reconcile}.png (into the test's
temporary folder: tests/screens.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from analysis import features_cache
from analysis.annotation.clip import open_clip
from analysis.annotation.consensus import CONSENSUS_CODER
from analysis.annotation.emg_coding import session_candidates
from analysis.annotation.model import Event
from analysis.annotation.session_tracks import au_traces, spotting_cache
from analysis.annotation.store import AnnotationStore
from analysis.face.landmarker import BLENDSHAPE_INDEX
from app.cli import main
from app.gui import shortcuts
from app.gui.widgets.annotate_tracks import MIN_HEIGHT
from app.gui.workspaces.annotate import AnnotateWorkspace
from tests.helpers_paths import MEXLAB, REPO
from tests.screens import save_screenshot

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder]


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("annws") / "s1"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "8", "--out", str(out), "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    (out / "analysis").mkdir(exist_ok=True)
    (out / "analysis" / "spotting.json").write_text(
        json.dumps(
            {
                "fps": 30.0,
                "intervals": [
                    {"onset": 48, "apex": 55, "offset": 62, "type": "micro", "score": 0.8, "aus": ["AU12"]},
                    {"onset": 150, "apex": 165, "offset": 190, "type": "macro", "score": 0.6, "aus": ["AU4"]},
                ],
                "suppressed": [],
            }
        )
    )
    clip = open_clip(out)
    bs = np.zeros((clip.n_frames, len(BLENDSHAPE_INDEX)), np.float32)  # the spotting's feature cache
    smile = np.exp(-0.5 * ((np.arange(clip.n_frames) - 55) / 4.0) ** 2)
    bs[:, BLENDSHAPE_INDEX["mouthSmileLeft"]] = bs[:, BLENDSHAPE_INDEX["mouthSmileRight"]] = smile
    bs[:, BLENDSHAPE_INDEX["browDownLeft"]] = 0.3 * (np.arange(clip.n_frames) > 150)
    video, key = spotting_cache(clip)
    assert features_cache.save(video, key, {"t": np.arange(clip.n_frames) / 30.0, "blendshapes": bs})
    return out


def workspace(qtbot, db, coder="ann", **kw) -> AnnotateWorkspace:
    ws = AnnotateWorkspace(db, coder=coder, **kw)
    qtbot.addWidget(ws)
    ws.resize(1500, 950)
    ws.show()
    return ws


def test_tracks_spotted_intervals_au_traces_and_heights(qtbot, session_dir, tmp_path):
    clip = open_clip(session_dir)
    t, aus, note = au_traces(clip)
    assert note == "" and "AU12" in aus and "AU4" in aus
    assert int(np.nanargmax(aus["AU12"])) == 55 and np.isclose(t[55], clip.time_of(55))
    ws = workspace(qtbot, f"sqlite:///{tmp_path / 't.sqlite'}", journal_dir=tmp_path / "j")
    ws.open_session(session_dir)
    names = ws.tracks.track_names()
    # every track names its unit, from the XDF's channel metadata (the rig: EMG µV, ECG mV, EDA µS)
    assert names[:2] == ["spotted", "AU proxies (0-1)"] and {"ECG (mV)", "EDA (µS)", "markers"} <= set(names)
    assert "HR (bpm)" not in names and "no HR track" in ws.status.text()  # 8 s: too short, and said
    emg = [n for n in names if n.startswith("EMG")]
    assert len(emg) == 8 and all(n.endswith(" (µV)") for n in emg), emg
    assert len(names) >= 8 + 5  # 8 EMG channels, ECG, HR, EDA, markers, ...
    assert [(round(a, 3), round(b, 3), typ) for a, b, typ, _ in ws.tracks.spotted] == [
        (round(clip.time_of(48), 3), round(clip.time_of(63), 3), "micro"),
        (round(clip.time_of(150), 3), round(clip.time_of(191), 3), "macro"),
    ]
    qtbot.wait(100)
    boxes = sorted((p.geometry().top(), p.geometry().bottom()) for p in ws.tracks._plots)
    assert all(b - a >= MIN_HEIGHT - 1 for a, b in boxes)  # nothing squeezed
    assert all(b0 <= a1 + 0.5 for (a0, b0), (a1, b1) in zip(boxes, boxes[1:]))  # nor overlapping
    assert ws.track_scroll.verticalScrollBar().maximum() > 0  # the rest scrolls
    sb = ws.track_scroll.verticalScrollBar()
    sb.setValue(sb.maximum())  # ... down to the last track
    qtbot.wait(50)
    last = ws.tracks._plots[-1]
    bottom = ws.tracks.mapFromScene(last.sceneBoundingRect().bottomLeft()).y()
    seen = ws.tracks.mapTo(ws.track_scroll.viewport(), QPoint(0, int(bottom))).y()
    assert 0 < seen <= ws.track_scroll.viewport().height(), (seen, ws.track_scroll.viewport().height())
    sb.setValue(0)
    # the time axis under the tracks: seconds and frames of the window shown, labelled
    assert ws.time_axis.seconds.labelText.startswith("time from the first frame")
    assert ws.time_axis.frames.labelText == "frame" and ws.time_axis.frames.scale == clip.fps
    assert np.allclose(ws.time_axis.seconds.range, ws.tracks._plots[0].viewRange()[0])
    # the coding screenshot: an event coded over the spotted micro-expression
    ws.seek(48)
    ws.mark_onset()
    ws.seek(62)
    ws.mark_offset()
    ws.seek(55)
    ws.mark_apex()
    ws.aus.setText("R12C")
    ws.aus.editingFinished.emit()
    ws.tracks.show_window(clip.time_of(20))
    ws.seek(55)
    qtbot.wait(100)
    save_screenshot(ws, "annotate-coding", tmp_path)
    ws.close_session()
    ws.store.close()


def test_no_feature_cache_is_a_note_not_an_error(session_dir, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(session_dir, bare, ignore=shutil.ignore_patterns(".mexlab-cache"))
    t, aus, note = au_traces(open_clip(bare))
    assert aus == {} and "no cached spotting features" in note


def test_reconcile_dialog_stores_the_consensus(qtbot, session_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    sid = open_clip(session_dir).session_id
    with AnnotationStore(db) as st:
        for e in (
            Event(onset=48, offset=62, apex=55, aus="R12C", emotion="happiness", coder="ann"),
            Event(onset=150, offset=190, aus="4", coder="ann"),
            Event(onset=100, offset=105, aus="9", coder="ann"),
            Event(onset=50, offset=64, apex=56, aus="12+6", coder="bob"),
            Event(onset=152, offset=186, aus="4+7", coder="bob"),
            Event(onset=210, offset=220, aus="15", coder="bob"),
        ):
            st.insert(sid, e)
    ws = workspace(qtbot, db, journal_dir=tmp_path / "j")
    ws.open_session(session_dir)
    qtbot.mouseClick(ws.reconcile_btn, Qt.LeftButton)
    dlg = ws.reconcile_dialog
    assert dlg is not None and dlg.isVisible()
    assert (dlg.coder_a.currentText(), dlg.coder_b.currentText()) == ("ann", "bob")
    assert dlg.table.rowCount() == 4 and "2 pair(s)" in dlg.summary.text()
    assert dlg.table.item(0, 1).text() == "R12C" and dlg.table.item(0, 5).text() == "12+6"
    dlg.set_choice(1, "intersection")
    dlg.set_keep("b", 0, False)
    qtbot.wait(100)
    save_screenshot(dlg, "annotate-reconcile", tmp_path)
    qtbot.mouseClick(dlg.save_btn, Qt.LeftButton)
    with AnnotationStore(db) as st:
        got = [(e.onset, e.apex, e.offset, e.aus) for e in st.events(sid, CONSENSUS_CODER)]
    assert got == [(49, 56, 63, "6+R12C"), (100, None, 105, "9"), (151, None, 188, "4")]
    assert "stored 3 event(s)" in dlg.summary.text()
    ws.coder_edit.setText(CONSENSUS_CODER)  # the consensus opens as a coding like any other
    ws.coder_edit.editingFinished.emit()
    assert [e.onset for e in ws.coding.sorted()] == [49, 100, 151]
    # reliability between ann and bob (the stored consensus is not a coder): 2 pairs, AUs 12 and 4 agreed
    qtbot.mouseClick(ws.reliability_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: ws.reliability_dialog is not None, timeout=30000)
    rel = ws.reliability_dialog
    assert rel.report["coders"] == ["ann", "bob"]
    cells = [rel.table.item(0, c).text() for c in range(rel.table.columnCount())]
    assert cells[:5] == ["session", session_dir.name, "0.500", "2", "1 / 1"]
    assert rel.table.rowCount() == 1  # no protocol markers: the session is the one clip
    rel.close()
    dlg.close()
    ws.close_session()
    ws.store.close()


def test_candidate_buttons_and_baseline(qtbot, session_dir, tmp_path):
    ws = workspace(qtbot, f"sqlite:///{tmp_path / 'c.sqlite'}", journal_dir=tmp_path / "j")
    ws.open_session(session_dir)
    clip = ws.clip
    ws.baseline.setCurrentText("selected event")
    assert ws.add_emg_candidates() == 0 and "select the quiet stretch" in ws.status.text()
    ws.baseline.setCurrentText("first seconds")
    ws.baseline_s.setValue(2)
    want, _ = session_candidates(clip, baseline=(clip.frame_times[0], clip.frame_times[0] + 2))
    assert want, "the simulated session has EMG bursts"
    qtbot.mouseClick(ws.emg_btn, Qt.LeftButton)
    got = [(e.onset, e.offset, e.aus) for e in ws.coding.sorted() if e.source == "emg"]
    assert got == sorted((e.onset, e.offset, e.aus) for e in want)
    assert f"{len(want)} new" in ws.status.text()
    qtbot.mouseClick(ws.emg_btn, Qt.LeftButton)  # twice: nothing added twice
    assert len([e for e in ws.coding.events.values() if e.source == "emg"]) == len(want)
    qtbot.mouseClick(ws.spot_btn, Qt.LeftButton)
    spot = sorted((e.onset, e.apex, e.offset, e.status) for e in ws.coding.events.values() if e.source == "spotting")
    assert spot == [(48, 55, 62, "candidate"), (150, 165, 190, "candidate")]
    with AnnotationStore(ws.db_url) as st:  # saved like every change
        assert len(st.events(clip.session_id, "ann")) == len(want) + 2
    ws.close_session()
    ws.store.close()


def test_shortcuts_are_data(qtbot, session_dir, tmp_path, monkeypatch):
    assert shortcuts.shortcut("annotate.onset") == "I" and len(shortcuts.shortcuts("annotate.")) == 16
    # the user's own key, stored in the settings by the CLI, replaces the default in the workspace
    assert main(["shortcuts", "set", "annotate.onset", "u"]) == 0
    assert shortcuts.shortcut("annotate.onset") == "U" and shortcuts.SHORTCUTS["annotate.onset"] == "I"
    ws = workspace(qtbot, f"sqlite:///{tmp_path / 'k.sqlite'}", journal_dir=tmp_path / "j")
    ws.open_session(session_dir)
    ws.setFocus()
    qtbot.keyClick(ws, Qt.Key_Right, Qt.ShiftModifier)
    qtbot.keyClick(ws, Qt.Key_U)
    assert ws.frame == 10 and ws.pending_onset == 10
    qtbot.keyClick(ws, Qt.Key_I)  # no longer the onset key
    qtbot.keyClick(ws, Qt.Key_Right)
    qtbot.keyClick(ws, Qt.Key_O)
    assert [(e.onset, e.offset) for e in ws.coding.sorted()] == [(10, 11)]
    # the help (? and F1) is made from the same data: it lists the user's U for the onset
    assert set(shortcuts.DESCRIPTIONS) == set(shortcuts.SHORTCUTS)
    assert not ws.help_overlay.isVisible()
    qtbot.keyClick(ws, Qt.Key_Question)
    assert ws.help_overlay.isVisible()
    text = ws.help_overlay.text()
    assert "<b>U</b></code></td><td>onset here" in text and "<b>I</b>" not in text
    for aid, keys in {**shortcuts.shortcuts("annotate."), **shortcuts.shortcuts("app.")}.items():
        assert f"<b>{keys}</b>" in text and shortcuts.DESCRIPTIONS[aid] in text
    qtbot.keyClick(ws.help_overlay, Qt.Key_Space)  # any key closes it
    assert not ws.help_overlay.isVisible()
    qtbot.keyClick(ws, Qt.Key_F1)
    assert ws.help_overlay.isVisible()
    ws.help_overlay.close_help()
    ws.close_session()
    ws.store.close()


CRASH = r"""
import os, signal, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, sys.argv[4])
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest
from app.gui.workspaces.annotate import AnnotateWorkspace
app = QApplication([])
ws = AnnotateWorkspace(sys.argv[1], coder="ann", journal_dir=sys.argv[3])
ws.show()
ws.open_session(sys.argv[2])
ws.table.selectRow(0)
ws.notes.setFocus()
QTest.keyClicks(ws.notes, "lip corner, left only")
os.kill(os.getpid(), signal.SIGKILL)        # before the debounced save (600 ms)
"""


def test_notes_typed_before_a_crash_are_not_lost(qtbot, session_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'n.sqlite'}"
    sid = open_clip(session_dir).session_id
    with AnnotationStore(db) as st:
        ev = st.insert(sid, Event(onset=48, offset=62, aus="R12C", coder="ann"))
    r = subprocess.run(
        [sys.executable, "-c", CRASH, db, str(session_dir), str(tmp_path / "j"), str(REPO)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert r.returncode == -signal.SIGKILL, r.stderr
    with AnnotationStore(db) as st:
        assert st.get(ev.uid).notes == ""  # the save never happened
    assert len(list((tmp_path / "j").glob("*.jsonl"))) == 1
    ws = workspace(qtbot, db, journal_dir=tmp_path / "j")
    ws.open_session(session_dir)  # replayed at open
    assert ws.coding.events[ev.uid].notes == "lip corner, left only"
    assert "restored notes" in ws.status.text()
    with AnnotationStore(db) as st:
        assert st.get(ev.uid).notes == "lip corner, left only"
    assert list((tmp_path / "j").glob("*.jsonl")) == []
    # typing then saving normally leaves nothing to replay
    ws.table.selectRow(0)
    ws.notes.setFocus()
    ws.notes.moveCursor(QTextCursor.End)
    qtbot.keyClicks(ws.notes, "!")
    qtbot.waitUntil(lambda: ws.coding.events[ev.uid].notes.endswith("!"), timeout=3000)
    assert ws.journal.pending() == {}
    ws.close_session()
    ws.store.close()


def test_bad_user_shortcuts_are_named_and_defaults_kept(capsys):
    from app.services.settings import Settings

    st = Settings.load()
    st.shortcuts = {"annotate.apex": "Foo+", "annotate.nothing": "X", "annotate.accept": "R"}
    st.save()
    assert shortcuts.shortcut("annotate.apex") == "P"  # unreadable: the default stays
    assert shortcuts.shortcut("annotate.accept") == "R"
    probs = shortcuts.problems()
    assert any("'Foo+' is not a key sequence" in p for p in probs)
    assert any("unknown action 'annotate.nothing'" in p for p in probs)
    assert "R is used by annotate.accept and annotate.reject" in probs
    assert main(["shortcuts", "set", "annotate.onset", "Ctrl+"]) == 2
    assert "is not a key sequence" in capsys.readouterr().err
    # a hostile size is named by its length, not echoed whole
    assert main(["shortcuts", "set", "annotate.onset", "A" * 100_000]) == 2
    err = capsys.readouterr().err
    assert "(100000 characters)' is not a key sequence" in err and len(err) < 300, err[:300]
    assert main(["shortcuts", "reset", "--all"]) == 0
    assert Settings.load().shortcuts == {} and shortcuts.problems() == []
