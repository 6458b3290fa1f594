"""Many sessions at once (issue 14): one session selection, worker processes, current results
skipped, a broken session listed at the end with a non-zero exit, cancellation.

The sessions are tiny (tests/helpers_session.py) with the real face video of ../shared as rgb.mkv,
so the real face model and spotting run on them; the pool is a real spawn process pool."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import MexlabError
from analysis import batch_jobs
from analysis.batch import Job, run_batch
from analysis.study import select_sessions
from app.cli import main
from tests.helpers_paths import shared_file
from tests.helpers_session import make_session

pytestmark = pytest.mark.face_model


def face_session(folder: Path, participant: str = "P01", status: str = "complete") -> Path:
    """make_session's folder with the real face video (72 frames, 640x360) as an FFV1 rgb.mkv."""
    import av

    src = shared_file("data/video/single_face.mp4")
    make_session(folder, n_frames=72, emg=True)
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)][:72]
    with av.open(str(folder / "rgb.mkv"), "w", format="matroska") as c:
        st = c.add_stream("ffv1", rate=30)
        st.width, st.height, st.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for img in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    meta = json.loads((folder / "session.json").read_text())
    meta.update(participant=participant, status=status)
    (folder / "session.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    good = [face_session(root / "s1", "P01"), face_session(root / "s2", "P02")]
    bad = make_session(root / "bad", n_frames=30)
    (bad / "rgb.mkv").write_bytes(b"not a video")
    return root, good, bad


def test_spot_many_sessions_in_workers_then_skips_current(three, capsys):
    _root, good, bad = three
    rc = main(["spot", str(good[0]), str(bad), str(good[1]), "--workers", "2"])
    cap = capsys.readouterr()
    assert rc == 1  # the broken session fails the command
    lines = cap.out.strip().splitlines()
    assert [ln.split(": ")[1] for ln in lines] == ["done", "failed", "done"]  # in the order given
    assert f"error: {bad}: {bad / 'rgb.mkv'}: not a readable video file" in cap.err
    assert "with 2 worker(s): 2 done, 0 skipped (results current), 1 failed" in cap.err
    for s in good:
        res = json.loads((s / "analysis" / "spotting.json").read_text())
        assert res["n_frames"] == 72 and res["frames_with_face"] > 60
        assert (s / "analysis" / "spotting.json.key").is_file()
    assert not (bad / "analysis" / "spotting.json").exists()

    # again: both current (same files, parameters and code) -> skipped, nothing recomputed
    before = [(s / "analysis" / "spotting.json").stat().st_mtime_ns for s in good]
    rc = main(["spot", str(good[0]), str(good[1]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [x["status"] for x in out["sessions"]] == ["skipped", "skipped"]
    assert [(s / "analysis" / "spotting.json").stat().st_mtime_ns for s in good] == before

    # another parameter makes the result stale; so does --force
    rc = main(["spot", str(good[0]), str(good[1]), "--no-interference-elimination", "--workers", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [x["status"] for x in out["sessions"]] == ["done", "done"]
    assert json.loads((good[0] / "analysis" / "spotting.json").read_text())["interference_elimination"] is False


def test_key_follows_content_not_names(three, tmp_path):
    _, good, _ = three
    job = Job.of("spot", good[0], interference=True, use_cache=True)
    k = batch_jobs.job_key(job)
    assert k == batch_jobs.job_key(Job.of("spot", good[0], use_cache=True, interference=True))
    assert k != batch_jobs.job_key(Job.of("spot", good[0], interference=False, use_cache=True))
    # a changed video (same size, other bytes at the start) changes the key
    copy = make_session(tmp_path / "c", n_frames=30)
    j2 = Job.of("spot", copy)
    k2 = batch_jobs.job_key(j2)
    data = bytearray((copy / "rgb.mkv").read_bytes())
    data[200] ^= 0xFF
    (copy / "rgb.mkv").write_bytes(bytes(data))
    assert batch_jobs.job_key(j2) != k2


def test_physio_batch_writes_each_result(three, capsys):
    root, good, _bad = three
    rc = main(["physio", str(good[0]), str(good[1]), str(root / "missing"), "--workers", "2"])
    cap = capsys.readouterr()
    assert rc == 1
    assert f"error: {root / 'missing'}:" in cap.err
    for s in good:
        res = json.loads((s / "analysis" / "physio.json").read_text())
        assert res["emg"] and res["emg"][0]["channel"]
    rc = main(["physio", str(good[0]), str(good[1])])
    assert rc == 0 and capsys.readouterr().out.count(": skipped") == 2


def test_select_sessions_paths_query_and_status(three, tmp_path):
    from acquisition.catalog import Catalog

    _root, good, _bad = three
    aborted = face_session(tmp_path / "ab", "P01", status="aborted")
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    cat = Catalog(db)
    try:
        for s in (*good, aborted):
            cat.register_session(s)
    finally:
        cat.close()
    assert select_sessions([good[0], good[0], aborted]) == [good[0], aborted]
    assert select_sessions([good[0], aborted], status="complete", db=db) == [good[0], good[1]]
    assert sorted(select_sessions(db=db, participant="P01")) == sorted([good[0], aborted])
    assert select_sessions(db=db, participant="P01", status="aborted") == [aborted]
    with pytest.raises(MexlabError, match="found no sessions of participant 'P09'"):
        select_sessions(db=db, participant="P09")
    with pytest.raises(MexlabError, match="no sessions given"):
        select_sessions([])


def test_cancel_stops_queued_and_running_jobs(three):
    _, good, _ = three
    ev = threading.Event()
    seen = []

    def on_progress(st):
        seen.append(st.fraction)
        if st.running:
            ev.set()  # cancel as soon as a worker reports progress

    jobs = [Job.of("spot", s, interference=True, use_cache=False) for s in (*good, *good)]
    res = run_batch(jobs, workers=2, force=True, on_progress=on_progress, cancel=ev, grace_s=10)
    assert res.cancelled and not res.ok
    assert any(o.status == "cancelled" for o in res.outcomes)
    assert all(o.status in ("done", "cancelled") for o in res.outcomes)
    assert all(0.0 <= f <= 1.0 for f in seen)
    # nothing half-written: every spotting.json there is whole JSON
    for s in good:
        json.loads((s / "analysis" / "spotting.json").read_text())
        assert not [p for p in (s / "analysis").iterdir() if p.name.startswith(".tmp")]
    assert np.isfinite(res.seconds)
