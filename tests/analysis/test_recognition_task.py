"""The recognition task contract (analysis/recognition/task.py) on tiny synthetic feature arrays."""

import numpy as np
import pytest

from acquisition.errors import MexlabError
from analysis.recognition import task as T

pytestmark = pytest.mark.learning


def _set(n=48, seed=0, views=("rgb", "depth")):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = {v: rng.normal(size=(n, 3, 32, 32)).astype(np.float32) for v in views}
    x[views[0]][:, 0, 8:16, 8:16] += 2.0 * y[:, None, None]  # the class is in the first view
    return T.FeatureSet(
        x, y.astype(np.int64), [f"s{i % 4}" for i in range(n)], ["negative", "positive", "surprise"], tuple(views)
    )


def test_weights_round_trip_and_shape_check():
    m = T.new_model(3, ("rgb", "depth"), seed=0)
    w = T.get_weights(m)
    assert all(isinstance(a, np.ndarray) for a in w)
    m2 = T.new_model(3, ("rgb", "depth"), seed=5)
    assert any(not np.array_equal(a, b) for a, b in zip(w, T.get_weights(m2)))
    T.set_weights(m2, w)
    assert all(np.array_equal(a, b) for a, b in zip(w, T.get_weights(m2)))
    bad = [a.copy() for a in w]
    bad[-1] = np.zeros((7,), np.float32)
    with pytest.raises(MexlabError, match="head.bias has shape"):
        T.set_weights(m2, bad)
    with pytest.raises(MexlabError, match="arrays given"):
        T.set_weights(T.new_model(3, ("rgb",)), w)


@pytest.mark.slow  # ~85 s on the 2 shared cores under load (torch)
def test_train_evaluate_subset():
    data = _set()
    tr = T.subset(data, np.array([s != "s0" for s in data.subjects]))
    te = T.subset(data, [i for i, s in enumerate(data.subjects) if s == "s0"])
    assert len(tr) + len(te) == len(data) and set(te.subjects) == {"s0"}
    m = T.new_model(3, data.views, seed=0)
    before = T.evaluate(m, te)
    out = T.train(m, tr, epochs=15, lr=3e-3, seed=0, batch_size=16)
    assert out["n"] == len(tr) and np.isfinite(out["loss"])
    res = T.evaluate(m, te)
    assert set(res) >= {"uf1", "uar", "accuracy", "n"} and res["n"] == len(te)
    assert res["uf1"] > 0.9 and res["uf1"] >= before["uf1"]


@pytest.mark.slow  # ~85 s on the 2 shared cores under load (torch)
def test_mvcl_pretraining_lowers_the_contrastive_loss():
    data = _set(n=64, views=("rgb", "diff"))
    data.x["diff"] = data.x["rgb"] * 0.5 + 0.1 * np.random.default_rng(1).normal(size=data.x["rgb"].shape).astype(
        np.float32
    )  # a second view of the same segments
    m = T.new_model(3, data.views, seed=0)
    first = T.pretrain_mvcl(m, data, epochs=1, lr=2e-3, seed=0, batch_size=32)["loss"]
    last = T.pretrain_mvcl(m, data, epochs=15, lr=2e-3, seed=0, batch_size=32)["loss"]
    assert last < first
    with pytest.raises(MexlabError, match="two views"):
        T.pretrain_mvcl(T.new_model(3, ("rgb",)), data, epochs=1, lr=1e-3)


def _stops_at(k: int):
    batches = [0]

    def stop():
        batches[0] += 1
        return batches[0] == k

    return stop


@pytest.mark.parametrize("views", [("rgb",), ("rgb", "diff")])
def test_a_stop_inside_an_epoch_does_not_report_that_epoch_done(views):
    """Training and MvCL pretraining report each finished epoch (training checkpoints it); a stop
    part-way through an epoch must not report it, else a resumed run would skip the rest of it."""
    run = T.train if len(views) == 1 else T.pretrain_mvcl
    seen = []
    data = _set(n=32, views=views)
    # 4 batches of 8 per epoch: the 6th is epoch 2's second
    run(
        T.new_model(3, views, seed=0),
        data,
        3,
        1e-3,
        batch_size=8,
        progress=lambda *a: seen.append(a[0]),
        stop=_stops_at(6),
    )
    assert seen == [1], (run.__name__, seen)
