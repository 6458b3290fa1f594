"""The pre-flight's disk estimate: how many minutes fit, from what the lab's own earlier sessions of
the same modes wrote (their files over their duration), else from a per-mode estimate."""

from __future__ import annotations

import json

import pytest

from acquisition.preflight import measured_bytes_per_s, recording_bytes_per_s, run_preflight
from acquisition.realsense.modes import Mode

pytestmark = [pytest.mark.lsl]  # the pre-flight also looks the network over

RGB, DEPTH = Mode(848, 480, 30), Mode(848, 480, 30)


def _session(root, name, seconds, nbytes, status="complete", rgb=RGB, codec="x264rgb-intra"):
    d = root / name
    d.mkdir(parents=True)
    with open(d / "rgb.mkv", "wb") as f:  # a sparse file: its size counts, not the disk it takes
        f.truncate(nbytes)
    modes = {
        "rgb": {"width": rgb.width, "height": rgb.height, "fps": rgb.fps, "format": "rgb8"},
        "depth": {"width": DEPTH.width, "height": DEPTH.height, "fps": DEPTH.fps, "format": "z16"},
    }
    meta = {"status": status, "duration_s": seconds, "modes": modes}
    if codec is not None:  # sessions from before the codec was recorded name none (they are FFV1)
        meta["codecs"] = {"rgb": codec, "depth": "ffv1"}
    (d / "session.json").write_text(json.dumps(meta))
    return d


def test_the_estimate_comes_from_earlier_sessions_of_the_same_modes(tmp_path):
    assert measured_bytes_per_s(tmp_path, RGB, DEPTH) is None  # nothing recorded yet
    rep = run_preflight([], tmp_path, RGB, DEPTH, look_for_cameras=False)
    assert rep.bytes_per_s == recording_bytes_per_s(RGB, DEPTH) and "estimate" in rep.rate_source
    _session(tmp_path, "a", 10.0, 2_000_000)  # 200 kB/s
    _session(tmp_path, "b", 20.0, 6_000_000)  # 300 kB/s: the highest rate counts
    _session(tmp_path, "c", 10.0, 90_000_000, status="interrupted")  # not a complete session
    _session(tmp_path, "d", 10.0, 90_000_000, rgb=Mode(640, 480, 30))  # other modes
    _session(tmp_path, "e", 1.0, 90_000_000)  # too short to say
    _session(tmp_path, "g", 10.0, 90_000_000, codec="ffv1")  # another colour codec
    _session(tmp_path, "h", 10.0, 90_000_000, codec=None)  # FFV1, from before codecs were recorded
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "session.json").write_text("{not json")  # unreadable: ignored
    rate, n = measured_bytes_per_s(tmp_path, RGB, DEPTH)
    assert n == 2 and 300_000 <= rate < 300_200  # the files over 20 s (session.json's bytes included)
    rep = run_preflight([], tmp_path, RGB, DEPTH, look_for_cameras=False)
    assert rep.bytes_per_s == rate and "2 latest session(s)" in rep.rate_source
    disk = next(line for line in rep.lines() if line.startswith("disk:"))
    assert "0.3 MB/s" in disk and "latest session" in disk
    assert rep.minutes_free == rep.free_bytes / rate / 60.0
    # a lab that records FFV1 is told from its FFV1 sessions (g and h: 9 MB/s)
    rate, n = measured_bytes_per_s(tmp_path, RGB, DEPTH, colour_codec="ffv1")
    assert n == 2 and rate >= 9_000_000
