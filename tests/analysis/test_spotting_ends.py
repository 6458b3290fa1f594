"""The reported onset/offset of a movement (analysis/spotting/detect._extent): the run around the
apex, bounded by the ramp's own 50 %/90 % crossings, so a tail that never quite returns to rest
does not carry the offset past the movement's end (the rig's ME once ended at 323 for 320)."""

from __future__ import annotations

import numpy as np

from analysis.spotting.detect import _extent


def _curve(onset, apex, offset, n=60, tail=0.0, plateau=0):
    """The rig's envelope (sin² ramps: 0 at onset-1 and offset+1, 1 at the apex), the apex held
    for ``plateau`` frames, a residual ``tail`` left after the fall."""
    f = np.arange(n, dtype=float)
    a, p, b = onset - 1.0, float(apex), offset + 1.0
    up = np.clip((f - a) / (p - a), 0, 1)
    down = np.clip((b + plateau - f) / (b - p), 0, 1)
    u = np.where(f <= p, up, np.where(f <= p + plateau, 1.0, down))
    d = np.sin(0.5 * np.pi * u) ** 2
    fall = f > p + plateau
    return np.where(fall & (d < tail), tail, d)


def test_a_clean_raised_cosine_movement_ends_where_it_ends():
    d = _curve(20, 22, 27)
    on, off = _extent(d, int(np.argmax(d)), 0.1)
    assert on == 20 and abs(off - 27) <= 1, (on, off)  # the last frame is 7 % of the apex


def test_a_tail_that_does_not_return_does_not_stretch_the_offset():
    d = _curve(20, 22, 27, tail=0.18)  # 18 % of the apex left: above the 10 % level
    k = int(np.argmax(d))
    assert _extent(d, k, 0.1, shape=False)[1] > 30  # the level alone runs on
    on, off = _extent(d, k, 0.1)
    assert on == 20 and abs(off - 27) <= 1, (on, off)


def test_a_later_wobble_is_not_part_of_the_movement():
    d = _curve(20, 22, 27)
    d[35:38] = 0.3  # another small movement after a return to rest
    on, off = _extent(d, int(np.argmax(d)), 0.1, shape=False)
    assert on == 20 and abs(off - 27) <= 1, (on, off)  # the last frame above 0.1 would be 37


def test_a_held_apex_keeps_its_plateau():
    d = _curve(10, 14, 20, n=80, plateau=20)  # the apex held for 20 frames
    on, off = _extent(d, int(np.argmax(d)), 0.1)
    assert abs(on - 10) <= 1 and abs(off - 40) <= 1, (on, off)
