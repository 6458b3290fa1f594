"""The varied rig's shipped photographs (obama, biden): they load, render, and the face model finds
their faces where the rig says they are."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from acquisition.errors import MexlabError
from acquisition.sim.identities import FACES_DIR, PERSONS, identities, make_identity

pytestmark = [pytest.mark.face_model]

REPO = Path(__file__).resolve().parents[2]
NEW = ("obama", "biden")
# mesh index of the rig's named landmarks (bench/measure_identity_landmarks.py)
MESH = {"eye_out_L": 33, "eye_out_R": 263, "nose_tip": 1, "mouth_L": 61, "mouth_R": 291, "chin": 152}


def test_shipped_photographs_are_package_data_with_their_notice():
    notice = (FACES_DIR / "NOTICE.md").read_text()
    for name in NEW:
        p = PERSONS[name]
        assert p.file and p.split == "tuning" and p.extra
        data = (FACES_DIR / p.file).read_bytes()
        assert 20_000 < len(data) < 160_000
        # the notice names the file's own hash (the crop shipped) and its public-domain reasoning
        assert hashlib.sha256(data).hexdigest() in notice
    assert "17 U.S.C. § 105" in notice and "believed to be" in notice
    pkg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(re.fullmatch(r"faces/\*(\.jpg)?", g) for g in pkg["acquisition.sim"])


def test_extra_people_only_when_named():
    # sets rendered before the fifth round stay the same: the default cycle has no extra people
    assert [i.person for i in identities("tuning", 4)] == ["astronaut", "pexels_woman"] * 2
    got = identities("tuning", 5, start=3, people=["obama", "biden", "astronaut"])
    assert [i.name for i in got] == ["obama/3", "biden/3", "astronaut/3", "obama/4", "biden/4"]
    with pytest.raises(MexlabError, match="grace_hopper"):
        identities("tuning", 2, people=["obama", "grace_hopper"])  # a held-out person on the tuning side
    with pytest.raises(MexlabError):
        identities("tuning", 2, people=[])


@pytest.mark.parametrize("name", ["obama/0", "biden/0", "obama/4", "biden/5"])
def test_new_faces_render_where_the_rig_says(name):
    from analysis.face.landmarker import FaceTracker

    fw = 200.0
    r = make_identity(name).renderer(640, 480, face_width=fw)
    img = r.neutral()
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    with FaceTracker(max_side=None) as t:
        ff = t.process(img, 0.0)
    assert ff is not None and ff.landmarks is not None, f"{name}: no face found in the rendered frame"
    lm = np.asarray(ff.landmarks)[:, :2]
    # the face model's points lie where the rig's landmarks say (within 6 % of the face width)
    for key, idx in MESH.items():
        d = float(np.hypot(*(lm[idx] - np.asarray(r.landmarks[key]))))
        assert d < 0.06 * fw, f"{name} {key}: {d:.1f} px from the rig's landmark"
    # the face oval is as wide as asked
    width = float(lm[454, 0] - lm[234, 0])
    assert 0.85 * fw < width < 1.15 * fw, width
    # a 3-px smile (AU12) moves the skin around the mouth, not the brows
    moved = np.abs(r.render_with({"AU12": 3.0}, r.make_pose())[0].astype(int) - img.astype(int)).sum(-1) > 12
    ys, _xs = np.nonzero(moved)
    assert len(ys) > 50
    assert np.median(ys) > r.landmarks["nose_tip"][1] - 0.05 * fw
