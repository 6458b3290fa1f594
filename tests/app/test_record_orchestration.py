"""One way to record (issue 11): importing mexlab changes nothing in the process; the recorder never
opens the catalog, the one orchestration shared by the CLI and the GUI (app/recording.Recording)
registers the session; one RecordConfig builder for both front ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acquisition.catalog import Catalog
from acquisition.errors import MexlabError
from acquisition.sources import RecordConfig

REPO = Path(__file__).resolve().parents[2]

_IMPORTS = """
import json, os, sys
before = dict(os.environ)
import acquisition, acquisition.recorder, acquisition.lsl_streams, acquisition.preflight, acquisition.sources
import app.services.recording, app.services.record_controller, app.commands.record, app.commands.run_protocol, app.services.protocol_session
after = dict(os.environ)
print(json.dumps({"changed": sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))}))
if len(sys.argv) > 1:
    from acquisition.lsl_config import quiet_liblsl
    print(json.dumps({"cfg": str(quiet_liblsl()), "env": os.environ.get("LSLAPICFG")}))
"""


def _run_imports(tmp_path: Path, *extra: str) -> list[dict]:
    tmp = tmp_path / "tmpdir"
    home = tmp_path / "home"
    tmp.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "LSLAPICFG"}
    env.update(TMPDIR=str(tmp), HOME=str(home), PYTHONPATH=str(REPO))
    res = subprocess.run(
        [sys.executable, "-c", _IMPORTS, *extra], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def test_importing_mexlab_leaves_the_environment_and_the_temp_folder_alone(tmp_path):
    if Path("/etc/lsl_api/lsl_api.cfg").exists():
        pytest.skip("/etc/lsl_api/lsl_api.cfg exists: mexlab would keep the lab's configuration anyway")
    out = _run_imports(tmp_path)
    assert out == [{"changed": []}]
    assert list((tmp_path / "tmpdir").iterdir()) == []  # no file written by an import


def test_the_quiet_liblsl_configuration_is_set_where_a_recording_starts(tmp_path):
    if Path("/etc/lsl_api/lsl_api.cfg").exists():
        pytest.skip("/etc/lsl_api/lsl_api.cfg exists: mexlab keeps the lab's configuration")
    imported, called = _run_imports(tmp_path, "start")
    assert imported == {"changed": []}
    cfg = Path(called["cfg"])
    assert called["env"] == str(cfg) and cfg.parent == tmp_path / "tmpdir"
    assert "level = -2" in cfg.read_text()


def test_one_config_builder_for_the_cli_and_the_gui(tmp_path):
    """The same request through `mexlab record`'s flags and the Record workspace's settings gives the
    same RecordConfig; a bad value is refused by the same rule, named as each front end names it."""
    import argparse

    from app.commands.record import add_source_arguments, config_from_args
    from app.services.record_controller import config_from_settings
    from app.services.settings import Settings

    p = argparse.ArgumentParser()
    add_source_arguments(p)
    p.add_argument("--out", type=Path)
    p.add_argument("--duration", type=float)
    p.add_argument("--participant")
    args = p.parse_args(
        [
            "--simulate",
            "--rgb",
            "640x480@30",
            "--depth",
            "640x480@30",
            "--lsl",
            "EMG",
            "--db",
            "sqlite:///x.sqlite",
            "--out",
            str(tmp_path / "s"),
            "--participant",
            "P1",
        ]
    )
    cli = config_from_args(args)
    gui = config_from_settings(
        Settings(
            source="simulate",
            rgb_mode="640x480@30",
            depth_mode="640x480@30",
            required_streams=["EMG"],
            database_url="sqlite:///x.sqlite",
        ),
        "P1",
        tmp_path / "s",
    )
    assert isinstance(cli, RecordConfig) and gui.encoder_process and not cli.encoder_process
    import dataclasses

    assert cli == dataclasses.replace(gui, encoder_process=False)  # the GUI encodes in processes of their own
    with pytest.raises(MexlabError, match="RGB mode"):
        config_from_settings(Settings(source="simulate", rgb_mode="big"), "P1", tmp_path / "s")
    args.rgb = "big"
    with pytest.raises(MexlabError, match="--rgb"):
        config_from_args(args)


@pytest.mark.lsl
@pytest.mark.labrecorder
def test_the_recorder_never_opens_the_catalog_the_recording_registers(tmp_path):
    """Before: the Recorder opened the catalog in prepare() and registered itself at stop. Now a bare
    Recorder leaves the catalog untouched, and app.services.recording.Recording (the CLI's and the GUI's
    orchestration) registers the session once it has stopped."""
    from acquisition.recorder import Recorder
    from app.services.recording import Recording

    db = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    bare = Recorder(RecordConfig(out=tmp_path / "bare", source="simulate", no_camera=True, duration=0.5, db=db))
    bare.prepare()
    assert not hasattr(bare, "catalog") or bare.catalog is None
    bare.start()
    meta = bare.stop()
    assert meta["status"] == "complete"
    assert not (tmp_path / "cat.sqlite").exists() or Catalog(db).list_sessions() == []

    recording = Recording(RecordConfig(out=tmp_path / "s", source="simulate", no_camera=True, duration=0.5, db=db))
    recording.prepare()
    recording.start()
    meta = recording.stop("duration reached")
    rows = Catalog(db).list_sessions()
    assert [r["session_id"] for r in rows] == [meta["session_id"]]
    assert recording.registered["status"] == "complete"
