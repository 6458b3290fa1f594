"""The Record workspace's counters table: updated in place ten times a second, red where anything is lost."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.gui]


def _snap(elapsed: float, rgb_written: int, rgb_lost: int, emg: int, emg_missing: int) -> dict:
    video = {"frames_written": rgb_written, "dropped_counter_gap": 0, "dropped_queue_overflow": rgb_lost, "queue": 2}
    return {"elapsed": elapsed, "videos": {"rgb": video}, "streams": {"EMG": {"samples": emg, "missing": emg_missing}}}


def test_counters_update_in_place_and_turn_red_on_loss(qtbot):
    from app.gui.widgets.counters import RED, CountersTable

    t = CountersTable()
    qtbot.addWidget(t)
    t.update_from(_snap(1.0, 30, 0, 2000, 0))
    assert t.rowCount() == 2 and t.item(0, 0).text() == "rgb video" and t.item(0, 2).text() == "30.0 fps"
    first = t.item(0, 1)
    t.update_from(_snap(2.0, 60, 0, 4000, 0))
    assert t.item(0, 1) is first and first.text() == "60"  # the same cell, new text
    assert t.item(1, 2).text() == "2000 Hz" and not t.red_rows
    assert t.item(0, 1).foreground().color() != RED
    t.update_from(_snap(3.0, 88, 2, 6000, 5))  # frames and samples lost: both rows red
    assert t.red_rows == {"rgb video", "EMG"}
    assert all(t.item(r, c).foreground().color() == RED for r in (0, 1) for c in range(5))
    assert t.item(0, 3).text() == "2" and t.item(1, 3).text() == "5"
    t.update_from(_snap(4.0, 118, 0, 8000, 0))  # a new recording's first snapshot: nothing lost
    assert not t.red_rows and t.item(0, 1).foreground().color() != RED
