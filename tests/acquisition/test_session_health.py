"""Session status and health, true everywhere: ``mexlab check``, the catalog (``sessions register`` and
``list``) and the Sessions list show the same verdict (acquisition.health) for the same session; what
session.json says is checked against the files, field by field."""

from __future__ import annotations

import json

import pytest

from acquisition.catalog import Catalog
from acquisition.check import check_path
from acquisition.health import format_health
from acquisition.session import read_sidecar, write_sidecar
from app.cli import main
from tests.helpers_check import N_FRAMES, make_session

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder]  # ``recorded`` (conftest.py) records its XDFs with LabRecorder


def edit(folder, drop=(), **changes) -> None:
    meta = read_sidecar(folder)
    for key in drop:
        meta.pop(key, None)
    meta.update(changes)
    write_sidecar(folder, meta)


# ------------------------------------------------------------------------------------------------
# session.json checked field by field (the defect: each of these said OK)


@pytest.mark.parametrize(
    "drop, changes, field",
    [
        (("files",), {}, "'files'"),
        (("modes",), {}, "'modes'"),
        ((), {"files": ["recording.xdf"]}, "'files' must be an object"),
        ((), {"modes": "848x480"}, "'modes' must be an object"),
        ((), {"modes": {"rgb": {"width": "64", "height": 48, "fps": 30}}}, "'modes.rgb.width' must be a positive"),
        ((), {"duration_s": "long"}, "'duration_s' must be a number"),
        ((), {"streams": {"name": "x"}}, "'streams' must be a list"),
        ((), {"dropped_frames": -3}, "'dropped_frames' must be a whole number"),
        (("session_id",), {}, "'session_id' is missing"),
    ],
)
def test_check_names_a_missing_or_mistyped_field(recorded, tmp_path, capsys, drop, changes, field):
    folder = make_session(recorded, tmp_path)
    edit(folder, drop, **changes)
    report = check_path(folder)
    assert not report["ok"] and report["health"]["verdict"] == "bad"
    assert any(field in p and p.startswith("session.json: field") for p in report["problems"]), report["problems"]
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr()
    assert field in out.out and "NOT OK" in out.out and "Traceback" not in out.err


def test_check_compares_the_mode_with_the_video(recorded, tmp_path, capsys):
    """session.json saying 1920x1080 for a 64x48 video is not OK (it said OK)."""
    folder = make_session(recorded, tmp_path)
    edit(folder, modes={"rgb": {"width": 1920, "height": 1080, "fps": 30, "format": "rgb8"}})
    report = check_path(folder)
    assert not report["ok"] and report["health"]["verdict"] == "bad"
    assert "rgb.mkv is 64x48 but session.json field 'modes.rgb' says 1920x1080" in report["problems"]
    assert main(["check", str(folder)]) == 1
    assert "modes.rgb" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# one verdict: check, the catalog, sessions list, the Sessions workspace


def own_session(recorded, tmp_path, name: str):
    """A consistent session of its own (own folder, own session id) from the recorded files."""
    import uuid

    (tmp_path / name).mkdir()
    folder = make_session(recorded, tmp_path / name)
    edit(folder, session_id=uuid.uuid4().hex)
    return folder


def dropped_session(recorded, tmp_path):
    """Every frame in the file and its index, but the recorder counted 2 frames lost (9 %)."""
    folder = own_session(recorded, tmp_path, "dropped")
    edit(
        folder,
        dropped_frames=2,
        counts={
            "rgb": {
                "frames_received": N_FRAMES + 2,
                "frames_written": N_FRAMES,
                "dropped_counter_gap": 0,
                "dropped_queue_overflow": 2,
            }
        },
    )
    return folder


def aborted_session(recorded, tmp_path):
    folder = own_session(recorded, tmp_path, "aborted")
    edit(
        folder,
        status="aborted",
        protocol="mock-crime-interview",
        aborted_at={
            "step": 7,
            "of": 24,
            "step_id": "mission",
            "text": "aborted at step 7 of 24, interview: act mission",
        },
    )
    return folder


def test_dropped_frames_are_one_verdict_everywhere(recorded, tmp_path, capsys):
    """9 % of the RGB frames dropped: check says NOT OK and the catalog, the list and the workspace say
    bad, with the same reason (the defect: green 'complete' in the list)."""
    folder = dropped_session(recorded, tmp_path)
    report = check_path(folder)
    assert report["health"]["verdict"] == "bad"
    reason = "2 RGB frames dropped (9 %; 2 by a full queue)"
    assert report["health"]["reasons"] == [reason]
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"health: bad: {reason}" in out and "NOT OK" in out

    with Catalog() as cat:
        row = cat.get_session(read_sidecar(folder)["session_id"])
    assert row["status"] == "complete" and row["health"] == report["health"]  # registered by check
    assert main(["sessions", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if str(folder) in x)
    assert "bad: 2 RGB frames dropped (9 %" in line


def test_aborted_status_in_check_catalog_and_list(recorded, tmp_path, capsys):
    folder = aborted_session(recorded, tmp_path)
    report = check_path(folder)
    assert report["status"] == "aborted" and not report["ok"]
    assert report["status_detail"] == "aborted at step 7 of 24, interview: act mission"
    assert report["health"] == {"verdict": "warning", "reasons": [report["status_detail"]]}
    assert main(["check", str(folder)]) == 1
    assert "status: aborted (aborted at step 7 of 24, interview: act mission)" in capsys.readouterr().out
    assert main(["sessions", "register", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "WARNING: aborted at step 7 of 24" in out and "session.json says aborted" in out
    assert main(["sessions", "list", "--status", "aborted", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "aborted" and row["status_detail"] == report["status_detail"]
    assert row["health"] == report["health"]
    assert main(["sessions", "list", "--status", "aborted"]) == 0
    assert "aborted (at step 7 of 24)" in capsys.readouterr().out


def test_register_without_its_xdf_is_not_called_complete(recorded, tmp_path, capsys):
    """The defect: 'registered … (complete)' for a session whose recording.xdf was gone."""
    folder = make_session(recorded, tmp_path)
    (folder / "recording.xdf").unlink()
    assert main(["sessions", "register", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"registered {folder} (BAD: recording.xdf is missing" in out
    assert "(complete" not in out
    with Catalog() as cat:
        row = cat.get_session(read_sidecar(folder)["session_id"])
    assert row["health"]["verdict"] == "bad" and "recording.xdf is missing" in row["health"]["reasons"]


def test_rescan_recovers_an_interrupted_sessions_duration(recorded, tmp_path):
    """A sidecar left at 'recording' by a dead writer: the rescan finds it interrupted, reads the true
    duration from the files and writes both into session.json (atomically)."""
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = make_session(
        recorded,
        tmp_path,
        status="recording",
        host=socket.gethostname(),
        pid=dead.pid,
        pid_create_time=1.0,
        stopped_at=None,
        duration_s=0.0,
    )
    streams = check_path(folder)["streams"]
    true_s = max(s["last_timestamp"] for s in streams) - 0.0  # started_lsl = 0.0 in these sidecars
    with Catalog() as cat:
        assert cat.rescan(tmp_path) >= 1
        row = cat.get_session(read_sidecar(folder)["session_id"])
    meta = read_sidecar(folder)
    assert meta["status"] == "interrupted" and meta["duration_s"] == pytest.approx(true_s, abs=1e-3)
    assert meta["checkpoint_duration_s"] == 0.0
    assert row["status"] == "interrupted" and row["duration_s"] == pytest.approx(true_s, abs=1e-3)
    assert row["health"]["verdict"] == "warning"


# ------------------------------------------------------------------------------------------------
# the Sessions workspace


def test_sessions_list_shows_aborted_and_dropped(recorded, tmp_path, qtbot):
    from PySide6.QtGui import QColor

    from app.gui.workspaces.sessions import COLUMNS, SessionsWorkspace

    ok = own_session(recorded, tmp_path, "ok")
    dropped = dropped_session(recorded, tmp_path)
    aborted = aborted_session(recorded, tmp_path)
    with Catalog() as cat:
        for folder in (ok, dropped, aborted):
            cat.register_session(folder)
        rows = cat.list_sessions()
    ws = SessionsWorkspace()
    qtbot.addWidget(ws)
    ws.resize(1500, 320)
    ws._show_rows(rows)
    table = ws.table
    by_folder = {}
    for i in range(table.rowCount()):
        cells = {c: table.item(i, j) for j, c in enumerate(COLUMNS)}
        by_folder[cells["folder"].text()] = cells
    green = QColor("#2a7")
    d = by_folder[str(dropped.resolve())]
    assert d["status"].text() == "complete" and d["status"].foreground().color() != green
    assert d["status"].foreground().color() == QColor("#d33")
    assert d["health"].text().startswith("bad: 2 RGB frames dropped (9 %")
    assert d["health"].toolTip() == format_health(check_path(dropped)["health"])[len("bad: ") :]
    a = by_folder[str(aborted.resolve())]
    assert a["status"].text() == "aborted (at step 7 of 24)"
    assert a["status"].toolTip() == "aborted at step 7 of 24, interview: act mission"
    assert a["health"].text().startswith("warning: aborted at step 7 of 24")
    o = by_folder[str(ok.resolve())]
    assert o["status"].foreground().color() == green and o["health"].text() == "ok"
    assert "1 aborted" in ws.info.text() and "1 bad" in ws.info.text()
    # the health filter
    ws.status_filter.setCurrentIndex(ws.status_filter.findData("health:bad"))
    assert table.rowCount() == 1 and table.item(0, COLUMNS.index("folder")).text() == str(dropped.resolve())
    ws.status_filter.setCurrentIndex(ws.status_filter.findData("aborted"))
    assert table.rowCount() == 1
    ws.status_filter.setCurrentIndex(0)
    ws.grab().save(str(tmp_path / "sessions-health.png"))
    assert (tmp_path / "sessions-health.png").stat().st_size > 0


def test_analyze_header_shows_the_same_verdict(recorded, tmp_path, qtbot):
    from app.gui.workspaces.analyze import AnalyzeWorkspace

    dropped = dropped_session(recorded, tmp_path)
    with Catalog() as cat:
        row = cat.register_session(dropped)
    ws = AnalyzeWorkspace()
    qtbot.addWidget(ws)
    ws.open_session(dropped)
    qtbot.waitUntil(lambda: "health:" in ws.health.text(), timeout=60000)
    assert "<b>complete</b>" in ws.health.text()
    assert f"health: {format_health(row['health'])}" in ws.health.text()
    assert "bad: 2 RGB frames dropped (9 %" in ws.health.text()
