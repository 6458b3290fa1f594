"""``mexlab record --spot``: the Record window's live spotter in the command line's recording — its
summary in session.json and on stderr, and, when it saw every frame, its features kept as the
session's feature cache so that ``mexlab spot`` does not decode the video."""

from __future__ import annotations

import json
import subprocess

from tests.helpers_paths import MEXLAB


def test_record_with_live_spotting_keeps_what_the_spotter_saw(tmp_path):
    out = tmp_path / "s"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "8", "--spot", "--out", str(out), "--no-catalog"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    ls = json.loads((out / "session.json").read_text())["live_spotting"]
    assert ls["error"] is None
    assert ls["frames_recorded"] >= 200 and 0 < ls["frames_spotted"] <= ls["frames_recorded"]
    assert f"live spotting: {ls['frames_spotted']} of {ls['frames_recorded']} frames spotted" in r.stderr
    kept = out / ".mexlab-cache" / "live-features.npz"
    assert ls["features"]["complete"] == kept.is_file()
    if kept.is_file():  # the spotter kept up (it does on an idle 2-core machine): spot takes its features
        s = subprocess.run([*MEXLAB, "spot", str(out), "--json"], capture_output=True, text=True, timeout=300)
        assert s.returncode == 0, s.stderr
        assert not kept.exists()  # taken as the feature cache
        assert list((out / ".mexlab-cache").glob("rgb.mkv.*.npz"))
    else:
        assert ls["features"]["why_not"]
    # without --spot there is no live spotting
    plain = tmp_path / "p"
    r = subprocess.run(
        [*MEXLAB, "record", "--simulate", "--duration", "2", "--out", str(plain), "--no-catalog", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "live_spotting" not in json.loads((plain / "session.json").read_text())
    assert "live spotting" not in r.stderr
