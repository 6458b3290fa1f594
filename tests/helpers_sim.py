"""Helpers of the simulated-rig tests (tests/acquisition/test_sim_*.py)."""

from __future__ import annotations

from acquisition.sim.schedule import FacialEvent, Schedule


def one_event(ev: FacialEvent, n_frames: int = 120, fps: float = 30.0) -> Schedule:
    """A schedule holding the one event ``ev``."""
    return Schedule(fps=fps, n_frames=n_frames, seed=0, events=[ev])
