"""Analyze's "Many sessions" (issue 14): the catalog's sessions chosen by participant, protocol and
status (the CLI's selection), one action run by analysis.batch.run_batch, each session's progress,
Cancel, and a table of what became of each session (done / skipped because current / failed with
the reason). The state (app.services.analyze_batch) is tested without Qt; one test goes through
the real widget on two tiny sessions with the real face video (the real face model, spawn workers)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from acquisition.errors import MexlabError
from analysis.batch import BatchResult, BatchStatus, Job, Outcome
from app.services import analyze_batch as AB
from tests.helpers_session import make_session

ROWS = [
    {"folder": "/s/a", "participant": "P01", "protocol": "mock-crime", "status": "complete"},
    {"folder": "/s/b", "participant": "P02", "protocol": "mock-crime", "status": "aborted"},
    {"folder": "/s/c", "participant": "P01", "protocol": None, "status": "complete"},
]


def catalog(tmp_path: Path, folders) -> str:
    from acquisition.catalog import Catalog

    db = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    cat = Catalog(db)
    try:
        for f in folders:
            cat.register_session(f)
    finally:
        cat.close()
    return db


def set_meta(folder: Path, **kw) -> Path:
    meta = json.loads((folder / "session.json").read_text())
    meta.update(kw)
    (folder / "session.json").write_text(json.dumps(meta))
    return folder


def test_selection_choices_and_preview():
    ch = AB.choices(ROWS)
    assert ch["participant"] == ["P01", "P02"] and ch["protocol"] == ["", "mock-crime"]
    assert ch["status"][0] == "complete"
    folders = lambda sel: [r["folder"] for r in AB.preview(ROWS, sel)]  # noqa: E731
    assert folders(AB.Selection()) == ["/s/a", "/s/b", "/s/c"]
    assert folders(AB.Selection(participant="P01")) == ["/s/a", "/s/c"]
    assert folders(AB.Selection(protocol="mock-crime", status="complete")) == ["/s/a"]
    assert folders(AB.Selection(protocol="")) == ["/s/c"]  # sessions without a protocol
    assert AB.Selection().describe() == "all sessions in the catalog"
    assert AB.Selection(participant="P01", status="complete").describe() == "participant P01, status complete"


def test_batch_run_rows_follow_progress_and_outcomes():
    jobs = AB.make_jobs("spot", ["/s/a", "/s/b", "/s/c", "/s/d"], interference=False)
    assert jobs[0] == Job.of("spot", "/s/a", interference=False, use_cache=True)  # the CLI's parameters
    run = AB.BatchRun("spot", jobs, {"/s/a": "P01"})
    assert [r.state for r in run.rows] == ["queued"] * 4 and run.running
    skipped = Outcome(jobs[1], "skipped")
    run.apply(BatchStatus(total=4, finished=1, skipped=1, last=skipped, running={"/s/a": (0.4, "features")}))
    assert run.table()[0] == ("/s/a", "P01", "features 40%", "", "")
    assert run.rows[1].state == "skipped" and "results current" in run.rows[1].detail
    st = BatchStatus(total=4, finished=2, skipped=1, fraction=0.5, elapsed_s=12, eta_s=12.4)
    st.last = Outcome(jobs[0], "done", 3.25, result={"n_frames": 72, "intervals": 2, "written": "/s/a/x.json"})
    run.apply(st)
    assert run.table()[0] == ("/s/a", "P01", "done", "3.2", "72 frames, 2 interval(s), written: /s/a/x.json")
    assert run.status_line() == "2/4 session(s) finished, 50% overall, 12 s elapsed, ETA 12 s"
    run.stop()
    assert run.cancel.is_set() and run.status_line().endswith("cancelling …")
    failed = Outcome(jobs[2], "failed", 0.1, error="/s/c/rgb.mkv: not a readable video file")
    done = Outcome(jobs[0], "done", 3.25, result=st.last.result)
    res = BatchResult([done, skipped, failed, Outcome(jobs[3], "cancelled")], 14.0, 2, cancelled=True)
    run.finish(res)
    assert not run.running
    assert [r.state for r in run.rows] == ["done", "skipped", "failed", "cancelled"]
    assert run.rows[2].detail == "/s/c/rgb.mkv: not a readable video file"
    assert run.counts() == {"done": 1, "skipped": 1, "failed": 1, "cancelled": 1}
    assert run.status_line() == (
        "4 session(s) in 14.0 s with 2 worker(s): 1 done, 1 skipped (results current), 1 failed, "
        "1 cancelled — cancelled"
    )
    with pytest.raises(MexlabError, match="unknown action 'nope'"):
        AB.make_jobs("nope", ["/s/a"])


def test_select_and_run_physio_on_real_sessions(tmp_path):
    """select() is the CLI's catalog query; BatchRun.run is run_batch: the results written, a missing
    session failed with its reason, then both current and skipped; Cancel before the start."""
    s1 = make_session(tmp_path / "s1")
    s2 = set_meta(make_session(tmp_path / "s2"), participant="P02")
    s3 = set_meta(make_session(tmp_path / "s3"), participant="P02", status="aborted")
    db = catalog(tmp_path, [s1, s2, s3])
    assert sorted(AB.select(db, AB.Selection(participant="P02"))) == [s2, s3]
    assert AB.select(db, AB.Selection(participant="P02", status="complete")) == [s2]
    with pytest.raises(MexlabError, match="found no sessions of participant 'P09'"):
        AB.select(db, AB.Selection(participant="P09"))
    paths = AB.select(db, AB.Selection(status="complete"))
    assert sorted(paths) == [s1, s2]
    rows = [{"folder": str(s), "participant": p} for s, p in ((s1, "P01"), (s2, "P02"))]
    run = AB.BatchRun.of("physio", [*paths, tmp_path / "gone"], rows)
    seen: list[BatchStatus] = []
    res = run.run(workers=1, on_progress=seen.append)
    for st in seen:
        run.apply(st)
    run.finish(res)
    by = {r.path: r for r in run.rows}
    assert by[str(s1)].state == by[str(s2)].state == "done" and by[str(s2)].participant == "P02"
    assert by[str(s1)].detail.endswith(f"written to {s1 / 'analysis' / 'physio.json'}")
    assert by[str(tmp_path / "gone")].state == "failed" and str(tmp_path / "gone") in by[str(tmp_path / "gone")].detail
    assert any(st.running for st in seen)  # the running session's stage was reported
    again = AB.BatchRun.of("physio", paths, rows)
    again.finish(again.run(workers=1))
    assert [r.state for r in again.rows] == ["skipped", "skipped"]
    stopped = AB.BatchRun.of("physio", paths, rows)
    stopped.stop()
    stopped.finish(stopped.run(workers=1, force=True))
    assert [r.state for r in stopped.rows] == ["cancelled", "cancelled"] and stopped.result.cancelled


@pytest.mark.gui
@pytest.mark.face_model
@pytest.mark.slow  # two spawned workers load the face model: ~40 s on a quiet machine
def test_many_sessions_through_the_widget(qtbot, tmp_path, monkeypatch):
    """Two face sessions and a broken one in the catalog: spotting all three in 2 workers gives
    done, done, failed (with the reason); again, the two are skipped; Cancel stops a forced run."""
    from app.gui.workers import wait_for_jobs
    from app.gui.workspaces.analyze import AnalyzeWorkspace
    from tests.app.test_analyze_workspace import settle
    from tests.app.test_batch import face_session
    from tests.screens import save_screenshot

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    good = [face_session(tmp_path / "s1", "P01"), face_session(tmp_path / "s2", "P02")]
    bad = make_session(tmp_path / "bad", n_frames=30)
    (bad / "rgb.mkv").write_bytes(b"not a video")
    db = catalog(tmp_path, [*good, bad])
    ws = AnalyzeWorkspace(db)
    qtbot.addWidget(ws)
    ws.resize(1250, 560)
    ws.tabs.setCurrentIndex(2)
    ws.refresh()
    qtbot.waitUntil(lambda: ws.sel["participant"].count() == 3, timeout=30000)  # any, P01, P02
    assert ws.selected_label.text() == "3 session(s) in the catalog"
    ws.sel["participant"].setCurrentIndex(ws.sel["participant"].findData("P02"))
    assert ws.selected_label.text() == "1 session(s) in the catalog"
    ws.sel["participant"].setCurrentIndex(0)
    ws.sel["status"].setCurrentIndex(ws.sel["status"].findData("complete"))
    ws.batch_workers.setValue(2)

    def run_and_wait(timeout=180000):
        with qtbot.waitSignal(ws.batch_finished, timeout=timeout):
            ws.batch_run_btn.click()
        return {Path(r.path): r for r in ws.batch.rows}

    running: list[str] = []  # the state column of a running session, as the table showed it
    ws.batch_progress.connect(
        lambda _item: running.extend(
            ws.batch_table.item(r, 2).text()
            for r in range(ws.batch_table.rowCount())
            if ws.batch_table.item(r, 2) and ws.batch_table.item(r, 2).text().endswith("%")
        )
    )
    t0 = time.monotonic()
    rows = run_and_wait()
    first_s = time.monotonic() - t0
    assert running, "no session's stage and per cent was shown while it ran"
    assert [rows[s].state for s in good] == ["done", "done"] and rows[bad].state == "failed"
    assert rows[bad].detail.startswith(f"{bad / 'rgb.mkv'}: not a readable video file")
    assert "Errno" not in rows[bad].detail  # FFmpeg's reason, without its error number
    assert rows[good[1]].participant == "P02"
    assert ws.batch_table.rowCount() == 3 and ws.batch_run_btn.isEnabled() and not ws.batch_cancel_btn.isEnabled()
    states = {ws.batch_table.item(r, 0).text(): ws.batch_table.item(r, 2).text() for r in range(3)}
    assert states == {"s1": "done", "s2": "done", "bad": "failed"}  # the folders' names (paths in tooltips)
    r_bad = next(r for r in range(3) if ws.batch_table.item(r, 0).text() == "bad")
    assert ws.batch_table.item(r_bad, 4).text().startswith(f"{bad / 'rgb.mkv'}: not a readable video file")
    assert ws.batch_info.text().startswith("3 session(s) in ") and "2 done, 0 skipped (results current), 1 failed" in (
        ws.batch_info.text()
    )
    for s in good:
        assert json.loads((s / "analysis" / "spotting.json").read_text())["n_frames"] == 72
    ws.show()
    qtbot.waitExposed(ws)
    save_screenshot(ws, "analyze-many-sessions", tmp_path / "shots")

    rows = run_and_wait()  # the same files, parameters and code: skipped
    assert [rows[s].state for s in good] == ["skipped", "skipped"] and rows[bad].state == "failed"

    ws.batch_force.setChecked(True)
    ws.batch_run_btn.click()
    qtbot.waitUntil(lambda: ws.batch_cancel_btn.isEnabled(), timeout=30000)  # selected, running
    with qtbot.waitSignal(ws.batch_finished, timeout=60000):
        ws.batch_cancel_btn.click()
    assert ws.batch.result.cancelled and ws.batch_info.text().endswith("— cancelled")
    assert {r.state for r in ws.batch.rows} <= {"cancelled", "done", "failed"}
    for s in good:  # nothing half written
        json.loads((s / "analysis" / "spotting.json").read_text())
    assert wait_for_jobs(60)
    ws.batch_table.cellDoubleClicked.emit(r_bad, 0)  # opens the session in the Spotting tab
    assert ws.folder == bad and ws.tabs.currentIndex() == 0
    settle(qtbot)
    print(f"first batch of 3 sessions through the widget: {first_s:.1f} s")
