"""Model files (safetensors + plain metadata), the catalog's models table, LOSO input checks."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import MexlabError
from analysis.recognition import modelfile
from analysis.recognition import task as T
from analysis.recognition.protocol import Config, check_data, loso, thin_labels

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.learning


def _model_file(tmp_path, name="m.safetensors"):
    m = T.new_model(3, ("rgb", "diff"), seed=1)
    p = tmp_path / name
    modelfile.save(
        p,
        m,
        {
            "classes": ["negative", "positive", "surprise"],
            "kind": "classifier",
            "training": {"n": 10},
            "metrics": {"uf1": 0.5},
        },
    )
    return m, p


def test_model_file_round_trip_and_metadata(tmp_path):
    m, p = _model_file(tmp_path)
    m2, meta = modelfile.load(p)
    assert all(np.array_equal(a, b) for a, b in zip(T.get_weights(m), T.get_weights(m2)))
    assert meta["classes"] == ["negative", "positive", "surprise"] and meta["views"] == ["rgb", "diff"]
    assert meta["format"] == modelfile.FORMAT and len(meta["tensors_sha256"]) == 64
    assert meta["mexlab_version"] and meta["created"]
    assert p.read_bytes()[:8] != b"\x80\x04\x95" and b"pickle" not in p.read_bytes()[:200]


def _rewrite_meta(p, **change):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(p), framework="numpy") as f:
        meta = json.loads(f.metadata()["mexlab"])
    meta.update(change)
    save_file(load_file(str(p)), str(p), metadata={"mexlab": json.dumps(meta)})


def test_damaged_altered_and_foreign_model_files_are_refused(tmp_path):
    _, p = _model_file(tmp_path)
    raw = bytearray(p.read_bytes())
    raw[-5] ^= 0xFF  # a flipped byte in the last tensor
    bad = tmp_path / "flipped.safetensors"
    bad.write_bytes(bytes(raw))
    with pytest.raises(MexlabError, match="checksum mismatch"):
        modelfile.load(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80\x04\x95 not a model")
    with pytest.raises(MexlabError, match="not a mexlab model file"):
        modelfile.load(junk)
    old = tmp_path / "old.safetensors"
    old.write_bytes(p.read_bytes())
    _rewrite_meta(old, feature_version=0, mexlab_version="0.0.1")
    with pytest.raises(MexlabError, match="features v0.*retrain"):
        modelfile.load(old)
    other = tmp_path / "other.safetensors"
    other.write_bytes(p.read_bytes())
    _rewrite_meta(other, format="someone-else/9")
    with pytest.raises(MexlabError, match="model format"):
        modelfile.load(other)
    video = tmp_path / "v.mkv"  # a valid input: the model is what is wrong
    import av

    with av.open(str(video), "w") as c:
        st = c.add_stream("ffv1", rate=30)
        st.width, st.height, st.pix_fmt = 64, 64, "bgr0"
        for _ in range(5):
            for pkt in st.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    for f in (bad, junk, old):
        r = subprocess.run(
            [sys.executable, "-m", "app.cli", "recognize", str(video), "--model", str(f)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert str(f) in r.stderr and r.stderr.count("\n") == 1


def test_models_table(tmp_path):
    from acquisition.catalog.recognition_models import list_models, register_model

    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    _, p = _model_file(tmp_path)
    meta, _ = modelfile.read_meta(p)
    row = register_model(p, meta, url)
    assert row["sha256"] == modelfile.file_sha256(p) and row["classes"][0] == "negative"
    register_model(p, meta, url)  # the same file again: still one row
    rows = list_models(url)
    assert len(rows) == 1 and rows[0]["views"] == ["rgb", "diff"] and rows[0]["metrics"]["uf1"] == 0.5


def _features(subjects, y):
    n = len(y)
    x = {"rgb": np.zeros((n, 3, 32, 32), np.float32), "diff": np.zeros((n, 3, 32, 32), np.float32)}
    return T.FeatureSet(
        x, np.asarray(y, np.int64), list(subjects), ["negative", "positive", "surprise"], ("rgb", "diff")
    )


def test_loso_input_checks():
    with pytest.raises(MexlabError, match="two subjects or more.*1 \\(s1\\)"):
        check_data(_features(["s1"] * 3, [0, 1, 2]))
    with pytest.raises(MexlabError, match="surprise have no sample"):
        check_data(_features(["s1", "s2", "s1", "s2"], [0, 1, 0, 1]))
    with pytest.raises(MexlabError, match="label-fraction"):
        Config(label_fraction=0).check()
    with pytest.raises(MexlabError, match="two views"):
        Config(views=("rgb",), pretrain="mvcl").check()


def test_label_fraction_keeps_one_per_class_at_least():
    y = np.array([0] * 20 + [1] * 10 + [2] * 2)
    idx = np.arange(len(y))
    kept = thin_labels(y, idx, 0.1, seed=0)
    assert sorted(np.bincount(y[kept]).tolist()) == [1, 1, 2]
    assert thin_labels(y, idx, 1.0, 0) is idx


def test_loso_pools_folds_and_never_trains_on_the_test_subject():
    rng = np.random.default_rng(0)
    subjects = [f"s{i % 4}" for i in range(48)]
    y = np.arange(48) % 3
    data = _features(subjects, y)
    for v in data.x:
        data.x[v] = rng.normal(size=data.x[v].shape).astype(np.float32)
    data.x["rgb"][:, 0, 10:20, 10:20] += 2.0 * y[:, None, None]
    res = loso(data, Config(views=("rgb", "diff"), epochs=8, batch_size=16))
    assert res["n_subjects"] == 4 and res["n_samples"] == 48
    assert [f["subject"] for f in res["folds"]] == ["s0", "s1", "s2", "s3"]
    assert all(f["n_train_labels"] == 36 for f in res["folds"])
    assert sum(map(sum, res["confusion"]["matrix"])) == 48
    assert res["uf1"] > 0.6  # chance: 0.33
    half = loso(
        data,
        Config(views=("rgb", "diff"), epochs=2, batch_size=16, label_fraction=0.25, pretrain="mvcl", pretrain_epochs=1),
    )
    assert all(f["n_train_labels"] == 9 for f in half["folds"])


def test_recognition_cli_bad_input(tmp_path):
    def run(*a):
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "recognition", *a], capture_output=True, text=True, cwd=REPO
        )

    r = run("evaluate", "--dataset", f"casme3:{tmp_path / 'none'}", "--classes", "4")
    assert r.returncode != 0 and "no such folder" in r.stderr and "Traceback" not in r.stderr
    r = run("train", "--dataset", "casme9:/x", "--out", str(tmp_path / "m.pt"))
    assert r.returncode != 0 and "KIND:ROOT" in r.stderr and "Traceback" not in r.stderr
    r = run("evaluate", "--dataset", f"mexlab:{tmp_path}", "--views", "rgb,nose")
    assert r.returncode != 0 and "views rgb,nose" in r.stderr and "Traceback" not in r.stderr


# -- pretraining, training from it, resume, a held-out test kept with the model (synthetic features) --
def _separable(subjects, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(len(subjects)) % 3
    data = _features(subjects, y)
    for v in data.x:
        data.x[v] = rng.normal(size=data.x[v].shape).astype(np.float32)
        data.x[v][:, 0, 10:20, 10:20] += 2.0 * y[:, None, None]
    data.summary = {"datasets": {"syn:train": len(y)}, "n": len(y), "n_subjects": len(set(subjects)), "scheme": "3"}
    return data


def test_pretrain_init_resume_and_a_held_out_test_kept_with_the_model(tmp_path):
    from acquisition.errors import Cancelled
    from analysis.recognition.training import (
        PretrainRun,
        TrainRun,
        evaluate_model,
        pretrain_encoders,
        store_evaluation,
        train_classifier,
    )

    data = _separable([f"s{i % 4}" for i in range(48)])
    with pytest.raises(MexlabError, match="two views or more"):
        PretrainRun(tmp_path / "x.safetensors", ("rgb",)).check()
    with pytest.raises(MexlabError, match="no such folder"):
        PretrainRun(tmp_path / "nope" / "x.safetensors", ("rgb", "diff")).check()
    # values that trained a nan model or never ended, refused before any feature is read
    x = tmp_path / "x.safetensors"
    for bad, words in (
        (TrainRun(x, ("rgb",), epochs=3, lr=float("nan")), "learning rate nan"),
        (TrainRun(x, ("rgb",), epochs=3, lr=-1.0), "learning rate -1.0"),
        (TrainRun(x, ("rgb",), epochs=0, lr=2e-3), "epochs 0: an integer from 1 to 1000000"),
        (TrainRun(x, ("rgb",), epochs=10**9, lr=2e-3), "epochs 1000000000: an integer from 1 to 1000000"),
        (TrainRun(x, ("rgb",), epochs=3, lr=2e-3, label_fraction=float("nan")), "label fraction nan"),
        (PretrainRun(x, ("rgb", "diff"), temperature=float("inf")), "temperature inf"),
        (PretrainRun(x, ("rgb", "diff"), epochs=10**9), "epochs 1000000000"),
        (PretrainRun(x, ("rgb", "diff"), batch=10**9), "batch 1000000000"),
    ):
        with pytest.raises(MexlabError, match=words.replace("(", r"\(")):
            bad.check()
    with pytest.raises(MexlabError, match="learning rate nan"):  # the library entry point checks too
        train_classifier(TrainRun(x, ("rgb", "diff"), epochs=1, lr=float("nan")), data)
    assert not x.exists()
    pre = tmp_path / "pre.safetensors"
    seen = []
    stop_at_1 = PretrainRun(pre, ("rgb", "diff"), epochs=3, batch=16)
    with pytest.raises(Cancelled, match="pretraining cancelled.*pretrain --resume"):
        pretrain_encoders(stop_at_1, data, on_epoch=lambda e, n, loss: seen.append((e, n)), stop=lambda: bool(seen))
    ck = stop_at_1.checkpoint
    assert not pre.exists() and modelfile.read_meta(ck)[0]["epochs_done"] == 1
    resumed = []
    res = pretrain_encoders(
        PretrainRun(pre, ("rgb", "diff"), epochs=3, batch=16, resume=True),
        data,
        on_epoch=lambda e, n, loss: seen.append((e, n)),
        on_resume=resumed.append,
    )
    assert seen == [(1, 3), (2, 3), (3, 3)] and resumed == [1] and not ck.exists()
    meta = res["meta"]
    assert meta["kind"].startswith("pretrained") and meta["resumed_after_epoch"] == 1 and meta["pretrain"]["n"] == 48
    assert len(meta["training"]["subjects_sha"]) == 4 and "s0" not in json.dumps(meta)  # digests, not names

    out = tmp_path / "m.safetensors"
    trained = train_classifier(TrainRun(out, ("rgb", "diff"), epochs=6, lr=2e-3, init=pre), data)
    assert trained["meta"]["init"] == str(pre)
    pre_model, _ = modelfile.load(pre)
    m, _ = modelfile.load(out)
    assert not np.array_equal(T.get_weights(m)[1], T.get_weights(pre_model)[1])  # trained on from the encoder

    test = _separable([f"t{i % 2}" for i in range(24)], seed=1)
    with pytest.raises(MexlabError, match="trained on syn:train: testing it there is no held-out test"):
        evaluate_model(out, test, ["syn:train"])
    with pytest.raises(MexlabError, match="a pretrained encoder"):
        evaluate_model(pre, test, ["syn:test"])
    with pytest.raises(MexlabError, match="a pretrained encoder"):
        store_evaluation(pre, loso(test, Config(views=("rgb", "diff"), epochs=1, batch_size=16)), ["syn:test"])
    assert not modelfile.evaluations_path(pre).exists()
    r = evaluate_model(out, test, ["syn:test"])
    assert r["protocol"] == "held-out" and r["n_subjects"] == 2 and r["n_samples"] == 24
    assert r["shared_subject_names"] == 0 and r["uf1"] > 0.6  # chance 0.33
    assert evaluate_model(out, _separable(["s0", "x1"] * 6), ["syn:other"])["shared_subject_names"] == 1

    sha = modelfile.file_sha256(out)
    assert modelfile.read_evaluations(out) == ([], None)
    e = store_evaluation(out, r, ["syn:test"])
    assert e["on"].startswith("held-out: 2 subjects of syn:test") and e["uf1"] == r["uf1"]
    loso_res = loso(test, Config(views=("rgb", "diff"), epochs=2, batch_size=16))
    e2 = store_evaluation(out, loso_res, ["syn:test"])
    assert e2["on"].startswith("LOSO over 2 subjects of syn:test") and e2["protocol"] == "loso"
    evs, note = modelfile.read_evaluations(out)
    assert note is None and [x["protocol"] for x in evs] == ["held-out", "loso"]
    assert modelfile.file_sha256(out) == sha  # the model file itself unchanged (catalog key, default)
    side = modelfile.evaluations_path(out)
    assert side.name == "m.safetensors.evaluations.json" and not list(tmp_path.glob(".*tmp"))

    other = _separable([f"s{i % 4}" for i in range(48)])
    other.class_names = ["a", "b", "c"]
    with pytest.raises(MexlabError, match="classes negative, positive, surprise"):
        evaluate_model(out, other, ["syn:test"])
    with pytest.raises(MexlabError, match="not stored with it"):
        store_evaluation(out, {**loso_res, "config": {**loso_res["config"], "views": ["rgb"]}}, ["syn:test"])
    assert len(modelfile.read_evaluations(out)[0]) == 2  # nothing changed by the refusal

    train_classifier(TrainRun(out, ("rgb", "diff"), epochs=1, lr=2e-3, seed=5), data)  # a new file at the path
    evs, note = modelfile.read_evaluations(out)
    assert evs == [] and "earlier file at this path" in note
    store_evaluation(out, r, ["syn:test"])  # the stale ones are dropped
    assert len(modelfile.read_evaluations(out)[0]) == 1
    side.write_text("{not json")
    evs, note = modelfile.read_evaluations(out)
    assert evs == [] and note.startswith(f"{side}: unreadable") and note.endswith("not shown")


def test_a_held_out_test_of_the_shipped_model_is_kept_in_the_config_folder(tmp_path, monkeypatch):
    from analysis.recognition.training import evaluate_model, store_evaluation

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    shipped = modelfile.DEFAULT_MODEL
    before = shipped.parent.stat().st_mtime_ns, sorted(p.name for p in shipped.parent.iterdir())
    r = evaluate_model(shipped, _separable([f"t{i % 2}" for i in range(12)]), ["syn:lab"])
    e = store_evaluation(shipped, r, ["syn:lab"])
    side = modelfile.evaluations_path(shipped)
    assert side == tmp_path / "config" / "shipped-model.evaluations.json" and side.is_file()
    assert modelfile.read_evaluations(shipped) == ([e], None)
    assert (shipped.parent.stat().st_mtime_ns, sorted(p.name for p in shipped.parent.iterdir())) == before
