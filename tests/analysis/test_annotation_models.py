"""The Qt-free models the Annotate and Sessions workspaces are views of, driven without a display
(no qtbot): the tracks of a session (which streams, their data on the coding time axis, units, the
window that follows the playhead), candidate import with its baseline, the info line and event
bands, typed text kept through the journal, the reconcile choices, and the Sessions list (rows,
filters, selection, cells). Sessions are small folders written byte by byte (tests/helpers_session.py)."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.errors import MexlabError
from analysis.annotation.candidate_import import Baseline, add_emg_candidates, add_spotting_candidates
from analysis.annotation.clip import open_clip
from analysis.annotation.consensus import ReconcileChoices
from analysis.annotation.journal import Journal, TypedText
from analysis.annotation.model import Coding, Event
from analysis.annotation.track_set import TrackWindow, load_tracks
from analysis.annotation.workspace_model import AnnotateModel, frame_of
from app.services.state import SessionsState, session_cells
from tests.helpers_session import make_session

SPOT = [{"onset": 30, "apex": 35, "offset": 40, "type": "micro", "score": 0.8, "aus": ["AU12"]}]


@pytest.fixture
def session(tmp_path):
    return make_session(tmp_path / "s1", spotting=SPOT)


def model(clip, events=()) -> AnnotateModel:
    return AnnotateModel(Coding("ann", clip.fps, list(events)), clip.n_frames)


# ------------------------------------------------------------------ tracks
def test_tracks_of_a_session_streams_units_times_and_notes(session):
    clip = open_clip(session)
    ts = load_tracks(clip)
    assert ts.labels() == ["spotted", "EMG3 (unit not in the file)", "EMG6 (unit not in the file)", "markers"]
    assert ts.notes == ["AU traces: no cached spotting features (run Spot in Analyze first)"]
    assert ts.fps == clip.fps == 30.0
    emg = ts.get("EMG6 (unit not in the file)")
    assert emg.kind == "series" and emg.stream == "sim-EMG" and emg.unit is None
    # on the coding axis: s from the first video frame (the EMG starts 0.5 s before it)
    t = emg.seconds()
    assert t[0] == pytest.approx(-0.5) and emg.values.shape == t.shape
    burst = (t >= 40 / 30) & (t <= 50 / 30)
    assert np.abs(emg.values[burst]).max() > 10 * np.abs(emg.values[t < 1.0]).std()
    ((t0, t1, typ, text),) = ts.get("spotted").spans
    assert (t0, t1, typ, text) == (
        pytest.approx(clip.time_of(30)),
        pytest.approx(clip.time_of(41)),
        "micro",
        "micro AU12",
    )
    assert [(round(t, 3), ev) for t, ev in ts.get("markers").markers] == [
        (0.2, "protocol_start"),
        (1.0, "stimulus_onset"),
        (2.5, "stimulus_offset"),
    ]


def test_no_spotting_and_no_emg_are_notes(tmp_path):
    clip = open_clip(make_session(tmp_path / "bare", emg=False))
    ts = load_tracks(clip)
    assert ts.labels() == ["markers"]
    assert any("no analysis/spotting.json" in n for n in ts.notes)


def test_the_window_follows_the_playhead_keeping_the_zoom():
    w = TrackWindow(6.0)
    assert w.show(10.0) == (pytest.approx(9.4), pytest.approx(15.4))
    assert w.follow(12.0) is None  # inside the middle 80 %: nothing moves
    assert w.follow(15.0) == (pytest.approx(12.0), pytest.approx(18.0))
    assert w.follow(30.0, view=(20.0, 22.0)) == (29.0, 31.0)  # the user zoomed to 2 s: kept
    w.following = False
    assert w.follow(100.0) is None


# ------------------------------------------------------------------ candidates
def test_baseline_segments():
    ft = 1000.0 + np.arange(90) / 30.0
    assert Baseline("first seconds", 2).segment(ft) == (1000.0, 1002.0)
    assert Baseline("none").segment(ft) is None
    assert Baseline("first seconds").segment(np.zeros(0)) is None
    with pytest.raises(MexlabError, match="select the quiet stretch"):
        Baseline("selected event").segment(ft, None)
    assert Baseline("selected event").segment(ft, Event(onset=3, offset=500)) == (ft[3], ft[-1])
    with pytest.raises(ValueError):
        Baseline("whatever")


def test_emg_and_spotting_candidates_added_once_and_matches_said(session):
    clip = open_clip(session)
    m = model(clip)
    m.seek(38)
    m.mark("onset")
    m.seek(52)
    m.mark("offset")  # the coder's own event over the zygomaticus burst
    own = m.selected()
    assert add_emg_candidates(m, clip, Baseline("first seconds", 1.0)) == 1
    assert "1 new of 2 burst(s) on 2 channel(s); 1 coincide with events you coded" in m.message
    assert m.match_text(own.uid).startswith("emg ") and m.last_matched == 1
    assert add_emg_candidates(m, clip, Baseline("first seconds", 1.0)) == 0  # nothing twice
    assert add_spotting_candidates(m, clip) == 1 and not m.error  # 30-40 vs 38-52: IoU 0.13, its own
    assert m.message == "spotting candidates: 1 new of 1 interval(s)"
    spot = [e for e in m.coding.events.values() if e.source == "spotting"]
    assert [(e.onset, e.apex, e.offset, e.status, e.coder) for e in spot] == [(30, 35, 40, "candidate", "ann")]
    assert add_spotting_candidates(m, clip) == 0  # nothing twice


def test_candidates_refused_with_a_reason(tmp_path):
    clip = open_clip(make_session(tmp_path / "noemg", emg=False))
    m = model(clip)
    assert add_emg_candidates(m, clip, Baseline()) == 0
    assert m.error and "no EMG stream" in m.message
    assert add_spotting_candidates(m, clip) == 0
    assert m.error and "run Spot in Analyze first" in m.message
    assert add_emg_candidates(m, clip, Baseline("selected event")) == 0 and "select the quiet stretch" in m.message
    assert m.coding.events == {}


# ------------------------------------------------------------------ info line, bands, go to
def test_info_line_event_bands_and_go_to():
    m = AnnotateModel(Coding("ann", 30.0, []), 300)
    m.seek(10)
    m.mark("onset")
    assert (
        m.info_line(10 / 30, 299) == "frame 10 / 299   t =    0.333 s   new event: onset 10 "
        "(press O offset to store it)"
    )
    m.seek(20)
    m.mark("offset")
    m.seek(15)
    assert m.info_line(0.5, 299).endswith("I/P/O edit event #1 (10-20)")
    m.seek(25)
    assert m.info_line(25 / 30, 299).endswith(" s")
    spans, sel = m.event_spans(lambda f: f / 30.0)
    assert spans == [(10 / 30, 21 / 30, "accepted", "#1")] and sel == 0
    m.cancel()
    assert m.event_spans(lambda f: f / 30.0)[1] is None
    assert frame_of(" 123 ", lambda t: 0) == 123 and frame_of("4.5s", lambda t: int(t * 30)) == 135
    with pytest.raises(ValueError):
        frame_of("soon", lambda t: 0)


# ------------------------------------------------------------------ typed text
def test_typed_notes_saved_to_the_event_they_were_typed_for(tmp_path):
    saved = []
    coding = Coding(
        "ann",
        30.0,
        [Event(onset=1, offset=5, coder="ann"), Event(onset=9, offset=12, coder="ann")],
        on_change=lambda before, after: saved.append(after) or after,
    )
    a, b = coding.sorted()
    j = Journal(tmp_path / "j.jsonl")
    tt = TypedText(j, coding)
    assert tt.typed(a.uid, "notes", "lip") is True and tt.typed(a.uid, "aus", "4") is False
    assert j.pending() == {(a.uid, "notes"): "lip", (a.uid, "aus"): "4"}
    # another event is selected by the time the save runs: the journal's text goes to the first
    assert tt.save_notes((b.uid, "")) is True
    assert coding.events[a.uid].notes == "lip" and coding.events[b.uid].notes == ""
    assert (a.uid, "notes") not in j.pending() and saved
    assert tt.save_notes() is False  # nothing waiting
    assert tt.aus_saved(a.uid, "AU4") is False  # typed, not applied yet: stays journaled
    coding.update(a.uid, aus="4")
    assert tt.aus_saved(a.uid, "AU4") is True and j.pending() == {}
    tt.typed(b.uid, "aus", "AU")
    assert tt.aus_saved(b.uid, "AU") is False and (b.uid, "aus") in j.pending()  # not AUs yet
    j.close()


# ------------------------------------------------------------------ reconcile
def test_reconcile_choices():
    a = [
        Event(onset=48, offset=62, apex=55, aus="R12C", coder="ann"),
        Event(onset=100, offset=105, aus="9", coder="ann"),
    ]
    b = [
        Event(onset=50, offset=64, apex=56, aus="12+6", coder="bob"),
        Event(onset=210, offset=220, aus="15", coder="bob"),
    ]
    rc = ReconcileChoices(a, b, "ann", "bob")
    assert rc.summary() == "1 pair(s) at IoU ≥ 0.5 · 1 only ann · 1 only bob"
    assert rc.choices == ["union"] and rc.keep_a == [True] and rc.keep_b == [True]
    assert [(e.onset, e.aus) for e in rc.result()] == [(49, "6+R12C"), (100, "9"), (210, "15")]
    rc.choose(0, "b")
    rc.keep("b", 0, False)
    assert [(e.onset, e.apex, e.offset, e.aus) for e in rc.result()] == [(50, 56, 64, "12+6"), (100, None, 105, "9")]
    with pytest.raises(MexlabError, match="unknown choice"):
        rc.choose(0, "both")


# ------------------------------------------------------------------ the Sessions list
ROWS = [
    {
        "session_id": "s1",
        "participant": "P01",
        "protocol": "demo",
        "status": "complete",
        "folder": "/d/s1",
        "streams": ["sim-EMG", "mexlab-markers", "mexlab-rgb-frames"],
        "health": {"verdict": "ok"},
        "started_at": "2026-01-02T10:00:00",
        "duration_s": 75.5,
        "disk_bytes": 2_500_000,
    },
    {
        "session_id": "s2",
        "participant": "P02",
        "protocol": "demo",
        "status": "complete",
        "folder": "/d/s2",
        "streams": ["sim-ECG"],
        "health": {"verdict": "bad", "reasons": ["158 RGB frames dropped (9 %)"]},
        "dropped_frames": 158,
    },
    {
        "session_id": "s3",
        "participant": "P01",
        "protocol": "passive",
        "status": "aborted",
        "folder": "/d/s3",
        "status_detail": "aborted at step 7 of 24, by the operator",
    },
]


def test_sessions_filters_search_and_summary():
    st = SessionsState()
    changed = []
    st.events.search.connect(changed.append)
    st.set_rows(ROWS)
    assert [r["session_id"] for r in st.visible()] == ["s1", "s2", "s3"]
    assert st.participants() == [("P01", 2), ("P02", 1)]
    assert st.summary() == "3 session(s), 1 aborted, 1 bad"
    st.search = "ECG"  # stream names are searched
    assert [r["session_id"] for r in st.visible()] == ["s2"] and changed == ["ECG"]
    st.search = ""
    st.status_filter = "health:bad"
    assert [r["session_id"] for r in st.visible()] == ["s2"]
    st.status_filter = "aborted"
    assert [r["session_id"] for r in st.visible()] == ["s3"]
    st.status_filter = None
    st.participant = "P01"
    assert [r["session_id"] for r in st.visible()] == ["s1", "s3"]
    st.set_rows(ROWS[1:2])  # P01 gone from the catalog: the filter goes
    assert st.participant is None and [r["session_id"] for r in st.visible()] == ["s2"]


def test_sessions_selection_survives_a_refresh_while_the_session_is_there():
    st = SessionsState(rows=list(ROWS))
    assert st.select("s2") and st.selected_row()["participant"] == "P02"
    assert not st.select("nope") and st.selected == "s2"
    st.set_rows(list(reversed(ROWS)))
    assert st.selected == "s2"
    st.set_rows(ROWS[:1])
    assert st.selected is None and st.selected_row() is None
    with pytest.raises(TypeError, match="unknown fields: message"):
        SessionsState(message="")  # the unused fields are gone


def test_session_cells_text_colour_and_tooltips():
    ok, bad, aborted = (session_cells(r) for r in ROWS)
    cols = ("started", "participant", "protocol", "status", "health", "duration", "streams", "drops", "size", "folder")
    cell = {c: v for c, v in zip(cols, ok)}
    assert cell["started"][0] == "2026-01-02 10:00:00" and cell["duration"][0] == "1:15.5"
    assert cell["streams"][0] == "sim-EMG" and cell["size"][0] == "2.5 MB" and cell["status"][1] == "#2a7"
    assert cell["health"][2] == "no problems found"
    cell = {c: v for c, v in zip(cols, bad)}
    assert cell["status"][:2] == ("complete", "#d33")  # complete, but the check says bad: red, not green
    assert cell["drops"] == ("158", "#d33", None) and cell["health"][2] == "158 RGB frames dropped (9 %)"
    cell = {c: v for c, v in zip(cols, aborted)}
    assert cell["status"] == ("aborted (at step 7 of 24)", "#d90", "aborted at step 7 of 24, by the operator")
    assert cell["health"][0] == "-" and "not checked" in cell["health"][2] and cell["participant"][0] == "P01"
