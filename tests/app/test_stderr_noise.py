"""The GUI's stderr without MediaPipe/TFLite/Qt start-up chatter (app/gui/stderr_noise.py), and with
every other line kept, in order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: lines MediaPipe 1.2 and Qt wrote on this machine when the face model started in the GUI
CHATTER = [
    "WARNING: Logging before InitGoogle() is written to STDERR",
    "W0000 00:00:1796196288.756764    9379 face_landmarker_graph.cc:181] Sets FaceBlendshapesGraph "
    "acceleration to xnnpack by default.",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "W0000 00:00:1796196288.862141    9383 inference_feedback_manager.cc:121] Feedback manager requires a "
    "model with a single signature inference. Disabling support for feedback tensors.",
    "I0000 00:00:1796196288.862141    9383 gl_context.cc:369] GL version: 3.2 (OpenGL ES 3.2 Mesa)",
    "This plugin does not support propagateSizeHints()",
]
KEPT = [
    "E0000 00:00:1796196288.9    9383 calculator_graph.cc:887] INTERNAL: a real error from C++",
    "Traceback (most recent call last):",
    "mexlab: a warning a user must see",
    "W0000 in a sentence that is not a glog line",
]

SCRIPT = r"""
import os, sys, threading
sys.path.insert(0, sys.argv[1])
from app.gui.stderr_noise import filtered_stderr
chatter, kept = sys.argv[2].split("\x1f"), sys.argv[3].split("\x1f")
with filtered_stderr():
    for c, k in zip(chatter, kept):
        os.write(2, (c + "\n").encode())                   # as C++ writes: straight to fd 2
        print(k, file=sys.stderr, flush=True)              # as Python writes
    t = threading.Thread(target=lambda: os.write(2, b"from a thread\n" + chatter[-1].encode() + b"\n"))
    t.start(); t.join()
    os.write(2, b"no newline at the end")
print("after", file=sys.stderr)
"""


def test_chatter_dropped_and_everything_else_kept_in_order():
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(REPO), "\x1f".join(CHATTER), "\x1f".join(KEPT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == KEPT + ["from a thread", "no newline at the endafter"]


FACE = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from analysis.face.landmarker import FaceTracker
from app.gui.stderr_noise import filtered_stderr

def run():
    t = FaceTracker()
    t.process(np.zeros((480, 640, 3), np.uint8), 0)
    t.close()
    print("tracked", file=sys.stderr)

if sys.argv[2] == "filtered":
    with filtered_stderr():
        run()
else:
    run()
"""


@pytest.mark.face_model
def test_the_real_face_model_starts_quietly():
    def run(mode):
        return subprocess.run(
            [sys.executable, "-c", FACE, str(REPO), mode], capture_output=True, text=True, timeout=120
        )

    plain = run("plain")
    assert plain.returncode == 0, plain.stderr
    assert "Logging before InitGoogle" in plain.stderr or "XNNPACK" in plain.stderr  # the chatter exists
    quiet = run("filtered")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.strip() == "tracked", quiet.stderr


@pytest.mark.gui
def test_gui_start_prints_nothing_on_stderr(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MEXLAB_DB": f"sqlite:///{tmp_path / 'c.sqlite'}"}
    res = subprocess.run(
        [sys.executable, "-m", "app.cli", "gui", "--simulate", "--quit-after", "3"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr == "", res.stderr
