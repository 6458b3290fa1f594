"""The Analyze workspace's Qt-free model, driven without a display on a small session folder: the
interval table with the class `mexlab recognize` gave each interval, the apex frame, the EMG on the
video's frame axis, the study selection; and cancelling a spotting."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import InputError
from acquisition.session_read import names
from analysis.analyze_model import (
    COLUMNS,
    AnalyzeModel,
    SpottingCancelled,
    read_recognition,
)
from analysis.spotting.pipeline import SpotResult
from tests.helpers_session import make_session

SPOT = [
    {"onset": 38, "apex": 44, "offset": 52, "type": "micro", "score": 0.91, "aus": ["AU12"]},
    {"onset": 60, "apex": 66, "offset": 80, "type": "macro", "score": 2.5, "aus": ["AU4"]},
    {"onset": 10, "apex": 12, "offset": 16, "type": "micro", "score": 0.5, "aus": []},
]
RECOGNISED = [
    {
        "onset": 38,
        "apex": 44,
        "offset": 52,
        "class": "positive",
        "confidence": 0.8731,
        "probabilities": {"positive": 0.8731, "negative": 0.1269},
    }
]


def result_of(folder: Path, suppressed=()) -> SpotResult:
    return SpotResult(str(folder), 30.0, 90, 90, [dict(i) for i in SPOT], list(suppressed))


@pytest.fixture()
def session(tmp_path) -> Path:
    return make_session(tmp_path / "S1", spotting=SPOT, recognition=RECOGNISED)


def test_rows_carry_the_recognised_class(session):
    m = AnalyzeModel()
    assert m.open(session) and not m.open(session)  # the same session: nothing reset
    m.set_result(result_of(session, [{"onset": 20, "offset": 25, "reason": "blink"}]))
    rows = m.rows()
    assert len(rows[0]) == len(COLUMNS) and COLUMNS[-1].startswith("recognised")
    assert rows[0] == ("micro", 38, 44, 52, "0.91", "AU12", "positive (0.87)")
    assert rows[1][-1] == "" and rows[2][-1] == ""  # macro, and a micro not recognised
    assert rows[3] == ("suppressed", 20, "", 25, "", "blink", "")
    assert "classes from analysis/recognition.json" in m.summary()
    assert [m.row_frame(r) for r in rows] == [44, 66, 12, 20]
    m.result.notes = ["rgb.mkv gave only 43 of the 90 frames the session recorded"]
    assert m.summary().endswith("; rgb.mkv gave only 43 of the 90 frames the session recorded")


def test_without_recognition_the_column_is_empty(tmp_path):
    folder = make_session(tmp_path / "S2", spotting=SPOT)
    m = AnalyzeModel()
    m.open(folder)
    m.set_result(result_of(folder))
    assert [r[-1] for r in m.rows()] == ["", "", ""] and "recognition" not in m.summary()


def test_a_malformed_recognition_file_is_named(session):
    (session / names.RECOGNITION_FILE).write_text(json.dumps({"expressions": [{"onset": 1}]}))
    got, note = read_recognition(session)
    assert got == {} and note.startswith(f"{session / names.RECOGNITION_FILE}: not a recognition result")
    m = AnalyzeModel()
    m.open(session)
    m.set_result(result_of(session))
    assert note in m.summary() and m.rows()[0][-1] == ""


def test_apex_frame_and_emg_on_the_frame_axis(session):
    m = AnalyzeModel()
    m.open(session)
    m.set_result(result_of(session))
    img = m.frame_image(44)
    assert img.shape == (48, 64, 3) and int(img[40, 60, 0]) == (44 * 7) % 256  # frame 44 itself
    traces, note = m.emg_traces()
    assert note is None and [t.label for t in traces] == ["EMG3", "EMG6"]
    t = traces[1]  # zygomaticus: the burst at frames 40-50
    peak = t.frames[int(np.argmax(t.values))]
    assert 39 <= peak <= 51
    assert t.frames[0] < 0  # EMG before the first frame: before 0
    m.close()


def test_study_selection_takes_the_complete_sessions_of_the_protocol(session):
    m = AnalyzeModel()
    m.open(session)
    rows = [
        {"folder": str(session), "protocol": "demo", "status": "complete"},
        {"folder": "/x/a", "protocol": "demo", "status": "complete"},
        {"folder": "/x/b", "protocol": "demo", "status": "aborted"},
        {"folder": "/x/c", "protocol": "other", "status": "complete"},
    ]
    assert m.study_selection(rows) == ("demo", [str(session), "/x/a"])
    # opened as a folder, not in the catalog: it counts, with its session.json protocol
    assert m.study_selection(rows[1:]) == ("demo", ["/x/a", str(session)])
    assert m.study_figure("group") == (None, "")  # no study run yet


@pytest.mark.face_model
def test_cancel_stops_the_spotting_and_writes_nothing(tmp_path):
    folder = make_session(tmp_path / "S3")
    m = AnalyzeModel()
    m.open(folder)
    cancel = threading.Event()
    seen = []

    def progress(done, total, stage):
        seen.append(stage)
        cancel.set()  # Cancel pressed after the first report

    with pytest.raises(SpottingCancelled, match="cancelled .* nothing was written"):
        m.run_spotting(progress=progress, cancel=cancel)
    assert len(seen) == 1 and not (folder / names.SPOTTING_FILE).exists()


# -- the recognition model picker and "Recognise" ----------------------------------------------
def _lab_model(path: Path, url: str, seed: int = 1) -> Path:
    """A real (untrained) 3-class rgb,diff model file, registered in the catalog at ``url``."""
    from acquisition.catalog.recognition_models import register_model
    from analysis.recognition import modelfile
    from analysis.recognition import task as T

    meta = modelfile.save(
        path,
        T.new_model(3, ("rgb", "diff"), seed=seed),
        {"classes": ["negative", "positive", "surprise"], "kind": "classifier"},
    )
    register_model(path, meta, url)
    return path


@pytest.mark.learning
def test_model_choices_default_shipped_and_catalog(tmp_path, monkeypatch):
    from analysis.analyze_model import model_choices
    from analysis.recognition import modelfile

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    lab = _lab_model(tmp_path / "lab.safetensors", url)
    gone = _lab_model(tmp_path / "gone.safetensors", url, seed=2)
    gone.unlink()
    got, note = model_choices(url)
    assert note is None
    assert [c.path for c in got] == [None, str(lab)]  # the shipped model is the default: once
    assert got[0].label == f"default ({modelfile.DEFAULT_MODEL.name})"
    assert got[1].label == "lab.safetensors (rgb,diff; negative, positive, surprise)"
    modelfile.set_default_model(lab)
    got, _ = model_choices(url)
    assert [c.path for c in got] == [None, str(modelfile.DEFAULT_MODEL)]  # the lab's default, then shipped
    assert got[0].label == "default (lab.safetensors)"
    lab.unlink()  # the chosen default is gone: named
    got, note = model_choices(url)
    assert [c.path for c in got] == [str(modelfile.DEFAULT_MODEL)] and "lab.safetensors" in note
    assert "missing" in note


@pytest.mark.learning
@pytest.mark.face_model
def test_recognise_with_the_chosen_model_fills_the_table(tmp_path, monkeypatch):
    """The picker's model goes to `mexlab recognize`'s call (recognition.json written, naming that
    model); the table's last column then shows the class of the micro interval."""
    from analysis.recognition import modelfile
    from tests.helpers_face_session import MICRO, make_face_session

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    folder = make_face_session(tmp_path / "F1")
    m = AnalyzeModel()
    with pytest.raises(InputError, match="no session is open"):
        m.run_recognition()
    m.open(folder)
    m.set_result(SpotResult(str(folder), 30.0, 70, 70, [dict(MICRO)], []))
    assert m.rows()[0][-1] == ""
    seen = []
    res = m.run_recognition(progress=lambda *a: seen.append(a))
    m.set_recognition(res)
    assert res["model"] == str(modelfile.DEFAULT_MODEL) and m.recognised_with == res["model"]
    assert res["written"] == str(folder / names.RECOGNITION_FILE)
    ((cls, conf),) = m.recognition.values()
    assert m.rows()[0][-1] == f"{cls} ({conf:.2f})" and cls in res["classes"]
    assert m.recognition_summary(res).startswith(
        f"1 micro-expression(s) recognised with {modelfile.DEFAULT_MODEL.name}"
    )
    lab = _lab_model(tmp_path / "lab.safetensors", f"sqlite:///{tmp_path / 'c.db'}")
    m.model_path = str(lab)
    res = m.run_recognition()
    m.set_recognition(res)
    on_disk = json.loads((folder / names.RECOGNITION_FILE).read_text())
    assert on_disk["model"] == str(lab) and on_disk["model_sha256"] == modelfile.file_sha256(lab)
    assert read_recognition(folder)[0] == m.recognition  # the table and the file agree
    assert "lab.safetensors" in m.recognition_summary(res)
    fresh = AnalyzeModel()  # recognised without a spotting run here: the table has its intervals
    fresh.open(folder)
    assert fresh.rows() == []
    fresh.model_path = str(lab)
    fresh.set_recognition(fresh.run_recognition())
    (row,) = fresh.rows()
    assert row[:4] == ("micro", 38, 45, 52) and row[-1] == m.rows()[0][-1]
    fresh.open(tmp_path)  # another folder: the last recognition is forgotten
    assert fresh.rows() == [] and fresh.recognised_with is None
