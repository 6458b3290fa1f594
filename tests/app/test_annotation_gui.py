"""The Annotate workspace driven from the keyboard on a real recorded (simulated) session: code an
event, undo, redo, (auto)save, reopen; EMG candidates accepted and rejected with the keys, one that
coincides with a coded event shown as such; the min/max envelope keeps every peak. The screenshot
annotate-candidates.png goes to the test's temporary folder (tests/screens.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from analysis.annotation.clip import open_clip
from analysis.annotation.emg_coding import channel_maps, session_candidates
from analysis.annotation.store import AnnotationStore
from app.gui.widgets.annotate_tracks import minmax_envelope
from app.gui.workspaces.annotate import COLUMNS, AnnotateWorkspace
from tests.helpers_paths import MEXLAB
from tests.screens import save_screenshot

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder]


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("anngui") / "s1"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "8", "--out", str(out), "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return out


def test_minmax_envelope_keeps_every_peak():
    t = np.arange(200_000) / 2000.0
    x = np.zeros_like(t)
    x[123_457] = 9.0  # one-sample spike
    x[54_321] = -7.0
    tt, yy = minmax_envelope(t, x, 0, 100, 800)
    assert yy.size <= 1600 and yy.max() == 9.0 and yy.min() == -7.0
    assert np.all(np.diff(tt) >= 0)
    x[123_500] = 3.0
    tt, yy = minmax_envelope(t, x, 61.7, 61.8, 800)  # zoomed in: every sample, one more on each side
    i0, i1 = np.searchsorted(t, [61.7, 61.8])
    assert i1 - i0 >= 200
    assert np.array_equal(tt, t[i0 - 1 : i1 + 1]) and np.array_equal(yy, x[i0 - 1 : i1 + 1])
    assert yy.max() == 9.0 and 3.0 in yy  # both spikes of the window (61.7285 s, 61.75 s)


def test_emg_map_from_the_xdf_and_candidates(session_dir):
    name, maps = channel_maps(session_dir / "recording.xdf")
    assert name == "mexlab-sim-EMG"
    by = {m.muscle: m.aus for m in maps}
    assert by["zygomaticus major"].startswith("AU12") and by["corrugator supercilii"] == "AU4"
    cands, _ = session_candidates(open_clip(session_dir), coder="ann")
    assert cands, "the simulated session has EMG bursts"
    assert all(c.status == "candidate" and c.source == "emg" for c in cands)
    assert all(0 <= c.onset <= c.apex <= c.offset for c in cands)


def test_keyboard_workflow_code_undo_redo_save_reopen(qtbot, session_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'gui.sqlite'}"
    ws = AnnotateWorkspace(db, coder="ann")
    qtbot.addWidget(ws)
    ws.resize(1400, 900)
    ws.show()
    ws.open_session(session_dir)
    ws.activateWindow()
    qtbot.waitActive(ws)
    ws.setFocus()
    qtbot.keyClick(ws, Qt.Key_Right)
    qtbot.keyClick(ws, Qt.Key_Right, Qt.ShiftModifier)
    assert ws.frame == 11
    assert ws.info.text().startswith("frame 11 /") and " s" in ws.info.text()
    qtbot.keyClick(ws, Qt.Key_I)  # onset at 11
    for _ in range(5):
        qtbot.keyClick(ws, Qt.Key_Right)
    qtbot.keyClick(ws, Qt.Key_O)  # offset at 16: a new event, selected
    assert [(e.onset, e.offset, e.type) for e in ws.coding.sorted()] == [(11, 16, "micro")]
    qtbot.keyClick(ws, Qt.Key_Left, Qt.ShiftModifier)  # 6
    qtbot.keyClick(ws, Qt.Key_Right, Qt.ShiftModifier)  # 16
    for _ in range(3):
        qtbot.keyClick(ws, Qt.Key_Left)  # 13
    qtbot.keyClick(ws, Qt.Key_P)  # apex 13
    ws.aus.setText("AU4+R12C")
    ws.aus.editingFinished.emit()
    assert ws.selected().apex == 13 and ws.selected().aus == "4+R12C"
    ws.seek(13)
    qtbot.wait(50)
    # docs/img/annotate-coding.png: tests/app/test_annotation_workspace.py (with spotting and AU tracks)
    ws.setFocus()
    qtbot.keyClick(ws, Qt.Key_Z, Qt.ControlModifier)  # undo the AUs
    assert ws.coding.sorted()[0].aus == ""
    qtbot.keyClick(ws, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # redo
    assert ws.coding.sorted()[0].aus == "4+R12C"
    clip = open_clip(session_dir)
    # autosaved: another store sees it at once, without any explicit save
    with AnnotationStore(db) as other:
        assert [(e.onset, e.apex, e.offset, e.aus) for e in other.events(clip.session_id, "ann")] == [
            (11, 13, 16, "4+R12C")
        ]
        assert other.events(clip.session_id, "bob") == []
    # reopen: the coding is back; another coder sees none of it (blind)
    ws2 = AnnotateWorkspace(db, coder="ann")
    qtbot.addWidget(ws2)
    ws2.open_session(session_dir)
    assert [(e.onset, e.apex, e.offset, e.aus) for e in ws2.coding.sorted()] == [(11, 13, 16, "4+R12C")]
    ws3 = AnnotateWorkspace(db, coder="bob")
    qtbot.addWidget(ws3)
    ws3.open_session(session_dir)
    assert ws3.coding.sorted() == []
    # EMG candidates: one coinciding with an event the coder made is shown there, not added; the
    # others are accepted (A) and rejected (R) with the keys, and saved so
    cands, _ = session_candidates(clip, coder="ann")
    assert len(cands) >= 2, "the simulated session has EMG bursts"
    burst, other_burst = cands[0], cands[-1]
    ws2.resize(1400, 900)
    ws.close()  # keys go to the active window's shortcuts
    ws2.show()
    with qtbot.waitActive(ws2):
        ws2.activateWindow()
    ws2.setFocus()
    ws2.seek(burst.onset)
    qtbot.keyClick(ws2, Qt.Key_I)
    ws2.seek(burst.offset)
    qtbot.keyClick(ws2, Qt.Key_O)  # the coder's own event over that burst
    mine = ws2.selected()
    assert mine is not None, (ws2.status.text(), ws2.info.text(), [(e.onset, e.offset) for e in ws2.coding.sorted()])
    assert (mine.onset, mine.offset, mine.source) == (burst.onset, burst.offset, "manual")
    assert ws2.add_emg_candidates() == len(cands) - 1
    assert "1 coincide with events you coded" in ws2.status.text()
    assert not [e for e in ws2.coding.events.values() if e.source == "emg" and e.onset == burst.onset]
    row = [e.uid for e in ws2.coding.sorted()].index(mine.uid)
    assert ws2.table.item(row, COLUMNS.index("matches")).text() == f"emg {burst.onset}-{burst.offset}"
    cand = next(e for e in ws2.coding.events.values() if e.source == "emg" and e.onset == other_burst.onset)
    assert cand.status == "candidate"

    def stored():
        with AnnotationStore(db) as other:
            return {(e.onset, e.offset): (e.status, e.source) for e in other.events(clip.session_id, "ann")}

    ws2.table.selectRow([e.uid for e in ws2.coding.sorted()].index(cand.uid))
    qtbot.keyClick(ws2, Qt.Key_A)
    assert stored()[(cand.onset, cand.offset)] == ("accepted", "emg")
    assert f"{cand.onset}-{cand.offset}: accepted" in ws2.status.text()
    qtbot.keyClick(ws2, Qt.Key_R)
    assert stored()[(cand.onset, cand.offset)] == ("rejected", "emg")
    assert stored()[(burst.onset, burst.offset)] == ("accepted", "manual")
    assert len(stored()) == 1 + len(cands) - 1 + 1  # (11-16), the coder's event, the candidates
    ws2.zoom.setCurrentIndex(2)
    ws2.seek(cand.apex)
    qtbot.wait(50)
    save_screenshot(ws2, "annotate-candidates", tmp_path)
    for w in (ws, ws2, ws3):
        w.close_session()
        w.store.close()


def test_a_long_session_not_yet_read_opens_after_its_streams_are_read_in_a_worker(qtbot, tmp_path, monkeypatch):
    """A session whose XDF was never read (recorded before the stream cache, or copied without it)
    and is larger than READ_AHEAD_BYTES is read in a worker thread, with a status line, and then
    opens; a second opening is at once (its streams are kept)."""
    from acquisition.session_read.names import XDF_NAME
    from acquisition.session_read.stream_cache import is_kept
    from tests.helpers_session import make_session

    folder = make_session(tmp_path / "long")
    monkeypatch.setattr(AnnotateWorkspace, "READ_AHEAD_BYTES", 1)  # this small XDF counts as long
    ws = AnnotateWorkspace(f"sqlite:///{tmp_path}/a.sqlite", coder="ann", journal_dir=tmp_path)
    qtbot.addWidget(ws)
    assert not is_kept(folder / XDF_NAME, folder)
    ws.open_session(folder)
    assert ws.clip is None and ws.reading is not None
    assert "streams once" in ws.top.status.text()
    qtbot.waitUntil(lambda: ws.clip is not None, timeout=30_000)
    assert ws.reading is None and is_kept(folder / XDF_NAME, folder)
    assert "EMG6 (unit not in the file)" in ws.track_set.labels()
    ws.open_session(folder)  # kept now: opens at once
    assert ws.clip is not None and ws.reading is None
