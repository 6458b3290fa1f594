"""The warm site worker (analysis/federated/worker.py): over its Unix socket it gives the very
answer the ClientApp computes itself; a wrong key or a closed worker means no answer (the ClientApp
then answers itself), never a wrong one."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from analysis.federated import site, synthetic, worker

pytestmark = [pytest.mark.learning]


@pytest.fixture()
def node(tmp_path):
    p = tmp_path / "site.npz"
    site.save_features(p, synthetic.make(3, per_subject=6, seed=5, prefix="w"))
    return {"site-name": "labw", "data": f"features:{p}", "views": "rgb,depth", "classes": "3"}


def test_worker_answers_like_the_clientapp_and_refuses_strangers(node, tmp_path):
    name, sd = worker.node_site(node)
    w0 = site.initial_weights(len(sd.class_names), sd.views)
    sig = site.model_signature(w0, sd.class_names, sd.views)
    conf = {"version": 0, "epochs": 1, "lr": 0.003, "seed": 0, "batch-size": 8, "model-sig": sig}
    local = worker.answer(node, w0, conf, True)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    wk = worker.SiteWorker(state, warm_config=node)  # loads the data + torch at once
    try:
        assert stat.S_IMODE(os.stat(wk.key_file).st_mode) == 0o600
        cfg = {**node, **wk.node_config()}
        remote = worker.ask(cfg, w0, conf, True)
        assert remote is not None and remote["error"] == "" and remote["name"] == "labw"
        assert remote["sig"] == local["sig"] == sig
        assert len(remote["delta"]) == len(local["delta"])
        for a, b in zip(remote["delta"], local["delta"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert remote["metrics"]["num-examples"] == local["metrics"]["num-examples"] > 0
        ev = worker.ask(cfg, w0, {"version": 0, "model-sig": sig}, False)
        assert ev["error"] == "" and 0.0 <= ev["metrics"]["uf1"] <= 1.0
        # a model that is not this site's: the same refusal code from the worker
        bad = worker.ask(cfg, w0, {**conf, "model-sig": "0" * 12}, True)
        assert bad["error"] == "incompatible-model" and "delta" not in bad
        # a client without the key gets nothing (the ClientApp then answers itself)
        wrong = tmp_path / "wrong.key"
        wrong.write_bytes(b"x" * 32)
        assert worker.ask({**cfg, "worker-key-file": str(wrong)}, w0, conf, True) is None
        assert worker.ask(node, w0, conf, True) is None  # no worker configured
    finally:
        wk.close()
    assert worker.ask(cfg, w0, conf, True) is None  # worker gone
