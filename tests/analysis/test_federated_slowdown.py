"""`mexlab fl site --slowdown F` (a trial setting, docs/federated.md): after training an update the
site waits (F - 1) x its training time before replying, as a machine F times slower would. Checked
here without a federated run: the bad values (one line, exit 2, nothing started), the wait in the
site's answer (worker.answer, given the node config exactly as Flower's SuperNode parses it), and
the real `mexlab fl site` handing the factor to the SuperNode it starts against a real SuperLink."""

from __future__ import annotations

import subprocess
import time

import pytest

from analysis.federated import deploy, site, synthetic, worker
from tests.helpers_fl import free_port, start_mexlab

_BAD_SITE_VALUES = [
    ("--slowdown", v, f"--slowdown {v!r}: a finite factor >= 1") for v in ("0.5", "0", "-1", "nan", "inf", "eight")
]
# `mexlab fl site --wait nan` used to give up at once ("for 0 s"), as if the coordinator were not there
_BAD_SITE_VALUES += [
    ("--wait", v, f"--wait {v}: must be a positive, finite number of seconds") for v in ("nan", "-5", "0")
] + [("--wait", "1e9", "--wait 1e+09: more than the 168 h mexlab fl allows; give at most 604800 s")]
_BAD_SITE_VALUES += [
    ("--reconnect", v, f"--reconnect {v}: must be a positive, finite number of seconds") for v in ("nan", "-1", "0")
] + [("--reconnect", "1e9", "--reconnect 1e+09: more than the 168 h mexlab fl allows")]


@pytest.mark.parametrize(("flag", "value", "message"), _BAD_SITE_VALUES)
def test_a_bad_site_value_is_one_line_before_anything_starts(flag, value, message, tmp_path, capsys):
    from app.cli import main

    data = tmp_path / "site.npz"  # never read: the values are checked first
    rc = main(
        ["fl", "site", "--coordinator", f"127.0.0.1:{free_port()}", "--insecure", "--data", f"features:{data}"]
        + [flag, value]
    )
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def node(tmp_path):
    p = tmp_path / "site.npz"
    site.save_features(p, synthetic.make(4, per_subject=8, seed=11, prefix="sd"))
    return {"site-name": "labs", "data": f"features:{p}", "views": "rgb,depth", "classes": "3"}


def _parsed(node_config: dict) -> dict:
    """The node config as Flower's SuperNode parses the --node-config string mexlab gives it."""
    from flwr.common.config import parse_config_args

    return parse_config_args([deploy.node_config_arg(node_config)])


@pytest.mark.learning
def test_the_site_waits_its_factor_after_training_and_sends_the_same_update(node):
    name, sd = worker.node_site(node)
    w0 = site.initial_weights(len(sd.class_names), sd.views)
    conf = {"version": 0, "epochs": 2, "lr": 0.003, "seed": 0, "batch-size": 8}
    conf["model-sig"] = site.model_signature(w0, sd.class_names, sd.views)
    worker.answer(node, w0, conf, True)  # warm: torch's first training step imports more
    plain = worker.answer(_parsed(node), w0, conf, True)
    slow_cfg = _parsed({**node, "slowdown": 4.0})
    assert slow_cfg["slowdown"] == 4.0 and worker.slowdown_factor(slow_cfg) == 4.0
    t0 = time.monotonic()
    slow = worker.answer(slow_cfg, w0, conf, True)
    wall = time.monotonic() - t0
    assert plain["error"] == slow["error"] == ""
    assert "waited" not in plain["detail"] and "--slowdown 4" in slow["detail"], slow["detail"]
    train_s = float(slow["detail"].split(" in ")[1].split(" s")[0])
    waited = float(slow["detail"].split("then waited ")[1].split(" s")[0])
    assert waited == pytest.approx(3 * train_s, abs=0.025)
    assert wall >= 4 * train_s - 0.03 and wall >= waited
    # the update itself is the same: the factor only delays the reply, and is never sent
    assert all((a == b).all() for a, b in zip(plain["delta"], slow["delta"]))
    assert plain["metrics"].keys() == slow["metrics"].keys()
    assert not any("slow" in k for k in slow["metrics"])
    # a message the coordinator sent 1.5 s ago (Flower's delivery and the ClientApp's start take
    # time too): the whole message is stretched, (F - 1) x its age when the update is ready
    two = _parsed({**node, "slowdown": 2.0})
    t0 = time.monotonic()
    aged = worker.answer(two, w0, conf, True, sent_at=time.time() - 1.5)
    wall = time.monotonic() - t0
    assert "the message's time since the coordinator sent it" in aged["detail"], aged["detail"]
    waited = float(aged["detail"].split("then waited ")[1].split(" s")[0])
    train_s = float(aged["detail"].split(" in ")[1].split(" s")[0])
    assert waited == pytest.approx(1.5 + train_s, abs=0.1) and wall >= waited
    assert all((a == b).all() for a, b in zip(plain["delta"], aged["delta"]))
    # a clock that cannot be trusted (from the future, hours old, not a number): its training time
    for bad_time in (time.time() + 60, time.time() - 7200, float("nan")):
        r = worker.answer(two, w0, conf, True, sent_at=bad_time)
        assert "(F - 1) x its training" in r["detail"], r["detail"]
    # evaluation is not delayed; a factor that is not a number >= 1 is no wait
    assert "waited" not in str(worker.answer(slow_cfg, w0, conf, False))
    for bad in ("x", 0.5, float("nan"), None):
        assert worker.slowdown_factor({"slowdown": bad}) == 1.0


@pytest.mark.learning
def test_mexlab_fl_site_hands_its_factor_to_the_supernode(node, tmp_path):
    """The real CLI against a real SuperLink (no run submitted): the site says its factor and the
    SuperNode it starts carries it in its node config, which reaches the ClientApp and the worker."""
    import psutil

    port = free_port()
    env = deploy.flower_env(tmp_path / "flwr-home")  # as `mexlab fl coordinator` starts its SuperLink
    cmd = [deploy.tool("flower-superlink"), "--insecure", "--host", "127.0.0.1", "--port", str(port)]
    with open(tmp_path / "superlink.log", "wb") as log:
        link = subprocess.Popen(
            [*cmd, "--disable-runtime-dependency-installation"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
        )
    args = ["fl", "site", "--coordinator", f"127.0.0.1:{port}", "--insecure", "--data", node["data"]]
    proc = start_mexlab([*args, "--site-name", "labs", "--slowdown", "2.5", "--wait", "120"], tmp_path, "site")
    try:
        found, t0 = None, time.monotonic()
        while found is None and proc.poll() is None and link.poll() is None and time.monotonic() - t0 < 150:
            time.sleep(0.5)
            for q in psutil.Process(proc.pid).children(recursive=True):
                try:
                    cmd = q.cmdline()
                except psutil.NoSuchProcess:
                    continue
                if any(c.endswith("flower-supernode") for c in cmd[:2]) and "--node-config" in cmd:
                    found = cmd[cmd.index("--node-config") + 1]
        err = (tmp_path / "site.err").read_text()
        assert found is not None, err + (tmp_path / "superlink.log").read_text()[-2000:]
        assert "--slowdown 2.5: waits 1.5x each message's time before its reply" in err, err
        from flwr.common.config import parse_config_args

        cfg = parse_config_args([found])
        assert cfg["site-name"] == "labs" and worker.slowdown_factor(cfg) == 2.5
    finally:
        deploy.stop(proc)
        deploy.stop(link)
