"""Spotting a session folder recorded from the simulated rig: video, depth and EMG together."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder, pytest.mark.face_model]

SEED = 13  # its first 9 s hold two clean micro-expressions (AU17, AU4) and a blink


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from tests.helpers_sim import record_rig

    out = tmp_path_factory.mktemp("rec") / "s"
    record_rig(out, 9, SEED)
    return out


def test_session_spotting_uses_depth_and_emg(session):
    from analysis.evaluation import interval_iou
    from analysis.spotting.pipeline import spot

    gt = [ln.split(",") for ln in (session / "ground_truth.csv").read_text().splitlines()[1:]]
    micro = [(int(g[0]), int(g[2]), g[4]) for g in gt if g[3] == "micro"]
    assert len(micro) >= 2
    res = spot(session)
    written = session / "analysis" / "spotting.json"
    assert res.written == str(written)
    d = json.loads(written.read_text())
    assert d == json.loads(json.dumps(res.as_dict()))
    assert d["input"] == str(session) and d["fps"] == 30
    # depth: head distance of the simulated head (front ~620 mm)
    dist = res.features.depth_face[:, 0]
    assert np.isfinite(dist).mean() > 0.9 and 590 < np.nanmedian(dist) < 700
    # the micro-expressions are found, and EMG bursts on their muscles raised their scores
    for on, off, aus in micro:
        hit = [i for i in d["intervals"] if interval_iou(on, off, i["onset"], i["offset"]) >= 0.5]
        assert hit, (on, off, aus, d)
        assert hit[0]["type"] == "micro" and "emg" in hit[0], hit[0]
        assert all(e["z"] >= 5 for e in hit[0]["emg"])
    again = spot(session, write_session_json=False)
    assert again.intervals == res.intervals  # deterministic (second run from the cache)
    assert res.features.from_cache is False and again.features.from_cache is True


def test_session_result_is_read_back_by_session_data(session):
    from analysis import session_data as sd
    from analysis.spotting.pipeline import spot

    res = spot(session)
    data = sd.load(session)
    assert data.me_source == "analysis/spotting.json"
    assert [e.onset_frame for e in data.me_events] == [i["onset"] for i in res.intervals]
