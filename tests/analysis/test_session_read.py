"""The session-reading layer's pieces: the frame clock, the decoder thread, the one PyAV reader on
real face videos (random access agrees with sequential decoding), the stream cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acquisition.session_read import names
from acquisition.session_read.ahead import END, DecodeAhead
from acquisition.session_read.frame_clock import FrameClock

VIDEO = Path(__file__).resolve().parents[3] / "shared" / "data" / "video" / "single_face.mp4"


def test_frame_clock_interpolates_and_extrapolates_at_the_fps():
    # a frame index with a dropped sample (frame 2) and out of order
    c = FrameClock.from_index([3, 0, 1, 4], [10.1, 10.0, 10.0333, 10.1333], 30.0)
    assert c.time_of(2) == pytest.approx((10.0333 + 10.1) / 2)
    assert c.time_of(10) == pytest.approx(10.1333 + 6 / 30)  # after a crash: at the fps
    assert c.time_of(-3) == pytest.approx(10.0 - 3 / 30)
    assert np.allclose(c.frame_of(c.time_of(np.array([-3.0, 0, 2, 4, 10]))), [-3, 0, 2, 4, 10])
    assert c.grid().shape == (5,) and c.grid(7)[6] == pytest.approx(10.1333 + 2 / 30)
    assert FrameClock.from_index([], [], 30) is None


def test_linear_clock_and_nearest_frame():
    c = FrameClock.linear(100.0, 25.0)
    assert c.time_of(50) == pytest.approx(102.0) and c.frame_of(101.0) == pytest.approx(25.0)
    v = FrameClock.of_times([0.0, 0.04, 0.08, 0.12], 25.0)
    assert [v.nearest_frame(t) for t in (-1.0, 0.0, 0.019, 0.021, 0.12, 0.15, 0.2)] == [0, 0, 0, 1, 3, 3, 5]


def test_decoder_thread_hands_over_items_errors_and_stops():
    d = DecodeAhead(lambda put: [put(i) for i in range(5)], maxsize=2)
    assert list(d) == [0, 1, 2, 3, 4]
    d.close()

    def fails(put):
        put("a")
        raise ValueError("broken at item 2")

    d = DecodeAhead(fails, maxsize=2)
    with pytest.raises(ValueError, match="broken at item 2"):
        list(d)
    d.close()
    produced = []

    def endless(put):
        i = 0
        while put(i):
            produced.append(i)
            i += 1

    d = DecodeAhead(endless, maxsize=3)
    assert d.get(timeout=5) == 0
    d.close(timeout=5)
    assert not d._thread.is_alive() and len(produced) < 10  # the producer stopped at its next put
    assert END is not None


@pytest.mark.shared
@pytest.mark.skipif(not VIDEO.is_file(), reason="../shared/data/video/single_face.mp4 is absent")
def test_random_access_agrees_with_sequential_decoding_on_a_real_video():
    from acquisition.session_read.frame_reader import FrameReader, read_frame
    from acquisition.session_read.video import frame_times, iter_frames, probe

    info = probe(VIDEO)
    seq = {f.index: f.rgb for f in iter_frames(VIDEO, want_rgb=lambda i: i in (0, 17, 71))}
    assert len(seq) == info.n_frames == len(frame_times(VIDEO)) == 72
    reader = FrameReader(VIDEO, read_ahead=3)
    try:
        for n in (17, 0, 71, 17):
            assert np.array_equal(reader.frame(n), seq[n]), n
    finally:
        reader.close()
    assert np.array_equal(read_frame(VIDEO, 17), seq[17])


def test_streams_are_read_once_per_file_version(tmp_path):
    from acquisition.session_read.streams import read_streams
    from tests.helpers_session import make_session

    folder = make_session(tmp_path / "S", emg=False)
    xdf = folder / names.XDF_NAME
    a, b = read_streams(xdf), read_streams(xdf)
    assert a is b and a.named(names.MARKER_STREAM).n_samples == 3
    make_session(folder, n_frames=60, emg=False)  # the file changed
    c = read_streams(xdf)
    assert c is not a and c.named(names.RGB_FRAMES_STREAM).n_samples == 60


def test_a_selection_reads_only_those_streams_with_the_same_samples(tmp_path):
    from acquisition.session_read.streams import read_streams
    from acquisition.xdf_read import read_xdf_robust
    from tests.helpers_session import cut, make_session

    xdf = make_session(tmp_path / "S") / names.XDF_NAME
    sel = [{"name": names.RGB_FRAMES_STREAM}, {"type": "EMG"}]
    part = read_xdf_robust(xdf, select=sel)
    full = read_xdf_robust(xdf)
    assert [s["name"] for s in part.summaries] == [names.RGB_FRAMES_STREAM, "sim-EMG"]
    assert len(full.summaries) == 3 and part.status == full.status == "complete"
    for p, f in zip(part.streams, (full.streams[0], full.streams[2])):
        assert np.array_equal(p["time_stamps"], f["time_stamps"])
    assert read_xdf_robust(xdf, select=[{"name": "nothing"}]).problems == [
        f"recording.xdf holds none of the streams {[{'name': 'nothing'}]}"
    ]
    cut(xdf, 0.7)  # a cut file: selection too
    got = read_streams(xdf, select=sel, use_cache=False)
    assert [s.name for s in got.streams] == [names.RGB_FRAMES_STREAM, "sim-EMG"]
    assert got.status == "interrupted"
    whole = read_streams(xdf)  # a whole read serves selections
    assert read_streams(xdf, select=[{"type": "EMG"}]).streams[0] is whole.named("sim-EMG")


SHARED_XDF = Path(__file__).resolve().parents[3] / "shared" / "data" / "xdf" / "clock_resets.xdf"


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_XDF.is_file(), reason="../shared/data/xdf/clock_resets.xdf is absent")
def test_a_selection_of_a_damaged_real_file_skips_the_damage_like_a_whole_read(tmp_path):
    from acquisition.session_read.streams import read_streams

    data = bytearray(SHARED_XDF.read_bytes())
    pos, samples = 4, []
    while pos < len(data):  # break the length field of the 200th Samples chunk
        nbytes = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + nbytes], "little")
        if int.from_bytes(data[pos + 1 + nbytes : pos + 3 + nbytes], "little") == 3:
            samples.append(pos)
        pos += 1 + nbytes + length
    data[samples[200]] = 7
    xdf = tmp_path / "damaged.xdf"
    xdf.write_bytes(bytes(data))
    whole = read_streams(xdf, use_cache=False)
    part = read_streams(xdf, select=[{"type": "EEG"}], use_cache=False)
    assert [s.name for s in part.streams] == ["BioSemi"] and part.status == whole.status == "complete"
    assert np.array_equal(part.streams[0].timestamps, whole.named("BioSemi").timestamps)
    assert any("malformed chunk" in n for n in part.notes)
