"""Which event a coding key changes (issue 10, "Coding must never change silently"): I/P/O pressed
in time order fill one new event; a key edits another event only when it is selected and the frame
lies inside it, and then the message says so. Driven through the Qt-free AnnotateModel and, for the
sequence the lab met, through the real widget and its keys (pytest-qt)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import Qt

from analysis.annotation.model import Coding, Event
from analysis.annotation.workspace_model import AnnotateModel, Playback, PlayClock, track_label, unit_symbol


def model(events=(), n=1000) -> AnnotateModel:
    return AnnotateModel(Coding("ann", 30.0, events), n)


def code(m: AnnotateModel, *keys: tuple[str, int]) -> None:
    for which, frame in keys:
        m.seek(frame)
        m.mark(which)


def rows(m: AnnotateModel):
    return [(e.onset, e.apex, e.offset) for e in m.coding.sorted()]


def test_the_lab_sequence_fills_one_new_event_each_time():
    m = model()
    code(m, ("onset", 387), ("apex", 391), ("offset", 395))
    assert rows(m) == [(387, 391, 395)]
    assert "event #1 stored: 387-395, apex 391" in m.message
    code(m, ("onset", 706), ("apex", 710), ("offset", 717))
    assert rows(m) == [(387, 391, 395), (706, 710, 717)]  # the first event untouched


def test_keys_out_of_order_and_offset_before_onset():
    m = model()
    code(m, ("apex", 50), ("offset", 60), ("onset", 40))  # P, O, I
    assert rows(m) == [(40, 50, 60)]
    code(m, ("offset", 120), ("onset", 100))  # O before I
    assert rows(m) == [(40, 50, 60), (100, None, 120)]
    code(m, ("onset", 220), ("offset", 200))  # offset at an earlier frame: the two swap
    assert rows(m)[-1] == (200, None, 220)
    code(m, ("onset", 300), ("apex", 330), ("offset", 310))  # apex beyond the offset: not kept, said
    assert rows(m)[-1] == (300, None, 310)
    assert m.error and "apex 330 is outside 300-310 and was not kept" in m.message


def test_a_key_edits_the_selected_event_only_inside_it_and_says_so():
    m = model()
    code(m, ("onset", 10), ("offset", 20))
    first = m.selected()
    assert first is not None and (first.onset, first.offset) == (10, 20)
    code(m, ("apex", 14))  # inside the selected event: edit it
    assert rows(m) == [(10, 14, 20)] and "event #1 (selected): apex - -> 14" in m.message
    code(m, ("onset", 12))
    assert rows(m) == [(12, 14, 20)] and "onset 10 -> 12" in m.message
    code(m, ("onset", 16))  # onset after the apex: apex cleared, said
    assert rows(m) == [(16, None, 20)] and "apex 14 now before the onset: cleared" in m.message
    code(m, ("apex", 30))  # outside: a new event, selection cleared
    assert m.selected() is None and m.pending is not None and rows(m) == [(16, None, 20)]
    code(m, ("onset", 25), ("offset", 35))
    assert rows(m) == [(16, None, 20), (25, 30, 35)]
    # accept / reject / delete act on the selection only
    m.select(None)
    assert m.set_status("rejected") is None and m.error and "select an event" in m.message
    m.select(m.coding.sorted()[0].uid)
    assert m.set_status("rejected").status == "rejected"


def test_undo_takes_back_pending_marks_first_and_escape_drops_the_event():
    m = model()
    code(m, ("onset", 10), ("apex", 12), ("offset", 15))
    code(m, ("onset", 40), ("apex", 44))
    assert m.undo() and m.pending.apex is None and m.pending.onset == 40 and "apex mark at 44" in m.message
    assert rows(m) == [(10, 12, 15)]  # the stored event is not what was undone
    assert m.undo() and m.pending is None and rows(m) == [(10, 12, 15)]
    assert m.undo() and rows(m) == []  # now the stored event goes
    assert m.redo() and rows(m) == [(10, 12, 15)]
    code(m, ("onset", 60))
    assert not m.redo() and m.error  # no redo into a half-coded event
    m.cancel()
    assert m.pending is None and "discarded" in m.message
    code(m, ("offset", 70))
    assert m.pending is not None and m.pending.offset == 70 and rows(m) == [(10, 12, 15)]


def test_candidates_coinciding_with_the_coders_events_are_shown_not_duplicated():
    m = model([Event(onset=100, offset=120, apex=110, coder="ann")])
    own = m.coding.sorted()[0]
    cands = [
        Event(onset=102, offset=121, apex=111, status="candidate", source="emg", aus="12"),
        Event(onset=300, offset=312, apex=305, status="candidate", source="emg", aus="4"),
        Event(onset=95, offset=118, apex=104, status="candidate", source="spotting"),
    ]
    assert m.add_candidates(cands) == (1, 2)
    assert [(e.onset, e.offset, e.status) for e in m.coding.sorted()] == [
        (100, 120, "accepted"),
        (300, 312, "candidate"),
    ]
    assert m.match_text(own.uid) == "emg 102-121, spotting 95-118"
    assert m.add_candidates(cands) == (0, 0)  # twice: nothing new, nothing listed twice
    # a candidate is accepted or rejected like any event, and then others coincide with it
    cand = next(e for e in m.coding.events.values() if e.status == "candidate")
    m.select(cand.uid)
    assert m.set_status("accepted").status == "accepted"
    assert m.add_candidates([Event(onset=301, offset=313, status="candidate", source="spotting")]) == (0, 1)
    assert m.match_text(cand.uid) == "spotting 301-313"


def test_play_clock_is_the_wall_clock_and_units():
    c = PlayClock(30.0, 1.0, 100, now=10.0)
    assert c.frame(10.0) == 100 and c.frame(11.0) == 130 and c.frame(12.5) == 175
    assert PlayClock(30.0, 0.25, 0, now=0.0).frame(4.0) == 30
    p = Playback(30.0, 1.0, 100, 200, loop=(100, 130), now=0.0)
    assert p.due(100, now=0.01) is None  # still frame 100
    assert p.due(100, now=0.5) == 115 and p.stats == {"shown": 1, "skipped": 14}
    assert p.due(115, now=1.1) == 100  # past the loop's offset: back to its onset
    end = Playback(30.0, 2.0, 190, 200, now=0.0)
    assert end.due(190, now=1.0) == -1  # the end of the video
    assert unit_symbol("microvolts") == "µV" and unit_symbol("millivolts") == "mV"
    assert unit_symbol("microsiemens") == "µS" and unit_symbol(None) is None
    assert track_label("EDA", "microsiemens") == "EDA (µS)"
    assert track_label("EMG1", None) == "EMG1 (unit not in the file)"


# ------------------------------------------------------------------------------- the widget
@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """A real FFV1 video of 760 frames (the lab's frames 387..717 need more than the 8-s sessions)."""
    path = tmp_path_factory.mktemp("keys") / "clip.mkv"
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(760):
            img = np.full((48, 64, 3), i % 256, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def goto(qtbot, ws, frame: int) -> None:
    qtbot.keyClick(ws, Qt.Key_G, Qt.ControlModifier)
    assert ws.goto.hasFocus()
    ws.goto.clear()
    qtbot.keyClicks(ws.goto, str(frame))
    qtbot.keyClick(ws.goto, Qt.Key_Return)
    assert ws.frame == frame and ws.hasFocus()


def test_the_lab_sequence_through_the_widget(qtbot, long_video, tmp_path):
    from analysis.annotation.store import AnnotationStore
    from app.gui.workspaces.annotate import AnnotateWorkspace

    db = f"sqlite:///{tmp_path / 'k.sqlite'}"
    ws = AnnotateWorkspace(db, coder="ann", journal_dir=tmp_path / "j")
    qtbot.addWidget(ws)
    ws.resize(1300, 850)
    ws.show()
    ws.open_session(long_video)
    with qtbot.waitActive(ws):
        ws.activateWindow()
    ws.setFocus()
    for onset, apex, offset in ((387, 391, 395), (706, 710, 717)):
        goto(qtbot, ws, onset)
        qtbot.keyClick(ws, Qt.Key_I)
        assert f"new event: onset {onset}" in ws.info.text()
        goto(qtbot, ws, apex)
        qtbot.keyClick(ws, Qt.Key_P)
        assert f"new event: onset {onset}, apex {apex}" in ws.info.text()
        goto(qtbot, ws, offset)
        qtbot.keyClick(ws, Qt.Key_O)
    assert [(e.onset, e.apex, e.offset) for e in ws.coding.sorted()] == [(387, 391, 395), (706, 710, 717)]
    assert "event #2 stored: 706-717, apex 710" in ws.status.text()
    with AnnotationStore(db) as st:  # saved as coded
        assert [(e.onset, e.apex, e.offset) for e in st.events(ws.clip.session_id, "ann")] == [
            (387, 391, 395),
            (706, 710, 717),
        ]
    # the table shows the selection the keys will edit; inside it, P edits it, visibly
    assert [ws.table.item(r, 0).text() for r in range(2)] == ["1", "2"]
    assert ws.selected().onset == 706 and ws.table.selectionModel().selectedRows()[0].row() == 1
    assert ws.tracks.selected_span == (ws.clip.time_of(706), ws.clip.time_of(718))  # outlined on the tracks
    goto(qtbot, ws, 712)
    assert "I/P/O edit event #2 (706-717)" in ws.info.text()
    qtbot.keyClick(ws, Qt.Key_P)
    assert ws.coding.sorted()[1].apex == 712 and "event #2 (selected): apex 710 -> 712" in ws.status.text()
    qtbot.keyClick(ws, Qt.Key_Z, Qt.ControlModifier)
    assert ws.coding.sorted()[1].apex == 710
    # Escape clears the selection: then a key inside event #2 starts a new event, #2 is untouched
    qtbot.keyClick(ws, Qt.Key_Escape)
    assert ws.selected() is None and not ws.table.selectionModel().selectedRows()
    assert ws.tracks.selected_span is None
    qtbot.keyClick(ws, Qt.Key_I)
    assert ws.pending_onset == 712 and ws.coding.sorted()[1].onset == 706
    qtbot.keyClick(ws, Qt.Key_Escape)
    assert ws.pending_onset is None and len(ws.coding.events) == 2
    # a half-coded event is never dropped silently: changing the coder says so
    qtbot.keyClick(ws, Qt.Key_I)
    ws.table.selectRow(0)  # a row picked meanwhile: the keys still fill the new event
    assert "I, P and O go to it" in ws.status.text() and ws.selected().onset == 387
    ws.table.clearSelection()
    qtbot.keyClick(ws, Qt.Key_Delete)  # nothing selected: said, nothing deleted
    assert len(ws.coding.events) == 2 and "Escape drops the event being coded" in ws.status.text()
    ws.coder_edit.setText("bob")
    ws.coder_edit.editingFinished.emit()
    assert ws.coding.events == {} and ws.pending_onset is None
    assert "not stored: the new event: onset 712 was being coded" in ws.status.text()
    ws.close_session()
    ws.store.close()


def test_the_last_track_is_reachable_and_the_axis_follows(qtbot):
    """Fourteen tracks in the scroll area: scrolled to the end, the last one is in view entirely; the
    time axis under them shows the tracks' window."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from app.gui.widgets.annotate_tracks import TimeAxis, Tracks, TrackScroll

    box = QWidget()
    qtbot.addWidget(box)
    tracks = Tracks()
    axis = TimeAxis(tracks)
    scroll = TrackScroll(tracks)
    lay = QVBoxLayout(box)
    lay.addWidget(scroll)
    lay.addWidget(axis)
    t = np.arange(0, 10, 0.01)
    for k in range(13):
        tracks.add_series(f"EMG{k} (µV)", t, np.sin(t * (k + 1)))
    tracks.add_markers([(1.0, "stimulus_onset")])
    axis.set_fps(30.0)
    tracks.show_window(2.0)
    box.resize(900, 420)
    box.show()
    qtbot.wait(100)
    sb = scroll.verticalScrollBar()
    sb.setValue(sb.maximum())
    qtbot.wait(50)
    last = tracks._plots[-1]
    top = tracks.mapTo(scroll.viewport(), QPoint(0, int(tracks.mapFromScene(last.sceneBoundingRect().topLeft()).y())))
    bottom = tracks.mapTo(
        scroll.viewport(), QPoint(0, int(tracks.mapFromScene(last.sceneBoundingRect().bottomLeft()).y()))
    )
    assert 0 <= top.y() < bottom.y() <= scroll.viewport().height()
    x0, x1 = tracks._plots[0].viewRange()[0]
    assert np.allclose(axis.seconds.range, (x0, x1)) and axis.frames.scale == 30.0
    # lined up with the plot area: the axis starts where the plots' view starts
    vb_left = tracks._plots[0].vb.mapToScene(tracks._plots[0].vb.rect().topLeft()).x()
    ax_left = axis.seconds.mapToScene(axis.seconds.boundingRect().topLeft()).x()
    g_vb = tracks.mapToGlobal(tracks.mapFromScene(vb_left, 0)).x()
    g_ax = axis.mapToGlobal(axis.mapFromScene(ax_left, 0)).x()
    assert abs(g_vb - g_ax) <= 3, (g_vb, g_ax)


def test_space_plays_on_the_wall_clock(qtbot, long_video, tmp_path):
    """Space plays: the frame shown follows the wall clock (never ahead of it), Space stops."""
    import time

    from app.gui.workspaces.annotate import AnnotateWorkspace

    ws = AnnotateWorkspace(f"sqlite:///{tmp_path / 'p.sqlite'}", coder="ann", journal_dir=tmp_path / "j")
    qtbot.addWidget(ws)
    ws.show()
    ws.open_session(long_video)
    t0 = time.perf_counter()
    qtbot.keyClick(ws, Qt.Key_Space)
    qtbot.waitUntil(lambda: ws.frame >= 6, timeout=20000)
    qtbot.keyClick(ws, Qt.Key_Space)
    elapsed = time.perf_counter() - t0
    assert not ws._timer.isActive() and not ws.play_btn.isChecked()
    assert 6 <= ws.frame <= elapsed * ws.clip.fps + 1
    assert ws.playback.stats["shown"] >= 1
    stopped = ws.frame
    qtbot.wait(200)
    assert ws.frame == stopped
    ws.close_session()
    ws.store.close()
