"""The ServerApp loop and ClientApp on the virtual-clock Grid: faults, what a site sends, the CLI.

Data: analysis.federated.synthetic feature sets (the recognition task's input shapes, not faces);
model, training and evaluation: the recognition task's own (analysis.recognition.task)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from analysis.federated import site, synthetic
from analysis.federated.simulation import simulate

pytestmark = [pytest.mark.learning]

RC = {"strategy": "fedbuff", "updates": 6, "epochs": 1, "lr": 3e-3, "k": 2, "views": "rgb,depth"}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    d = synthetic.make(9, per_subject=6, seed=3)
    p = tmp_path_factory.mktemp("fl") / "all.npz"
    site.save_features(p, d)
    return d, f"features:{p}"


def _flat_strings(content) -> list[str]:
    out = []
    for rec in list(content.config_records.values()) + list(content.metric_records.values()):
        for k, v in rec.items():
            out.append(str(k))
            vals = v if isinstance(v, list) else [v]
            out += [x for x in vals if isinstance(x, str)]
    for name in content.keys():
        out.append(str(name))
    return out


def test_nothing_a_site_sends_could_be_an_image_a_path_or_a_participant(data_file, tmp_path):
    data, spec = data_file
    sent = []
    res = simulate([spec], 3, [1, 1, 2], dict(RC), on_send=lambda s, m: sent.append((s, m)), pooled=False)
    assert res["updates"] >= 6 and sent
    from analysis.recognition import task

    params = [tuple(w.shape) for w in task.get_weights(task.new_model(3, ("rgb", "depth")))]
    frame_shapes = {tuple(a.shape[1:]) for a in data.x.values()}  # (C, H, W) per view
    hw = {s[-2:] for s in frame_shapes}
    sample_sizes = {int(np.prod(s)) for s in frame_shapes} | {int(np.prod(s[-2:])) for s in frame_shapes}
    subjects = set(data.subjects)
    n_arrays = 0
    for _site_name, msg in sent:
        c = msg.content
        assert set(c.keys()) <= {"arrays", "metrics", "config"}
        if "arrays" in c.array_records:
            arrs = c["arrays"].to_numpy_ndarrays()
            assert [tuple(a.shape) for a in arrs] == params  # parameter deltas, nothing else
            for a in arrs:
                n_arrays += 1
                assert not (a.ndim >= 2 and tuple(a.shape[-2:]) in hw), a.shape
                assert not (a.ndim >= 3 and min(a.shape[-2:]) >= 16), a.shape  # a stack of frames
                assert a.size not in sample_sizes, a.shape  # one frame, flattened
        for s in _flat_strings(c):
            assert "/" not in s and "\\" not in s and ".npz" not in s, s  # no path
            assert s not in subjects and not any(sub in s for sub in subjects), s  # no participant id
            assert not re.search(r"sub\d{3}", s), s
        assert len(c["metrics"]) <= 10 if "metrics" in c.metric_records else True
    assert n_arrays > 0


def test_faults_are_logged_and_never_merged(data_file):
    _, spec = data_file
    from flwr.app import ArrayRecord

    calls = {"n": 0}

    def tamper(idx, msg, reply):
        if msg.metadata.message_type != "train" or "arrays" not in reply.content.array_records:
            return reply
        calls["n"] += 1
        arrs = reply.content["arrays"].to_numpy_ndarrays()
        if idx == 0 and calls["n"] in (1, 4):
            arrs[0] = arrs[0] * np.nan  # NaN
        elif idx == 1 and calls["n"] == 2:
            arrs[1] = np.zeros((7, 7), np.float32)  # wrong shape
        elif idx == 1 and calls["n"] == 5:
            reply.content["metrics"]["version"] = 99  # unknown version
        reply.content["arrays"] = ArrayRecord([np.asarray(a) for a in arrs])
        return reply

    # site 3 is 8x slower and offline from t=0.2 to t=0.5: its update in flight is lost, it comes back
    res = simulate([spec], 3, [1, 1, 8], {**RC, "updates": 8}, tamper=tamper, outages={2: [(0.2, 0.5)]}, pooled=False)
    kinds = [(e["kind"], e.get("reason", "")) for e in res["events"]]
    reasons = " | ".join(r for _, r in kinds)
    assert "NaN or infinite" in reasons
    assert "wrong shape" in reasons
    assert "unknown version 99" in reasons
    assert any(k == "site-lost" for k, _ in kinds), kinds
    assert any(k == "site-left" for k, _ in kinds) and any(k == "site-joined" for k, _ in kinds)
    assert np.isfinite(res["final"]["uf1"])
    assert res["history"][-1]["version"] >= 3  # the run went on


def test_a_reply_whose_arrays_never_come_costs_a_bounded_wait():
    # Flower 1.41's HttpGrid pulls a reply's arrays with pull_objects (max_time 7200 s): a site killed
    # mid-upload kept the coordinator waiting until the SuperLink dropped the upload (180 s).
    # bound_reply_pulls gives Flower's own pull a max_time; past it Flower answers that reply with an error.
    import threading
    import time

    from flwr.proto.message_pb2 import PullObjectResponse
    from flwr.proto.node_pb2 import Node
    from flwr.supercore.inflatable.inflatable_protobuf_utils import make_pull_object_fn_protobuf
    from flwr.supercore.inflatable.inflatable_utils import ObjectPullError
    from flwr.superlink.grid import http_grid

    from analysis.federated.server_loop import bound_reply_pulls

    saved = http_grid.pull_objects
    # the SuperLink's answer for an object whose upload never finished: found, not available
    fn = make_pull_object_fn_protobuf(
        lambda req: PullObjectResponse(object_found=True, object_available=False), Node(node_id=0), 1
    )
    out = {}

    def pull():
        t0 = time.monotonic()
        try:
            http_grid.pull_objects(object_ids=["ab" * 32], pull_object_fn=fn)
        except ObjectPullError as exc:
            out["error"] = exc
        out["s"] = time.monotonic() - t0

    try:
        assert bound_reply_pulls(1.0) and bound_reply_pulls(1.0)  # twice: still one wrapper
        assert http_grid.pull_objects.__wrapped__ is getattr(saved, "__wrapped__", saved)
        th = threading.Thread(target=pull, daemon=True)
        th.start()
        th.join(15)
        assert not th.is_alive() and "error" in out and out["s"] < 15, out
    finally:
        http_grid.pull_objects = saved


def test_fedasync_and_fedavg_run_on_the_same_apps(data_file):
    _, spec = data_file
    a = simulate([spec], 3, [1, 1, 4], {**RC, "strategy": "fedasync", "updates": 4}, pooled=False)
    assert a["history"][-1]["version"] == 4 or a["history"][-1]["version"] >= 4
    f = simulate([spec], 3, [1, 1, 4], {**RC, "strategy": "fedavg", "updates": 2})
    assert [h["version"] for h in f["history"]] == [0, 1, 2]
    # sync rounds wait for the slowest site: round time = 4x a fast site's
    assert f["history"][2]["t"] == pytest.approx(2 * f["history"][1]["t"])
    assert set(f) >= {
        "strategy",
        "sites",
        "virtual_time",
        "updates",
        "final",
        "pooled",
        "history",
        "per_site",
        "bytes_sent",
    }


def test_simulate_cli_json_and_bad_input(data_file, capsys, tmp_path):
    from app.cli import main

    _, spec = data_file
    rc = main(
        [
            "fl",
            "simulate",
            "--sites",
            "2",
            "--data",
            spec,
            "--updates",
            "2",
            "--epochs",
            "1",
            "--speeds",
            "1,8",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert list(out) == [
        "strategy",
        "sites",
        "virtual_time",
        "updates",
        "final",
        "pooled",
        "history",
        "per_site",
        "bytes_sent",
    ]
    assert set(out["final"]) == {"uf1", "uar"} and set(out["pooled"]) == {"uf1", "uar"}
    assert set(out["per_site"][1]) == {"site", "speed", "updates", "uf1"} and out["per_site"][1]["speed"] == 8
    assert out["bytes_sent"] > 0

    one = synthetic.make(1, per_subject=6, seed=1)
    site.save_features(tmp_path / "one.npz", one)
    for argv, words in (
        (["--sites", "2", "--data", f"features:{tmp_path / 'one.npz'}"], "cannot be split"),
        (["--sites", "1", "--data", f"features:{tmp_path / 'one.npz'}"], "no usable data"),
        (["--sites", "2", "--data", spec, "--speeds", "1,x"], "--speeds"),
        # nan passed the old `<= 0` check and hung the virtual clock; inf never reported
        (["--sites", "2", "--data", spec, "--speeds", "nan,1"], "finite factors in (0, 1000] needed"),
        (["--sites", "2", "--data", spec, "--speeds", "inf,1"], "finite factors in (0, 1000] needed"),
        (["--sites", "2", "--data", spec, "--speeds", "0,1"], "finite factors in (0, 1000] needed"),
        (["--sites", "2", "--data", f"features:{tmp_path / 'nope.npz'}"], "not a feature file"),
    ):
        capsys.readouterr()
        rc = main(["fl", "simulate", "--updates", "1", *argv])
        err = capsys.readouterr().err
        assert rc != 0 and words in err and "Traceback" not in err, err


def test_every_version_is_a_model_file_in_the_catalog_and_status_shows_the_sites(data_file, tmp_path, capsys):
    from acquisition.catalog.recognition_models import list_models
    from analysis.recognition import modelfile
    from app.cli import main

    _, spec = data_file
    out = tmp_path / "run"
    assert (
        main(
            [
                "fl",
                "simulate",
                "--sites",
                "3",
                "--data",
                spec,
                "--updates",
                "4",
                "--buffer",
                "2",
                "--epochs",
                "1",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    files = sorted((out / "versions").glob("v*.safetensors"))
    assert len(files) >= 3  # v0 and two server steps at least
    model, meta = modelfile.load(files[-1])  # what `mexlab recognize --model` loads
    fed = meta["federated"]
    assert fed["strategy"] == "fedbuff" and fed["parent"] == fed["version"] - 1
    assert len(fed["sites_merged"]) == 2 and set(fed["sites_merged"]) <= {"site1", "site2", "site3"}
    assert set(meta["metrics"]) == {"uf1", "uar"}
    assert {m["sha256"] for m in list_models()} == {modelfile.file_sha256(f) for f in files}
    assert main(["fl", "status", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "strategy fedbuff" in text and "finished" in text
    for s in ("site1", "site2", "site3"):
        assert s in text
    assert main(["fl", "status", "--out", str(out), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["final"]["per_site"] and st["sites"]["site1"]["updates"] >= 1
