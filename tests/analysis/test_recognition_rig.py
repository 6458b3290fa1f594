"""The recognition commands end to end on a tiny rig data set (varied-rig faces, CAS(ME)^3 layout,
320×240): features from real rendered faces through MediaPipe, LOSO JSON, pretrain → train --init →
load, a training run stopped with Ctrl+C and resumed from its checkpoint; the rig's depth moves
with the AUs. The full-size figures are bench/recognition_loso.py's (docs/benchmarks.md).

The commands run in this process (``app.cli.main``) except the Ctrl+C test, which needs a real
SIGINT; features are cached beside the data after the first command."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rig_release(tmp_path_factory):
    from analysis.recognition.rigdata import make_rig_release

    out = tmp_path_factory.mktemp("rigrec") / "release"
    info = make_rig_release(out, n_subjects=2, per_subject=6, size=(320, 240), seed=3)
    assert info["n"] >= 8
    return out


def _ctrl_c_after(p, seen: str, give_up_on: str | None = None, give_up_s: float | None = None) -> tuple[int, str]:
    """Read ``p``'s stderr until a line holds ``seen`` (asserted), then Ctrl+C it: (exit code, the
    rest of its stderr). Reading stops early at a line holding ``give_up_on`` or after ``give_up_s``."""
    try:
        lines = []
        deadline = None if give_up_s is None else time.monotonic() + give_up_s
        for line in p.stderr:
            lines.append(line)
            if seen in line or (give_up_on and give_up_on in line) or (deadline and time.monotonic() > deadline):
                break
        assert any(seen in ln for ln in lines), "".join(lines)
        p.send_signal(signal.SIGINT)
        rest = p.stderr.read()
        return p.wait(timeout=120), rest
    finally:
        if p.poll() is None:
            p.kill()


def _cli(capsys, *a):
    from app.cli import main

    capsys.readouterr()
    rc = main(list(a))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_rig_depth_moves_with_the_aus():
    """Depth bumps where the colour face's AUs act, a few mm, both signs; none without AUs."""
    from acquisition.sim.depth import DepthRenderer
    from acquisition.sim.identities import make_identity

    face = make_identity("pexels_woman/2").renderer(640, 480)
    depth = DepthRenderer(640, 480, face=face)
    pose = face.make_pose(yaw=4.0, roll=3.0)
    rest = depth.render(pose).astype(int)
    assert np.array_equal(rest, DepthRenderer(640, 480).render(pose))  # as before without AUs
    assert np.array_equal(depth.render(pose, {}), rest)
    x0, y0, x1, y1 = pose.face_box
    for aus, sign, where in (
        (("AU1", "AU2"), -1, (0.0, 0.45)),  # brows: upper face
        (("AU6", "AU12"), -1, (0.35, 0.85)),  # cheeks
        (("AU17",), -1, (0.65, 1.05)),  # chin
        (("AU25", "AU26"), 1, (0.55, 1.0)),
    ):  # mouth opens: deeper
        d = depth.render(pose, {a: 3.0 for a in aus}).astype(int) - rest
        moved = d * sign > 0
        assert 1 <= np.abs(d).max() <= 15, (aus, np.abs(d).max())
        ys, _ = np.nonzero(moved)
        rel = (ys.mean() - y0) / (y1 - y0)
        assert where[0] <= rel <= where[1], (aus, rel)
        assert (d * sign >= 0).mean() > 0.99  # the bumps have the AU's sign
    small = depth.render(pose, {"AU4": 1.0}).astype(int) - rest
    assert 1 <= np.abs(small).max() <= 3  # a 1-px micro-expression: ~1-2 mm


@pytest.mark.learning
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_evaluate_pretrain_train(rig_release, tmp_path, capsys, monkeypatch):
    from analysis.recognition import modelfile

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    spec = f"casme3:{rig_release}"
    rc, out, err = _cli(capsys, "datasets", "show", spec)
    assert rc == 0 and "spNO.2" in out, out + err
    rc, out, err = _cli(
        capsys,
        "recognition",
        "evaluate",
        "--dataset",
        spec,
        "--classes",
        "3",
        "--protocol",
        "loso",
        "--views",
        "rgb,depth",
        "--pretrain",
        "mvcl",
        "--label-fraction",
        "0.5",
        "--epochs",
        "2",
        "--pretrain-epochs",
        "1",
        "--json",
    )
    if "have no sample" in err:  # a class the tiny draw lacks: the clear message
        assert rc != 0 and "Traceback" not in err
    else:
        assert rc == 0, err
        res = json.loads(out)
        assert set(res) >= {"uf1", "uar", "accuracy", "per_class", "confusion", "n_samples", "n_subjects", "folds"}
        assert res["n_subjects"] == 2 and [f["subject"] for f in res["folds"]] == ["spNO.1", "spNO.2"]
        assert "fold 2/2" in err and "ETA" in err
    pre = tmp_path / "pre.safetensors"
    rc, out, err = _cli(
        capsys,
        "recognition",
        "pretrain",
        "--dataset",
        spec,
        "--views",
        "rgb,diff",
        "--epochs",
        "2",
        "--out",
        str(pre),
        "--no-catalog",
    )
    assert rc == 0, err
    assert "pretrain epoch 2/2" in err
    m = tmp_path / "m.safetensors"
    rc, out, err = _cli(
        capsys,
        "recognition",
        "train",
        "--dataset",
        spec,
        "--views",
        "rgb,diff",
        "--init",
        str(pre),
        "--epochs",
        "2",
        "--out",
        str(m),
        "--no-catalog",
    )
    assert rc == 0, err
    model, meta = modelfile.load(m)
    assert meta["views"] == ["rgb", "diff"] and meta["init"] == str(pre)
    assert meta["training"]["n_subjects"] == 2 and not m.with_name(m.name + ".checkpoint").exists()
    rc, out, err = _cli(
        capsys,
        "recognition",
        "train",
        "--dataset",
        spec,
        "--views",
        "rgb,depth",
        "--init",
        str(pre),
        "--out",
        str(tmp_path / "x.safetensors"),
    )
    assert rc != 0 and "a model of views rgb,diff" in err
    rc, out, err = _cli(
        capsys,
        "recognition",
        "train",
        "--dataset",
        spec,
        "--views",
        "rgb,diff",
        "--resume",
        "--out",
        str(tmp_path / "y.safetensors"),
        "--no-catalog",
    )
    assert rc != 0 and "--resume: no checkpoint" in err and "Traceback" not in err


@pytest.mark.learning
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_ctrl_c_leaves_a_checkpoint_and_resume_finishes(rig_release, tmp_path, capsys):
    """A real SIGINT while training: exit 130, the last epoch's checkpoint is a loadable model
    with the epochs done; --resume continues from it and finishes the fixed budget."""
    from analysis.recognition import modelfile

    spec = f"casme3:{rig_release}"
    m = tmp_path / "m.safetensors"
    ck = m.with_name(m.name + ".checkpoint")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "recognition",
            "train",
            "--dataset",
            spec,
            "--views",
            "rgb,diff",
            "--epochs",
            "100000",
            "--out",
            str(m),
            "--no-catalog",
        ],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    rc, rest = _ctrl_c_after(p, "train epoch 3/", give_up_s=400)  # some epochs checkpointed
    assert rc == 130, rest
    assert f"interrupted; the last checkpoint is {ck}" in rest and "Traceback" not in rest
    assert not m.exists()
    _, meta = modelfile.load(ck)  # a whole, checked model file
    done = meta["epochs_done"]
    assert done >= 3
    rc, out, err = _cli(
        capsys,
        "recognition",
        "train",
        "--dataset",
        spec,
        "--views",
        "rgb,diff",
        "--epochs",
        str(done + 2),
        "--resume",
        "--out",
        str(m),
        "--no-catalog",
    )
    assert rc == 0, err
    assert f"resuming from {ck} after epoch {done}" in err
    assert f"train epoch {done + 2}/{done + 2}" in err and f"train epoch {done}/" not in err
    _, meta = modelfile.load(m)
    assert meta["resumed_after_epoch"] == done and meta["training"]["epochs"] == done + 2
    assert not ck.exists()


@pytest.mark.learning
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_ctrl_c_keeps_the_finished_loso_folds_and_resume_gives_the_same_result(rig_release, tmp_path, capsys):
    """A real SIGINT during the second fold of `mexlab recognition evaluate`: exit 130, the first
    fold kept in the checkpoint; the same command with --resume runs only the second fold and gives
    the result of an uninterrupted run (each fold seeded on its own); the checkpoint is then removed."""
    spec = f"casme3:{rig_release}"
    ck = tmp_path / "loso.json"
    two = tmp_path / "two.csv"  # the tiny draw has negatives and positives only: a lab's own 2-class mapping
    two.write_text("negative,negative\npositive,positive\nsurprise,-\nothers,-\n")
    cmd = [
        "recognition",
        "evaluate",
        "--dataset",
        spec,
        "--classes",
        str(two),
        "--views",
        "rgb",
        "--epochs",
        "300",  # fold 2 runs ~3 s after fold 1 is reported: the SIGINT lands inside it
        "--checkpoint",
        str(ck),
        "--json",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *cmd],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the first fold ends: its predictions are in the checkpoint
    rc, rest = _ctrl_c_after(p, "fold 1/2", give_up_on="error")
    assert rc == 130, rest
    assert f"the finished folds are kept in {ck}" in rest and "Traceback" not in rest
    kept = json.loads(ck.read_text())
    assert [f["subject"] for f in kept["folds"]] == ["spNO.1"] and len(kept["index"]) == kept["folds"][0]["n"]
    rc, out, err = _cli(capsys, *cmd, "--resume")
    assert rc == 0, err
    assert f"resuming from {ck}" in err and "fold 2/2 (spNO.2)" in err and "fold 1/2" not in err
    resumed = json.loads(out)
    assert resumed["resumed_folds"] == 1 and not ck.exists()
    assert [f["subject"] for f in resumed["folds"]] == ["spNO.1", "spNO.2"]
    rc, out, err = _cli(capsys, *cmd)  # uninterrupted, for comparison
    assert rc == 0, err
    whole = json.loads(out)
    for k in ("uf1", "uar", "accuracy", "confusion", "per_class", "n_samples"):
        assert resumed[k] == whole[k], k
    assert [f["accuracy"] for f in resumed["folds"]] == [f["accuracy"] for f in whole["folds"]]
    rc, out, err = _cli(capsys, *cmd, "--resume")  # nothing left to continue
    assert rc != 0 and "--resume: no checkpoint of this evaluation" in err and "Traceback" not in err
    ck.write_text(json.dumps({**kept, "key": "0" * 64}))  # another evaluation's checkpoint: refused
    rc, out, err = _cli(capsys, *cmd, "--resume")
    assert rc != 0 and "a checkpoint of another evaluation" in err and "Traceback" not in err
