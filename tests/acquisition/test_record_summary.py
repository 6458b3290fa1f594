"""The recording summary (session.json, the end-of-recording lines) says what the written XDF holds,
by the computation `mexlab check` uses. Found by a lab: after an LSL outlet vanished for 5 s and came
back, the summary said 1,822 samples where the XDF held 1,973, and "2 gaps" where the file has one."""

from __future__ import annotations

import json
import threading

import numpy as np
import pylsl
import pytest

from acquisition.check import check_path
from acquisition.lsl_streams import StreamRequest
from acquisition.recorder import Recorder
from acquisition.sources import RecordConfig
from tests.helpers_lsl import make_outlet, unique_name

pytestmark = [pytest.mark.lsl, pytest.mark.labrecorder]

RATE = 100.0


def test_outlet_vanishing_and_returning_summary_agrees_with_check(tmp_path):
    name = unique_name("emg")
    sid = unique_name("amp")
    holder = {"outlet": make_outlet(name, "EMG", 2, RATE, source_id=sid)}
    stop = threading.Event()
    away = threading.Event()

    def pump():
        n = 0
        t0 = pylsl.local_clock()
        while not stop.is_set():
            due = int((pylsl.local_clock() - t0) * RATE)
            if due > n:
                if not away.is_set() and holder["outlet"] is not None:
                    for k in range(n, due):
                        holder["outlet"].push_sample(np.full(2, k, np.float32), t0 + k / RATE)
                n = due
            stop.wait(0.005)

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    out = tmp_path / "s"
    rec = Recorder(
        RecordConfig(out=out, source="none", no_camera=True, register=False, lsl=[StreamRequest("name", name)])
    )
    try:
        rec.prepare()
        rec.start()
        stop.wait(2.5)
        away.set()  # the amplifier's program goes away ...
        holder["outlet"] = None
        stop.wait(5.0)
        holder["outlet"] = make_outlet(name, "EMG", 2, RATE, source_id=sid)  # ... and comes back
        away.clear()
        stop.wait(6.0)
        meta = rec.stop()
    finally:
        stop.set()
        th.join(2)
    entry = next(s for s in meta["streams"] if s["name"] == name)
    report = check_path(out)
    in_file = next(s for s in report["streams"] if s["name"] == name)
    assert in_file["gaps"] == 1  # one pause of 5 s
    assert entry["samples"] == in_file["sample_count"], (entry, in_file)
    assert entry["gaps"] == in_file["gaps"] == 1
    assert entry["counted_from"] == "file"
    # ~5 s at 100 Hz from the file's timestamps, plus the 1-3 s LabRecorder takes to find the outlet again
    assert 400 <= meta["dropped_samples"] <= 1000
    assert json.loads((out / "session.json").read_text())["streams"] == meta["streams"]


def test_the_folder_size_survives_a_file_vanishing_while_it_is_counted(tmp_path):
    """Found in CI: session.json is written by temp-and-rename, and the GUI's live counts listed the
    folder, then stat'ed the temp file after it was renamed: FileNotFoundError in the Qt event loop,
    and a protocol run never started. A file that vanished counts nothing."""
    import os

    from acquisition.recorder import entries_bytes, folder_bytes

    (tmp_path / "rgb.mkv").write_bytes(b"x" * 1000)
    (tmp_path / ".session.abc.tmp").write_bytes(b"y" * 50)
    (tmp_path / "reserve").write_bytes(b"z" * 7)
    (tmp_path / "sub").mkdir()
    assert folder_bytes(tmp_path, skip=("reserve",)) == 1050
    with os.scandir(tmp_path) as it:
        entries = list(it)  # listed …
    (tmp_path / ".session.abc.tmp").rename(tmp_path / "session.json")  # … then renamed into place
    assert entries_bytes(entries, skip=("reserve",)) == 1000
    assert folder_bytes(tmp_path / "gone") == 0
