"""A protocol run aborted in the Record workspace (the GUI path): the session is `aborted` with the step
reached, in session.json, the catalog and the Sessions list — the status is decided in the shared run
code (app/protocol_session.record_run), as for `mexlab run-protocol`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from app.services.settings import Settings

pytestmark = [pytest.mark.lsl, pytest.mark.rig]


def test_abort_in_the_record_workspace_marks_the_session_aborted(qtbot, tmp_path, monkeypatch):
    from app.gui.main_window import MainWindow

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    settings = Settings(output_folder=str(tmp_path / "sessions"), source="simulate", min_free_minutes=0.5)
    win = MainWindow(settings, simulate=True)  # half a minute of disk asked: CI disks are small
    qtbot.addWidget(win)
    win.confirm_close = lambda box: QMessageBox.Yes  # pytest-qt closes it first: no modal question
    win.show()
    try:
        win.record.participant.setText("P021")
        win.record.run_preflight()
        qtbot.waitUntil(
            lambda: win.record.preflight_btn.isEnabled() and "READY" in win.record.preflight_text.toPlainText(),
            timeout=60000,
        )
        win.record.start_protocol("mock-crime-interview", windowed=True, quick=True, simulate=True)
        qtbot.waitUntil(
            lambda: win.record.protocol_run is not None and win.record.protocol_run.engine.index >= 2, timeout=60000
        )
        run = win.record.protocol_run
        win.record.stop_recording()  # the experimenter stops: the run is aborted, then the recording
        qtbot.waitUntil(lambda: win.record.controller.state.last_session is not None, timeout=120000)
        meta = win.record.controller.state.last_session
        assert meta["protocol_run"]["state"] == "aborted" and meta["status"] == "aborted"
        at = run.engine.aborted_at
        assert meta["aborted_at"]["text"] == f"aborted at {at['text']}"
        assert meta["aborted_at"]["reason"] == "recording stopped by the experimenter"
        folder = Path(win.record.controller.recorder.folder)
        assert json.loads((folder / "session.json").read_text())["status"] == "aborted"
        win.sessions.refresh()
        qtbot.waitUntil(
            lambda: any(r["session_id"] == meta["session_id"] for r in win.sessions.state.rows), timeout=30000
        )
        row = next(r for r in win.sessions.state.rows if r["session_id"] == meta["session_id"])
        assert row["status"] == "aborted" and row["status_detail"] == meta["aborted_at"]["text"]
        assert row["health"]["verdict"] in ("warning", "bad"), row["health"]  # bad: frames dropped under load
        assert meta["aborted_at"]["text"] in row["health"]["reasons"], row["health"]
    finally:
        if win.record.controller.active:  # running or still starting
            win.record.controller.stop("test teardown")
