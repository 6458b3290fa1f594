"""The command line as a whole: every command module loads, the help lists the commands the issues
name, and `mexlab` alone means the GUI."""

from __future__ import annotations

import subprocess
import sys

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
