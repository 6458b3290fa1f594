"""The simulated rig imitates a RealSense D400: the camera modes it accepts and refuses."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "args, words",
    [
        (["--rgb", "12x7@999"], ["12x7@999", "848x480@6/15/30/60"]),
        (["--rgb", "123x77@13"], ["123x77@13", "1920x1080@6/15/30"]),
        (["--rgb", "1280x720@60", "--depth", "1280x720@60"], ["1280x720@60", "colour modes"]),
        (["--depth", "848x480@90"], ["same frame rate"]),
    ],
)
def test_rig_refuses_modes_a_d400_does_not_offer(tmp_path, args, words):
    """The rig imitates a D400: a mode it does not offer is refused with the list of those it does,
    before any folder is made (it once recorded 12x7@999, and depth at 164 Hz declared as 30 Hz)."""
    import subprocess
    import sys

    out = tmp_path / "s"
    for cmd in (
        ["record", "--simulate", "--duration", "2", "--no-catalog", "--out", str(out)],
        ["rig", "--duration", "1"],
    ):
        res = subprocess.run([sys.executable, "-m", "app.cli", *cmd, *args], capture_output=True, text=True, timeout=60)
        assert res.returncode != 0, (cmd, res.stderr)
        assert "Traceback" not in res.stderr
        for w in words:
            assert w in res.stderr, (w, res.stderr)
    assert not out.exists()


def test_rig_accepts_the_d400_modes():
    from acquisition.realsense.modes import Mode
    from acquisition.sim.camera import D400_DEPTH_MODES, D400_RGB_MODES, check_sim_modes

    for (w, h), rates in D400_RGB_MODES.items():
        for fps in rates:
            depth = next(((dw, dh) for (dw, dh), dr in D400_DEPTH_MODES.items() if fps in dr), None)
            if depth:
                check_sim_modes(Mode(w, h, fps), Mode(*depth, fps))
