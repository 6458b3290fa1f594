"""The control panel and the participant display driven like an experimenter and a participant would
(real Qt widgets, offscreen; a real LSL marker outlet; no recorder)."""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path

import pylsl
import pytest
from PySide6.QtCore import Qt

from acquisition.outlets import MarkerOutlet
from app.gui.protocol.display import ParticipantDisplay
from app.gui.protocol.panel import ProtocolPanel
from app.gui.protocol.run import ProtocolRun
from protocols.loader import load_protocol
from protocols.plan import build_plan
from protocols.runlog import read_log

pytestmark = [pytest.mark.lsl]

TEXT = """\
format: mexlab-protocol/1
name: panel-check
screen: {photodiode: true}
blocks:
  - id: only
    before:
      - type: instructions
        text: "Keep a neutral face.\\n\\nPress SPACE to start."
    trials:
      conditions: [{word: calm, condition: truthful}]
      steps:
        - type: stimulus
          text: "{word}"
          duration: 1.5
        - type: question
          id: q-took
          kind: relevant
          text: Did you take the envelope from the desk?
          participant_text: Please answer the interviewer.
        - type: self_report
          prompt: How did you feel?
        - type: fixation
          duration: 5
"""


@pytest.fixture
def setup(qtbot, tmp_path):
    (tmp_path / "p.yaml").write_text(TEXT)
    plan = build_plan(load_protocol(tmp_path / "p.yaml"), "P007")
    out = tmp_path / "session"
    out.mkdir()
    display = ParticipantDisplay(plan.protocol.screen)
    qtbot.addWidget(display)
    display.show_on(None, fullscreen=False, size=(1024, 640))
    panel = ProtocolPanel()
    qtbot.addWidget(panel)
    panel.confirm_abort = False
    run = ProtocolRun(plan, MarkerOutlet(uuid.uuid4().hex), out, display)
    panel.attach(run)
    panel.show()
    return run, panel, display, out


def events(out: Path) -> list[dict]:
    return [r for r in read_log(out) if r["record"] == "marker"] if (out / "protocol_log.jsonl").exists() else []


def shot(widget, name: str) -> None:
    folder = os.environ.get("MEXLAB_SCREENSHOTS")
    img = widget.grab().toImage()
    colours = {img.pixel(x, y) for x in range(0, img.width(), 17) for y in range(0, img.height(), 17)}
    assert len(colours) > 2, f"{name} looks blank"
    if folder:
        widget.grab().save(str(Path(folder) / f"{name}.png"))


def test_experimenter_and_participant_controls(setup, qtbot):
    run, panel, display, out = setup
    done = []
    run.finished.connect(done.append)
    run.start()
    qtbot.waitUntil(lambda: run.engine.waiting_for == "participant", timeout=3000)
    shot(display, "protocol-display-instructions")
    assert not panel.next_button.isEnabled()  # nothing for the experimenter to continue
    qtbot.keyClick(display, Qt.Key_Space)  # the participant starts
    qtbot.waitUntil(lambda: run.engine.step.type == "stimulus" and run.engine.onset is not None, timeout=3000)
    panel.pause_button.click()
    assert run.engine.state == "paused" and panel.pause_button.text() == "Resume"
    qtbot.wait(400)
    panel.pause_button.click()
    qtbot.waitUntil(lambda: run.engine.step.type == "question" and run.engine.onset is not None, timeout=4000)
    assert "Did you take the envelope" in panel.prompt.text() and panel.next_button.isEnabled()
    panel.note_edit.setText("participant looked away")
    panel.note_button.click()
    panel.marker_button.click()
    panel.refresh()
    shot(panel, "protocol-panel")
    panel.next_button.click()  # the answer is over
    qtbot.waitUntil(lambda: run.engine.step.type == "self_report" and run.engine.onset is not None, timeout=3000)
    display.form.simulate(random.Random(3))
    qtbot.waitUntil(lambda: run.engine.step.type == "fixation" and run.engine.onset is not None, timeout=3000)
    panel.skip_button.click()
    qtbot.waitUntil(lambda: bool(done), timeout=3000)
    assert done == ["finished"]

    ev = events(out)
    names = [e["event"] for e in ev]
    assert names[0] == "protocol_start" and names[-1] == "protocol_end"
    i_pause, i_resume = names.index("pause"), names.index("resume")
    onset = next(e for e in ev if e["event"] == "stimulus_onset" and e["step"] == "stimulus")
    offset = next(e for e in ev if e["event"] == "stimulus_offset" and e["step"] == "stimulus")
    paused = ev[i_resume]["lsl"] - ev[i_pause]["lsl"]
    assert paused >= 0.35
    assert 1.5 + paused - 0.01 <= offset["lsl"] - onset["lsl"] < 1.5 + paused + 0.3  # the pause stopped the clock
    notes = [e for e in ev if e["event"] == "note"]
    assert [(n["kind"], n["text"]) for n in notes] == [("note", "participant looked away"), ("marker", "manual marker")]
    assert all(n["question"] == "q-took" for n in notes)
    answer = next(e for e in ev if e["event"] == "response" and e.get("kind") == "answer_end")
    assert answer["question_kind"] == "relevant" and answer["simulated"] is False
    report = next(e for e in ev if e["event"] == "response" and e["step"] == "self_report")
    assert 1 <= report["valence"] <= 9 and report["category"]
    skipped = [e for e in ev if e["event"] == "stimulus_offset" and e["step"] == "fixation"]
    fix_onset = next(e for e in ev if e["event"] == "stimulus_onset" and e["step"] == "fixation")
    assert skipped[0]["skipped"] is True and skipped[0]["lsl"] - fix_onset["lsl"] < 4  # not its 5 s
    assert all(e["condition"] == "truthful" for e in ev if e.get("trial") is not None)


def test_abort_from_panel_closes_everything(setup, qtbot):
    run, panel, display, out = setup
    done = []
    run.finished.connect(done.append)
    run.start()
    qtbot.keyClick(display, Qt.Key_Space) if run.engine.waiting_for else None
    qtbot.waitUntil(lambda: run.engine.waiting_for == "participant", timeout=3000)
    qtbot.keyClick(display, Qt.Key_Space)
    qtbot.waitUntil(lambda: run.engine.step.type == "question" and run.engine.onset is not None, timeout=4000)
    display.prepare(run.engine.upcoming(1)[0])
    display.form.setup(
        ["category", "intensity", "valence", "arousal", "text"], run.plan.protocol.emotions, "How did you feel?"
    )
    display._stack.setCurrentWidget(display.form)
    shot(display, "protocol-display-self-report")
    display._stack.setCurrentWidget(display.canvas)
    t_before = pylsl.local_clock()
    panel.abort_button.click()
    qtbot.waitUntil(lambda: bool(done), timeout=3000)
    assert done == ["aborted"] and not panel.abort_button.isEnabled()
    ev = events(out)
    names = [e["event"] for e in ev]
    assert names[-5:] == ["abort", "stimulus_offset", "trial_end", "block_end", "protocol_end"]
    assert ev[-5]["lsl"] >= t_before and ev[-1]["aborted"] is True and ev[-2]["aborted"] is True
