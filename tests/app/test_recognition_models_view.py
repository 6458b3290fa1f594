"""The Models view: its Qt-free state (catalog models + the shipped one, metrics, sha256, the
default model) and the workspace offscreen (a screenshot)."""

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


@pytest.mark.gui
@pytest.mark.face_model
@pytest.mark.timeout(600)
def test_models_workspace_trains_evaluates_and_cancels(rig_release, qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QThreadPool

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
    assert QThreadPool.globalInstance().waitForDone(60000)
