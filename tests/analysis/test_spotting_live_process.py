"""The live spotter in a process of its own (analysis.spotting.live_process): the same flags as the
spotter in-process, a lower CPU priority, and a child that dies named, not hung on."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.face_model]


def _frames(n: int = 150, fps: float = 30.0):
    from acquisition.sim.identities import make_identity
    from acquisition.sim.schedule import FacialEvent, Schedule

    ev = FacialEvent("micro", 75, 80, 86, ("AU1", "AU2"), 3.5, True)
    sched = Schedule(fps, n, 0, [ev])
    face = make_identity("grace_hopper/5").renderer(640, 480)
    return [face.render(k, sched)[0] for k in range(n)]


def _ends(flags):
    return [(f.onset, f.apex, f.offset, f.type) for f in flags]


def test_the_spotter_process_flags_what_the_spotter_flags_in_process():
    from analysis.spotting.live import StreamingSpotter
    from analysis.spotting.live_process import SPOTTER_NICE, SpotterProcess

    fps = 30.0
    frames = _frames(fps=fps)
    sp = SpotterProcess(fps)
    try:
        assert sp.alive and sp.fps == fps
        # the child runs at a lower priority than this process (the recording and the window)
        assert os.getpriority(os.PRIO_PROCESS, sp.pid) == os.getpriority(os.PRIO_PROCESS, 0) + SPOTTER_NICE
        got = []
        for k, f in enumerate(frames):
            got += sp.push(f, k / fps, index=1000 + k)  # file frame numbers, as the recorder gives them
        got += sp.flush()
        box, lms = sp.last_box, sp.last_landmarks
    finally:
        sp.close()
    assert not sp.alive
    with StreamingSpotter(fps) as ref:
        want = []
        for k, f in enumerate(frames):
            want += ref.push(f, k / fps, index=1000 + k)
        want += ref.flush()
    assert _ends(got) == _ends(want) and got, (_ends(got), _ends(want))
    assert [f.type for f in got].count("micro") >= 1 and 1075 <= got[0].apex <= 1086
    assert got[0].thumbnail is not None and np.array_equal(got[0].thumbnail, want[0].thumbnail)
    assert box is not None and box == pytest.approx(ref.last_box)
    # the face model's latest landmarks, numbered as the file's frames (live recognition uses them)
    assert lms is not None and ref.last_landmarks is not None and lms[0] == ref.last_landmarks[0]
    assert 1000 + len(frames) - 6 <= lms[0] < 1000 + len(frames) and lms[1].shape == (478, 2)
    assert np.allclose(lms[1], ref.last_landmarks[1], atol=1e-3)
    x0, y0, x1, y1 = box
    assert x0 <= lms[1][:, 0].mean() <= x1 and y0 <= lms[1][:, 1].mean() <= y1


def test_a_spotter_process_that_dies_is_named_and_its_memory_freed():
    from analysis.spotting.live_process import SpotterProcess

    frames = _frames(n=5)
    sp = SpotterProcess(30.0)
    sp.push(frames[0], 0.0, index=0)
    name = sp._shms[-1].name
    assert os.path.exists(f"/dev/shm/{name}")
    os.kill(sp.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="ended unexpectedly .*killed by signal 9"):
        sp.push(frames[1], 1 / 30, index=1)
    assert time.monotonic() - t0 < 30
    sp.close()
    assert not os.path.exists(f"/dev/shm/{name}")
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        sp.push(np.zeros((4, 4), np.uint8), 0.0)
