"""The simulated camera renders in a process of its own (issue 10: the renderer, starved of the
interpreter lock in a busy recording process, skipped exposures a real camera would have delivered).

The frames are the in-process renderer's, pixel for pixel, at their true capture times; the counter
jumps only when the render process is itself more than CATCH_UP_S late; stop() (or the parent's end,
even by kill -9) leaves no process and no shared memory behind; a render process that dies is named
by the camera, and the recording that uses it stops instead of running on without video."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest

from acquisition.clock import WallToLsl
from acquisition.errors import DeviceError, MexlabError
from acquisition.realsense.modes import Mode
from acquisition.sim.camera import CATCH_UP_S, SimulatedCamera
from acquisition.sim.render_process import FrameRenderer
from acquisition.sim.schedule import FacialEvent, Schedule

RGB, DEPTH = Mode(848, 480, 30), Mode(424, 240, 30)  # depth at another size: the pose is scaled


def busy_schedule(n_frames: int = 300) -> Schedule:
    """A micro-expression, a blink and head motion in the first second: no frame is the neutral one."""
    events = [
        FacialEvent("head", 0, 15, 40, (), 6.0, False),
        FacialEvent("micro", 2, 6, 14, ("AU12",), 3.0, True),
        FacialEvent("blink", 10, 12, 16, ("AU45",), 11.0, False),
        FacialEvent("macro", 20, 35, 60, ("AU4", "AU7"), 7.0, True),
    ]
    return Schedule(fps=30.0, n_frames=n_frames, seed=3, events=events)


class Catcher:
    """The frames a software sensor delivers (as the recorder's camera receives them)."""

    def __init__(self, cam: SimulatedCamera):
        self.frames: dict[str, dict[int, tuple[np.ndarray, float]]] = {"rgb": {}, "depth": {}}
        self.lock = threading.Lock()
        for key, sensor, profile in (
            ("rgb", cam._color_sensor, cam._color_profile),
            ("depth", cam._depth_sensor, cam._depth_profile),
        ):
            sensor.open(profile)
            sensor.start(self._callback(key))

    def _callback(self, key):
        def on_frame(f):
            with self.lock:
                self.frames[key][f.get_frame_number()] = (np.array(f.get_data(), copy=True), f.get_timestamp())

        return on_frame


def shm_exists(name: str) -> bool:
    return Path("/dev/shm", name.lstrip("/")).exists()


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended


def wait_for(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.mark.parametrize("render_process", [True, False], ids=["render process", "in a thread (benchmarks)"])
def test_frames_are_the_in_process_renderers_at_their_capture_times(render_process):
    schedule = busy_schedule(45)
    cam = SimulatedCamera(schedule, RGB, DEPTH, WallToLsl(), seed=3, render_process=render_process)
    if render_process:
        assert cam.render_where == "process" and cam.render_pid != os.getpid()
    else:
        assert cam.render_where == "thread" and cam.render_pid is None
    got = Catcher(cam)
    t0 = pylsl.local_clock() + 0.1
    cam.start(t0)
    assert wait_for(lambda: cam._thread is not None and not cam._thread.is_alive(), 20)  # the schedule's end
    cam.stop()
    assert cam.error is None
    local = FrameRenderer(schedule, RGB, DEPTH, seed=3)
    delivered = sorted(got.frames["rgb"])
    # more frames than ring slots: a slot reused for a later frame never changed an injected one
    assert len(delivered) >= 10 and delivered == sorted(got.frames["depth"])
    assert len(delivered) + cam.frames_skipped == delivered[-1] + 1
    neutral = local.face.neutral()
    for k in delivered[::2]:
        rgb, depth = local.render(k)
        assert not np.array_equal(rgb, neutral)
        assert np.array_equal(got.frames["rgb"][k][0].reshape(rgb.shape), rgb), k
        assert np.array_equal(got.frames["depth"][k][0].reshape(depth.shape), depth), k
        assert got.frames["rgb"][k][1] == pytest.approx(cam.clock.to_wall_ms(t0 + k / 30.0), abs=1e-3)
    assert dict(cam.capture_times) == {k: pytest.approx(t0 + k / 30.0) for k in delivered}


def test_stop_ends_the_render_process_and_frees_its_memory():
    cam = SimulatedCamera(busy_schedule(), RGB, DEPTH, WallToLsl())
    pid, shm = cam.render_pid, cam._render_proc.shm_name
    assert pid_alive(pid) and shm_exists(shm)
    Catcher(cam)
    cam.start(pylsl.local_clock() + 0.05)
    assert wait_for(lambda: cam.frames_generated >= 3, 10)
    t = time.monotonic()
    cam.stop()
    assert time.monotonic() - t < 5.0
    assert not pid_alive(pid) and not shm_exists(shm)
    n = cam.frames_generated
    cam.stop()  # the recorder stops the rig's camera twice
    time.sleep(0.2)
    assert cam.frames_generated == n and cam.error is None


_PARENT = """
import os, sys, time, pylsl
from acquisition.clock import WallToLsl
from acquisition.realsense.modes import Mode
from acquisition.sim.camera import SimulatedCamera
from acquisition.sim.schedule import make_schedule
cam = SimulatedCamera(make_schedule(60, seed=2), Mode(848, 480, 30), Mode(848, 480, 30), WallToLsl())
cam.start(pylsl.local_clock() + 0.05)
while cam.frames_generated < 5:
    time.sleep(0.02)
print(cam.render_pid, cam._render_proc.shm_name, flush=True)
time.sleep(0.3)
if sys.argv[1] == "exit":
    sys.exit(3)  # mid-run, without stop()
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["exit", "kill -9"])
def test_parent_ended_mid_run_leaves_no_process_and_no_memory(how):
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_PARENT), how.split()[0]],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().split()
        assert len(line) == 2, proc.stderr.read() if proc.poll() is not None else line
        pid, shm = int(line[0]), line[1]
        assert pid_alive(pid) and shm_exists(shm)
        if how == "kill -9":
            proc.kill()
        assert proc.wait(20) == (3 if how == "exit" else -signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(pid), 10), "the render process outlived its parent"
        assert wait_for(lambda: not shm_exists(shm), 10), "the shared memory was left behind"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_dead_render_process_is_named_and_stops_the_frames():
    cam = SimulatedCamera(busy_schedule(), RGB, DEPTH, WallToLsl())
    shm = cam._render_proc.shm_name
    Catcher(cam)
    cam.start(pylsl.local_clock() + 0.05)
    assert wait_for(lambda: cam.frames_generated >= 3, 10)
    os.kill(cam.render_pid, signal.SIGKILL)
    assert wait_for(lambda: cam.error is not None, 5)
    assert "render process ended unexpectedly" in cam.error and "killed by signal 9" in cam.error
    with pytest.raises(MexlabError, match="render process ended unexpectedly"):
        cam.check()
    n = cam.frames_generated
    time.sleep(0.3)
    assert cam.frames_generated == n and not cam._thread.is_alive()
    t = time.monotonic()
    cam.stop()
    assert time.monotonic() - t < 5.0 and not shm_exists(shm)


def test_the_counter_jumps_only_for_frames_the_render_process_was_too_late_for():
    cam = SimulatedCamera(busy_schedule(), RGB, DEPTH, WallToLsl())
    got = Catcher(cam)
    t0 = pylsl.local_clock() + 0.05
    cam.start(t0)
    assert wait_for(lambda: cam.frames_generated >= 10, 10)
    pid = cam.render_pid
    os.kill(pid, signal.SIGSTOP)  # the renderer stalls for 1.5 s (the machine took its core)
    t_stop = pylsl.local_clock()
    time.sleep(1.5)
    os.kill(pid, signal.SIGCONT)
    t_cont = pylsl.local_clock()
    time.sleep(1.0)
    cam.stop()
    assert cam.error is None
    delivered = sorted(got.frames["rgb"])
    lost = sorted(set(range(delivered[-1] + 1)) - set(delivered))
    assert lost and len(lost) == cam.frames_skipped, (lost, cam.frames_skipped)
    # only exposures more than CATCH_UP_S old when the renderer got to them (none before the stall);
    # the frames already in the ring and those it caught up with keep their true capture times
    assert all(t0 + k / 30.0 < pylsl.local_clock() - CATCH_UP_S for k in lost)
    assert sum(t_stop <= t0 + k / 30.0 <= t_cont for k in lost) >= 10
    assert any(t_stop < t0 + k / 30.0 < t_cont for k in delivered)
    for k in delivered:
        assert got.frames["rgb"][k][1] == pytest.approx(cam.clock.to_wall_ms(t0 + k / 30.0), abs=1e-3)


@pytest.mark.rig
@pytest.mark.labrecorder
def test_a_recording_whose_render_process_dies_ends_interrupted(tmp_path):
    from acquisition.recorder import Recorder
    from acquisition.sources import RecordConfig

    rec = Recorder(RecordConfig(out=tmp_path / "s", source="simulate", duration=30, register=False))
    rec.prepare()
    try:
        rec.start()
        assert wait_for(lambda: rec.rig.camera.frames_generated >= 30, 20)
        os.kill(rec.rig.camera.render_pid, signal.SIGKILL)
        reason = None
        end = time.monotonic() + 5
        while reason is None and time.monotonic() < end:
            reason = rec.should_stop()
            time.sleep(0.1)
    finally:
        meta = rec.stop(reason or "stopped")
    assert reason is not None and "render process" in reason
    assert meta["status"] == "interrupted"
    assert json.loads((tmp_path / "s" / "session.json").read_text())["status"] == "interrupted"
    with pytest.raises(DeviceError):
        rec.rig.camera.check()
