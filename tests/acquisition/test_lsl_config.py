"""LabRecorderCLI finds this machine's streams without multicast: the lab's LSL configuration plus
127.0.0.1 as a known peer (acquisition/lsl_config.py), checked in a network namespace that has only
the loopback interface, where the bundled LabRecorderCLI otherwise hears only the newest outlet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from acquisition.lsl_config import child_config_text, user_config_file, with_known_peer

pytestmark = [pytest.mark.netns, pytest.mark.rig, pytest.mark.labrecorder]


def test_known_peer_added_and_the_rest_kept():
    assert with_known_peer("") == "[lab]\nKnownPeers = {127.0.0.1}\n"
    cfg = "[ports]\nBasePort = 17000\n\n[lab]\nSessionID = labA\nKnownPeers = {10.0.0.5, pc2}\n\n[log]\nlevel = -2\n"
    out = with_known_peer(cfg)
    assert "KnownPeers = {10.0.0.5, pc2, 127.0.0.1}" in out
    assert "BasePort = 17000" in out and "SessionID = labA" in out and "level = -2" in out
    assert with_known_peer(out) == out  # already there: unchanged
    out = with_known_peer("[lab]\nSessionID = labA\n[multicast]\nResolveScope = link\n")
    assert out.splitlines()[:3] == ["[lab]", "KnownPeers = {127.0.0.1}", "SessionID = labA"]
    assert "ResolveScope = link" in out
    assert "KnownPeers = {127.0.0.1}" in with_known_peer("[lab]\nKnownPeers = pc2\n")  # not a set: liblsl ignores it


def test_the_lab_config_liblsl_would_read(tmp_path, monkeypatch):
    monkeypatch.delenv("LSLAPICFG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    here = tmp_path / "cwd"
    here.mkdir()
    if Path("/etc/lsl_api/lsl_api.cfg").exists():
        pytest.skip("/etc/lsl_api/lsl_api.cfg exists on this machine")
    assert user_config_file(here) is None
    (here / "lsl_api.cfg").write_text("[lab]\nSessionID = cwd\n")
    assert user_config_file(here) == here / "lsl_api.cfg"
    mine = tmp_path / "mine.cfg"
    mine.write_text("[lab]\nSessionID = env\n")
    monkeypatch.setenv("LSLAPICFG", str(mine))
    assert user_config_file(here) == mine
    assert "SessionID = env" in child_config_text(here) and "KnownPeers = {127.0.0.1}" in child_config_text(here)
    monkeypatch.setenv("LSLAPICFG", str(tmp_path / "missing.cfg"))  # unreadable: liblsl goes on looking
    assert user_config_file(here) == here / "lsl_api.cfg"


@pytest.fixture
def loopback_only_namespace():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name = f"mexlab-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def test_recording_without_multicast(loopback_only_namespace, tmp_path):
    """Six streams (EMG, ECG, EDA of the rig, markers, two frame indexes) on a machine where
    multicast reaches nothing: before the known peer, LabRecorderCLI matched only the newest one."""
    out = tmp_path / "s"
    r = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            loopback_only_namespace,
            sys.executable,
            "-m",
            "app.cli",
            "record",
            "--simulate",
            "--duration",
            "3",
            "--rgb",
            "424x240@30",
            "--depth",
            "424x240@30",
            "--out",
            str(out),
            "--no-catalog",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(
        subprocess.run(
            [sys.executable, "-m", "app.cli", "check", str(out), "--json"], capture_output=True, text=True, timeout=120
        ).stdout
    )
    names = {s["name"] for s in rep["streams"]}
    assert {"mexlab-markers", "mexlab-rgb-frames", "mexlab-depth-frames"} <= names and len(names) == 6
    assert rep["ok"] and all(s["sample_count"] > 0 for s in rep["streams"])
