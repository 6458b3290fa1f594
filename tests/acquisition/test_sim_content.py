"""The simulated participant rig: schedule, face, depth, physiology and LSL outlets.

Timings measured on the 2-core development machine (cv2.setNumThreads(1)) are printed by
``test_face_render_speed`` / ``test_depth_render_speed`` (run with ``-s`` to see them).
"""

from __future__ import annotations

import csv
import json
import time
import uuid
import warnings

import cv2
import numpy as np
import pylsl
import pytest

from acquisition.sim.depth import DepthRenderer
from acquisition.sim.face import FaceRenderer
from acquisition.sim.outlets import SimOutlets
from acquisition.sim.physio import (AU_TO_EMG, EMG_BASELINE_UV, EMG_CHANNELS, EcgGenerator,
                                    EdaGenerator, EmgGenerator, ground_truth_physio)
from acquisition.sim.schedule import FacialEvent, Schedule, envelope, make_schedule


@pytest.fixture(scope="module")
def long_schedule():
    return make_schedule(None, seed=11)


@pytest.fixture(scope="module")
def face():
    return FaceRenderer()


@pytest.fixture(scope="module")
def depth():
    return DepthRenderer()


def _one_event(ev: FacialEvent, n_frames: int = 120, fps: float = 30.0) -> Schedule:
    return Schedule(fps=fps, n_frames=n_frames, seed=0, events=[ev])


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
    assert all(8 <= e.n_frames <= 15 and 1.0 <= e.amplitude <= 4.0 and 1 <= len(e.aus) <= 2
               for e in micro)
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
    head_only = [(f, e) for e in s.of_kind("head") for f in (e.apex,)
                 if all(k.kind == "head" for k, _ in s.active(f))]
    f, _ = head_only[0]
    img, pose = face.render(f, s)
    assert not pose.is_neutral
    assert np.array_equal(img, face.neutral(pose))
    assert not np.array_equal(img, neutral)


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    fl = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return np.hypot(fl[..., 0], fl[..., 1])


@pytest.mark.parametrize("aus,amp", [(("AU12",), 3.0), (("AU4",), 2.0), (("AU1", "AU2"), 4.0),
                                     (("AU15",), 1.5)])
def test_face_micro_expression_is_measurable(face, aus, amp):
    ev = FacialEvent("micro", 40, 44, 51, aus, amp, True)
    s = _one_event(ev)
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
    far[fy0 - 20:fy1 + 20, fx0 - 20:fx1 + 20] = False
    assert np.percentile(mag[far], 99.9) < 0.05
    # pixel changes are confined to the face ROI
    diff = np.any(apex != before, axis=2)
    ys, xs = np.nonzero(diff)
    assert xs.min() >= fx0 and xs.max() < fx1 and ys.min() >= fy0 and ys.max() < fy1
    # and the rest of the event moves less than the apex
    mid, _ = face.render(42, s)
    assert 0 < np.median(_flow(before, mid)[region]) < moving


def test_face_blink_and_speech_change_the_right_places(face):
    blink = _one_event(FacialEvent("blink", 30, 32, 35, ("AU45",), 11.0, False))
    n = face.neutral()
    img, _ = face.render(32, blink)
    ys, xs = np.nonzero(np.any(img != n, axis=2))
    eyes_y = [face.landmarks["eye_lo_L"][1], face.landmarks["eye_lo_R"][1]]
    assert ys.max() <= max(eyes_y) + 3 and ys.min() >= min(eyes_y) - 40
    speech = _one_event(FacialEvent("speech", 30, 90, 150, (), 6.0, False), n_frames=200)
    diffs = [np.any(face.render(f, speech)[0] != n, axis=2).sum() for f in range(30, 151, 2)]
    assert max(diffs) > 1000 and min(diffs) < max(diffs) / 3   # the mouth opens and closes


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
    assert not np.array_equal(seq[0], fresh.neutral(face.pose_at(busy[0], s)))   # events show
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
    assert np.array_equal(moved[440:], z[440:])        # the torso does not move
    turned = depth.render(face.make_pose(yaw=8.0))
    ny2, nx2 = np.unravel_index(np.argmin(turned), z.shape)
    assert nx2 > nx + 5                                  # the nose swings with the yaw


def test_depth_render_is_deterministic_over_poses(face, depth):
    """Its speed is measured by bench/face_speed.py; here: the same pose gives the same frame
    whatever was rendered before (the renderer reuses its buffers)."""
    poses = [face.make_pose(yaw=3 * np.sin(i / 9), pitch=2 * np.cos(i / 7), roll=np.sin(i / 5),
                            tx=i % 7, ty=-(i % 5)) for i in range(30)]
    seq = [depth.render(p) for p in poses]
    fresh = DepthRenderer()
    for p, z in list(zip(poses, seq))[::5]:
        assert z.shape == (480, 848) and z.dtype == np.uint16
        assert np.array_equal(fresh.render(p), z)
    assert not np.array_equal(seq[0], seq[1])


# --------------------------------------------------------------------------- physiology
def test_generators_are_block_consistent():
    s = make_schedule(120, seed=7)
    for gen in (EcgGenerator(s), EdaGenerator(s), EmgGenerator(s)):
        whole = gen.generate(1000, 3000)
        parts = np.vstack([gen.generate(a, min(a + 37, 3000)) for a in range(1000, 3000, 37)])
        assert whole.dtype == np.float32 and whole.shape == (2000, gen.channels)
        assert np.array_equal(whole, parts)
        # the cost of a 20 ms block is measured by bench/face_speed.py (physio_*), not asserted here


def test_ecg_heart_rate_recovered_by_neurokit():
    import neurokit2 as nk
    s = make_schedule(70, seed=3)
    ecg = EcgGenerator(s)
    x = ecg.generate(0, 60 * 500)[:, 0]
    assert 0.8 < x.max() < 1.6                     # R ≈ 1.1 mV
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals, info = nk.ecg_process(x, sampling_rate=500)
    true = ecg.hr_trace(np.arange(0, 60, 0.01)).mean()
    assert signals["ECG_Rate"].mean() == pytest.approx(true, abs=2.0)
    beats = ecg.beat_times()
    beats = beats[(beats > 0.5) & (beats < 59.5)]
    peaks = np.asarray(info["ECG_R_Peaks"]) / 500.0
    nearest = np.min(np.abs(peaks[:, None] - beats[None, :]), axis=0)
    assert np.all(nearest < 0.02)


def test_ecg_heart_rate_rises_after_emotional_event():
    s = _one_event(FacialEvent("macro", 300, 330, 360, ("AU12",), 8.0, True), n_frames=1800)
    ecg = EcgGenerator(s)
    t = np.arange(0, 60, 0.05)
    hr = ecg.hr_trace(t)
    assert 64 <= hr[t < 9].min() and hr[t < 9].max() <= 76          # ~70 bpm with a little HRV
    rise = ecg.hr_response(t)
    assert np.all(rise[t <= 10.0] == 0)
    assert 13.0 <= t[np.argmax(rise)] <= 16.0                        # 3-6 s after onset (10 s)
    assert 8.0 <= rise.max() <= 12.0
    lasting = t[rise > 0.1 * rise.max()]
    assert 8.0 <= lasting[-1] - lasting[0] <= 20.0
    assert rise[t > 32].max() < 0.5
    assert hr[(t > 12) & (t < 17)].mean() - hr[t < 9].mean() >= 5.0


def test_eda_scrs_found_by_neurokit():
    import neurokit2 as nk
    s = make_schedule(180, seed=3)
    eda = EdaGenerator(s)
    y = eda.generate(0, int(180 * eda.fs))[:, 0]
    assert 2.0 <= y.min() and y.max() < 7.0
    scrs = eda.scr_events()
    onsets = [o for o, _, _ in scrs]
    assert all(b - a >= 4.0 for a, b in zip(onsets, onsets[1:]))
    assert all(0.1 <= a <= 1.0 and 1.0 <= p - o <= 3.0 for o, p, a in scrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.eda_process(y, sampling_rate=int(eda.fs))
    found = np.asarray(info["SCR_Peaks"])
    assert abs(len(found) - len(scrs)) <= 1
    # every large SCR (≥ 0.2 µS) has a detected peak within 2 s of its true peak
    for o, p, a in scrs:
        if a >= 0.2 and p < 178:
            assert np.min(np.abs(found / eda.fs - p)) < 2.0


def test_emg_bursts_on_the_right_channels():
    s = make_schedule(120, seed=3)
    emg = EmgGenerator(s)
    x = emg.generate(0, 120 * 2000)
    fs = emg.fs
    quiet = np.ones(len(x), bool)
    for e in s.events:
        quiet[int((e.onset - 2) / s.fps * fs):int((e.offset + 2) / s.fps * fs)] = False
    base = np.sqrt((x[quiet] ** 2).mean(axis=0))
    assert np.allclose(base, EMG_BASELINE_UV, rtol=0.15)
    checked = 0
    for e in s.of_kind("micro", "macro"):
        if e.amplitude < 2.0:
            continue
        a, b = int((e.apex - 2) / s.fps * fs), int((e.apex + 2) / s.fps * fs)
        rms = np.sqrt((x[a:b] ** 2).mean(axis=0))
        on = {AU_TO_EMG[au] for au in e.aus}
        busy = {c for k, _ in s.active(e.apex) if k.kind != e.kind for c in (3, 5, 6, 7)}
        for c in range(8):
            if c in on:
                assert rms[c] > 4 * EMG_BASELINE_UV, (e, c, rms)
            elif c not in busy:
                assert rms[c] < 2 * EMG_BASELINE_UV, (e, c, rms)
        # the burst starts 30-50 ms before the visible onset
        act = emg.activation(int((e.onset - 1) / s.fps * fs) - 200,
                             int((e.onset - 1) / s.fps * fs))
        first = np.nonzero(act[:, min(on)] > 0)[0][0]
        assert 0.030 <= (200 - first) / fs <= 0.051
        checked += 1
    assert checked >= 3
    spec = np.abs(np.fft.rfft(x[:8192, 0])) ** 2
    f = np.fft.rfftfreq(8192, 1 / fs)
    assert spec[(f >= 20) & (f <= 450)].sum() / spec.sum() > 0.85
    assert len(EMG_CHANNELS) == 8


def test_ground_truth_physio_is_json():
    s = make_schedule(60, seed=2)
    gt = ground_truth_physio(s, t0_lsl=1000.0, duration_s=30.0)
    text = json.dumps(gt)
    back = json.loads(text)
    assert back["t0_lsl"] == 1000.0 and len(back["hr"]["t"]) == 31
    assert back["hr"]["t"][0] == 1000.0 and 60 < np.mean(back["hr"]["bpm"]) < 95
    assert all(1000.0 < b <= 1030.0 for b in back["beat_times"])
    assert all(1000.0 < e["onset"] <= 1030.0 for e in back["scr_events"])
    assert [c["muscle"] for c in back["emg_channels"]][2] == "corrugator supercilii"
    rel = ground_truth_physio(s, duration_s=30.0)
    assert rel["time_base"] == "frame0" and rel["t0_lsl"] is None
    assert rel["beat_times"] == pytest.approx([b - 1000.0 for b in back["beat_times"]], abs=1e-5)


# --------------------------------------------------------------------------- outlets
@pytest.mark.lsl
def test_outlets_stream_regular_emg():
    s = make_schedule(60, seed=9)
    prefix = f"mexlab-simtest-{uuid.uuid4().hex[:8]}"
    rig = SimOutlets(s, prefix=prefix)
    inlet = None
    try:
        found = pylsl.resolve_byprop("name", f"{prefix}-EMG", 1, 10.0)
        assert found, "EMG outlet not visible"
        info = found[0]
        assert info.type() == "EMG" and info.channel_count() == 8
        assert info.nominal_srate() == 2000.0 and info.source_id().startswith(prefix)
        inlet = pylsl.StreamInlet(info, max_buflen=30)
        full = inlet.info(timeout=5.0)
        ch = full.desc().child("channels").child("channel")
        assert ch.child_value("label") == "EMG1" and ch.child_value("unit") == "microvolts"
        assert ch.child_value("muscle") == "frontalis medialis"
        inlet.open_stream(timeout=5.0)
        assert rig.outlets["EMG"].wait_for_consumers(5.0)
        t0 = pylsl.local_clock()
        rig.start(t0)
        time.sleep(2.0)
        rig.stop()
        elapsed = pylsl.local_clock() - t0
        got, stamps = [], []
        deadline = time.monotonic() + 5.0
        while sum(len(c) for c in got) < rig.samples_pushed["EMG"] and time.monotonic() < deadline:
            data, ts = inlet.pull_chunk(timeout=0.5, max_samples=100000)
            if ts:
                got.append(np.asarray(data, np.float32))
                stamps.extend(ts)
        data = np.vstack(got)
        stamps = np.asarray(stamps)
        n = rig.samples_pushed["EMG"]
        assert len(data) == n
        assert abs(n - elapsed * 2000) <= 2000 * 0.02 + 2      # ±1 chunk
        assert np.allclose(np.diff(stamps), 1 / 2000, atol=1e-6)
        assert stamps[0] == pytest.approx(t0, abs=1e-6)
        assert stamps[-1] == pytest.approx(t0 + (n - 1) / 2000, abs=1e-6)
        assert stamps[-1] <= pylsl.local_clock()              # nothing from the future
        assert np.array_equal(data, rig.generators["EMG"].generate(0, n))
        assert rig.samples_pushed["ECG"] == pytest.approx(n / 4, abs=10 + 1)
        assert rig.samples_pushed["EDA"] == pytest.approx(n * 32 / 2000, abs=2)
        assert rig.error is None
        names = sorted(i.name() for i in rig.infos())
        assert names == [f"{prefix}-ECG", f"{prefix}-EDA", f"{prefix}-EMG"]
        assert len({i.source_id() for i in rig.infos()}) == 3
    finally:
        if inlet is not None:            # close the inlet first: no "transmission broke off"
            inlet.close_stream()
            del inlet
        rig.close()


@pytest.mark.parametrize("args, words", [
    (["--rgb", "12x7@999"], ["12x7@999", "848x480@6/15/30/60"]),
    (["--rgb", "123x77@13"], ["123x77@13", "1920x1080@6/15/30"]),
    (["--rgb", "1280x720@60", "--depth", "1280x720@60"], ["1280x720@60", "colour modes"]),
    (["--depth", "848x480@90"], ["same frame rate"]),
])
def test_rig_refuses_modes_a_d400_does_not_offer(tmp_path, args, words):
    """The rig imitates a D400: a mode it does not offer is refused with the list of those it does,
    before any folder is made (it once recorded 12x7@999, and depth at 164 Hz declared as 30 Hz)."""
    import subprocess
    import sys

    out = tmp_path / "s"
    for cmd in (["record", "--simulate", "--duration", "2", "--no-catalog", "--out", str(out)],
                ["rig", "--duration", "1"]):
        res = subprocess.run([sys.executable, "-m", "app.cli", *cmd, *args], capture_output=True, text=True,
                             timeout=60)
        assert res.returncode != 0, (cmd, res.stderr)
        assert "Traceback" not in res.stderr
        for w in words:
            assert w in res.stderr, (w, res.stderr)
    assert not out.exists()


def test_rig_accepts_the_d400_modes():
    from acquisition.realsense.modes import Mode
    from acquisition.sim.camera import D400_DEPTH_MODES, D400_RGB_MODES, check_sim_modes

    for (w, h), rates in D400_RGB_MODES.items():
        for fps in rates:
            depth = next(((dw, dh) for (dw, dh), dr in D400_DEPTH_MODES.items() if fps in dr), None)
            if depth:
                check_sim_modes(Mode(w, h, fps), Mode(*depth, fps))
