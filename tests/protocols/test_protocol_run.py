"""Each built-in paradigm, run headless and quick through the real recorder, read back from the XDF."""

from __future__ import annotations

import csv
import json
import os
import signal
import tempfile
import threading
from pathlib import Path

import pytest
import pyxdf

from app.cli import main
from protocols.engine import EVENTS
from protocols.runlog import read_log

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder]

PAIRS = {
    "protocol_start": "protocol_end",
    "block_start": "block_end",
    "trial_start": "trial_end",
    "stimulus_onset": "stimulus_offset",
}
SMALL = ["--rgb", "424x240@30", "--depth", "424x240@30"]


@pytest.fixture(autouse=True)
def demo_stimuli(monkeypatch):
    """One generated demo folder for all test runs (made once, kept in the temp folder)."""
    monkeypatch.setenv("MEXLAB_DEMO_STIMULI", str(Path(tempfile.gettempdir()) / "mexlab-test-demo-stimuli"))


def run_protocol(name: str, out: Path, participant: str, *extra) -> int:
    return main(
        [
            "run-protocol",
            name,
            "--participant",
            participant,
            "--out",
            str(out),
            "--simulate",
            "--headless",
            "--quick",
            *SMALL,
            *extra,
        ]
    )


def read_markers(folder: Path):
    streams, _ = pyxdf.load_xdf(str(folder / "recording.xdf"), synchronize_clocks=False, dejitter_timestamps=False)
    by = {s["info"]["name"][0]: s for s in streams}
    m = by["mexlab-markers"]
    markers = [(float(t), json.loads(v[0])) for t, v in zip(m["time_stamps"], m["time_series"])]
    frames = by["mexlab-rgb-frames"]["time_stamps"]
    return markers, float(frames[0]), float(frames[-1])


def check_structure(markers, first_frame: float, last_frame: float) -> list:
    """The invariants every run must satisfy; returns the protocol's markers."""
    proto = [(t, m) for t, m in markers if m["event"] in EVENTS]
    assert proto[0][1]["event"] == "protocol_start" and proto[-1][1]["event"] == "protocol_end"
    assert sum(m["event"] == "protocol_start" for _, m in proto) == 1
    names = [m["event"] for _, m in markers]
    assert names.index("recording_start") < names.index("protocol_start")
    assert names.index("protocol_end") < names.index("recording_stop")
    times = [t for t, _ in proto]
    assert all(b >= a for a, b in zip(times, times[1:])), "marker timestamps go back in time"
    assert first_frame < times[0] and times[-1] < last_frame, "markers outside the recorded video"
    stack = []  # starts and ends nest like brackets
    for _, m in proto:
        ev = m["event"]
        assert {"protocol", "event", "block", "trial"} <= set(m)
        if ev in PAIRS:
            stack.append((ev, m.get("block_n"), m.get("trial"), m.get("seq") if ev == "stimulus_onset" else None))
        elif ev in PAIRS.values():
            start, bn, tr, seq = stack.pop()
            assert PAIRS[start] == ev, f"{ev} closes {start}"
            if ev != "protocol_end":
                assert m.get("block_n") == bn
            if ev in ("trial_end", "stimulus_offset"):
                assert m.get("trial") == tr
            if ev == "stimulus_offset":
                assert m.get("seq") == seq
    assert not stack
    for _, m in proto:
        if m["event"] == "stimulus_onset" and m["step"] == "stimulus":
            assert m["stimulus"]
        if m["event"] == "stimulus_onset" and m["step"] == "question":
            assert m["question"] and m["question_kind"]
    return proto


def check_session_files(out: Path, proto, status: str = "complete") -> dict:
    """The session's files agree with the XDF; session.json and the catalog say ``status``."""
    log = read_log(out)
    logged = [(r["lsl"], r["event"]) for r in log if r["record"] == "marker"]
    assert logged == [(t, m["event"]) for t, m in proto]  # the run log and the XDF agree to the last bit
    meta = json.loads((out / "session.json").read_text())
    assert meta["status"] == status and meta["protocol"] == proto[0][1]["protocol"]
    assert meta["files"]["responses"] == "responses.csv"
    from acquisition.catalog import Catalog

    with Catalog() as cat:
        row = cat.get_session(meta["session_id"])
    roles = {f["role"] for f in row["files"]}
    assert {"responses", "protocol_log", "xdf"} <= roles
    assert row["status"] == status
    return meta


def video_onsets_match_frames(out: Path, proto) -> None:
    rows = list(csv.DictReader(open(out / "stimulus_frames.csv")))
    assert rows
    onsets = {m["seq"]: t for t, m in proto if m["event"] == "stimulus_onset" and m["step"] == "stimulus"}
    for seq, t in onsets.items():
        first = next(r for r in rows if int(r["step_seq"]) == seq and r["frame"] == "0")
        assert abs(float(first["flip_lsl"]) - t) < 1e-6  # the onset marker is the flip of frame 0
    flips = [float(r["flip_lsl"]) for r in rows]
    assert all(b > a for a, b in zip(flips, flips[1:]))


def test_passive_suppression(tmp_path):
    out = tmp_path / "s"
    assert run_protocol("passive-suppression", out, "P003") == 0
    markers, f0, f1 = read_markers(out)
    proto = check_structure(markers, f0, f1)
    check_session_files(out, proto)
    video_onsets_match_frames(out, proto)
    onsets = [m for _, m in proto if m["event"] == "stimulus_onset"]
    assert [m["step"] for m in onsets] == [
        "instructions",
        "instructions",
        "rest",
        "fixation",
        "stimulus",
        "self_report",
        "rest",
        "instructions",
    ]
    resp = [m for _, m in proto if m["event"] == "response" and m["step"] == "self_report"]
    assert len(resp) == 1 and 1 <= resp[0]["intensity"] <= 9 and resp[0]["simulated"] is True
    rows = list(csv.DictReader(open(out / "responses.csv")))
    assert len(rows) == 1 and rows[0]["stimulus"] == onsets[4]["stimulus"]
    assert rows[0]["valence"] == str(resp[0]["valence"]) and rows[0]["simulated"] == "1"
    # quick: the clip was cut at 2 s
    on = next(t for t, m in proto if m["event"] == "stimulus_onset" and m["step"] == "stimulus")
    off = next(t for t, m in proto if m["event"] == "stimulus_offset" and m["step"] == "stimulus")
    assert 2.0 <= off - on < 2.4  # (the margin is for a busy machine; the whole clip is 8 s)


def test_active_deception_conditions_marked(tmp_path):
    out = tmp_path / "s"
    assert run_protocol("active-deception", out, "P002") == 0  # P002 -> group B
    markers, f0, f1 = read_markers(out)
    proto = check_structure(markers, f0, f1)
    check_session_files(out, proto)
    video_onsets_match_frames(out, proto)
    trial_markers = [m for _, m in proto if m.get("trial") is not None]
    assert trial_markers and all(m["condition"] in ("truthful", "deceptive") for m in trial_markers)
    assert all(m["group"] == "B" for _, m in proto)
    questions = [m for _, m in proto if m["event"] == "stimulus_onset" and m["step"] == "question"]
    assert len(questions) == 2 and all(q["question_kind"] == q["condition"] for q in questions)
    answers = [m for _, m in proto if m["event"] == "response" and m.get("kind") == "answer_end"]
    assert len(answers) == 2


def test_mock_crime_interview_and_abort(tmp_path):
    """The experimenter drives the questions; a Ctrl+C mid-run still leaves a closed, marked session."""
    out = tmp_path / "s"
    assert run_protocol("mock-crime-interview", out, "P001") == 0  # P001 -> guilty
    markers, f0, f1 = read_markers(out)
    proto = check_structure(markers, f0, f1)
    check_session_files(out, proto)
    assert proto[0][1]["group"] == "guilty"
    kinds = [m["question_kind"] for _, m in proto if m["event"] == "stimulus_onset" and m["step"] == "question"]
    assert kinds == ["baseline"]
    acts = [m for _, m in proto if m["event"] == "stimulus_onset" and m["step"] == "act"]
    assert acts and acts[0]["step_id"] == "mission"

    out2 = tmp_path / "aborted"
    stop = threading.Event()

    def ctrl_c_during_the_act():  # as soon as the participant is sent off on the mission
        log = out2 / "protocol_log.jsonl"
        while not stop.wait(0.02):
            if log.exists() and '"step_id": "mission"' in log.read_text():
                os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=ctrl_c_during_the_act, daemon=True)
    watcher.start()
    try:
        rc = run_protocol("mock-crime-interview", out2, "P002")
    finally:
        stop.set()
        watcher.join()
    assert rc == 1
    markers, f0, f1 = read_markers(out2)
    proto = check_structure(markers, f0, f1)  # still bracketed and balanced
    events = [m["event"] for _, m in proto]
    assert "abort" in events and proto[-1][1]["aborted"] is True
    after = events[events.index("abort") + 1 :]
    assert after[-1] == "protocol_end" and "block_end" in after
    # an aborted run is not a complete session: session.json, the catalog and check say so, with the
    # step it reached (the defect: it was saved 'complete' and counted as a full session)
    meta = check_session_files(out2, proto, status="aborted")
    assert meta["protocol_run"]["state"] == "aborted" and "Ctrl+C" in meta["protocol_run"]["reason"]
    at = meta["aborted_at"]
    mission = next(m for _, m in proto if m["event"] == "stimulus_onset" and m.get("step_id") == "mission")
    assert at["step"] == mission["seq"] + 1 and at["of"] == proto[0][1]["steps"] and at["step_id"] == "mission"
    assert at["text"].startswith(f"aborted at step {at['step']} of {at['of']}, ") and "mission" in at["text"]
    from acquisition.catalog import Catalog
    from acquisition.check import check_path

    with Catalog() as cat:
        row = cat.get_session(meta["session_id"])
    assert row["status_detail"] == at["text"]
    assert row["health"]["verdict"] == "warning" and at["text"] in row["health"]["reasons"]
    report = check_path(out2)
    assert report["status"] == "aborted" and report["status_detail"] == at["text"] and not report["ok"]
    assert report["health"] == row["health"]
