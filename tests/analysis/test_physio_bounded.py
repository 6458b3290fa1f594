"""Physiology of a long recording in bounded memory: the fast streams read into files (spilled) and
analysed piece by piece give what the whole arrays in memory give.

The recordings are the shared ones of tests/helpers_physio.py (the simulated rig through
LabRecorder); the pieces are made small here so a 24-s recording is cut into many of them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from acquisition.xdf_read import read_xdf_robust
from analysis.physio import analyse, chunks
from analysis.physio.common import analysis_rate, gap_note, signal_of, unit_scale
from analysis.physio.emg import ENVELOPE_OUT_HZ, _bursts, analyse_emg, baseline_level, emg_envelope
from analysis.session_data import load
from tests.helpers_paths import shared_file

pytestmark = [pytest.mark.usefixtures("record_early")]  # starts the shared recordings early (conftest.py)


@pytest.fixture
def small_pieces(monkeypatch):
    import acquisition.xdf_read as xr

    monkeypatch.setattr(chunks, "WINDOW", 3001)  # 1.5 s of 2 kHz EMG: every burst crosses pieces somewhere
    monkeypatch.setattr(xr, "SPILL_WINDOW", 2000)


@pytest.mark.parametrize("seed,n", [(0, 1), (1, 2), (2, 7), (3, 100_001), (4, 2_500_000)])
def test_median_of_pieces_is_numpys(seed, n, monkeypatch):
    monkeypatch.setattr(chunks, "_COLLECT", 1000)  # force the narrowing passes
    rng = np.random.default_rng(seed)
    ticks = 1000.0 + np.arange(n) / 2000.0  # a regular clock: intervals a few ulps apart
    for x in (
        rng.standard_normal(n) ** 2,
        np.round(rng.standard_normal(n), 1),
        np.full(n, 0.25),
        np.diff(np.append(ticks, ticks[-1] + 0.0005)),
    ):

        def pieces(x=x):
            return (x[i : i + 7777] for i in range(0, x.size, 7777))

        assert chunks.median(pieces, x.size) == np.median(x)


def _compare_xdf(path, tmp_path, min_hz):
    whole = read_xdf_robust(path)
    spilled = read_xdf_robust(path, spill_dir=tmp_path, spill_min_hz=min_hz)
    assert (spilled.status, spilled.problems) == (whole.status, whole.problems)
    n_spilled = 0
    for a, b, sa, sb in zip(whole.streams, spilled.streams, whole.summaries, spilled.summaries):
        sp = b.get("spilled")
        assert set(sa) == set(sb)
        for k in sa:  # the summary from the files: the same counts and times, rates to float precision
            if isinstance(sa[k], float):
                assert sb[k] == pytest.approx(sa[k], rel=1e-9), (sa["name"], k)
            else:
                assert sb[k] == sa[k], (sa["name"], k)
        if sp is None:
            continue
        n_spilled += 1
        ts, values = sp.read()
        assert len(b["time_stamps"]) == 0 and len(b["time_series"]) == 0  # nothing kept in memory
        assert np.array_equal(ts, a["time_stamps"])  # the same clock synchronisation, bit for bit
        assert np.array_equal(values, np.asarray(a["time_series"]))
    return n_spilled


def test_spilled_read_equals_the_whole_read(study, tmp_path, small_pieces):
    assert _compare_xdf(study["sim1"] / "recording.xdf", tmp_path / "sim", 100.0) == 2  # EMG and ECG


def test_spilled_read_of_a_file_with_clock_resets(tmp_path, small_pieces):
    # the sender's clock was reset during the recording: pyxdf maps each piece on its own line
    assert _compare_xdf(shared_file("data/xdf/clock_resets.xdf"), tmp_path, 1.0) == 1


def _reference_emg(stream, baseline):
    """What analyse_emg computed before it worked piece by piece: the whole channel in memory."""
    fs, _ = analysis_rate(stream)
    factor = unit_scale("emg", stream.units[0], stream.name)[0]
    step = max(1, int(round(fs / ENVELOPE_OUT_HZ)))
    out = []
    for c in range(stream.n_channels):
        x, ts = signal_of(stream, c)
        env = emg_envelope(x * factor, fs)
        rel = None if baseline is None else (baseline[0] - ts[0], baseline[1] - ts[0])
        level, sd = baseline_level(env, fs, rel)
        bursts = [
            (float(ts[a]), float(ts[min(b, ts.size - 1)]), round(r, 4)) for a, b, r in _bursts(env, fs, level, sd)
        ]
        out.append((level, bursts, env[::step], ts[::step]))
    return out


@pytest.mark.parametrize("rest", [False, True])
def test_emg_in_pieces_equals_the_whole_signal(study, tmp_path, small_pieces, rest):
    data = load(study["sim1"])
    stream = data.of_kind("emg")[0]
    t0 = stream.timestamps[0]
    baseline = (t0 + 1.0, t0 + 5.0) if rest else None  # the rest step of the shared recordings
    ref = _reference_emg(stream, baseline)
    assert sum(len(b) for _, b, _, _ in ref) >= 3  # the rig's bursts are there to compare
    spilled = load(study["sim1"], spill_dir=tmp_path).of_kind("emg")[0]
    assert spilled.spilled is not None and spilled.data.size == 0
    for got in (analyse_emg(stream, baseline=baseline), analyse_emg(spilled, baseline=baseline)):
        for g, (level, bursts, env, env_t) in zip(got, ref, strict=True):
            assert g.baseline_level == pytest.approx(level, rel=1e-12)
            assert g.onsets == bursts
            assert np.array_equal(g.env_t, env_t)
            assert np.max(np.abs(g.env - env)) <= 1e-10 * env.max()
            assert g.env_t.base is None  # a copy: the full-rate timestamps are not kept alive


def test_analyse_from_a_path_spills_and_cleans_up(study, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    from_path = analyse(study["sim1"])  # spilled into the session's stream cache: no temporary files
    in_memory = analyse(load(study["sim1"]))
    assert list(tmp_path.iterdir()) == []
    a, b = from_path.to_json(), in_memory.to_json()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    emg = from_path.session.of_kind("emg")[0]
    assert emg.spilled is not None and emg.data.size == 0  # the raw EMG is not held by the result
    assert from_path.session.duration_s == in_memory.session.duration_s


def test_gap_note_and_rate_of_a_spilled_stream(study, tmp_path, small_pieces):
    for key in ("sim1", "lsl"):
        mem = load(study[key])
        sp = load(study[key], spill_dir=tmp_path / key)
        for a, b in zip(mem.streams, sp.streams, strict=True):
            if b.spilled is None or not b.n_samples:
                continue
            assert (b.n_samples, b.duration_s) == (a.n_samples, a.duration_s)
            assert analysis_rate(b) == analysis_rate(a)
            assert gap_note(b) == gap_note(a)


def test_spotting_emg_evidence_in_pieces_equals_the_whole_channel(study, tmp_path, small_pieces):
    """Spotting's EMG envelope (analysis.spotting.emg) piece by piece from the session's stream
    cache equals the envelope of the whole channel in memory, and so does the evidence per frame."""
    from analysis.spotting.emg import EmgParams, _envelope, _robust_z, channel_envelope, load_emg

    folder = study["sim1"]
    whole = load(folder)
    kept = load(folder, kept=True)
    s_whole, s_kept = whole.of_kind("emg")[0], kept.of_kind("emg")[0]
    assert s_kept.spilled is not None and s_whole.spilled is None
    p = EmgParams()
    for c in (0, 5):
        ref = _envelope(np.asarray(s_whole.data[:, c : c + 1], dtype=np.float64), s_whole.fs, p)[:, 0]
        got = channel_envelope(s_kept, c, s_kept.fs, p, size=3001)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * float(np.max(ref)))
    from tests.helpers_session import make_session

    folder = make_session(tmp_path / "with-video", n_frames=300)  # EMG at 500 Hz and a frame index
    whole = load(folder)
    s_whole = whole.of_kind("emg")[0]
    ev = load_emg(folder / "recording.xdf", 300)
    env = _envelope(np.asarray(s_whole.data, dtype=np.float64), s_whole.fs, p)
    med, mad = _robust_z(env)
    ft = whole.frame_clock().grid(300)
    ref_z = np.stack([np.interp(ft, s_whole.timestamps, env[:, c]) for c in range(env.shape[1])], axis=1)
    ref_z = (ref_z - med) / mad
    assert ev.z.shape == (300, 2) and np.nanmax(ev.z[:, 1]) > 20  # the burst of EMG6 at frames 40-50
    np.testing.assert_allclose(ev.z, ref_z, rtol=1e-3, atol=1e-3)


def test_emg_evidence_at_frames_without_the_whole_channel_in_float64(study):
    """Spotting's EMG evidence placed on the frames from timestamps read piece by piece equals
    np.interp over every timestamp (nan outside the samples), and the robust z's median and MAD
    from pieces equal numpy's."""
    from analysis.spotting.emg import FrameBrackets, _robust_z, _robust_z_pieces

    s = load(study["sim1"], kept=True).of_kind("emg")[0]
    assert s.spilled is not None
    ts = s.spilled.mapped()[0]
    rng = np.random.default_rng(1)
    y = rng.normal(size=s.n_samples).astype(np.float32)
    frames = np.sort(np.concatenate([rng.uniform(ts[0] - 1, ts[-1] + 1, 500), ts[[0, 1, 3000, 3001, -1]]]))
    for size in (1000, 3000, None):  # joins between pieces, and one piece
        got = FrameBrackets.of(s, frames, size=size).interp(y)
        ref = np.interp(frames, ts, y.astype(np.float64), left=np.nan, right=np.nan)
        assert np.array_equal(np.isnan(got), np.isnan(ref)) and np.isnan(got).sum() > 10
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    env = np.abs(y[:10001])
    med, mad = _robust_z(env.astype(np.float64))
    assert _robust_z_pieces(env, size=777) == (float(med), float(mad))


def test_ecg_r_peaks_in_pieces_are_the_whole_signals():
    """A long ECG is cleaned and searched in pieces (analysis.physio.ecg.ecg_peaks_in_pieces): the
    same R peaks as the whole signal at once, to a sample, across the pieces' joins."""
    import neurokit2 as nk

    from analysis.physio.ecg import ecg_peaks_in_pieces

    fs = 250
    x = nk.ecg_simulate(duration=240, sampling_rate=fs, heart_rate=72, method="simple", random_state=3)
    x = x + np.random.default_rng(3).normal(0, 0.02, x.size)
    whole = ecg_peaks_in_pieces(x, fs, piece_s=1e9)  # one piece: the signal as a whole
    pieces = ecg_peaks_in_pieces(x, fs, piece_s=50)  # four joins inside the signal
    assert whole.size > 250
    assert pieces.size == whole.size
    assert np.max(np.abs(pieces - whole)) <= 1
