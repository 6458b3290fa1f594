"""The varied rig (many faces, sizes, codecs) and spotting on a held-out face."""

from __future__ import annotations

import csv

import av
import numpy as np
import pytest

from acquisition.errors import MexlabError
from acquisition.sim.identities import PERSONS, identities, make_identity
from acquisition.sim.varied import make_varied_schedule, render_video


def test_split_is_by_person_and_photograph():
    tuning = {p.name for p in PERSONS.values() if p.split == "tuning"}
    held = {p.name for p in PERSONS.values() if p.split == "heldout"}
    assert tuning and held and not tuning & held
    # a held-out identity is never a warp of a tuning photograph
    for ident in identities("heldout", 6):
        assert ident.person in held and ident.split == "heldout"
    assert make_identity("grace_hopper/0").params == {}
    assert make_identity("grace_hopper/3").params != make_identity("grace_hopper/4").params
    with pytest.raises(MexlabError):
        make_identity("nobody/1")


def test_identity_warps_change_the_face_not_the_labels():
    a = make_identity("grace_hopper/0").renderer(640, 360, face_width=140).neutral()
    b = make_identity("grace_hopper/5").renderer(640, 360, face_width=140).neutral()
    assert a.shape == b.shape == (360, 640, 3)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 3


def test_render_video_writes_video_and_ground_truth(tmp_path):
    s = make_varied_schedule(4.0, fps=30, seed=2)
    out = render_video(make_identity("astronaut/1"), s, (320, 240), 30, tmp_path / "a.mp4",
                       face_width=100, noise=1.0)
    with av.open(str(out.video)) as c:
        st = c.streams.video[0]
        n = sum(1 for _ in c.decode(st))
        assert (st.codec_context.width, st.codec_context.height) == (320, 240)
    assert n == s.n_frames == 120
    rows = list(csv.DictReader(open(out.ground_truth)))
    assert [int(r["onset"]) for r in rows] == [e.onset for e in s.events]
    assert {r["kind"] for r in rows} <= {"expression", "interference"}
    assert out.meta["split"] == "tuning"
    with pytest.raises(MexlabError):
        render_video(make_identity("astronaut"), s, (320, 240), 30, tmp_path / "b.mp4",
                     codec="ffv1")
    assert not (tmp_path / "b.mp4").exists()
