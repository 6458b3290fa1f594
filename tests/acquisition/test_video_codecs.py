"""The colour codecs VideoFile can write (issue 14's codec comparison): each is bit-exact, counted
by the check's demuxing, frame-accurately seekable by the annotator's reader, and readable after a
crash cut its file."""

from __future__ import annotations

import random

import av
import numpy as np
import pytest

from acquisition.check_video import count_video_frames
from acquisition.session_read.frame_reader import FrameReader
from acquisition.video_writer import COLOUR_CODECS, DEFAULT_COLOUR_CODEC, VideoFile


def frames(n=45, h=48, w=64):
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = []
    for i in range(n):  # a moving square on a fixed noisy background, plus fresh noise
        img = base.copy()
        img[10:20, i % (w - 10) : i % (w - 10) + 10] = (250, 10, 120)
        img ^= rng.integers(0, 4, img.shape, dtype=np.uint8)
        out.append(img)
    return out


@pytest.mark.parametrize("codec", sorted(COLOUR_CODECS))
def test_colour_codec_bit_exact_counted_and_seekable(codec, tmp_path):
    imgs = frames()
    path = tmp_path / "rgb.mkv"
    vf = VideoFile(path, 64, 48, 30, "rgb", codec=codec)
    for img in imgs:
        vf.write(img)
    vf.close()
    with av.open(str(path)) as c:
        got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(got) == len(imgs) and all(np.array_equal(a, b) for a, b in zip(got, imgs))
    assert count_video_frames(path) == len(imgs)
    r = FrameReader(path, read_ahead=0)
    try:
        order = list(range(len(imgs)))
        random.Random(3).shuffle(order)
        for n in order[:15]:
            assert np.array_equal(r.frame(n, ahead=False), imgs[n]), (codec, n)
    finally:
        r.close()


@pytest.mark.parametrize("codec", sorted(COLOUR_CODECS))
def test_colour_codec_file_cut_by_a_crash_reads_up_to_the_cut(codec, tmp_path):
    imgs = frames(90)
    path = tmp_path / "rgb.mkv"
    vf = VideoFile(path, 64, 48, 30, "rgb", codec=codec)
    for img in imgs:
        vf.write(img)
    vf.close()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    n = count_video_frames(path)
    assert 30 < n < 90
    with av.open(str(path)) as c:
        got = []
        try:
            for f in c.decode(video=0):
                got.append(f.to_ndarray(format="rgb24"))
        except av.error.FFmpegError:
            pass
    assert len(got) >= n - 2
    assert all(np.array_equal(a, b) for a, b in zip(got[: n - 2], imgs))


def test_unknown_codec_and_default():
    assert DEFAULT_COLOUR_CODEC in COLOUR_CODECS
    with pytest.raises(ValueError, match="unknown colour codec 'vp9'"):
        VideoFile("/nonexistent/x.mkv", 64, 48, 30, "rgb", codec="vp9")


@pytest.mark.parametrize("codec", sorted(COLOUR_CODECS))
def test_each_frame_leaves_the_encoder_with_its_write(codec, tmp_path):
    """The recorder pushes a frame's index sample once ``write`` returns: the frame must be in the
    file by then (an encoder that holds frames back — x264's lookahead or frame threads — would let
    the index name frames a crash loses). x264rgb-intra is tuned for zero latency to keep this."""
    vf = VideoFile(tmp_path / "a.mkv", 64, 48, 30, "rgb", codec=codec, threads=2)
    for i, img in enumerate(frames(12)):
        vf.write(img)
        if codec != "x264rgb":  # a keyframe each second, frames referenced: not a recording codec
            assert vf.packets == i + 1, (codec, i, vf.packets)
    vf.close()
    assert vf.packets == 12


def test_new_recordings_encode_colour_losslessly_with_h264_rgb(tmp_path):
    """The default colour codec (chosen by bench/codec_compare.py, docs/benchmarks.md)."""
    assert DEFAULT_COLOUR_CODEC == "x264rgb-intra"
    vf = VideoFile(tmp_path / "a.mkv", 64, 48, 30, "rgb")
    vf.write(frames(1)[0])
    vf.close()
    with av.open(str(tmp_path / "a.mkv")) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264" and st.codec_context.format.name in ("gbrp", "rgb24")


@pytest.mark.parametrize("codec", sorted(COLOUR_CODECS))
def test_spotting_reader_gives_each_codec_the_same_rgb_and_luma(codec, tmp_path):
    """The spotting reader converts each codec's decoded format its own way (planar GBR from H.264
    RGB, packed BGR0 from FFV1): the RGB must be the written frame and the luma OpenCV's, whatever
    the codec, so features and caches do not depend on how the session was encoded."""
    import cv2

    from acquisition.session_read.video import FrameStream

    imgs = frames(8, h=36, w=50)  # a width that pads the decoder's lines
    path = tmp_path / "rgb.mkv"
    vf = VideoFile(path, 50, 36, 30, "rgb", codec=codec)
    for img in imgs:
        vf.write(img)
    vf.close()
    stream = FrameStream(path, want_rgb=True)
    got = list(stream)
    stream.close()
    assert len(got) == len(imgs)
    for fr, img in zip(got, imgs):
        assert np.array_equal(fr.rgb, img)
        assert np.array_equal(fr.gray, cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
        assert fr.gray.flags.c_contiguous and fr.rgb.flags.c_contiguous
