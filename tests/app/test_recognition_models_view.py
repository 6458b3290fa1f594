"""The Models view: its Qt-free state (catalog models + the shipped one, metrics, sha256, the
default model) and the workspace offscreen (a screenshot)."""

import re

import pytest

from acquisition.errors import MexlabError
from analysis.recognition import modelfile
from analysis.recognition import task as T

pytestmark = pytest.mark.learning


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    from acquisition.catalog.recognition_models import register_model

    paths = []
    for k, uf1 in ((1, 0.61), (2, 0.83)):
        p = tmp_path / f"lab{k}.safetensors"
        meta = modelfile.save(
            p,
            T.new_model(3, ("rgb", "diff"), seed=k),
            {
                "classes": ["negative", "positive", "surprise"],
                "kind": "classifier",
                "training": {"n": 40 + k},
                "metrics": {
                    "uf1": uf1,
                    "uar": uf1 - 0.01,
                    "accuracy": 0.7,
                    "n": 30,
                    "test": "LOSO on lab data",
                    "per_class": {"negative": {"f1": 0.7, "recall": 0.8, "n": 10}},
                    "confusion": {
                        "labels": ["negative", "positive", "surprise"],
                        "matrix": [[8, 1, 1], [2, 7, 1], [0, 3, 7]],
                    },
                },
            },
        )
        register_model(p, meta, url)
        paths.append(p)
    return url, paths


def test_models_state_lists_sets_and_refuses(env, tmp_path):
    from app.services.models_state import COLUMNS, ModelsState

    url, (p1, p2) = env
    st = ModelsState(url)
    rows = st.refresh()
    assert st.error is None
    names = [r["name"] for r in rows]
    assert names[0] == modelfile.DEFAULT_MODEL.name and names[1:] == ["lab1.safetensors", "lab2.safetensors"]
    assert rows[0]["shipped"] and rows[0]["default"] and st.default_index() == 0
    assert st.cell(0, "default") == "★" and st.cell(1, "default") == ""
    assert st.cell(2, "UF1") == "0.830" and st.cell(2, "UAR") == "0.820"
    assert st.cell(2, "sha256") == modelfile.file_sha256(p2)[:12]
    assert st.tooltip(2, "sha256") == modelfile.file_sha256(p2)
    assert st.cell(0, "UF1") == f"{rows[0]['metrics']['uf1']:.3f}"  # the shipped metrics
    assert all(isinstance(st.cell(i, c), str) for i in range(3) for c in COLUMNS)
    assert st.confusion(2) == (["negative", "positive", "surprise"], [[8, 1, 1], [2, 7, 1], [0, 3, 7]])
    assert "LOSO on lab data" in st.details(2)

    st.set_default(2)  # the lab's model becomes the default
    assert st.default_index() == 2 and modelfile.default_model() == p2.resolve()
    assert ModelsState(url).refresh()[2]["default"]  # remembered (config folder)
    st.use_shipped()
    assert st.default_index() == 0 and modelfile.default_model() == modelfile.DEFAULT_MODEL

    p1.write_bytes(p1.read_bytes()[:-7] + b"garbage")  # changed since it was registered
    st.refresh()
    with pytest.raises(MexlabError, match="changed since it was registered"):
        st.set_default(1)
    assert st.default_index() == 0
    st.set_default(2)
    p2.unlink()  # the chosen default disappears
    rows = st.refresh()
    assert st.default_error and "missing" in st.default_error and not rows[2]["exists"]
    assert "file missing" in st.cell(2, "name")
    with pytest.raises(MexlabError, match="missing"):
        modelfile.default_model()
    with pytest.raises(MexlabError, match="missing"):
        st.set_default(2)


def test_models_state_without_a_readable_catalog(tmp_path, monkeypatch):
    from app.services.models_state import ModelsState

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    st = ModelsState(f"sqlite:///{bad}")
    rows = st.refresh()
    assert st.error and len(rows) == 1 and rows[0]["shipped"]  # said, and the shipped model


@pytest.mark.gui
def test_models_workspace_offscreen(env, qtbot, tmp_path):
    from app.gui.workspaces.models import ModelsWorkspace
    from tests.screens import save_screenshot

    url, (_, p2) = env
    w = ModelsWorkspace(url)
    qtbot.addWidget(w)
    w.resize(1200, 700)
    w.refresh()
    w.show()
    assert w.table.rowCount() == 3 and w.table.item(0, 0).text() == "★"
    w.table.selectRow(2)
    assert w.plot.matrix == [[8, 1, 1], [2, 7, 1], [0, 3, 7]]
    assert "lab2.safetensors" in w.details.toPlainText()
    w.default_btn.click()
    assert w.table.item(2, 0).text() == "★" and modelfile.default_model() == p2.resolve()
    assert not w.default_btn.isEnabled()
    save_screenshot(w, "models_view", tmp_path)


def test_models_and_default_commands(env, capsys):
    from app.cli import main

    url, (p1, _) = env
    assert main(["recognition", "models", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "lab1.safetensors" in out and "★  recognition_default.safetensors (shipped)" in out
    assert main(["recognition", "default", str(p1)]) == 0
    assert f"default recognition model: {p1.resolve()}" in capsys.readouterr().out
    assert main(["recognition", "models", "--db", url, "--json"]) == 0
    rows = __import__("json").loads(capsys.readouterr().out)["models"]
    assert [r["default"] for r in rows] == [False, True, False]
    assert main(["recognition", "default", str(p1.with_name("nope.safetensors"))]) != 0
    assert "no such model file" in capsys.readouterr().err
    assert main(["recognition", "default", "--shipped"]) == 0
    assert "(shipped)" in capsys.readouterr().out


# -- training and evaluation from the view (Qt-free state, tiny rig data) -----------------------
@pytest.fixture(scope="module")
def rig_release(tmp_path_factory):
    from analysis.recognition.rigdata import make_rig_release

    out = tmp_path_factory.mktemp("rigrec") / "release"
    info = make_rig_release(out, n_subjects=2, per_subject=6, size=(320, 240), seed=2)
    assert info["n"] >= 8  # seed 2: every class of scheme 3 (LOSO needs them all)
    return f"casme3:{out}"


@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_train_evaluate_and_cancel_from_the_form(rig_release, tmp_path, monkeypatch):
    from app.services.models_state import (
        ModelsState,
        Progress,
        TrainForm,
        TrainingCancelled,
        evaluate_form,
        pretrain_model,
        result_text,
        train_model,
    )

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    with pytest.raises(MexlabError, match="no dataset"):
        train_model(TrainForm(), tmp_path / "m.safetensors", url, Progress())
    with pytest.raises(MexlabError, match="label fraction 0"):
        evaluate_form(TrainForm([rig_release], label_fraction=0), Progress())
    form = TrainForm([rig_release], classes="3", views="rgb,depth", label_fraction=0.5, epochs=3)
    lines = []
    prog = Progress(lambda stage, done, total, line: lines.append((stage, done, total, line)))
    out = tmp_path / "gui.safetensors"
    res = train_model(form, out, url, prog)
    epochs = [(d, n) for s, d, n, _ in lines if s == "epoch"]
    assert epochs == [(1, 3), (2, 3), (3, 3)] and any(s == "features" for s, *_ in lines)
    assert "ETA" in [ln for s, d, *_, ln in lines if s == "epoch"][0]
    assert out.is_file() and not out.with_name(out.name + ".checkpoint").exists()
    meta, _ = modelfile.read_meta(out)
    assert meta["views"] == ["rgb", "depth"] and meta["training"]["label_fraction"] == 0.5
    assert meta["training"]["n_labels"] < meta["training"]["n"]  # half the labels (>= 1 per class)
    assert res["sha256"] == modelfile.file_sha256(out) and "registered" in result_text(res)
    st = ModelsState(url)
    assert any(r["path"] == str(out) for r in st.refresh())  # the list has it

    stopper = Progress()  # Cancel pressed during epoch 2: stops, no model, checkpoint kept
    stopper.on_change = lambda s, d, n, line: stopper.cancelled.set() if s == "epoch" and d == 2 else None
    out2 = tmp_path / "stopped.safetensors"
    with pytest.raises(TrainingCancelled, match="after epoch 2/3; no model written; the last checkpoint"):
        train_model(TrainForm([rig_release], views="rgb,depth", epochs=3), out2, url, stopper)
    assert not out2.exists() and out2.with_name(out2.name + ".checkpoint").is_file()
    assert len(ModelsState(url).refresh()) == len(st.rows)  # nothing registered

    lines.clear()
    res = evaluate_form(TrainForm([rig_release], views="rgb,depth", epochs=2), prog)
    assert [(d, n) for s, d, n, _ in lines if s == "fold"] == [(1, 2), (2, 2)]
    assert res["n_subjects"] == 2 and 0 <= res["uf1"] <= 1 and len(res["confusion"]["matrix"]) == 3
    assert result_text(res).startswith("LOSO over 2 subjects")
    stopper = Progress()
    stopper.cancelled.set()
    with pytest.raises(TrainingCancelled, match="evaluation cancelled"):
        evaluate_form(TrainForm([rig_release], views="rgb,depth", epochs=2), stopper)

    # LOSO with MvCL pretraining in every fold, the form's temperature and batch (evaluate --pretrain mvcl)
    res = evaluate_form(
        TrainForm(
            [rig_release], views="rgb,depth", epochs=1, pretrain="mvcl", pretrain_epochs=1, temperature=0.2, batch=8
        ),
        Progress(),
    )
    cfg = res["config"]
    assert cfg["pretrain"] == "mvcl" and cfg["temperature"] == 0.2 and cfg["pretrain_batch"] == 8
    assert res["n_subjects"] == 2 and 0 <= res["uf1"] <= 1
    # MvCL pretraining with the form's temperature and batch: kept in the model's metadata
    pre = tmp_path / "pre.safetensors"
    pretrain_model(
        TrainForm([rig_release], views="rgb,depth", epochs=1, temperature=0.3, batch=4), pre, url, Progress()
    )
    rec = modelfile.read_meta(pre)[0]["pretrain"]
    assert rec["temperature"] == 0.3 and rec["batch_size"] == 4


def test_the_form_refuses_bad_mvcl_settings_and_names_the_coder(tmp_path, monkeypatch):
    """The form's labels (a named coder), LOSO pretraining, MvCL temperature and batch: bad values
    refused with the field named, before any data is read; a coder with no coding is named."""
    import json

    from app.services.models_state import Progress, TrainForm, evaluate_form, pretrain_model

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MEXLAB_DB", f"sqlite:///{tmp_path / 'catalog.db'}")
    s1 = tmp_path / "sessions" / "s1"  # a session nobody has coded (the reader needs its rgb.mkv to exist)
    s1.mkdir(parents=True)
    (s1 / "session.json").write_text(json.dumps({"participant": "P1", "session_id": "s1", "status": "complete"}))
    (s1 / "rgb.mkv").write_bytes(b"")
    spec = f"mexlab:{s1.parent}"
    for kw, msg in [
        ({"temperature": 0.0}, "MvCL temperature 0.0: must be > 0"),
        ({"temperature": float("nan")}, "MvCL temperature nan"),
        ({"batch": 1}, "MvCL batch 1: at least 2"),
        ({"pretrain": "simclr"}, "LOSO pretraining 'simclr': none or mvcl"),
        ({"pretrain_epochs": 0}, "MvCL epochs 0"),
        ({"coder": " "}, "coder: give a coder's name"),
        ({"pretrain": "mvcl", "views": "rgb"}, "needs two views or more"),
    ]:
        with pytest.raises(MexlabError, match=re.escape(msg)):
            evaluate_form(TrainForm([spec], **kw), Progress())
    with pytest.raises(MexlabError, match=re.escape("MvCL batch 1")):
        pretrain_model(TrainForm([spec], views="rgb,depth", batch=1), tmp_path / "p.safetensors", None, Progress())
    assert not (tmp_path / "p.safetensors").exists()
    with pytest.raises(MexlabError, match=re.escape(f"{s1}: no consensus and no coding by 'alice'; session left out")):
        evaluate_form(TrainForm([spec], coder="alice"), Progress())
    with pytest.raises(MexlabError, match="no consensus coding .name a coder with --coder"):
        evaluate_form(TrainForm([spec]), Progress())


@pytest.mark.gui
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_models_workspace_trains_evaluates_and_cancels(rig_release, qtbot, tmp_path, monkeypatch):
    from app.gui.workers import wait_for_jobs
    from app.gui.workspaces.models import ModelsWorkspace
    from tests.screens import save_screenshot

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    w = ModelsWorkspace(f"sqlite:///{tmp_path / 'catalog.db'}")
    qtbot.addWidget(w)
    w.resize(1200, 900)
    w.show()
    qtbot.waitExposed(w)
    t = w.train
    t.train_btn.click()  # no dataset, no file: said, nothing started
    assert not t.running() and "model file" in t.status.text()
    t.dataset.setText(rig_release)
    t.views.setCurrentText("rgb,depth")
    t.epochs.setValue(2)
    out = tmp_path / "gui.safetensors"
    t.out.setText(str(out))
    seen = []
    t.progressed.connect(lambda stage, d, n, line: seen.append((stage, d, n)))
    t.train_btn.click()
    assert t.running() and not t.train_btn.isEnabled() and t.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=300000)
    assert ("epoch", 2, 2) in seen and out.is_file() and not t.running()
    rows = w.state.rows
    sel = w.table.selectionModel().selectedRows()
    assert sel and rows[sel[0].row()]["path"] == str(out)  # the new model, listed and selected
    assert w.details.toPlainText().startswith(f"model written to {out}")
    assert t.bar.value() == t.bar.maximum() == 2

    w.last_result = None
    t.eval_btn.click()
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=300000)
    assert ("fold", 2, 2) in seen and w.details.toPlainText().startswith("LOSO over 2 subjects")
    assert w.plot.matrix == w.last_result["confusion"]["matrix"]
    save_screenshot(w, "models-train", tmp_path / "shots")

    t.epochs.setValue(500)  # Cancel at the first epoch: stops, nothing written but the checkpoint
    t.out.setText(str(tmp_path / "stopped.safetensors"))
    t.progressed.connect(lambda stage, d, n, line: t.cancel() if stage == "epoch" else None)
    t.train_btn.click()
    qtbot.waitUntil(lambda: not t.running(), timeout=300000)
    assert "training cancelled after epoch" in t.status.text() and t.bar.format() == "stopped"
    assert not (tmp_path / "stopped.safetensors").exists() and t.train_btn.isEnabled()
    assert wait_for_jobs(60)


# -- MvCL pretraining, --init, resume and evaluations kept with the model, from the form -------------
@pytest.fixture(scope="module")
def rig_heldout(tmp_path_factory):
    """One subject of the rig's held-out people (never in the tuning release above)."""
    from analysis.recognition.rigdata import make_rig_release

    out = tmp_path_factory.mktemp("righeld") / "release"
    info = make_rig_release(out, split="heldout", n_subjects=1, per_subject=6, size=(320, 240), seed=3)
    assert info["n"] >= 3
    return f"casme3:{out}"


@pytest.mark.slow
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_pretrain_init_resume_and_evaluations_from_the_form(rig_release, rig_heldout, tmp_path, monkeypatch, capsys):
    from app.cli import main
    from app.services.models_state import (
        ModelsState,
        Progress,
        TrainForm,
        TrainingCancelled,
        checkpoint_info,
        evaluate_form,
        pretrain_model,
        result_text,
        train_model,
    )

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    lines = []
    prog = Progress(lambda stage, done, total, line: lines.append((stage, done, total)))
    with pytest.raises(MexlabError, match="two views or more"):
        pretrain_model(TrainForm([rig_release], views="rgb", epochs=2), tmp_path / "p.safetensors", url, prog)
    assert lines == []  # refused before any feature was read
    with pytest.raises(MexlabError, match="no such model file"):
        train_model(TrainForm([rig_release], init=str(tmp_path / "none.safetensors")), tmp_path / "m", url, prog)

    pre = tmp_path / "pre.safetensors"  # MvCL pretraining from the form
    res = pretrain_model(TrainForm([rig_release], views="rgb,depth", epochs=2), pre, url, prog)
    assert [(d, n) for s, d, n in lines if s == "pretrain epoch"] == [(1, 2), (2, 2)]
    assert res["action"] == "pretrain" and "pretrained model (MvCL) written" in result_text(res)
    meta, _ = modelfile.read_meta(pre)
    assert meta["kind"].startswith("pretrained") and meta["training"]["labels_used"] is False
    st = ModelsState(url)
    row = next(i for i, r in enumerate(st.refresh()) if r["path"] == str(pre))
    assert st.cell(row, "evaluated on") == "-" and "train a classifier from it" in st.details(row)

    out = tmp_path / "lab.safetensors"  # --init from it; Cancel after epoch 1; resume
    stopper = Progress()
    stopper.on_change = lambda s, d, n, line: stopper.cancelled.set() if s == "epoch" and d == 1 else None
    form = TrainForm([rig_release], views="rgb,depth", epochs=3, init=str(pre))
    with pytest.raises(TrainingCancelled, match="after epoch 1/3; no model written.*tick resume"):
        train_model(form, out, url, stopper)
    assert not out.exists() and "an interrupted training (1 epochs done" in checkpoint_info(out)
    lines.clear()
    form.resume = True
    res = train_model(form, out, url, prog)
    assert [(d, n) for s, d, n in lines if s == "epoch"] == [(2, 3), (3, 3)] and checkpoint_info(out) is None
    meta, _ = modelfile.read_meta(out)
    assert meta["init"] == str(pre) and meta["resumed_after_epoch"] == 1 and meta["training"]["epochs"] == 3
    assert "started from" in result_text(res) and "resumed after epoch 1" in result_text(res)

    with pytest.raises(MexlabError, match="no held-out test"):  # its own training data
        evaluate_form(TrainForm([rig_release], protocol="heldout", model=str(out)), prog)
    ev = evaluate_form(TrainForm([rig_heldout], protocol="heldout", model=str(out)), prog)
    assert ev["protocol"] == "held-out" and ev["n_subjects"] == 1 and ev["stored"]["uf1"] == ev["uf1"]
    assert "1 subject name(s) also in its training data" in ev["stored"]["on"]  # spNO.1: rig names alike
    row = next(i for i, r in enumerate(st.refresh()) if r["path"] == str(out))
    assert st.cell(row, "evaluated on") == "held-out, 1 subj." and st.cell(row, "UF1") == f"{ev['uf1']:.3f}"
    assert st.tooltip(row, "UF1").startswith("held-out: 1 subject of " + rig_heldout)
    assert st.confusion(row) == (ev["confusion"]["labels"], ev["confusion"]["matrix"])

    with pytest.raises(MexlabError, match="views rgb,depth; the form has rgb,diff"):
        evaluate_form(TrainForm([rig_release], views="rgb,diff", model=str(out)), prog)
    lo = evaluate_form(TrainForm([rig_release], views="rgb,depth", epochs=1, model=str(out)), prog)
    assert lo["stored"]["protocol"] == "loso" and "its own training data" in lo["stored"]["on"]
    st.refresh()
    assert st.cell(row, "evaluated on") == "LOSO, 2 subj." and "held-out: 1 subject of" in st.details(row)

    args = ["recognition", "evaluate", "--dataset", rig_heldout, "--protocol", "heldout", "--quiet"]
    assert main(args) != 0 and "give --model" in capsys.readouterr().err  # the CLI keeps it the same way
    assert main([*args, "--model", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"held-out test of {out} on 1 subjects")
    evs, note = modelfile.read_evaluations(out)
    assert note is None and [e["protocol"] for e in evs] == ["held-out", "loso", "held-out"]
    assert modelfile.file_sha256(out) == st.rows[row]["sha256"]  # the model file itself never rewritten


@pytest.mark.slow
@pytest.mark.gui
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_models_workspace_pretrains_resumes_and_keeps_a_held_out_test(
    rig_release, rig_heldout, qtbot, tmp_path, monkeypatch
):
    from app.gui.workers import wait_for_jobs
    from app.gui.workspaces.models import ModelsWorkspace
    from tests.screens import save_screenshot

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    w = ModelsWorkspace(f"sqlite:///{tmp_path / 'catalog.db'}")
    qtbot.addWidget(w)
    w.resize(1200, 980)
    w.show()
    qtbot.waitExposed(w)
    t = w.train
    col = {c: j for j, c in enumerate(_header(w))}
    t.dataset.setText(rig_release)
    t.views.setCurrentText("rgb,depth")
    t.epochs.setValue(2)
    pre = tmp_path / "pre.safetensors"
    t.out.setText(str(pre))
    seen = []
    t.progressed.connect(lambda stage, d, n, line: seen.append((stage, d, n)))
    t.pretrain_btn.click()  # MvCL pretraining: progress, then listed and selected
    assert t.running() and not t.pretrain_btn.isEnabled() and not t.train_btn.isEnabled() and t.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=300000)
    assert ("pretrain epoch", 2, 2) in seen and pre.is_file() and t.pretrain_btn.isEnabled()
    assert w.message.text() == "pretraining done" and "pretrained model (MvCL) written" in w.details.toPlainText()
    sel = w.table.selectionModel().selectedRows()
    assert sel and w.state.rows[sel[0].row()]["path"] == str(pre)

    out = tmp_path / "lab.safetensors"  # train from it (--init); Cancel at the first epoch's report
    t.init.setText(str(pre))
    t.out.setText(str(out))
    t.epochs.setValue(500)
    cancel_once = [True]

    def cancel_at_first_epoch(stage, d, n, line):
        if stage == "epoch" and cancel_once:
            cancel_once.clear()
            t.cancel()

    t.progressed.connect(cancel_at_first_epoch)
    w.last_result = None
    t.train_btn.click()
    qtbot.waitUntil(lambda: not t.running(), timeout=300000)
    ck = out.with_name(out.name + ".checkpoint")
    done = modelfile.read_meta(ck)[0]["epochs_done"]  # the worker may finish an epoch or two more
    assert f"training cancelled after epoch {done}/500" in t.status.text() and not out.exists()
    assert f"an interrupted training ({done} epochs done" in t.checkpoint.text()  # the form says it is there
    assert w.last_result is None and t.train_btn.isEnabled() and t.pretrain_btn.isEnabled()
    t.resume.setChecked(True)  # resume: the two epochs left only
    t.epochs.setValue(done + 2)
    seen.clear()
    t.train_btn.click()
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=300000)
    assert [(d, n) for s, d, n in seen if s == "epoch"] == [(done + 1, done + 2), (done + 2, done + 2)]
    assert out.is_file() and not ck.exists() and modelfile.read_meta(out)[0]["init"] == str(pre)
    assert f"resumed after epoch {done}" in w.details.toPlainText() and t.checkpoint.text() == ""
    assert not t.resume.isChecked()  # nothing left to resume
    row = w.state.rows[w.table.selectionModel().selectedRows()[0].row()]
    assert row["path"] == str(out) and t.target.text() == "selected: lab.safetensors"
    i = w.state.rows.index(row)
    assert w.table.item(i, col["evaluated on"]).text() == "-"

    t.dataset.setText(rig_heldout)  # a held-out test of the selected model, kept with it
    t.protocol.setCurrentIndex(t.HELDOUT)
    w.last_result = None
    t.eval_btn.click()
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=300000)
    res = w.last_result
    assert res["protocol"] == "held-out" and res["stored"] and "(kept with the model)" in w.message.text()
    assert w.train.status.text().startswith(
        "evaluation done (kept with the model): "
    )  # not the last progress line alone
    i = next(k for k, r in enumerate(w.state.rows) if r["path"] == str(out))
    assert w.table.item(i, col["evaluated on"]).text() == "held-out, 1 subj."
    assert w.table.item(i, col["UF1"]).text() == f"{res['uf1']:.3f}"
    assert w.table.item(i, col["UAR"]).text() == f"{res['uar']:.3f}"
    assert w.table.item(i, col["UF1"]).toolTip().startswith("held-out: 1 subject of")
    assert w.plot.matrix == res["confusion"]["matrix"]
    assert w.details.toPlainText().startswith(f"held-out test of {out}")
    w.table.clearSelection()
    w.table.selectRow(i)  # what a lab sees later: the kept evaluation in the details
    assert "evaluated " in w.details.toPlainText() and "held-out: 1 subject of" in w.details.toPlainText()
    save_screenshot(w, "models-view", tmp_path / "shots")
    assert wait_for_jobs(60)


def _header(w):  # the table's header labels, as the view shows them
    return [w.table.horizontalHeaderItem(j).text() for j in range(w.table.columnCount())]
