"""The command line as a whole: every command module loads, the help lists the commands the issues
name, `mexlab` alone means the GUI, `--version`, and light commands start without heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app import cli


def test_every_command_module_imports():
    mods = cli.command_modules()
    assert cli.BROKEN_COMMANDS == {}
    names = {m.__name__.rsplit(".", 1)[-1] for m in mods}
    assert {"record", "check", "sessions", "gui", "devices", "rig"} <= names


def test_help_lists_commands():
    res = subprocess.run([sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for name in ("record", "check", "sessions", "gui"):
        assert name in res.stdout


def test_no_display_is_a_clear_error(monkeypatch):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    res = subprocess.run([sys.executable, "-m", "app.cli"], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode != 0
    assert "no display" in res.stderr and "Traceback" not in res.stderr


def test_version():
    from importlib.metadata import version

    res = subprocess.run([sys.executable, "-m", "app.cli", "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == f"mexlab {version('mexlab')}", res


#: modules that take seconds to import (on a cold disk cache far more) and that only the commands
#: that use them may load, inside their run()
HEAVY = (
    "cv2",
    "mediapipe",
    "torch",
    "PySide6",
    "pyqtgraph",
    "neurokit2",
    "pandas",
    "matplotlib",
    "sqlalchemy",
    "alembic",
    "scipy",
    "av",
    "pyrealsense2",
    "pyxdf",
    "flwr",
    "pingouin",
    "openpyxl",
    "skimage",
    "safetensors",
    "einops",
)

PROBE = r"""
import contextlib, io, json, sys
from app.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as e:
        rc = e.code
print(json.dumps({"rc": rc, "out": out.getvalue(), "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["protocols", "list"],
        ["shortcuts", "list"],
        ["record", "--help"],
        ["spot", "--help"],
        ["gui", "--help"],
        ["stats", "--help"],
        ["sessions", "--help"],
    ],
)
def test_light_commands_import_no_heavy_module(argv, tmp_path):
    """`mexlab protocols list` once took 9.4 s to print 3 lines: a command's heavy imports belong in its
    run(). Checked by what is imported (the time itself is in bench/cli_startup.py). As on a fresh
    machine, the demo stimuli are not made yet: listing the demo protocol once made them (PyAV and
    OpenCV writing clips) just to print its title — the suite passed only where an earlier run had
    left them in the user's data folder."""
    demo = tmp_path / "demo-stimuli"
    env = {**os.environ, "MEXLAB_DEMO_STIMULI": str(demo)}
    res = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["rc"] in (0, None) and got["out"], got
    heavy = sorted(set(HEAVY) & set(got["modules"]))
    assert heavy == [], f"mexlab {' '.join(argv)} imports {heavy}"
    assert not demo.exists(), f"mexlab {' '.join(argv)} made the demo stimuli"


def test_the_probe_sees_a_heavy_import():
    """The check above can fail: a command that does import a heavy module is caught."""
    res = subprocess.run(
        [sys.executable, "-c", "import pandas\n" + PROBE, "--version"], capture_output=True, text=True, timeout=120
    )
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert "pandas" in got["modules"]
