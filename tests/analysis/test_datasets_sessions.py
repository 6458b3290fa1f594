"""mexlab sessions as a recognition dataset (consensus / coder / rig truth) and the CAS(ME)^3 export
read back by the casme3 reader (round trip), on a real recording of the simulated rig."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from acquisition.errors import MexlabError
from analysis.annotation.model import Event
from analysis.annotation.store import AnnotationStore
from analysis.datasets import read_spec
from tests.helpers_paths import MEXLAB, REPO

pytestmark = pytest.mark.face_model


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("recds") / "s1"
    r = subprocess.run(
        [
            *MEXLAB,
            "record",
            "--simulate",
            "--duration",
            "8",
            "--seed",
            "7",
            "--participant",
            "P-secret-17",
            "--out",
            str(out),
            "--no-catalog",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    return out


def test_rig_truth_only_when_asked_and_consensus_first(session_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    res = read_spec(f"mexlab:{session_dir}", "3", catalog=url)
    assert res.samples == [] and "no consensus coding" in res.problems[0]
    rig = read_spec(f"mexlab:{session_dir}", "3", truth="rig")
    gt = [r for r in (session_dir / "ground_truth.csv").read_text().splitlines()[1:] if ",micro," in r]
    assert len(rig.samples) == len(gt) >= 1
    assert all(s.subject == "P-secret-17" and s.rgb.is_video and s.depth is not None for s in rig.samples)
    sid = json.loads((session_dir / "session.json").read_text())["session_id"]
    with AnnotationStore(url) as st:
        st.insert(sid, Event(onset=30, offset=40, apex=35, aus="12", emotion="happiness", coder="ann"))
        coder = read_spec(f"mexlab:{session_dir}", "3", coder="ann", catalog=url)
        assert [(s.onset, s.apex, s.offset, s.label) for s in coder.samples] == [(30, 35, 40, "positive")]
        assert "coder ann" in coder.samples[0].origin
        st.insert(sid, Event(onset=50, offset=60, apex=55, aus="1+2", emotion="surprise", coder="consensus"))
        cons = read_spec(f"mexlab:{session_dir}", "3", coder="ann", catalog=url)
        assert [(s.onset, s.label) for s in cons.samples] == [(50, "surprise")]
        st.insert(sid, Event(onset=70, offset=80, apex=75, aus="4", emotion="meh", coder="consensus"))
        with pytest.raises(MexlabError, match="unknown emotion label.*'meh'"):
            read_spec(f"mexlab:{session_dir}", "3", catalog=url)


def test_export_casme3_round_trip(session_dir, tmp_path):
    out = tmp_path / "release"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "datasets",
            "export",
            str(session_dir),
            "--truth",
            "rig",
            "--format",
            "casme3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    src = read_spec(f"mexlab:{session_dir}", "3", truth="rig")
    back = read_spec(f"casme3:{out}", "3")
    assert [(s.onset, s.apex, s.offset, s.emotion, s.label) for s in back.samples] == [
        (s.onset, s.apex, s.offset, s.emotion, s.label) for s in src.samples
    ]
    assert {s.subject for s in back.samples} == {"spNO.1"} and not back.errors
    assert back.dropped == {}
    text = "".join(p.read_text(errors="ignore") for p in out.rglob("*") if p.suffix == ".xlsx")
    names = " ".join(str(p) for p in out.rglob("*"))
    assert "P-secret-17" not in names and "P-secret-17" not in text and session_dir.name not in names
    s = back.samples[0]
    d = cv2.imread(s.depth.files[s.apex], cv2.IMREAD_UNCHANGED)
    assert d.dtype == np.uint16 and 400 < np.median(d[d > 0]) < 2000  # mm
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "datasets",
            "export",
            str(session_dir),
            "--truth",
            "rig",
            "--format",
            "casme3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode != 0 and "already exists" in r.stderr and "Traceback" not in r.stderr


def test_recognize_a_session_writes_recognition_json(session_dir, tmp_path):
    import shutil

    from analysis.recognition import modelfile
    from analysis.recognition.task import new_model

    sess = tmp_path / "s"
    shutil.copytree(session_dir, sess)
    rows = [r.split(",") for r in (sess / "ground_truth.csv").read_text().splitlines()[1:]]
    micro = [dict(onset=int(r[0]), apex=int(r[1]), offset=int(r[2]), type="micro") for r in rows if r[3] == "micro"]
    (sess / "analysis").mkdir(exist_ok=True)
    (sess / "analysis" / "spotting.json").write_text(json.dumps({"fps": 30.0, "intervals": micro}))
    model = tmp_path / "m.safetensors"
    modelfile.save(
        model, new_model(3, ("rgb", "depth")), {"classes": ["negative", "positive", "surprise"], "kind": "test"}
    )
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "recognize", str(sess), "--model", str(model), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    written = json.loads((sess / "analysis" / "recognition.json").read_text())
    assert written["model_sha256"] == modelfile.file_sha256(model)
    assert [(e["onset"], e["offset"]) for e in written["expressions"]] == [(m["onset"], m["offset"]) for m in micro]
    assert all(e["class"] in out["classes"] and 0 < e["confidence"] <= 1 for e in out["expressions"])
