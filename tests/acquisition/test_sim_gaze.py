"""The varied rig's gaze shifts (twelfth round of issue 15): drawn only when asked for, so every
earlier set renders as before; the irises move inside the lids' opening and nothing else moves."""

from __future__ import annotations

import numpy as np

from acquisition.sim.identities import make_identity
from acquisition.sim.schedule import FacialEvent, Schedule, envelope
from acquisition.sim.varied import make_varied_schedule


def test_gaze_shifts_are_drawn_only_when_asked_for_and_leave_the_rest_of_the_schedule_as_it_was():
    plain = make_varied_schedule(60.0, 30.0, seed=4)
    with_gaze = make_varied_schedule(60.0, 30.0, seed=4, interference=("blink", "drift", "turn", "speech", "gaze"))
    gaze = with_gaze.of_kind("gaze")
    assert gaze and not plain.of_kind("gaze")
    assert [e for e in with_gaze.events if e.kind != "gaze"] == plain.events
    for e in gaze:
        assert 0.4 <= e.n_frames / 30.0 <= 2.5 + 1e-9 and 8.0 <= e.amplitude <= 25.0
        p = with_gaze.params(e)
        assert abs(np.hypot(p["dx"], p["dy"]) - 1.0) < 1e-9 and abs(p["dx"]) > abs(p["dy"])  # mostly sideways
        for x in with_gaze.of_kind("micro", "macro"):  # kept 0.3 s off expressions
            assert e.offset + 9 < x.onset or x.offset + 9 < e.onset
    rows = [r for r in with_gaze.ground_truth_rows() if r["type"] == "gaze"]
    assert len(rows) == len(gaze) and all(r["kind"] == "interference" for r in rows)
    # a saccade there in 0.1 s, held, and one back
    e = FacialEvent("gaze", 100, 130, 160, (), 10.0, False)
    assert envelope(e, 99) == 0.0 and envelope(e, 104) == 1.0 and envelope(e, 156) == 1.0 and envelope(e, 161) == 0.0


def test_a_gaze_shift_moves_the_irises_and_nothing_outside_the_eyes():
    face = make_identity("astronaut/21").renderer(640, 480, face_width=300)
    e = FacialEvent("gaze", 10, 20, 30, (), 20.0, False)
    s = Schedule(fps=30.0, n_frames=40, seed=0, events=[e])
    s.set_params(e, {"dx": 1.0, "dy": 0.0})
    co = face.au_coefficients(20, s)
    assert abs(co["GAZE_X"] - 0.2 * face.eye_width_px) < 1e-6 and "GAZE_Y" not in co
    assert face.au_coefficients(5, s) == {}
    rest, _ = face.render(5, s)
    look, _ = face.render(20, s)
    moved = np.abs(look.astype(int) - rest.astype(int)).max(axis=2) > 8
    assert moved.sum() > 50  # the irises
    ys, xs = np.nonzero(moved)
    eyes = np.zeros(moved.shape, bool)  # the lids' openings, as the renderer holds them
    fx0, fy0 = face.face_roi[:2]
    for sl, gy, yu, yl, _ in face._eyes:
        y = (gy[:, 0] + 0.0).astype(int)
        x0 = sl[1].start + fx0
        inside = (gy >= yu) & (gy <= yl)
        for j, row in enumerate(y):
            cols = np.nonzero(inside[j])[0] + x0
            eyes[row, cols] = True
    assert eyes[ys, xs].all(), "something outside the eyes moved"
