"""The Analyze workspace on a real recorded (simulated) session, and the main window around it: the
session combo shows the session open; every plot names its axes; the apex preview is cropped to the
face; Cancel stops a running spotting (nothing written); a double-click on an interval opens it in
Annotate at its onset; Annotate follows the session opened in Analyze; F1 shows the keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.gui.workers import wait_for_jobs
from app.gui.workspaces.analyze import PLACEHOLDER, AnalyzeWorkspace, face_crop
from app.services.settings import Settings
from tests.helpers_paths import MEXLAB


@pytest.fixture(scope="module")
def spotted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analyze") / "s1"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "8", "--out", str(out), "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*MEXLAB, "spot", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out


def test_face_crop():
    import numpy as np

    img = np.zeros((480, 848, 3), np.uint8)
    assert face_crop(img, (400, 100, 500, 240)).shape == (
        int(240 + 0.35 * 140) - int(100 - 0.35 * 140),
        int(500 + 35) - int(400 - 35),
        3,
    )
    assert face_crop(img, (np.nan,) * 4) is img and face_crop(img, None) is img


@pytest.mark.rig
@pytest.mark.labrecorder
@pytest.mark.face_model
def test_combo_labels_crop_and_double_click(qtbot, spotted):
    ws = AnalyzeWorkspace(None)
    qtbot.addWidget(ws)
    ws.resize(1300, 850)
    ws.show()
    ws._fill([])  # the catalog's list, without this folder in it
    assert ws.session.currentText() == PLACEHOLDER
    ws.open_session(spotted)
    assert ws.session.currentText() != PLACEHOLDER and str(spotted) in ws.session.currentText()
    ws._fill([{"folder": str(spotted), "status": "complete", "participant": "P1"}])  # a refresh keeps it
    assert ws.session.currentIndex() == 1 and "P1" in ws.session.currentText()
    ws.run_spotting()  # the features are cached: quick
    qtbot.waitUntil(lambda: ws.result is not None or ws.last_error is not None, timeout=120000)
    assert ws.result is not None, ws.last_error
    plots = [ws.plot.getItem(r, 0) for r in range(3)]
    for p in plots:
        assert p.getAxis("left").labelText and p.getAxis("bottom").labelText
    assert plots[1].getAxis("left").labelText == "angle (deg)"
    assert ws.result.intervals, "the simulated participant makes expressions"
    ws.table.selectRow(0)
    h, w = ws.cropped_to
    assert h < 480 and w < 848  # the face, not the 848x480 frame
    onset = int(ws.table.item(0, 1).text())
    with qtbot.waitSignal(ws.open_in_annotate, timeout=2000) as sig:
        ws.table.cellDoubleClicked.emit(0, 3)
    assert sig.args == [spotted, onset]
    settle(qtbot)


def settle(qtbot) -> None:
    """Let the workspace's background jobs (the health check of an opened session) finish and
    deliver their results while the widgets are still alive."""
    assert wait_for_jobs(60)
    qtbot.wait(50)


@pytest.mark.rig
@pytest.mark.labrecorder
@pytest.mark.face_model
def test_cancel_stops_the_spotting(qtbot, spotted, tmp_path):
    fresh = tmp_path / "fresh"  # no cached features: the face model runs
    shutil.copytree(spotted, fresh, ignore=shutil.ignore_patterns(".mexlab-cache", "analysis"))
    ws = AnalyzeWorkspace(None)
    qtbot.addWidget(ws)
    ws.open_session(fresh)
    assert not ws.cancel_btn.isEnabled()
    ws.run_spotting()
    assert ws.cancel_btn.isEnabled() and not ws.run_btn.isEnabled()
    ws.cancel_btn.click()
    qtbot.waitUntil(lambda: ws.run_btn.isEnabled(), timeout=120000)
    assert ws.result is None and "cancelled" in ws.info.text() and not ws.info.text().startswith("error")
    assert wait_for_jobs(30)  # the worker has stopped
    assert not (fresh / "analysis" / "spotting.json").exists()
    settle(qtbot)


@pytest.mark.rig
@pytest.mark.labrecorder
@pytest.mark.face_model
def test_main_window_annotate_follows_and_opens_at_the_frame(qtbot, spotted, tmp_path, monkeypatch):
    from app.gui.main_window import MainWindow

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    settings = Settings(
        output_folder=str(tmp_path / "sessions"), source="simulate", database_url=f"sqlite:///{tmp_path / 'cat.sqlite'}"
    )
    win = MainWindow(settings, simulate=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win._analyze_session(spotted)  # as Sessions' "Analyze" does
    assert win.tabs.currentWidget() is win.analyze and win.annotate.clip is None  # not opened eagerly
    win.tabs.setCurrentWidget(win.annotate)  # Annotate shows the session open
    assert win.annotate.clip is not None and win.annotate.clip.folder == spotted
    win.tabs.setCurrentWidget(win.analyze)
    win.analyze.open_in_annotate.emit(spotted, 96)
    assert win.tabs.currentWidget() is win.annotate and win.annotate.frame == 96
    win.toggle_help()  # F1
    assert win.annotate.help_overlay.isVisible() and "F1" in win.annotate.help_overlay.text()
    win.annotate.help_overlay.close_help()
    win.tabs.setCurrentWidget(win.analyze)
    win.toggle_help()
    assert win.help_overlay.isVisible() and "start recording" in win.help_overlay.text()
    win.help_overlay.close_help()
    keys = {a.shortcut().toString(): a for a in win.actions()}
    assert "F1" in keys and "?" in keys  # both keys open it, window-wide
    keys["?"].trigger()
    assert win.help_overlay.isVisible()
    win.help_overlay.close_help()
    settle(qtbot)
    win.annotate.close_session()
    win.annotate.store.close()


def test_interval_table_shows_the_recognised_class(qtbot, tmp_path):
    """With <session>/analysis/recognition.json (mexlab recognize), each recognised interval's row
    names its class and confidence; the others leave the column empty."""
    from analysis.spotting.pipeline import SpotResult
    from tests.helpers_session import make_session

    spot = [
        {"onset": 38, "apex": 44, "offset": 52, "type": "micro", "score": 0.91, "aus": ["AU12"]},
        {"onset": 60, "apex": 66, "offset": 80, "type": "micro", "score": 0.7, "aus": ["AU4"]},
    ]
    folder = make_session(
        tmp_path / "S1",
        spotting=spot,
        recognition=[{"onset": 38, "apex": 44, "offset": 52, "class": "positive", "confidence": 0.8731}],
    )
    ws = AnalyzeWorkspace(None)
    qtbot.addWidget(ws)
    ws.open_session(folder)
    ws._spotted(SpotResult(str(folder), 30.0, 90, 90, spot, []))  # what the spotting worker delivers
    col = ws.table.columnCount() - 1
    assert ws.table.horizontalHeaderItem(col).text() == "recognised (confidence)"
    assert ws.table.item(0, col).text() == "positive (0.87)" and ws.table.item(1, col).text() == ""
    assert ws.table.item(0, 1).text() == "38"  # the columns before it unchanged
    ws.table.selectRow(0)
    assert ws.jumped_to == 44 and ws.cropped_to == (48, 64)  # no face box: the whole frame
    settle(qtbot)


@pytest.mark.gui
@pytest.mark.learning
@pytest.mark.face_model
def test_recognise_with_the_picked_model(qtbot, tmp_path, monkeypatch):
    """The picker lists the default and the catalog's models; Recognise runs `mexlab recognize`'s
    call in a worker with the picked model, and the table's last column shows the class."""
    from acquisition.catalog.recognition_models import register_model
    from analysis.recognition import modelfile
    from analysis.recognition import task as T
    from analysis.spotting.pipeline import SpotResult
    from tests.helpers_face_session import MICRO, make_face_session
    from tests.screens import save_screenshot

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    lab = tmp_path / "lab.safetensors"
    meta = modelfile.save(
        lab, T.new_model(3, ("rgb", "diff"), seed=1), {"classes": ["negative", "positive", "surprise"]}
    )
    register_model(lab, meta, url)
    folder = make_face_session(tmp_path / "F1")
    ws = AnalyzeWorkspace(url)
    qtbot.addWidget(ws)
    ws.resize(1200, 800)
    ws.refresh_models()
    qtbot.waitUntil(lambda: ws.recog.picker.count() == 2, timeout=30000)
    assert ws.recog.picker.itemText(0) == f"default ({modelfile.DEFAULT_MODEL.name})"
    assert ws.recog.picker.itemData(1) == str(lab) and ws.recog.chosen() is None
    ws.open_session(folder)
    ws._spotted(SpotResult(str(folder), 30.0, 70, 70, [dict(MICRO)], []))
    col = ws.table.columnCount() - 1
    assert ws.table.item(0, col).text() == ""
    ws.recog.picker.setCurrentIndex(1)
    qtbot.mouseClick(ws.recog.button, Qt.LeftButton)
    assert not ws.recog.button.isEnabled()  # one run at a time
    qtbot.waitUntil(lambda: ws.last_recognition is not None, timeout=120000)
    res = ws.last_recognition
    assert res["model"] == str(lab) and ws.recog.button.isEnabled()
    ((cls, conf),) = ws.model.recognition.values()
    assert ws.table.item(0, col).text() == f"{cls} ({conf:.2f})" and cls in meta["classes"]
    assert ws.info.text().startswith("1 micro-expression(s) recognised with lab.safetensors")
    fm = ws.table.fontMetrics()  # the class and the column's name are read whole, not cut or wrapped
    for text in (ws.table.item(0, col).text(), "recognised (confidence)"):
        assert ws.table.columnWidth(col) >= fm.horizontalAdvance(text), text
    ws.show()
    qtbot.waitExposed(ws)
    save_screenshot(ws, "analyze-recognise", tmp_path / "shots")
    settle(qtbot)


def test_physiology_reopened_is_read_back(qtbot, tmp_path):
    """Analyse on the Physiology tab: computed once; the same session opened again in a new workspace
    is read back from its report cache (analysis/report-*.cache), with the same summary."""
    from analysis.report import cache
    from tests.helpers_session import make_session

    folder = make_session(tmp_path / "S1")
    texts = []
    for _ in range(2):
        ws = AnalyzeWorkspace(None)
        qtbot.addWidget(ws)
        ws.open_session(folder)
        before = (cache.STATS.session_hits, cache.STATS.session_misses, cache.STATS.timeline_hits)
        ws.run_physio()
        qtbot.waitUntil(lambda ws=ws: ws.physio_result is not None or ws.last_error is not None, timeout=120000)
        assert ws.physio_result is not None, ws.last_error
        assert ws.canvas is not None and ws.canvas.figure.axes  # the timeline is shown
        texts.append(ws.physio_info.text())
        after = (cache.STATS.session_hits, cache.STATS.session_misses, cache.STATS.timeline_hits)
        texts.append(tuple(b - a for a, b in zip(before, after)))
        settle(qtbot)
    assert texts[1] == (0, 1, 0) and texts[3] == (1, 0, 1)  # computed, then read back
    assert texts[0] == texts[2] and texts[0].startswith(f"{folder}: ")
