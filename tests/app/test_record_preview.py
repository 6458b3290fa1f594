"""The camera preview before Start for a camera file and a connected camera (the rig already had one): the pre-flight reads
the file's first frames through the recording's own playback path and the Record workspace shows
them; a mode the file does not hold is refused at the pre-flight, before Start."""

from __future__ import annotations

import numpy as np
import pytest

from app.services.settings import Settings
from tests.helpers_camera import make_camera_file

pytestmark = [pytest.mark.lsl]


def test_camera_file_preview_is_the_files_first_frames(tmp_path):
    from acquisition.preflight import camera_file_preview

    db3 = tmp_path / "cam.db3"
    rgbs, depths, _ = make_camera_file(db3, 5, width=424, height=240)
    got = camera_file_preview(db3)
    assert np.array_equal(got["rgb"], rgbs[0])
    assert np.array_equal(got["depth"], depths[0])


def test_live_camera_preview_without_a_camera_says_so(tmp_path):
    """A connected camera's preview goes through the same reader as the file's (camera_preview);
    with no RealSense connected (this machine) it is refused with the recording's own message."""
    from acquisition.errors import DeviceError
    from acquisition.preflight import live_camera_preview

    with pytest.raises(DeviceError, match="no RealSense camera is connected"):
        live_camera_preview()


def test_camera_file_preview_in_the_preflight_and_the_workspace(qtbot, tmp_path, monkeypatch):
    from app.gui.workspaces.record import RecordWorkspace
    from app.services.record_controller import RecordController

    monkeypatch.setenv("MEXLAB_CONFIG_DIR", str(tmp_path / "config"))
    db3 = tmp_path / "cam.db3"
    rgbs, _, _ = make_camera_file(db3, 5, width=424, height=240)
    settings = Settings(
        output_folder=str(tmp_path / "sessions"),
        source="camera-file",
        camera_file=str(db3),
        rgb_mode="424x240@30",
        depth_mode="424x240@30",
        min_free_minutes=0.5,
    )
    rep = RecordController().preflight(settings)
    assert not rep.problems, rep.problems
    assert np.array_equal(rep.preview["rgb"], rgbs[0]) and rep.preview["depth"].shape == (240, 424)

    ws = RecordWorkspace(settings)
    qtbot.addWidget(ws)
    assert ws.rgb_preview.frames_shown == 0 and ws.depth_preview.frames_shown == 0
    ws.run_preflight()
    qtbot.waitUntil(lambda: ws.preflight_btn.isEnabled() and "READY" in ws.preflight_text.toPlainText(), timeout=60000)
    assert ws.rgb_preview.frames_shown == 1 and ws.depth_preview.frames_shown == 1
    assert not ws.rgb_preview.pixmap().isNull()


def test_a_mode_the_camera_file_lacks_is_refused_at_the_preflight(tmp_path):
    from app.services.record_controller import RecordController

    db3 = tmp_path / "cam.db3"
    make_camera_file(db3, 3, width=424, height=240)
    settings = Settings(
        output_folder=str(tmp_path / "sessions"),
        source="camera-file",
        camera_file=str(db3),
        rgb_mode="848x480@30",
        depth_mode="424x240@30",
        min_free_minutes=0.5,
    )
    rep = RecordController().preflight(settings)
    assert any("848x480@30" in p and "424x240@30" in p for p in rep.problems), rep.problems
    assert not rep.ready(True)
