"""The simulated participant rig: schedule, face and depth (physiology and LSL outlets:
test_sim_physio.py; the camera modes it accepts: test_sim_modes.py).

Timings measured on the 2-core development machine (cv2.setNumThreads(1)) are printed by
``test_face_render_speed`` / ``test_depth_render_speed`` (run with ``-s`` to see them).
"""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from acquisition.sim.depth import DepthRenderer
from acquisition.sim.face import FaceRenderer
from acquisition.sim.schedule import FacialEvent, envelope, make_schedule
from tests.helpers_sim import one_event


@pytest.fixture(scope="module")
def long_schedule():
    return make_schedule(None, seed=11)


@pytest.fixture(scope="module")
def face():
    return FaceRenderer()


@pytest.fixture(scope="module")
def depth():
    return DepthRenderer()


# --------------------------------------------------------------------------- schedule
def test_schedule_is_deterministic():
    a = make_schedule(300, seed=4)
    b = make_schedule(300, seed=4)
    c = make_schedule(300, seed=5)
    assert a.events == b.events
    assert a.events != c.events
    assert a.n_frames == 9000


def test_schedule_durations_amplitudes_and_overlap(long_schedule):
    s = long_schedule
    assert s.n_frames == 2 * 3600 * 30
    expr = s.of_kind("micro", "macro")
    micro = s.of_kind("micro")
    macro = s.of_kind("macro")
    assert 3.0 <= len(micro) / 120 <= 5.0 and 0.6 <= len(macro) / 120 <= 1.5
    for e in s.events:
        assert 0 <= e.onset < e.apex < e.offset < s.n_frames
        assert e.emotional == (e.kind in ("micro", "macro"))
    assert all(8 <= e.n_frames <= 15 and 1.0 <= e.amplitude <= 4.0 and 1 <= len(e.aus) <= 2 for e in micro)
    assert all(24 <= e.n_frames <= 90 and 5.0 <= e.amplitude <= 10.0 for e in macro)
    for kind, lo, hi in (("blink", 3, 9), ("head", 15, 60), ("speech", 60, 180)):
        assert all(lo <= e.n_frames <= hi for e in s.of_kind(kind)), kind
    # expressions never overlap one another; nothing happens in the first ~2 s
    assert all(a.offset < b.onset for a, b in zip(expr, expr[1:]))
    assert min(e.onset for e in s.events) >= 55
    # no two events of one interference kind overlap
    for kind in ("blink", "head", "speech"):
        ev = s.of_kind(kind)
        assert all(a.offset < b.onset for a, b in zip(ev, ev[1:]))
    # blinks every 3-6 s (onset to onset), except where one was moved into an expression
    gaps = np.diff([e.onset for e in s.of_kind("blink")]) / 30.0
    assert np.median(gaps) == pytest.approx(4.5, abs=0.6)
    # about 70 % of the expressions clear of any interference
    inter = np.array([(e.onset, e.offset) for e in s.of_kind("blink", "head", "speech")])
    clear = [not ((inter[:, 0] <= e.offset) & (inter[:, 1] >= e.onset)).any() for e in expr]
    assert 0.6 <= np.mean(clear) <= 0.8


def test_schedule_scales_with_fps():
    s = make_schedule(600, fps=60, seed=2)
    assert all(15 <= e.n_frames <= 31 for e in s.of_kind("micro"))
    assert all(48 <= e.n_frames <= 180 for e in s.of_kind("macro"))


def test_active_matches_brute_force(long_schedule):
    s = long_schedule
    rng = np.random.default_rng(0)
    for f in rng.integers(0, s.n_frames, 400).tolist() + [e.apex for e in s.events[:50]]:
        got = {(e, round(w, 9)) for e, w in s.active(f)}
        want = {(e, round(envelope(e, f, s.fps), 9)) for e in s.events if e.onset <= f <= e.offset}
        assert got == want
        assert all(0 < w <= 1 for _, w in s.active(f))
    for e in s.events[:50]:
        assert dict(s.active(e.apex))[e] == 1.0
        assert e not in dict(s.active(e.onset - 1)) and e not in dict(s.active(e.offset + 1))
    # its speed (the per-frame lookup) is measured by bench/face_speed.py, not asserted here


def test_ground_truth_csv(tmp_path):
    s = make_schedule(120, seed=1)
    path = tmp_path / "ground_truth.csv"
    s.write_ground_truth_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["onset", "apex", "offset", "type", "aus", "kind"]
    assert len(rows) == len(s.events)
    for r, e in zip(rows, s.events):
        assert (int(r["onset"]), int(r["apex"]), int(r["offset"])) == (e.onset, e.apex, e.offset)
        assert r["type"] == e.kind and r["aus"] == "+".join(e.aus)
        assert r["kind"] == ("expression" if e.emotional else "interference")
    assert any("+" in r["aus"] for r in rows if r["type"] in ("micro", "macro"))


# --------------------------------------------------------------------------- face
def test_face_frames_and_neutral_identity(face, long_schedule):
    s = long_schedule
    neutral = face.neutral()
    assert neutral.shape == (480, 848, 3) and neutral.dtype == np.uint8
    quiet = [f for f in range(60, 3000, 7) if not s.active(f)][:40]
    assert len(quiet) > 20
    for f in quiet:
        img, pose = face.render(f, s)
        assert pose.is_neutral
        assert np.array_equal(img, neutral)
    # the backdrop is plain; the face is where face_box says
    assert np.array_equal(neutral[5, 5], neutral[470, 840])
    x0, y0, x1, y1 = face.neutral_face_box
    assert 130 < x1 - x0 < 190 and 150 < y1 - y0 < 220
    # a frame with head motion only is the neutral face at that pose
    head_only = [(f, e) for e in s.of_kind("head") for f in (e.apex,) if all(k.kind == "head" for k, _ in s.active(f))]
    f, _ = head_only[0]
    img, pose = face.render(f, s)
    assert not pose.is_neutral
    assert np.array_equal(img, face.neutral(pose))
    assert not np.array_equal(img, neutral)


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    fl = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return np.hypot(fl[..., 0], fl[..., 1])


@pytest.mark.parametrize("aus,amp", [(("AU12",), 3.0), (("AU4",), 2.0), (("AU1", "AU2"), 4.0), (("AU15",), 1.5)])
def test_face_micro_expression_is_measurable(face, aus, amp):
    ev = FacialEvent("micro", 40, 44, 51, aus, amp, True)
    s = one_event(ev)
    before, _ = face.render(39, s)
    assert np.array_equal(before, face.neutral())
    apex, _ = face.render(44, s)
    mag = _flow(before, apex)
    fx0, fy0, fx1, fy1 = face.face_roi
    region = np.zeros(mag.shape, bool)
    for au in aus:
        b = face._bases[au]
        region[fy0:fy1, fx0:fx1] |= np.hypot(b[0], b[1]) > 0.7
    moving = np.median(mag[region])
    assert 1.0 <= np.percentile(mag[region], 90) <= 4.0
    assert 0.55 * amp <= moving <= 1.1 * amp
    far = np.ones(mag.shape, bool)
    far[fy0 - 20 : fy1 + 20, fx0 - 20 : fx1 + 20] = False
    assert np.percentile(mag[far], 99.9) < 0.05
    # pixel changes are confined to the face ROI
    diff = np.any(apex != before, axis=2)
    ys, xs = np.nonzero(diff)
    assert xs.min() >= fx0 and xs.max() < fx1 and ys.min() >= fy0 and ys.max() < fy1
    # and the rest of the event moves less than the apex
    mid, _ = face.render(42, s)
    assert 0 < np.median(_flow(before, mid)[region]) < moving


def test_face_blink_and_speech_change_the_right_places(face):
    blink = one_event(FacialEvent("blink", 30, 32, 35, ("AU45",), 11.0, False))
    n = face.neutral()
    img, _ = face.render(32, blink)
    ys, xs = np.nonzero(np.any(img != n, axis=2))
    eyes_y = [face.landmarks["eye_lo_L"][1], face.landmarks["eye_lo_R"][1]]
    assert ys.max() <= max(eyes_y) + 3 and ys.min() >= min(eyes_y) - 40
    speech = one_event(FacialEvent("speech", 30, 90, 150, (), 6.0, False), n_frames=200)
    diffs = [np.any(face.render(f, speech)[0] != n, axis=2).sum() for f in range(30, 151, 2)]
    assert max(diffs) > 1000 and min(diffs) < max(diffs) / 3  # the mouth opens and closes


def test_face_render_reuses_its_buffers_without_changing_pixels(face, long_schedule):
    """The renderer reuses its work buffers from frame to frame (its speed, measured by
    bench/face_speed.py, depends on it): frames rendered in sequence are bit-identical to the same
    frames from a fresh renderer, a frame at rest after busy ones is the neutral face again, and the
    costliest frame (ME + blink + speech + head motion) changes only the head."""
    s = long_schedule
    busy = [f for f in range(60, 20000) if len(s.active(f)) >= 1][:40]
    rest = next(f for f in range(busy[-1], s.n_frames) if not s.active(f))
    seq = [face.render(f, s)[0] for f in busy]
    fresh = FaceRenderer()
    for f, img in list(zip(busy, seq))[::6]:
        assert img.shape == (480, 848, 3) and img.dtype == np.uint8
        assert np.array_equal(FaceRenderer().render(f, s)[0], img), f
    assert not np.array_equal(seq[0], fresh.neutral(face.pose_at(busy[0], s)))  # events show
    assert np.array_equal(face.render(rest, s)[0], fresh.render(rest, s)[0])
    pose = face.make_pose(yaw=3, pitch=-2, roll=2, tx=4, ty=-3)
    worst, _ = face.render_with({"AU12": 3.0, "AU6": 2.0, "AU45": 8.0, "JAW": 4.0}, pose)
    neutral = fresh.neutral(pose)
    changed = np.any(worst != neutral, axis=2)
    assert changed.any()
    x0, y0, x1, y1 = face.head_roi
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any()
    assert np.array_equal(face.render_with({"AU12": 3.0, "AU6": 2.0, "AU45": 8.0, "JAW": 4.0}, pose)[0], worst)


# --------------------------------------------------------------------------- depth
def test_depth_range_and_head_follows_pose(face, depth):
    z = depth.render(face.make_pose())
    assert z.shape == (480, 848) and z.dtype == np.uint16
    assert 1480 <= z[10, 10] <= 1520 and 1480 <= z[10, 837] <= 1520
    assert 580 <= z.min() <= 610
    head = z < 660
    x0, y0, x1, y1 = face.neutral_face_box
    ys, xs = np.nonzero(head)
    cx, cy = xs.mean(), ys.mean()
    assert x0 < cx < x1 and y0 < cy < y1
    # nearest point (nose tip) close to the photo's nose
    ny, nx = np.unravel_index(np.argmin(z), z.shape)
    assert np.hypot(nx - face.landmarks["nose_tip"][0], ny - face.landmarks["nose_tip"][1]) < 12
    # chest in front of the wall at the bottom centre, behind the face
    assert 650 < z[470, 424] < 800
    moved = depth.render(face.make_pose(tx=20.0, ty=-10.0))
    ys2, xs2 = np.nonzero(moved < 660)
    assert xs2.mean() - cx == pytest.approx(20.0, abs=1.5)
    assert ys2.mean() - cy == pytest.approx(-10.0, abs=1.5)
    assert np.array_equal(moved[440:], z[440:])  # the torso does not move
    turned = depth.render(face.make_pose(yaw=8.0))
    ny2, nx2 = np.unravel_index(np.argmin(turned), z.shape)
    assert nx2 > nx + 5  # the nose swings with the yaw


def test_depth_render_is_deterministic_over_poses(face, depth):
    """Its speed is measured by bench/face_speed.py; here: the same pose gives the same frame
    whatever was rendered before (the renderer reuses its buffers)."""
    poses = [
        face.make_pose(yaw=3 * np.sin(i / 9), pitch=2 * np.cos(i / 7), roll=np.sin(i / 5), tx=i % 7, ty=-(i % 5))
        for i in range(30)
    ]
    seq = [depth.render(p) for p in poses]
    fresh = DepthRenderer()
    for p, z in list(zip(poses, seq))[::5]:
        assert z.shape == (480, 848) and z.dtype == np.uint16
        assert np.array_equal(fresh.render(p), z)
    assert not np.array_equal(seq[0], seq[1])
