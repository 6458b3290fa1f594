"""Make the documentation's screenshots (docs/img/), from the real running application (offscreen).

    make screenshots          (= QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots.py)
    docs/screenshots.py --app     only the main window: record-workspace, sessions-workspace,
                                  analyze-spotting, analyze-physiology
    docs/screenshots.py --tests   only the views the GUI tests drive into place (annotate-coding,
                                  annotate-reconcile, annotate-candidates, annotate-reliability, sessions-self-reports, the
                                  protocol display and panel, models-view, analyze-recognise): those tests, run with
                                  MEXLAB_SCREENSHOTS=docs/img (tests/screens.py)

Tests themselves never write into docs/img (a test run leaves the working tree clean).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IMG = ROOT / "docs" / "img"

#: the GUI tests that take the remaining documentation screenshots (tests/screens.py)
SCREENSHOT_TESTS = (
    "tests/app/test_annotation_workspace.py::test_tracks_spotted_intervals_au_traces_and_heights",
    "tests/app/test_annotation_workspace.py::test_reconcile_dialog_stores_the_consensus",
    "tests/app/test_annotation_gui.py::test_keyboard_workflow_code_undo_redo_save_reopen",
    "tests/analysis/test_annotation_clips.py::test_reliability_per_clip_session_and_study_cli_and_gui",
    "tests/app/test_gui.py::test_protocol_run_from_the_record_workspace",
    "tests/app/test_protocol_panel.py",
    "tests/app/test_recognition_models_view.py::test_models_workspace_pretrains_resumes_and_keeps_a_held_out_test",
    "tests/app/test_analyze_workspace.py::test_recognise_with_the_picked_model",
)


def from_tests() -> int:
    env = {**os.environ, "MEXLAB_SCREENSHOTS": str(IMG), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SCREENSHOT_TESTS], cwd=ROOT, env=env
    ).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="make the documentation's screenshots (docs/img/)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--app", action="store_true", help="only the main window's views")
    which.add_argument("--tests", action="store_true", help="only the views the GUI tests drive")
    args = ap.parse_args(argv)
    rc = 0 if args.tests else from_app()
    if not args.app:
        rc = rc or from_tests()
    print("screenshots in", IMG)
    return rc


def from_app() -> int:
    work = Path(tempfile.mkdtemp(prefix="mexlab-shots-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["MEXLAB_CONFIG_DIR"] = str(work / "config")
    os.environ["MEXLAB_DB"] = f"sqlite:///{work / 'catalog.sqlite'}"
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.services.settings import Settings

    app = QApplication.instance() or QApplication([])  # noqa: F841  (the application the windows need)

    def wait(sec: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(sec * 1000), loop.quit)
        loop.exec()

    def until(cond, timeout=120.0) -> None:
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            wait(0.2)

    win = MainWindow(Settings(output_folder=str(work / "sessions"), source="simulate"), simulate=True)
    win.resize(1500, 900)
    win.show()
    win.tabs.setCurrentWidget(win.record)
    win.record.participant.setText("P001")
    win.record.run_preflight()
    until(lambda: win.record.preflight_ok)
    win.record.start_recording()
    until(lambda: win.record.controller.recording)
    started = time.monotonic()
    until(lambda: win.record.spotted.count >= 2, timeout=40)
    wait(1.0)
    win.grab().save(str(IMG / "record-workspace.png"))
    wait(max(0.0, 16.0 - (time.monotonic() - started)))  # ECG and EDA need 10 s for the Analyze view
    win.record.stop_recording()
    until(lambda: win.record.controller.state.phase == "idle" and not win.record.controller.recording)
    wait(2.0)
    win.tabs.setCurrentWidget(win.sessions)
    until(lambda: len(win.sessions.state.rows) >= 1)
    win.sessions.select_session(win.sessions.state.rows[0]["session_id"])
    wait(0.5)
    win.grab().save(str(IMG / "sessions-workspace.png"))
    folder = Path(win.sessions.state.rows[0]["folder"])
    win.analyze.open_session(folder)
    win.tabs.setCurrentWidget(win.analyze)
    win.analyze.run_spotting()
    until(lambda: win.analyze.result is not None or bool(win.analyze.last_error), timeout=300)
    if win.analyze.table.rowCount():
        win.analyze.table.selectRow(0)
    wait(0.5)
    win.grab().save(str(IMG / "analyze-spotting.png"))
    win.analyze.tabs.setCurrentIndex(1)
    win.analyze.run_physio()
    until(lambda: win.analyze.canvas is not None or bool(win.analyze.last_error), timeout=300)
    wait(1.0)
    win.grab().save(str(IMG / "analyze-physiology.png"))
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
