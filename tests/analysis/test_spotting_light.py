"""Eleventh round of issue 15 (docs/spotting.md): the light or the camera's exposure changing.

Each frame's brightness over the previous one is measured on the registered face crop
(flow.crop_gain, the median of the pixels' ratio, so that a face moving or changing expression
leaves it at 1), kept as a feature (``gain``), and a group over which the brightness changes by
``light_frac`` or more is removed as interference (interference.light_change)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.spotting.detect import Candidate, DetectParams, Group, finish_group
from analysis.spotting.flow import crop_gain
from analysis.spotting.interference import InterferenceParams, eliminate, light_change, light_level

N = 300


def _face(seed: int = 0) -> np.ndarray:
    """A 128x128 grey crop with a face's range of texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:128, 0:128]
    img = 120 + 50 * np.sin(x / 9.0) * np.cos(y / 13.0) + rng.normal(0, 6, (128, 128))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_the_crop_gain_sees_the_light_and_not_the_face_moving():
    a = _face()
    assert crop_gain(a, a) == 1.0
    brighter = np.clip(a * 1.08, 0, 255).astype(np.uint8)
    assert crop_gain(a, brighter) == pytest.approx(1.08, abs=0.01)
    assert crop_gain(brighter, a) == pytest.approx(1 / 1.08, abs=0.01)
    moved = a.copy()  # an expression: a quarter of the crop (the mouth) shifted by 2 px
    moved[90:122, 30:98] = np.roll(a[90:122, 30:98], 2, axis=1)
    assert crop_gain(a, moved) == pytest.approx(1.0, abs=0.002)
    assert crop_gain(np.zeros_like(a), a) == 1.0  # nothing bright enough to measure


def test_light_level_and_change_over_a_group():
    gain = np.ones(N)
    gain[100:110] = 1.01  # 10 frames of 1 % each: +10.5 %
    gain[200:205] = 0.97  # 5 frames of -3 %: -14.1 %
    valid = np.ones(N, bool)
    valid[50] = False
    gain[50] = 5.0  # a frame without flow does not count
    level = light_level(gain, valid)
    assert level[99] == pytest.approx(0.0)
    assert light_change(level, 95, 115) == pytest.approx(1.01**10 - 1, rel=1e-6)
    assert light_change(level, 195, 215) == pytest.approx(0.97**5 - 1, rel=1e-6)
    assert light_change(level, 130, 180) == 0.0
    assert light_change(level, 10, 90) == 0.0
    # the pad reaches two frames past the group's ends
    assert light_change(level, 90, 97) == 0.0 and light_change(level, 90, 98) > 0.0


def _group(onset: int, offset: int) -> Group:
    c = Candidate("cheek_l", onset, (onset + offset) // 2, offset, 0.5, 0.2, (0.5, 0.0), ("AU6",))
    g = Group(0, 0, 0, 0.0, [c])
    finish_group(g, 30.0, DetectParams())
    return g


def test_a_group_during_a_light_change_is_removed_and_others_are_kept():
    gain = np.ones(N)
    gain[100:106] = 1.012  # +7.4 % over 6 frames
    gain[200:204] = 1.005  # +2 %: under the rule's 4 %
    head = {
        "path_px": np.full(N, 0.001, np.float32),
        "deg_s": np.zeros(N, np.float32),
        "glob": np.zeros((N, 8)),
        "light": light_level(gain, np.ones(N, bool)),
    }

    def run(p: InterferenceParams):
        groups = [_group(95, 115), _group(195, 210), _group(40, 55)]
        return eliminate(groups, [], np.zeros(N, bool), head, 30.0, DetectParams(), p)

    kept, dropped = run(InterferenceParams())
    assert [g.onset for g in kept] == [195, 40]
    assert len(dropped) == 1 and dropped[0].reason.startswith("light change (+7 %")
    kept, dropped = run(replace(InterferenceParams(), light_frac=0.0))  # the rule off
    assert len(kept) == 3 and not dropped
    del head["light"]  # features from before the brightness was kept: nothing to apply it to
    kept, _ = run(InterferenceParams())
    assert len(kept) == 3


@pytest.mark.face_model
def test_light_changes_on_a_rendered_face_are_not_flagged_and_its_micro_expressions_are(tmp_path):
    """12 s of a tuning face at 640x360 H.264: four light changes of 12-18 % (brighter, darker,
    brighter, darker) and two 2.5-px micro-expressions between them. Without the light rule the
    changes are flagged; with it they are removed, named, and the micro-expressions stay."""
    from acquisition.sim.identities import make_identity
    from acquisition.sim.schedule import FacialEvent, Schedule
    from acquisition.sim.varied import render_video
    from analysis.evaluation import interval_iou
    from analysis.spotting.pipeline import SpotParams, spot, spot_features

    def light(on: int, n: int, amp: float) -> FacialEvent:
        return FacialEvent("light", on, on + n // 2, on + n - 1, (), amp, False)

    lights = [light(60, 8, 18.0), light(150, 12, 15.0), light(240, 6, 12.0), light(300, 10, 16.0)]
    mes = [
        FacialEvent("micro", 100, 105, 111, ("AU12",), 2.5, True),
        FacialEvent("micro", 200, 205, 211, ("AU4",), 2.5, True),
    ]
    s = Schedule(fps=30.0, n_frames=360, seed=0, events=lights + mes)
    level = 1.0
    for e, sign in zip(lights, (1, -1, 1, -1), strict=True):
        level *= 1 + sign * e.amplitude / 100
        s.set_params(e, {"level": level})
    out = render_video(
        make_identity("pexels_woman/20"), s, (640, 360), 30, tmp_path / "l.mp4", face_width=150, noise=1.0, seed=1
    )
    res = spot(out.video, use_cache=False)

    def hits(intervals: list, events: list) -> int:
        return sum(any(interval_iou(e.onset, e.offset, i[0], i[1]) > 0 for i in intervals) for e in events)

    on = [(i["onset"], i["offset"]) for i in res.intervals]
    assert hits(on, mes) == 2 and hits(on, lights) == 0, res.intervals
    assert [x for x in res.suppressed if x["reason"].startswith("light change")], res.suppressed
    # without the light rule some are flagged; the common-motion test, its head motion measured 0.5 s
    # either side of a member (fifteenth round), removes the others, and more of them without it
    off = SpotParams(interference=replace(InterferenceParams(), light_frac=0.0))
    groups, _ = spot_features(res.features, 30.0, params=off)
    assert hits([(g.onset, g.offset) for g in groups], lights) >= 1, [(g.onset, g.offset) for g in groups]
    off = SpotParams(interference=replace(InterferenceParams(), light_frac=0.0, common_pad_s=0.0))
    groups, _ = spot_features(res.features, 30.0, params=off)
    assert hits([(g.onset, g.offset) for g in groups], lights) >= 2, [(g.onset, g.offset) for g in groups]
