"""Recordings shared by tests/analysis/test_physio.py, test_stats.py and test_report.py (made once per run).

:func:`study_recordings` records, at the same time (so the whole set costs one recording's time):

* ``sim1`` / ``sim2``: ``mexlab record --simulate --no-camera`` (seeds 0 and 1, participants
  SIM1 and SIM2) plus a task-marker outlet of this test (JSON markers: a rest step, then stimuli
  alternating truthful/deceptive). The rig writes no ``ground_truth.csv`` without a camera, so it
  is written here from the rig's schedule (same duration, fps and seed as the rig's), as the rig
  does with one; ``analysis.session_data`` places it in time with ``ground_truth_physio.json``.
* ``lsl``: streams mexlab did not make, recorded with ``mexlab record --no-camera --lsl``: an ECG
  (neurokit2, 60 bpm for the first half, 90 bpm for the second), an EDA (neurokit2, known SCR
  count), task markers (truthful for the first half, deceptive for the second), a 1 Hz stream,
  an ECG stream that stops after 5 s (for the error messages), and a frame-index stream
  ``mexlab-rgb-frames`` as mexlab writes one for a video (with 4 dropped camera frames), to place
  ME events given in video frames.

Every recording is registered in one catalog (``db``). The fixtures ``study``, ``analysed`` and
``record_early`` are in tests/analysis/conftest.py; the test modules that use them name
``record_early`` in their ``pytestmark``: it starts the recordings in the background as soon as the
first test of a run that needs them starts, so the tests on hand-made signals run meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pylsl

from tests.helpers_lsl import make_outlet, unique_name

REPO = Path(__file__).resolve().parents[1]
SIM_DURATION_S = 24.0
LSL_DURATION_S = 24.0
LSL_HR = (60.0, 90.0)  # bpm in the first and second half of the lsl session
LSL_SCR_NUMBER = 3
CONDITIONS = ("truthful", "deceptive")
TRIAL_S = 4.5


def engine_markers(protocol: str, t_first: float, conditions, *, rest_s: float | None = 5.0) -> list:
    """Markers as the protocol engine pushes them: (s after the start, event, fields).

    An optional rest step, then one trial per condition (TRIAL_S long): trial_start, a fixation,
    the stimulus 1 s later, the question 3 s later, trial_end.
    """
    out = [(t_first, "protocol_start", {"protocol": protocol})]
    t = t_first
    if rest_s:
        out.append(
            (
                t,
                "stimulus_onset",
                {"protocol": protocol, "block": "baseline", "step": "rest", "step_id": "baseline-initial"},
            )
        )
        t += rest_s
    for i, cond in enumerate(conditions):
        f = {"protocol": protocol, "block": "clips", "trial": i + 1, "condition": cond}
        out += [
            (t, "trial_start", f),
            (t, "stimulus_onset", {**f, "step": "fixation"}),
            (t + 1.0, "stimulus_onset", {**f, "step": "stimulus", "stimulus": f"clip{i + 1}"}),
            (t + 3.0, "stimulus_onset", {**f, "step": "question", "question": f"q{i + 1}"}),
            (t + TRIAL_S, "trial_end", f),
        ]
        t += TRIAL_S
    return out


SIM_PROTOCOL, LSL_PROTOCOL = "active-deception", "interview"
# the sim sessions: rest from 1 to 5 s, then truthful, deceptive, truthful, deceptive (4.5 s each)
SIM_TASK = engine_markers(SIM_PROTOCOL, 1.0, CONDITIONS * 2, rest_s=4.0)

_CACHE: dict = {}
_BACKGROUND: dict = {}


def _outlet_with_unit(name, type_, fs, unit, fmt="float32"):
    info = pylsl.StreamInfo(name, type_, 1, fs, fmt, name)
    ch = info.desc().append_child("channels").append_child("channel")
    ch.append_child_value("label", type_)
    if unit:
        ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def _record_cmd(out: Path, db: str, participant: str, duration: float, lsl: list[str], extra=()):
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "record",
        "--no-camera",
        "--duration",
        str(duration),
        "--out",
        str(out),
        "--db",
        db,
        "--participant",
        participant,
        "--quiet",
        "--lsl-timeout",
        "20",
        *extra,
    ]  # generous: the machine may be busy
    for name in lsl:
        cmd += ["--lsl", name]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _push_markers(outlet, plan, stop, t_ref):
    """Push ``plan`` markers at ``t_ref + offset`` (real time), JSON strings with explicit stamps."""
    for offset, event, fields in plan:
        due = t_ref + offset
        while pylsl.local_clock() < due and not stop.is_set():
            time.sleep(0.01)
        if stop.is_set():
            return
        outlet.push_sample([json.dumps({"event": event, **fields})], due)


def _pump(streams, stop):
    """Push the rows of ``[(outlet, rows (n, ch), stamps (n,))]`` in real time, each with its stamp."""
    done = [0] * len(streams)
    while not stop.is_set() and any(d < len(s[1]) for d, s in zip(done, streams)):
        now = pylsl.local_clock()
        for k, (outlet, rows, stamps) in enumerate(streams):
            due = int(np.searchsorted(stamps, now, side="right"))
            for i in range(done[k], max(done[k], due)):
                outlet.push_sample([float(v) for v in np.atleast_1d(rows[i])], float(stamps[i]))
            done[k] = max(done[k], due)
        stop.wait(0.02)


def regular(data, fs, t0):
    return (np.asarray(data, dtype=float), t0 + np.arange(len(data)) / fs)


def frame_index(t0, n=600, fps=30.0, dropped=range(100, 104)):
    """A frame-index stream like mexlab's: file frame k, its camera frame (some camera frames were
    dropped, so the file's frames jump in time there), stamped at the capture time."""
    cam = np.array([c for c in range(n) if c not in dropped], dtype=float)
    rows = np.column_stack([np.arange(cam.size), cam, cam * 1000 / fps])
    return rows, t0 + cam / fps


def lsl_signals(seed: int = 3) -> dict:
    import neurokit2 as nk

    half = int(LSL_DURATION_S / 2) + 2
    ecg = np.concatenate(
        [
            nk.ecg_simulate(duration=half, sampling_rate=250, heart_rate=hr, noise=0.01, random_state=seed + i)
            for i, hr in enumerate(LSL_HR)
        ]
    )
    eda = nk.eda_simulate(
        duration=int(LSL_DURATION_S) + 4,
        sampling_rate=32,
        scr_number=LSL_SCR_NUMBER,
        drift=0.0,
        noise=0.0,
        random_state=seed,
    )
    return {"ecg": ecg, "eda": eda + 2.0, "half_s": half}


def study_root(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "physio-study"


def start_in_background(root: Path) -> None:
    """Start the shared recordings in a background thread (unless they are made or under way)."""
    if not _CACHE and not _BACKGROUND:

        def work():
            try:
                _BACKGROUND["result"] = _record(root)
            except BaseException as exc:  # re-raised by study_recordings in the test's thread
                _BACKGROUND["error"] = exc

        _BACKGROUND["thread"] = threading.Thread(target=work, name="physio-study", daemon=True)
        _BACKGROUND["thread"].start()


def analysed_once(study: dict) -> list:
    """The three sessions analysed once (analysis.study.SessionResult), for tests that only read."""
    from analysis.study import analyse_session

    # asked for by several test modules: analyse once for all of them
    if "analysed" not in _BACKGROUND:
        # the rig's planted truth as ME events (use_truth): these tests check the statistics against it
        _BACKGROUND["analysed"] = [analyse_session(study[k], use_truth=True) for k in ("sim1", "sim2", "lsl")]
    return _BACKGROUND["analysed"]


def aborted_copy(folder, tmp_path, name="aborted"):
    """A copy of a recorded session whose protocol was aborted at step 3 of 9 (as run-protocol writes it)."""
    import shutil
    import uuid

    from acquisition.session import write_sidecar

    copy = tmp_path / name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("analysis"))
    meta = json.loads((copy / "session.json").read_text())
    meta.update(
        session_id=uuid.uuid4().hex,
        participant="ABORT1",
        status="aborted",
        aborted_at={
            "step": 3,
            "of": 9,
            "step_id": "clip1",
            "text": "aborted at step 3 of 9, trials trial 1: stimulus clip1",
        },
    )
    write_sidecar(copy, meta)
    return copy


def study_recordings(root: Path) -> dict:
    """Record the shared sessions once (see the module doc); later calls return the same dict."""
    if _CACHE:
        return _CACHE
    if "thread" in _BACKGROUND:
        _BACKGROUND["thread"].join()
        if "error" in _BACKGROUND:
            err = _BACKGROUND["error"]
            raise RuntimeError(f"the shared physiology recordings failed: {type(err).__name__}: {err}") from err
        return _CACHE
    return _record(root)


def _record(root: Path) -> dict:
    from acquisition.sim.schedule import make_schedule

    root.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{root / 'catalog.sqlite'}"
    from acquisition.catalog import Catalog

    # create the catalog's schema before three recorders open it at once (each would create it)
    Catalog(db).close()
    sig = lsl_signals()
    procs, stop, threads = {}, threading.Event(), []
    task = {}
    for key, seed in (("sim1", 0), ("sim2", 1)):
        name = unique_name(f"task-{key}")
        task[key] = make_outlet(name, "Markers", 1, pylsl.IRREGULAR_RATE, "string")
        procs[key] = _record_cmd(
            root / key, db, key.upper(), SIM_DURATION_S, [name], ["--simulate", "--seed", str(seed)]
        )
    names = {k: unique_name(k) for k in ("ecg", "eda", "task", "slow", "ecgshort", "frames")}
    ecg = _outlet_with_unit(names["ecg"], "ECG", 250.0, "millivolts")
    eda = _outlet_with_unit(names["eda"], "EDA", 32.0, "microsiemens")
    slow = _outlet_with_unit(names["slow"], "Misc", 1.0, None)
    short = _outlet_with_unit(names["ecgshort"], "ECG", 250.0, None)
    task["lsl"] = make_outlet(names["task"], "Markers", 1, pylsl.IRREGULAR_RATE, "string")
    frames = make_outlet(
        "mexlab-rgb-frames",
        "VideoFrameIndex",
        3,
        30.0,
        "double64",
        source_id=names["frames"],
        channel_labels=["frame", "camera_frame", "camera_timestamp_ms"],
    )
    lsl = [n for k, n in names.items() if k != "frames"] + [f"source_id={names['frames']}"]
    procs["lsl"] = _record_cmd(root / "lsl", db, "P3", LSL_DURATION_S, lsl)
    try:
        for outlet in (*task.values(), ecg):
            if not outlet.wait_for_consumers(60):
                failed = {k: p.poll() for k, p in procs.items() if p.poll() is not None}
                why = {k: procs[k].communicate()[1][-1000:] for k in failed}
                raise TimeoutError(
                    f"the recorders did not connect to the test's outlets within 60 s; exited: {why or 'none'}"
                )
        t_ref = {}
        for key in ("sim1", "sim2", "lsl"):
            t_ref[key] = pylsl.local_clock()
        t0 = t_ref["lsl"] - 1.0  # the signals start 1 s before the markers
        half = sig["half_s"]  # ECG at LSL_HR[0] before t0 + half, LSL_HR[1] after
        lsl_plan = [
            (
                0.5,
                "stimulus_onset",
                {"protocol": LSL_PROTOCOL, "condition": "truthful", "trial": 1, "step": "stimulus"},
            ),
            (
                half - 1.0,
                "stimulus_onset",
                {"protocol": LSL_PROTOCOL, "condition": "deceptive", "trial": 2, "step": "stimulus"},
            ),
        ]
        plans = {"sim1": SIM_TASK, "sim2": SIM_TASK, "lsl": lsl_plan}
        for key, plan in plans.items():
            threads.append(
                threading.Thread(target=_push_markers, daemon=True, args=(task[key], plan, stop, t_ref[key]))
            )
        index = frame_index(t0 + 1.0)
        threads.append(
            threading.Thread(
                target=_pump,
                daemon=True,
                args=(
                    [
                        (ecg, *regular(sig["ecg"], 250.0, t0)),
                        (eda, *regular(sig["eda"], 32.0, t0)),
                        (slow, *regular(np.sin(np.arange(40.0)), 1.0, t0)),
                        (short, *regular(sig["ecg"][: 5 * 250], 250.0, t0)),
                        (frames, *index),
                    ],
                    stop,
                ),
            )
        )
        for th in threads:
            th.start()
        outs = {k: p.communicate(timeout=SIM_DURATION_S + 60) for k, p in procs.items()}
    finally:
        stop.set()
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        for th in threads:
            th.join(timeout=5)
    for key, p in procs.items():
        if p.returncode != 0:
            raise RuntimeError(f"recording {key} failed ({p.returncode}): {outs[key][1][-2000:]}")
    for key, seed in (("sim1", 0), ("sim2", 1)):
        # what the rig writes with a camera: the schedule's events in frame numbers
        make_schedule(SIM_DURATION_S + 5.0, fps=30.0, seed=seed).write_ground_truth_csv(root / key / "ground_truth.csv")
    _CACHE.update(
        {
            "root": root,
            "db": db,
            "sim1": root / "sim1",
            "sim2": root / "sim2",
            "lsl": root / "lsl",
            "names": names,
            "signals": sig,
            "ecg_t0": t0,
            "lsl_switch": t_ref["lsl"] + sig["half_s"] - 1.0,
            "frame_index": index,
        }
    )
    return _CACHE


def ground_truth(folder: Path) -> dict:
    """``ground_truth_physio.json`` with every time on the LSL clock (the rig writes them after t0)."""
    gt = json.loads((Path(folder) / "ground_truth_physio.json").read_text())
    t0 = float(gt["t0_lsl"])
    first = float(gt["hr"]["t"][0])
    # the rig has written times after t0 ("time_base": "frame0") and on the LSL clock: tell them apart
    relative = gt.get("time_base") == "frame0" or abs(first) < abs(first - t0)
    shift = t0 if relative else 0.0
    gt["hr"]["t"] = [t + shift for t in gt["hr"]["t"]]
    gt["beat_times"] = [t + shift for t in gt["beat_times"]]
    for s in gt["scr_events"]:
        s["onset"] += shift
        s["peak"] += shift
    return gt
