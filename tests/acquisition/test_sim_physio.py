"""The simulated participant rig's physiology (ECG, EDA, EMG generators, checked with neurokit2 where
it can measure them) and its LSL outlets."""

from __future__ import annotations

import json
import time
import uuid
import warnings

import numpy as np
import pylsl
import pytest

from acquisition.sim.outlets import SimOutlets
from acquisition.sim.physio import (
    AU_TO_EMG,
    EMG_BASELINE_UV,
    EMG_CHANNELS,
    EcgGenerator,
    EdaGenerator,
    EmgGenerator,
    ground_truth_physio,
)
from acquisition.sim.schedule import FacialEvent, make_schedule
from tests.helpers_sim import one_event


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
    assert 0.8 < x.max() < 1.6  # R ≈ 1.1 mV
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
    s = one_event(FacialEvent("macro", 300, 330, 360, ("AU12",), 8.0, True), n_frames=1800)
    ecg = EcgGenerator(s)
    t = np.arange(0, 60, 0.05)
    hr = ecg.hr_trace(t)
    assert 64 <= hr[t < 9].min() and hr[t < 9].max() <= 76  # ~70 bpm with a little HRV
    rise = ecg.hr_response(t)
    assert np.all(rise[t <= 10.0] == 0)
    assert 13.0 <= t[np.argmax(rise)] <= 16.0  # 3-6 s after onset (10 s)
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
    for _o, p, a in scrs:
        if a >= 0.2 and p < 178:
            assert np.min(np.abs(found / eda.fs - p)) < 2.0


def test_emg_bursts_on_the_right_channels():
    s = make_schedule(120, seed=3)
    emg = EmgGenerator(s)
    x = emg.generate(0, 120 * 2000)
    fs = emg.fs
    quiet = np.ones(len(x), bool)
    for e in s.events:
        quiet[int((e.onset - 2) / s.fps * fs) : int((e.offset + 2) / s.fps * fs)] = False
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
        act = emg.activation(int((e.onset - 1) / s.fps * fs) - 200, int((e.onset - 1) / s.fps * fs))
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
        assert abs(n - elapsed * 2000) <= 2000 * 0.02 + 2  # ±1 chunk
        assert np.allclose(np.diff(stamps), 1 / 2000, atol=1e-6)
        assert stamps[0] == pytest.approx(t0, abs=1e-6)
        assert stamps[-1] == pytest.approx(t0 + (n - 1) / 2000, abs=1e-6)
        assert stamps[-1] <= pylsl.local_clock()  # nothing from the future
        assert np.array_equal(data, rig.generators["EMG"].generate(0, n))
        assert rig.samples_pushed["ECG"] == pytest.approx(n / 4, abs=10 + 1)
        assert rig.samples_pushed["EDA"] == pytest.approx(n * 32 / 2000, abs=2)
        assert rig.error is None
        names = sorted(i.name() for i in rig.infos())
        assert names == [f"{prefix}-ECG", f"{prefix}-EDA", f"{prefix}-EMG"]
        assert len({i.source_id() for i in rig.infos()}) == 3
    finally:
        if inlet is not None:  # close the inlet first: no "transmission broke off"
            inlet.close_stream()
            del inlet
        rig.close()
