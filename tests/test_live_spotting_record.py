"""Live spotting during a real recording of the simulated rig: the micro-expressions the rig made are
flagged while recording, each within 0.5 s of its end, with its AU and an apex thumbnail."""

from __future__ import annotations

import csv
import time

import numpy as np
import pyxdf

from acquisition.recorder import Recorder
from acquisition.sources import RecordConfig
from app.live_spotting import LiveSpotting


def test_live_flags_match_the_rigs_micro_expressions(tmp_path):
    out = tmp_path / "s"
    rec = Recorder(RecordConfig(out=out, source="simulate", duration=21, register=False, seed=1))
    rec.prepare()
    rec.start()
    flags = []
    live = LiveSpotting(rec, flags.append)
    live.start()
    rec.mark("stimulus_onset", stimulus="clip-1")
    while rec.should_stop() is None:
        time.sleep(0.2)
    live.stop()
    rec.stop()
    assert live.error is None
    streams, _ = pyxdf.load_xdf(str(out / "recording.xdf"), dejitter_timestamps=False)
    idx = next(s for s in streams if s["info"]["name"][0] == "mexlab-rgb-frames")
    t_of = dict(zip(np.asarray(idx["time_series"])[:, 0].astype(int), idx["time_stamps"]))
    with open(out / "ground_truth.csv") as fh:
        truth = [r for r in csv.DictReader(fh) if r["type"] == "micro"]
    assert len(truth) >= 3
    found = 0
    for r in truth:
        t_on, t_off = t_of[int(r["onset"])], t_of[int(r["offset"])]
        hits = [f for f in flags if f.flag.onset_t <= t_off and f.flag.offset_t >= t_on]
        if hits:
            found += 1
            f = hits[0].flag
            assert f.latency_s <= 0.5
            assert set(r["aus"].split("+")) & set(f.aus), (r["aus"], f.aus)
            assert f.thumbnail is not None and f.thumbnail.ndim == 3
            assert hits[0].nearest_event.startswith("stimulus_onset clip-1")
    assert found >= len(truth) - 1, (found, len(truth))
    false = [f for f in flags if not any(t_of[int(r["onset"])] - 0.2 <= f.flag.apex_t <= t_of[int(r["offset"])] + 0.2
                                          for r in truth)]
    assert len(false) <= 1
