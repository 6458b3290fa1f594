"""The learned spotter (analysis/spotting/learned.py): its training on tiny data, its input's
mirror symmetry, and the shipped model file spotting a video of the varied rig."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.spotting import learned as L

torch = pytest.importorskip("torch")


def _bump_input(n=200, at=(40, 120), length=10, amp=1.5, seed=0):
    """An input (n, N_IN) with ME-like up-and-back bumps of the mouth regions' flow, and labels."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, L.N_IN), np.float32)
    k = len(L.EXPR)
    x[:, : 2 * k] = rng.normal(0, 0.05, (n, 2 * k))
    x[:, 2 * k : 3 * k] = -0.5
    x[:, -1] = 1.0
    y = np.zeros(n, np.int64)
    mouth = [L.EXPR.index(L.R.REGION_NAMES.index(r)) for r in ("mouth_l", "mouth_r")]
    for a in at:
        v = amp * np.sin(np.linspace(0, 2 * np.pi, length))  # up and back
        for r in mouth:
            x[a : a + length, 2 * r + 1] += v
        y[a : a + length] = 1
    return x, y


def test_mirror_swaps_left_and_right_and_is_an_involution():
    x = np.random.default_rng(1).normal(size=(5, L.N_IN)).astype(np.float32)
    m = L.mirror(x)
    k = len(L.EXPR)
    il, ir = L.EXPR.index(L.R.REGION_NAMES.index("mouth_l")), L.EXPR.index(L.R.REGION_NAMES.index("mouth_r"))
    assert np.allclose(m[:, 2 * il], -x[:, 2 * ir]) and np.allclose(m[:, 2 * il + 1], x[:, 2 * ir + 1])
    lu = L.EXPR.index(L.R.REGION_NAMES.index("lip_up"))  # a midline region stays
    assert np.allclose(m[:, 2 * lu], -x[:, 2 * lu])
    assert np.allclose(L.mirror(m), x)
    assert np.allclose(m[:, 3 * k :], x[:, 3 * k :])


@pytest.mark.learning
def test_training_on_tiny_data_learns_the_bumps():
    from analysis.spotting.learned_train import train

    data = [_bump_input(seed=s, at=(30 + 7 * s, 130 - 5 * s)) for s in range(4)]
    lp = L.LearnedParams(channels=16, dilations=(1, 2, 4))
    model = train(data, steps=150, batch=8, lp=lp)
    x, y = _bump_input(seed=9, at=(60, 150))
    p = L.frame_probs(model, x).sum(axis=1)
    assert p[y == 1].mean() > 0.6, p[y == 1].mean()
    assert p[y == 0].mean() < 0.2, p[y == 0].mean()


@pytest.mark.learning
def test_a_saved_model_loads_back_with_its_configuration(tmp_path):
    lp = L.LearnedParams(threshold=0.4, channels=16, dilations=(1, 2))
    model = L.build(lp)
    path = tmp_path / "m.safetensors"
    L.save(model, lp, path, {"videos": ["a"]})
    m2, lp2, meta = L.load(path)
    assert lp2 == lp and meta == {"videos": ["a"]}
    x = np.random.default_rng(0).normal(size=(50, L.N_IN)).astype(np.float32)
    assert np.allclose(L.frame_probs(model, x), L.frame_probs(m2, x), atol=1e-6)


def test_a_file_that_is_not_a_model_is_one_clear_error(tmp_path):
    from acquisition.errors import MexlabError

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(MexlabError, match="bad.safetensors: not a usable spotter model"):
        L.load(bad)


@pytest.mark.face_model
@pytest.mark.slow
def test_the_shipped_model_spots_a_varied_rig_video(tmp_path):
    """A held-out face of the varied rig, 8 s with MEs: the shipped file loads and finds them."""
    from acquisition.sim.identities import make_identity
    from acquisition.sim.varied import (
        make_varied_schedule,
        read_ground_truth,
        render_video,
    )
    from analysis.evaluation import evaluate_spotting
    from analysis.spotting.pipeline import SpotParams, spot

    assert L.MODEL_FILE.is_file() and L.available()
    _, _, meta = L.load()
    assert meta.get("videos") and all("heldout" not in v for v in meta["videos"])
    sched = make_varied_schedule(12.0, fps=30, seed=5003)
    out = render_video(
        make_identity("grace_hopper/2"),
        sched,
        (640, 360),
        30,
        tmp_path / "v.mp4",
        face_width=150.0,
        noise=1.0,
        crf=21,
        seed=5003,
    )
    gt = [
        (r["onset"], r["offset"], r["type"]) for r in read_ground_truth(out.ground_truth) if r["kind"] == "expression"
    ]
    assert gt
    res = spot(tmp_path / "v.mp4", params=SpotParams(spotter="learned"))
    pred = [(i["onset"], i["offset"], i["type"]) for i in res.intervals]
    score = evaluate_spotting({"v": gt}, {"v": pred})["overall"]
    assert score["tp"] >= max(1, len(gt) // 2), (gt, res.intervals)
    assert all(i["aus"] and i["regions"] for i in res.intervals)
