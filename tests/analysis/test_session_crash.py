"""A session cut by a crash (XDF ending inside a chunk, video cut mid-file) fed to every consumer of
the session-reading layer: each reads what is there and says so in one clear message, none raises a
traceback. Also: an XDF that is not XDF at all, a real LabRecorder file cut mid-chunk, and no module
but acquisition/xdf_read.py calling pyxdf."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import MexlabError, SessionFormatError
from acquisition.session_read import names
from tests.helpers_session import cut, make_session

REPO = Path(__file__).resolve().parents[2]
SHARED_XDF = REPO.parent / "shared" / "data" / "xdf" / "clock_resets.xdf"
SPOT = [{"onset": 38, "apex": 44, "offset": 52, "type": "micro", "score": 0.9, "aus": ["AU12"]}]
INTERRUPTED = "the recording was interrupted; analysing what was recorded"


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    return make_session(tmp_path_factory.mktemp("whole") / "S1", spotting=SPOT)


@pytest.fixture()
def crashed(whole, tmp_path) -> Path:
    """The session as a kill leaves it: the XDF ends inside a chunk (no footers), the video is cut
    in the middle (the frames of its first ~40 %)."""
    folder = tmp_path / "S1"
    shutil.copytree(whole, folder)
    size = (folder / names.XDF_NAME).stat().st_size
    assert cut(folder / names.XDF_NAME, 0.55) < size
    cut(folder / names.RGB_NAME, 0.5)
    return folder


def test_the_whole_session_reads_without_notes(whole):
    from analysis.session_data import load

    data = load(whole)
    assert data.notes == [] and len(data.me_events) == 1 and len(data.markers) == 3
    assert data.stream(names.RGB_FRAMES_STREAM).n_samples == 90


def test_session_data_reads_the_cut_xdf(whole, crashed):
    from analysis.session_data import load

    full, data = load(whole), load(crashed)
    emg_full, emg = full.of_kind("emg")[0], data.of_kind("emg")[0]
    assert 0 < emg.n_samples < emg_full.n_samples  # up to the last chunk
    assert np.array_equal(emg.timestamps, emg_full.timestamps[: emg.n_samples])
    assert any(INTERRUPTED in n for n in data.notes)
    assert [e.onset_frame for e in data.me_events] == [38]  # placed by the frame index
    assert data.me_events[0].onset == pytest.approx(full.me_events[0].onset)


def test_clip_reads_frame_index_and_markers_of_the_cut_xdf(crashed):
    from analysis.annotation.clip import open_clip

    clip = open_clip(crashed)
    assert clip.n_frames == 90 and clip.fps == 30.0 and len(clip.markers) == 3
    assert any(INTERRUPTED in n for n in clip.notes)
    assert clip.frame_at(clip.time_of(50)) == 50


def test_clip_of_an_unreadable_xdf_falls_back_to_the_video(crashed):
    from analysis.annotation.clip import open_clip

    (crashed / names.XDF_NAME).write_bytes(b"XDF:\x01")  # the file header is cut
    clip = open_clip(crashed)
    assert 0 < clip.n_frames < 90  # the frames the cut video holds
    assert clip.markers == [] and len(clip.notes) == 1
    assert "truncated XDF file" in clip.notes[0] and "frame times taken from the video" in clip.notes[0]


def test_emg_coding_reads_the_cut_xdf(crashed):
    from analysis.annotation.clip import open_clip
    from analysis.annotation.emg_coding import channel_maps, session_candidates

    name, maps = channel_maps(crashed / names.XDF_NAME)
    assert name == "sim-EMG" and [m.aus for m in maps] == ["AU4", "AU12"]
    events, _ = session_candidates(open_clip(crashed))
    assert any(e.aus.replace("AU", "") == "12" and 38 <= e.onset <= 50 for e in events)  # the burst


def test_emg_coding_of_an_unreadable_xdf_is_one_clear_error(crashed):
    from analysis.annotation.clip import open_clip
    from analysis.annotation.emg_coding import channel_maps, session_candidates

    clip = open_clip(crashed)
    (crashed / names.XDF_NAME).write_bytes(b"not an xdf at all")
    assert channel_maps(crashed / names.XDF_NAME) == (None, [])
    with pytest.raises(SessionFormatError, match=r"recording\.xdf: not an XDF file"):
        session_candidates(clip)


def test_spotting_emg_reads_the_cut_xdf(crashed):
    from analysis.spotting.emg import load_emg

    ev = load_emg(crashed / names.XDF_NAME, 90)
    assert [c.label for c in ev.channels] == ["EMG3", "EMG6"] and ev.z.shape == (90, 2)
    assert np.nanargmax(ev.z[:, 1]) in range(38, 53)  # the burst, on its frames
    assert any(INTERRUPTED in n for n in ev.notes)
    (crashed / names.XDF_NAME).write_bytes(b"XD")
    ev = load_emg(crashed / names.XDF_NAME, 90)
    assert ev.channels == [] and "EMG not used" in ev.notes[0] and "truncated XDF" in ev.notes[0]


def test_video_readers_read_the_frames_the_cut_file_holds(whole, crashed):
    from acquisition.session_read.frame_reader import FrameReader
    from acquisition.session_read.video import frame_times, iter_frames, read_frames

    n = len(frame_times(crashed / names.RGB_NAME))
    assert 0 < n < 90
    frames = list(iter_frames(crashed / names.RGB_NAME, want_rgb=True))
    assert len(frames) == n and frames[-1].index == n - 1
    full = read_frames(whole / names.RGB_NAME, [0, n - 1])
    assert np.array_equal(frames[n - 1].rgb, full[n - 1])
    reader = FrameReader(crashed / names.RGB_NAME, read_ahead=2)
    try:
        assert np.array_equal(reader.frame(n - 1), full[n - 1])
        with pytest.raises(IndexError, match=rf"rgb\.mkv: frame {n + 5} not found"):
            reader.frame(n + 5)
    finally:
        reader.close()


def test_video_readers_refuse_a_file_that_is_no_video(tmp_path):
    from acquisition.session_read.frame_reader import FrameReader
    from acquisition.session_read.video import frame_times, iter_frames, probe
    from protocols.errors import ProtocolError
    from protocols.media import probe_file

    bad = tmp_path / names.RGB_NAME
    bad.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 10)  # an MKV signature, nothing else
    for call in (
        lambda: frame_times(bad),
        lambda: list(iter_frames(bad)),
        lambda: probe(bad),
        lambda: FrameReader(bad),
    ):
        with pytest.raises(MexlabError, match=re.escape(str(bad))):
            call()
    with pytest.raises(ProtocolError, match="cannot be decoded"):
        probe_file(bad, "protocol.yaml", video=True)


def test_stimulus_reader_plays_a_cut_video_to_its_end(crashed):
    from protocols.media import StimulusVideo

    r = StimulusVideo(crashed / names.RGB_NAME, (32, 24))
    try:
        got = []
        while (f := r.next(timeout=10)) is not None:
            got.append(f.index)
    finally:
        r.close()
    assert got == list(range(len(got))) and 0 < len(got) < 90 and r.eof


def test_analyze_model_shows_the_cut_session(crashed):
    from analysis.analyze_model import AnalyzeModel
    from analysis.session_data import read_spotting
    from analysis.spotting.pipeline import SpotResult

    m = AnalyzeModel()
    m.open(crashed)
    rows, _ = read_spotting(crashed / names.SPOTTING_FILE)
    m.set_result(SpotResult(str(crashed), 30.0, 90, 90, rows, []))
    assert m.rows()[0][:4] == ("micro", 38, 44, 52)
    traces, note = m.emg_traces()
    assert note is None and [t.label for t in traces] == ["EMG3", "EMG6"]
    assert m.frame_image(0) is not None  # frame 0 is in the cut file
    assert m.frame_image(89) is None and "frame 89 not shown" in m.notes[-1]
    (crashed / names.XDF_NAME).write_bytes(b"XDF:")
    traces, note = m.emg_traces()
    assert traces == [] and note.startswith("EMG not shown:") and "truncated XDF file" in note
    m.close()


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_XDF.is_file(), reason="../shared/data/xdf/clock_resets.xdf is absent")
def test_a_real_labrecorder_file_cut_mid_chunk(tmp_path):
    from analysis.session_data import load

    whole = load(SHARED_XDF)
    xdf = tmp_path / "cut.xdf"
    shutil.copy(SHARED_XDF, xdf)
    cut(xdf, 0.6)
    data = load(xdf)
    eeg, eeg_full = data.streams[0], next(s for s in whole.streams if s.name == data.streams[0].name)
    assert 0.4 * eeg_full.n_samples < eeg.n_samples < eeg_full.n_samples
    assert any("interrupted" in n for n in data.notes)


def test_no_module_but_xdf_read_calls_pyxdf():
    users = []
    for pkg in ("acquisition", "analysis", "app", "protocols"):
        for py in (REPO / pkg).rglob("*.py"):
            if re.search(r"^\s*(import pyxdf|from pyxdf)", py.read_text(encoding="utf-8"), re.MULTILINE):
                users.append(str(py.relative_to(REPO)))
    assert users == ["acquisition/xdf_read.py"]
