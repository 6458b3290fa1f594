"""Twelfth round of issue 15 (docs/spotting.md): a lossy inter-coded video's keyframes. At each
keyframe that starts a group of pictures again the encoder quantises the picture afresh, and the flow
from the frame before saw the codec's noise change as motion of every region. On a noisy H.264 video
with a keyframe every second, as many cameras write, each group of pictures was flagged. The flow of
those frames is now taken from their neighbours' (analysis/spotting/codec.py), offline and live."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.spotting.codec import REPAIRED, repair_gop_starts


def test_the_repair_takes_each_start_from_its_neighbours_and_touches_nothing_else():
    n = 12
    rng = np.random.default_rng(0)
    arrays = {
        "flow": rng.normal(size=(n, 5, 2)).astype(np.float32),
        "head_flow": rng.normal(size=(n, 5, 2)).astype(np.float32),
        "glob": rng.normal(size=(n, 8)).astype(np.float32),
        "gain": np.ones(n),
    }
    assert repair_gop_starts(arrays) is arrays  # no mask: nothing to repair
    arrays["gop_start"] = np.zeros(n, bool)
    assert repair_gop_starts(arrays) is arrays  # a mask with no start
    arrays["gop_start"][[0, 4, 11]] = True
    before = {k: v.copy() for k, v in arrays.items()}
    out = repair_gop_starts(arrays)
    for k in before:  # the input is left as it was
        assert np.array_equal(arrays[k], before[k])
    for name in REPAIRED:
        a, b = before[name], out[name]
        assert np.allclose(b[4], 0.5 * (a[3] + a[5]))
        assert np.array_equal(b[0], a[1]) and np.array_equal(b[11], a[10])  # the ends: one neighbour
        keep = np.ones(n, bool)
        keep[[0, 4, 11]] = False
        assert np.array_equal(b[keep], a[keep])
    assert out["gain"] is arrays["gain"]


@pytest.mark.face_model
def test_a_noisy_h264_video_with_a_keyframe_every_second_flags_only_its_expressions(tmp_path):
    """12 s of a tuning face at 640x360, sensor noise σ 2, H.264 at CRF 30 with a keyframe every
    30 frames, and two 2.5-px micro-expressions (the second across a keyframe). Offline and live,
    without the repair every few groups of pictures were flagged; with it, the two expressions alone."""
    import av

    from acquisition.session_read.video import gop_starts
    from acquisition.sim.identities import make_identity
    from acquisition.sim.schedule import FacialEvent, Schedule
    from acquisition.sim.varied import render_video
    from analysis.evaluation import interval_iou
    from analysis.spotting.live import StreamingSpotter
    from analysis.spotting.pipeline import SpotParams, spot, spot_features

    mes = [
        FacialEvent("micro", 100, 105, 111, ("AU12",), 2.5, True),
        FacialEvent("micro", 235, 240, 246, ("AU4",), 2.5, True),
    ]
    s = Schedule(fps=30.0, n_frames=360, seed=0, events=mes)
    out = render_video(
        make_identity("pexels_woman/20"),
        s,
        (640, 360),
        30,
        tmp_path / "g.mp4",
        face_width=150,
        noise=2.0,
        crf=30,
        gop=30,
    )
    starts = gop_starts(out.video)
    assert starts.tolist() == list(range(30, 360, 30))

    def found(intervals: list) -> tuple[int, int]:
        """(expressions found, flags that are none of them)"""
        hit = sum(any(interval_iou(e.onset, e.offset, a, b) >= 0.5 for a, b in intervals) for e in mes)
        other = sum(not any(interval_iou(e.onset, e.offset, a, b) > 0 for e in mes) for a, b in intervals)
        return hit, other

    res = spot(out.video, use_cache=False)
    f = res.features
    assert np.flatnonzero(f.arrays["gop_start"]).tolist() == starts.tolist()
    speed = np.linalg.norm(f.flow, axis=2).mean(axis=1)  # the jump the repair takes out
    assert np.median(speed[starts]) > 10 * np.median(speed[starts - 1]) + 0.02, (speed[starts], speed[starts - 1])
    assert found([(i["onset"], i["offset"]) for i in res.intervals]) == (2, 0), res.intervals
    groups, _ = spot_features(f, 30.0, params=SpotParams(repair_gop_starts=False))
    assert found([(g.onset, g.offset) for g in groups])[1] >= 3, [(g.onset, g.offset) for g in groups]

    def live(flag_starts: bool) -> list:
        flags = []
        keys = set(starts.tolist()) if flag_starts else set()
        with av.open(str(out.video)) as c, StreamingSpotter(30.0) as sp:
            for k, fr in enumerate(c.decode(video=0)):
                flags += sp.push(fr.to_ndarray(format="rgb24"), k / 30.0, gop_start=k in keys)
            flags += sp.flush()
        return [(x.onset, x.offset) for x in flags if x.state == "confirmed"]

    assert found(live(True)) == (2, 0)
    assert found(live(False))[1] >= 2
