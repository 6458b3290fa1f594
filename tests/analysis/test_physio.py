"""Physiology: known answers on neurokit2 signals, the simulated rig's ground truth, foreign LSL streams.

The recorded sessions come from tests/helpers_physio.py (recorded once, shared with test_stats.py and
test_report.py).
"""

from __future__ import annotations

import json

import neurokit2 as nk
import numpy as np
import pytest
import pyxdf

from acquisition.errors import MexlabError
from analysis import session_data
from analysis.physio import analyse
from analysis.physio.common import unit_scale
from analysis.physio.ecg import cardiac_from_signal
from analysis.physio.eda import analyse_eda, eda_from_signal
from analysis.physio.emg import emg_envelope, emg_onsets
from analysis.physio.events import event_responses
from app.cli import main
from tests.helpers_physio import LSL_HR, LSL_SCR_NUMBER, SIM_DURATION_S, ground_truth

pytestmark = [pytest.mark.usefixtures("record_early")]  # starts the shared recordings early (conftest.py)


# --------------------------------------------------------------------------- hand-made signals
@pytest.mark.parametrize("fs,hr", [(250, 60), (500, 100), (1000, 72)])
def test_ecg_known_heart_rate(fs, hr):
    x = nk.ecg_simulate(duration=30, sampling_rate=fs, heart_rate=hr, random_state=fs)
    c = cardiac_from_signal(x, fs)
    assert abs(c.mean_hr_bpm - hr) < 2.0
    assert abs(c.n_beats - 30 * hr / 60) <= 2
    assert np.nanmax(np.abs(c.hr_bpm - hr)) < 6.0  # no spurious or missed beat
    assert c.hrv["HRV_MeanNN"] == pytest.approx(60000 / hr, rel=0.03)


def test_ppg_known_heart_rate():
    x = nk.ppg_simulate(duration=30, sampling_rate=50, heart_rate=75, random_state=1)
    c = cardiac_from_signal(x, 50, kind="ppg")
    assert abs(c.mean_hr_bpm - 75) < 2.0


@pytest.mark.parametrize("seed", [0, 1])
def test_eda_known_scr_number(seed):
    x = nk.eda_simulate(duration=60, sampling_rate=32, scr_number=5, drift=0.0, noise=0.01, random_state=seed) + 2.0
    r = eda_from_signal(x, 32)
    assert abs(r.n_scr - 5) <= 1
    _, info = nk.eda_process(x, sampling_rate=32, method="neurokit")
    assert abs(r.n_scr - int(np.isfinite(info["SCR_Onsets"]).sum())) <= 1
    assert np.all(np.diff(r.scr_onsets) > 5)  # one response each, not split
    assert np.allclose(r.tonic + r.phasic, r.clean, atol=0.05)


def test_emg_onsets_known_bursts():
    # nk.emg_simulate: 3 bursts of 1 s, evenly between 4 quiet stretches of (10 - 3) / 4 = 1.75 s
    x = nk.emg_simulate(duration=10, sampling_rate=1000, burst_number=3, burst_duration=1.0, random_state=1)
    expected = [(1.75 + i * 2.75, 2.75 + i * 2.75) for i in range(3)]
    for baseline in (None, (0.0, 1.5)):
        got = emg_onsets(x, 1000, baseline=baseline)
        assert len(got) == 3, got
        for (on, off, rel), (e_on, e_off) in zip(got, expected):
            assert abs(on - e_on) < 0.1 and abs(off - e_off) < 0.1
            assert rel > 5  # bursts 20x the quiet amplitude
    env = emg_envelope(x, 1000)
    assert env.shape == x.shape
    quiet, burst = env[200:1500].mean(), env[2000:2600].mean()
    assert 15 < burst / quiet < 30  # ±1 vs ±0.05 uniform noise


def test_emg_no_bursts_in_noise():
    rng = np.random.default_rng(5)
    assert emg_onsets(rng.standard_normal(20000), 2000) == []


def test_units():
    assert unit_scale("eda", "microsiemens", "x")[:2] == (1.0, "µS")
    assert unit_scale("eda", "S", "x")[:2] == (1e6, "µS")
    assert unit_scale("emg", "mV", "x")[:2] == (1e3, "µV")
    factor, unit, note = unit_scale("eda", "kOhm", "gsr-1")
    assert (factor, unit) == (1.0, "kOhm") and "'gsr-1'" in note and "'kOhm'" in note
    assert "records no unit" in unit_scale("eda", None, "gsr-1")[2]


# --------------------------------------------------------------------------- the simulated rig
def _xdf_stream(folder, type_):
    streams, _ = pyxdf.load_xdf(str(folder / "recording.xdf"), dejitter_timestamps=False)
    s = next(s for s in streams if s["info"]["type"][0] == type_)
    return np.asarray(s["time_series"], dtype=float), np.asarray(s["time_stamps"])


@pytest.mark.parametrize("key", ["sim1", "sim2"])
def test_sim_heart_rate_and_scrs_recovered(study, key):
    folder = study[key]
    gt = ground_truth(folder)
    pa = analyse(folder)
    c = pa.cardiac
    assert c is not None and c.stream == "mexlab-sim-ECG" and c.unit == "millivolts"
    # beats: every R peak found, each within 10 ms of the rig's
    true_beats = np.array(gt["beat_times"])
    true_beats = true_beats[(true_beats >= c.beat_times[0] - 0.1) & (true_beats <= c.beat_times[-1] + 0.1)]
    assert c.n_beats == true_beats.size
    assert np.max(np.abs(c.beat_times - true_beats)) < 0.010
    # heart rate: the mean and the trace within 2 bpm of the rig's
    t, bpm = np.array(gt["hr"]["t"]), np.array(gt["hr"]["bpm"])
    inside = (t > c.beat_times[0] + 1) & (t < c.beat_times[-1] - 1)
    err = c.hr_at(t[inside]) - bpm[inside]
    assert abs(c.mean_hr_bpm - bpm[inside].mean()) < 2.0
    assert np.max(np.abs(err)) < 2.0, err
    # SCRs: as many as neurokit2 run directly on the same samples (± 1) ...
    e = pa.eda
    x, ts = _xdf_stream(folder, "EDA")
    _, info = nk.eda_process(x[:, 0], sampling_rate=32, method="neurokit")
    assert abs(e.n_scr - int(np.isfinite(info["SCR_Onsets"]).sum())) <= 1
    # ... every SCR found is one of the rig's (peak within 1 s), and the rig's largest one is found
    rig = [s for s in gt["scr_events"] if s["onset"] < ts[-1]]
    rig_peaks = np.array([s["peak"] for s in rig])
    assert e.n_scr >= 1
    for p in e.scr_peaks:
        assert np.min(np.abs(rig_peaks - p)) < 1.0, (p, rig)
    largest = max((s for s in rig if s["peak"] < ts[-1] - 1), key=lambda s: s["amplitude_uS"])
    i = int(np.argmin(np.abs(e.scr_peaks - largest["peak"])))
    assert abs(e.scr_peaks[i] - largest["peak"]) < 1.0
    assert abs(e.scr_onsets[i] - largest["onset"]) < 1.0
    assert e.scr_amplitudes[i] == pytest.approx(largest["amplitude_uS"], rel=0.3)
    print(
        f"{key}: HR mean error {c.mean_hr_bpm - bpm[inside].mean():+.2f} bpm, max trace error "
        f"{np.max(np.abs(err)):.2f} bpm; SCRs found {e.n_scr}, by neurokit2 directly "
        f"{int(np.isfinite(info['SCR_Onsets']).sum())}, by the rig {len(rig)} (peaks "
        f"{[round(s['peak'] - gt['t0_lsl'], 1) for s in rig]} s, found "
        f"{[round(p - gt['t0_lsl'], 1) for p in e.scr_peaks]} s)"
    )


def test_sim_emg_bursts_and_me_events(study):
    from acquisition.sim.physio import AU_TO_EMG
    from acquisition.sim.schedule import make_schedule

    folder = study["sim1"]
    gt = ground_truth(folder)
    data = session_data.load(folder)
    assert data.me_source == "ground_truth.csv"
    sched = make_schedule(SIM_DURATION_S + 5, fps=30.0, seed=0)
    t0 = gt["t0_lsl"]
    emg = next(s for s in data.streams if s.type == "EMG")
    expr = [
        e
        for e in sched.of_kind("micro", "macro")
        if emg.timestamps[0] + 0.5 < t0 + e.onset / 30 < emg.timestamps[-1] - 1.0
    ]
    # ME events placed at t0 + frame / fps (no video: ground_truth_physio.json gives t0 and fps)
    onsets = np.array([e.onset for e in data.me_events])
    for ev in expr:
        assert np.min(np.abs(onsets - (t0 + ev.onset / 30))) < 1e-6
    pa = analyse(data)
    by_label = {c.channel: c for c in pa.emg}
    assert len(by_label) == 8 and all(c.unit == "µV" for c in pa.emg)
    for ev in expr:
        for au in ev.aus:
            ch = pa.emg[AU_TO_EMG[au]]
            starts = np.array([a for a, _, _ in ch.onsets])
            assert starts.size and np.min(np.abs(starts - (t0 + ev.onset / 30))) < 0.3, (ev, ch.channel)
            rel = max(r for a, _, r in ch.onsets if abs(a - (t0 + ev.onset / 30)) < 0.3)
            assert rel > 1.5
    # the same through the shared array API: bursts of the AU's channel at the ME onsets
    ev = max(expr, key=lambda e: e.amplitude)
    c = AU_TO_EMG[ev.aus[0]]
    got = emg_onsets(emg.data[:, c], emg.fs)
    assert np.min(np.abs(np.array([a for a, _, _ in got]) + emg.timestamps[0] - (t0 + ev.onset / 30))) < 0.3
    # ME-locked responses: EMG of the event's own channel rises far above baseline
    responses = [r for r in event_responses(pa) if r.source == "me"]
    assert len(responses) == len(data.me_events)
    r = min(responses, key=lambda r: abs(r.time - (t0 + ev.onset / 30)))
    assert r.emg[pa.emg[c].channel] > 3


# --------------------------------------------------------------------------- foreign LSL streams
def test_physio_cli_on_foreign_lsl_streams(study, capsys):
    names = study["names"]
    rc = main(["physio", str(study["lsl"]), "--json"])
    cap = capsys.readouterr()
    assert rc == 0
    out = json.loads(cap.out)
    assert out["participant"] == "P3"
    assert out["ecg"]["stream"] == names["ecg"]  # the full ECG, not the 5 s one
    assert LSL_HR[0] + 5 < out["ecg"]["mean_hr_bpm"] < LSL_HR[1] - 5
    assert out["ecg"]["n_beats"] >= 20
    assert out["eda"]["stream"] == names["eda"] and abs(out["eda"]["n_scr"] - LSL_SCR_NUMBER) <= 1
    assert len(out["eda"]["scr_onsets"]) == out["eda"]["n_scr"]
    assert "emg" not in out and "no stream of type EMG" in out["missing"]["emg"]
    assert "note: no EMG: no stream of type EMG" in cap.err and "Traceback" not in cap.err
    # the stimuli split the session into two halves of known heart rate
    events = [e for e in out["events"] if e["source"] == "marker"]
    assert [e["condition"] for e in events] == ["truthful", "deceptive"]
    data = session_data.load(study["lsl"])
    pa = analyse(data)
    switch = study["lsl_switch"]
    assert abs(pa.cardiac.mean_hr_between(data.start + 1, switch - 1) - LSL_HR[0]) < 2
    assert abs(pa.cardiac.mean_hr_between(switch + 1, data.end - 1) - LSL_HR[1]) < 2
    assert main(["physio", str(study["lsl"])]) == 0
    assert "mean HR" in capsys.readouterr().out


def test_unusable_stream_found_by_type_is_reported_missing(study):
    data = session_data.load(study["lsl"])
    data.streams = [s for s in data.streams if s.name != study["names"]["ecg"]]  # only the 5 s ECG left
    pa = analyse(data)
    assert pa.cardiac is None
    assert "holds 5.0 s of signal; at least 10 s are needed" in pa.missing["ecg"]
    assert study["names"]["ecgshort"] in pa.missing["ecg"]
    assert pa.eda is not None  # the rest is still analysed


def test_physio_on_a_plain_xdf(study, tmp_path, capsys):
    import shutil

    xdf = shutil.copy(study["lsl"] / "recording.xdf", tmp_path / "plain.xdf")  # no session.json
    assert main(["physio", str(xdf), "--json", "--ecg", study["names"]["ecg"]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["participant"] is None and out["me_source"] is None
    assert out["protocol"] == "interview"  # from the markers' "protocol" field
    assert out["ecg"]["n_beats"] >= 20


@pytest.mark.parametrize(
    "option,stream,message",
    [
        ("--ecg", "task", "holds text samples"),
        ("--ecg", "slow", "is sampled at 1 Hz; ECG needs at least 100 Hz"),
        ("--ecg", "ecgshort", "holds 5.0 s of signal; at least 10 s are needed"),
        ("--eda", "ecgshort", "holds 5.0 s of signal; at least 10 s are needed"),
        ("--eda", None, "no stream named 'nothing-like-this'"),
    ],
)
def test_physio_cli_wrong_streams(study, capsys, option, stream, message):
    name = study["names"][stream] if stream else "nothing-like-this"
    rc = main(["physio", str(study["lsl"]), option, name])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and name in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_physio_cli_bad_paths(tmp_path, capsys):
    assert main(["physio", str(tmp_path / "none")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    junk = tmp_path / "junk.xdf"
    junk.write_bytes(b"hello")
    assert main(["physio", str(junk)]) == 2
    assert "not an XDF file" in capsys.readouterr().err
    assert main(["physio", str(tmp_path)]) == 2
    assert "not a mexlab session folder" in capsys.readouterr().err


def test_me_events_from_spotting_placed_by_frame_index(study, tmp_path):
    import shutil

    folder = tmp_path / "s"
    shutil.copytree(study["lsl"], folder)
    (folder / "analysis").mkdir()
    spotted = [
        {"onset": 90, "apex": 95, "offset": 99, "type": "micro", "score": 0.8, "aus": ["AU12"]},
        {"onset": 98, "apex": 110, "offset": 140, "type": "macro", "score": 0.6, "aus": ["AU4", "AU7"]},
        {"onset": 5, "apex": 6, "offset": 7, "type": "blink", "score": 0.9, "aus": []},
    ]
    (folder / "analysis" / "spotting.json").write_text(json.dumps({"fps": 30.0, "intervals": spotted}))
    (folder / "ground_truth.csv").write_text("onset,apex,offset,type,aus,kind\n1,2,3,micro,AU1,expression\n")
    data = session_data.load(folder)
    assert data.me_source == "analysis/spotting.json"  # spotting first, then ground truth
    assert [e.type for e in data.me_events] == ["micro", "macro"]  # not the blink
    _, stamps = study["frame_index"]
    micro, macro = data.me_events
    assert micro.onset == pytest.approx(stamps[90], abs=1e-4) and micro.aus == "AU12"
    # frames 100-103 of the camera were dropped: file frame 140 is camera frame 144
    assert macro.offset == pytest.approx(stamps[140], abs=1e-4)
    assert macro.offset - macro.onset == pytest.approx((144 - 98) / 30, abs=1e-3)
    (folder / "analysis" / "spotting.json").write_text('{"fps": 30, "intervals": 3}')
    with pytest.raises(MexlabError, match="spotting.json: not a spotting result"):
        session_data.load(folder)


def test_unknown_eda_unit_is_said(study):
    data = session_data.load(study["lsl"])
    s = data.stream(study["names"]["eda"])
    base = analyse_eda(s)
    s.units[0] = "kOhm"
    got = analyse_eda(s)
    assert got.unit == "kOhm" and any("'kOhm'" in n for n in got.notes)
    s.units[0] = "siemens"
    scaled = analyse_eda(s)
    assert scaled.unit == "µS"
    assert np.allclose(scaled.scr_amplitudes, base.scr_amplitudes * 1e6)
