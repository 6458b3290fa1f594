"""Helpers of the simulated-rig tests (tests/acquisition/test_sim_*.py)."""

from __future__ import annotations

from acquisition.sim.schedule import FacialEvent, Schedule


def one_event(ev: FacialEvent, n_frames: int = 120, fps: float = 30.0) -> Schedule:
    """A schedule holding the one event ``ev``."""
    return Schedule(fps=fps, n_frames=n_frames, seed=0, events=[ev])


def record_rig(out, seconds: float, seed: int) -> None:
    """Record ``seconds`` of the simulated rig into the session folder ``out`` with ``mexlab record``
    (a real recording: LSL, LabRecorderCLI, the encoders). A rig that cannot record fails the test."""
    import subprocess
    import sys
    from pathlib import Path

    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "record", "--simulate", "--duration", str(seconds), "--seed", str(seed)]
        + ["--out", str(out), "--no-catalog", "--quiet"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # a rig that cannot record is a defect to see, never a reason to skip the spotting tests
    assert r.returncode == 0, f"the simulated rig could not record: {r.stderr.strip()[-600:]}"
