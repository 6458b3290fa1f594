"""The Record workspace during a protocol run, as an experimenter sees it (real widgets, offscreen):
the window keeps its size and the stream counters, the panel's buttons stay where they are from step to
step, an aborted run says where it stopped, and the live panels say nothing stale or doubled.

Found by a lab: the window resized itself and hid the stream rows, a click on Skip missed because the
buttons moved, an abort at step 7 read "step 24 of 24", a stale "3 expression(s) flagged" stayed over
an empty list, and a flag's nearest event read "manual manual"."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMessageBox

from acquisition.outlets import MarkerOutlet
from app.gui.main_window import MainWindow
from app.services.settings import Settings

pytestmark = [pytest.mark.lsl]


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(Settings(output_folder=str(tmp_path / "sessions"), source="simulate"), simulate=True)
    qtbot.addWidget(win)
    win.confirm_close = lambda box: QMessageBox.Yes  # pytest-qt closes it first: no modal question
    win.resize(1400, 860)
    win.show()
    win.tabs.setCurrentWidget(win.record)
    qtbot.wait(200)
    yield win
    if win.record.controller.active:  # a test that failed mid-recording leaves nothing recording
        win.record.controller.stop("test teardown")


def test_protocol_run_keeps_window_size_buttons_and_says_where_it_aborted(qtbot, window, tmp_path):
    from app.gui.protocol.display import ParticipantDisplay
    from app.gui.protocol.panel import ProtocolPanel
    from app.gui.protocol.run import ProtocolRun
    from protocols.library import find_protocol
    from protocols.loader import load_protocol
    from protocols.plan import build_plan

    win = window
    size0 = win.size()
    plan = build_plan(load_protocol(find_protocol("mock-crime-interview")), "P001", quick=True)
    (tmp_path / "sess").mkdir()
    display = ParticipantDisplay(plan.protocol.screen)
    qtbot.addWidget(display)
    display.show_on(None, fullscreen=False, size=(640, 400))
    run = ProtocolRun(plan, MarkerOutlet(uuid.uuid4().hex), tmp_path / "sess", display, simulate=True)
    panel = ProtocolPanel()
    panel.confirm_abort = False
    panel.attach(run)
    win.record.launcher.show_panel(panel)
    run.start()
    seen, positions = set(), set()
    for _ in range(4):
        qtbot.wait(600)
        assert not run.done
        seen.add(run.engine.index)
        positions.add(
            (
                panel.skip_button.mapTo(win, QPoint(0, 0)).toTuple(),
                panel.abort_button.mapTo(win, QPoint(0, 0)).toTuple(),
            )
        )
        assert win.size() == size0, (win.size(), size0)
        assert win.record.counters.height() >= 150  # the stream rows stay visible
        run.skip()
    assert len(seen) >= 3 and len(positions) == 1, positions  # different steps, the buttons never moved
    step = run.engine.step_reached()["step"]
    run.abort("test abort")
    qtbot.waitUntil(lambda: run.done, timeout=5000)
    panel.refresh()
    n = len(plan.steps)
    assert f"at step {step} of {n}" in panel.state.text(), panel.state.text()
    assert f"step {n} of {n}" not in panel.state.text()
    display.close()


def test_spotted_panel_resets_and_a_manual_mark_is_named_once(qtbot, window):
    from types import SimpleNamespace

    from app.services.live_spotting import LiveSpotting, SpotFlag

    sp = window.record.spotted
    flag = SimpleNamespace(
        apex_t=12.0, onset=3, offset=9, type="micro", aus=["AU12"], score=1.0, latency_s=0.2, thumbnail=None
    )
    for _ in range(3):
        sp._add(SpotFlag(flag, None))
    assert "3 expression(s) flagged" in sp.note.text()
    # a provisional flag: one grey row, not counted; confirmed: the same row, counted
    first = SpotFlag(SimpleNamespace(**vars(flag), state="provisional", key=7), None)
    sp._add(first)
    assert sp.list.count() == 4 and "3 expression(s)" in sp.note.text()
    assert sp.list.item(0).text().startswith("? ") and sp.list.item(0).font().italic()
    first.flag = SimpleNamespace(**vars(flag), state="confirmed", key=7)
    sp._add(first)
    sp._add(first)  # seen twice (a queued signal): counted once
    assert sp.list.count() == 4 and "4 expression(s)" in sp.note.text()
    assert not sp.list.item(0).text().startswith("? ") and not sp.list.item(0).font().italic()
    # withdrawn: the row is struck out, the count unchanged
    other = SpotFlag(SimpleNamespace(**vars(flag), state="provisional", key=8), None)
    sp._add(other)
    other.flag = SimpleNamespace(**vars(flag), state="withdrawn", key=8)
    sp._add(other)
    assert sp.list.count() == 5 and "4 expression(s)" in sp.note.text()
    assert sp.list.item(0).font().strikeOut() and sp.list.item(0).text().startswith("withdrawn")
    sp.reset(None)
    assert sp.list.count() == 0 and "flagged" not in sp.note.text()
    markers = MarkerOutlet(uuid.uuid4().hex)
    try:
        t = markers.push("manual", text="manual")
        rec = SimpleNamespace(markers=markers, camera=None, writers={})
        described = LiveSpotting(rec, lambda f: None)._describe(t + 1.0)
    finally:
        markers.close()
    assert described == "manual (1.0 s before)", described


def test_lost_frames_show_a_banner_with_the_count(qtbot, window):
    """Dropped frames cannot be missed: a red banner with the counts, kept after the stop."""
    rec = window.record
    assert rec.loss_banner.isHidden()
    snap = {
        "elapsed": 60.0,
        "dropped_frames": 158,
        "dropped_samples": 0,
        "streams": {},
        "videos": {
            "rgb": {"frames_written": 1642, "dropped_counter_gap": 0, "dropped_queue_overflow": 158, "queue": 90},
            "depth": {"frames_written": 1800, "dropped_counter_gap": 0, "dropped_queue_overflow": 0, "queue": 0},
        },
    }
    rec.show_losses(snap)
    assert rec.loss_banner.isVisible()
    assert "158 RGB frames dropped (8.8 %)" in rec.loss_banner.text() and "LOSING DATA" in rec.loss_banner.text()
    rec.show_losses(snap, final=True)
    assert "this recording lost data" in rec.loss_banner.text()
    rec.loss_banner.grab()  # it paints
