"""Bad input: one clear message naming what is wrong and where, a non-zero exit, no traceback,
and nothing already recorded lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers_camera import make_camera_file
from tests.helpers_lsl import unique_name
from tests.helpers_paths import shared_file

pytestmark = [pytest.mark.rig, pytest.mark.labrecorder, pytest.mark.lsl, pytest.mark.privileged]


def mexlab(*args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e
    )


def assert_clean_error(res, *needles):
    assert res.returncode != 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    err_lines = [line for line in res.stderr.splitlines() if "error:" in line]
    assert len(err_lines) >= 1, res.stderr
    for n in needles:
        assert n in res.stderr, (n, res.stderr)


def test_no_camera_connected(tmp_path):
    res = mexlab("record", "--out", tmp_path / "s", "--duration", "1")
    assert_clean_error(res, "no RealSense camera is connected", "--simulate")
    assert not (tmp_path / "s").exists()


def test_camera_file_missing(tmp_path):
    res = mexlab("record", "--camera-file", tmp_path / "nope.db3", "--out", tmp_path / "s")
    assert_clean_error(res, "nope.db3", "no such file")


def test_camera_file_not_realsense(tmp_path):
    bad = tmp_path / "bad.db3"
    bad.write_text("this is not a rosbag2 database\n")
    res = mexlab("record", "--camera-file", bad, "--out", tmp_path / "s")
    assert_clean_error(res, "bad.db3", "not a readable RealSense recording")
    assert not (tmp_path / "s").exists()


def test_camera_file_wrong_kind(tmp_path):
    video = shared_file("data/video/single_face.mp4")
    res = mexlab("record", "--camera-file", video, "--out", tmp_path / "s")
    assert_clean_error(res, "single_face.mp4", "expected a RealSense recording")


def test_lsl_stream_not_found(tmp_path):
    res = mexlab("record", "--no-camera", "--lsl", "NoSuchAmp-7f3a", "--lsl-timeout", "1", "--out", tmp_path / "s")
    assert_clean_error(res, "NoSuchAmp-7f3a", "not found within 1 s")
    assert not (tmp_path / "s").exists()


def test_output_folder_exists(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("precious")
    res = mexlab("record", "--simulate", "--duration", "1", "--out", tmp_path / "s")
    assert_clean_error(res, "already exists")
    assert (tmp_path / "s" / "keep.txt").read_text() == "precious"


@pytest.mark.parametrize("value", ["-5", "0", "nan"])
def test_bad_duration(tmp_path, value):
    res = mexlab("record", "--simulate", f"--duration={value}", "--out", tmp_path / "s")
    assert_clean_error(res, "--duration")
    assert not (tmp_path / "s").exists()


def test_malformed_mode(tmp_path):
    res = mexlab("record", "--simulate", "--rgb", "big", "--out", tmp_path / "s")
    assert_clean_error(res, "--rgb", "WIDTHxHEIGHT@FPS")


def test_unsupported_mode_lists_offered(tmp_path):
    db3 = tmp_path / "cam.db3"
    make_camera_file(db3, 5)
    res = mexlab("record", "--camera-file", db3, "--rgb", "1280x720@30", "--out", tmp_path / "s")
    assert_clean_error(res, "1280x720@30", "not supported", "424x240@30")
    assert not (tmp_path / "s").exists()


def test_unreachable_database(tmp_path):
    url = "postgresql+psycopg://lab:s3cret@127.0.0.1:9/mexlab"
    res = mexlab("record", "--simulate", "--duration", "1", "--db", url, "--out", tmp_path / "s")
    assert_clean_error(res, "127.0.0.1:9")
    assert "s3cret" not in res.stderr
    assert not (tmp_path / "s").exists()


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


def test_disk_full_keeps_what_was_recorded(tmp_path):
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "6m"):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        db3 = tmp_path / "cam.db3"
        make_camera_file(db3, 60)  # random pixels: ~300 kB a frame, far more than 6 MB
        res = mexlab(
            "record", "--camera-file", db3, "--out", disk / "s", "--no-catalog", env={"MEXLAB_MIN_FREE_MB": "1"}
        )
        assert_clean_error(res, "No space left", "kept")
        meta = json.loads((disk / "s" / "session.json").read_text())
        assert meta["status"] == "interrupted"
        assert meta["counts"]["rgb"]["frames_written"] > 0
        # what was written is readable: the check names the problem but reads the files
        chk = mexlab("check", disk / "s", "--json")
        assert "Traceback" not in chk.stderr
        report = json.loads(chk.stdout)
        assert report["status"] == "interrupted"
        rgb = next(v for v in report["videos"] if v["name"] == "rgb.mkv")
        assert rgb["frames_in_file"] > 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_disk_full_on_the_simulated_rig_ends_interrupted(tmp_path):
    """The rig writes its ground truth at stop: with the disk full that used to end in a traceback,
    session.json left 'recording' and an empty ground_truth.csv. Now every writer at stop copes: the
    session ends 'interrupted' with one message, and no file is left half-written."""
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "3m"):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        res = mexlab(
            "record",
            "--simulate",
            "--duration",
            "10",
            "--out",
            disk / "s",
            "--no-catalog",
            env={"MEXLAB_MIN_FREE_MB": "1"},
        )
        assert_clean_error(res, "No space left", "kept")
        meta = json.loads((disk / "s" / "session.json").read_text())
        assert meta["status"] == "interrupted"
        assert any("No space left" in e for e in meta["errors"])
        for name in ("ground_truth.csv", "sim_capture_times.csv", "ground_truth_physio.json"):
            p = disk / "s" / name
            if p.exists():  # written whole (header at least) or not at all
                assert p.stat().st_size > 0, name
        assert not [p.name for p in (disk / "s").iterdir() if ".tmp" in p.name]
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize("left_kb", [0, 500])
def test_disk_full_before_the_start_never_leaves_a_session_recording(tmp_path, left_kb):
    """Less than 1 MB left (the space the recorder reserves for its last writes): the session used to
    stay 'recording' for ever. Now the start is refused with one message, and what is left on the disk
    is either nothing or a session marked 'interrupted' that says why."""
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        filler = disk / "filler.bin"
        with open(filler, "wb") as fh:  # fill the disk, then give back left_kb
            try:
                while True:
                    fh.write(b"\0" * 65536)
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - left_kb * 1024))
        res = mexlab(
            "record",
            "--simulate",
            "--duration",
            "2",
            "--out",
            disk / "s",
            "--no-catalog",
            env={"MEXLAB_MIN_FREE_MB": "0"},
        )
        assert_clean_error(res, "No space left")
        if (disk / "s").exists():
            meta = json.loads((disk / "s" / "session.json").read_text())
            assert meta["status"] == "interrupted", meta
            assert "No space left" in meta["error"] and "nothing was recorded" in meta["error"]
            assert not (disk / "s" / ".mexlab-reserve").exists()
            chk = mexlab("check", disk / "s", "--json")
            assert "Traceback" not in chk.stderr and json.loads(chk.stdout)["status"] == "interrupted"
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_labrecorder_names_a_stream_nobody_offers(tmp_path):
    """LabRecorderCLI's one-second look-up is retried; the final error names the predicate, the
    number of tries and what mexlab's own look-up saw, and leaves no half-made XDF behind."""
    from acquisition.labrecorder import LabRecorder

    name = unique_name("nobody")
    xdf = tmp_path / "r.xdf"
    with pytest.raises(RuntimeError) as err:
        LabRecorder().start(xdf, [{"name": name, "source_id": name}], attempts=2)
    text = str(err.value)
    assert f"name='{name}'" in text and "matched no stream" in text
    assert "after 2 tries" in text and "0 of the 1 asked for" in text
    assert not xdf.exists()


def test_a_capture_that_fails_to_stop_never_leaves_labrecorder_running(tmp_path):
    """Seen in CI: a GUI recording whose stop failed left its LabRecorderCLI recording into the next
    test. Whatever fails while the capture stops, the recorder's LabRecorderCLI ends with it."""
    from acquisition.recorder import Recorder
    from acquisition.sources import RecordConfig

    rec = Recorder(RecordConfig(out=tmp_path / "s", source="simulate", no_camera=True, register=False))
    rec.prepare()
    rec.start()
    proc = rec._labrecorder.process
    assert proc is not None and proc.poll() is None

    def broken_capture():
        raise RuntimeError("the camera would not stop")

    rec._stop_capture = broken_capture  # a fault injected where the capture stops
    with pytest.raises(RuntimeError, match="would not stop"):
        rec.stop()
    assert proc.poll() is not None  # LabRecorderCLI is gone, not recording on
