"""``gop_starts``: the frames at which a lossy, inter-coded video starts a group of pictures again
(the spotter takes their flow from their neighbours': analysis/spotting/codec.py), read from the
packets in presentation order; none for lossless or intra-only video."""

from __future__ import annotations

import av
import numpy as np
import pytest

from acquisition.errors import MexlabError
from acquisition.session_read.video import gop_starts

N = 47


def _write(path, codec: str, options: dict, pix_fmt: str = "yuv420p") -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        st = c.add_stream(codec, rate=30, options=options)
        st.width, st.height, st.pix_fmt = 96, 64, pix_fmt
        for k in range(N):
            img = np.roll(base, k, axis=1)  # a moving picture: P- and B-frames carry something
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)


def test_h264_keyframes_every_ten_frames(tmp_path):
    p = tmp_path / "g10.mp4"
    _write(p, "libx264", {"g": "10", "keyint_min": "10", "sc_threshold": "0", "bf": "2"})
    # in presentation order, although B-frames put the packets in another order
    assert gop_starts(p).tolist() == [10, 20, 30, 40]
    with av.open(str(p)) as c:  # the frames as decoded say the same
        keys = [k for k, f in enumerate(c.decode(video=0)) if f.key_frame]
    assert keys == [0, 10, 20, 30, 40]


def test_no_starts_for_lossless_or_intra_only_video(tmp_path):
    ffv1 = tmp_path / "f.mkv"
    _write(ffv1, "ffv1", {"g": "10"}, pix_fmt="bgr0")  # keyframes flagged every 10, all lossless
    assert gop_starts(ffv1).size == 0
    intra = tmp_path / "i.mp4"
    _write(intra, "libx264", {"g": "1"})  # every frame a keyframe: nothing restarts
    assert gop_starts(intra).size == 0
    mjpeg = tmp_path / "m.avi"
    _write(mjpeg, "mjpeg", {}, pix_fmt="yuvj420p")
    assert gop_starts(mjpeg).size == 0


def test_lossless_h264_the_recorder_writes_has_no_starts_and_constant_quantiser_h264_has(tmp_path):
    from acquisition.video_writer import VideoFile

    rng = np.random.default_rng(1)
    rec = tmp_path / "rgb.mkv"
    vf = VideoFile(rec, 96, 64, 30, "rgb", codec="x264rgb")  # lossless (qp 0), a keyframe every 30 frames
    for _ in range(70):
        vf.write(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    vf.close()
    with av.open(str(rec)) as c:
        keys = [k for k, p in enumerate(c.demux(c.streams.video[0])) if p.size and p.is_keyframe]
    assert keys == [0, 30, 60]  # the keyframes are there; being lossless, nothing is re-quantised
    assert gop_starts(rec).size == 0
    qp = tmp_path / "qp20.mp4"
    _write(qp, "libx264", {"qp": "20", "g": "10", "keyint_min": "10", "sc_threshold": "0"})
    assert gop_starts(qp).tolist() == [10, 20, 30, 40]  # lossy at a constant quantiser


def test_a_file_that_is_no_video_is_named(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MexlabError, match="bad.mp4"):
        gop_starts(bad)
