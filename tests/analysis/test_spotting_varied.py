"""The varied rig (many faces, sizes, codecs) and spotting on a held-out face."""

from __future__ import annotations

import csv

import av
import numpy as np
import pytest

from acquisition.errors import MexlabError
from acquisition.sim.identities import PERSONS, identities, make_identity
from acquisition.sim.varied import make_varied_schedule, render_video
from tests.helpers_varied import clip_schedule, render_frames

pytestmark = [pytest.mark.face_model]


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
    out = render_video(make_identity("astronaut/1"), s, (320, 240), 30, tmp_path / "a.mp4", face_width=100, noise=1.0)
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
        render_video(make_identity("astronaut"), s, (320, 240), 30, tmp_path / "b.mp4", codec="ffv1")
    assert not (tmp_path / "b.mp4").exists()


def test_light_changes_only_when_asked_and_the_image_follows_them(tmp_path):
    from acquisition.sim.varied import light_levels

    plain = make_varied_schedule(20.0, fps=30, seed=4)
    assert not [e for e in plain.events if e.kind == "light"] and light_levels(plain) is None
    s = make_varied_schedule(8.0, fps=30, seed=3, interference=("blink", "light"), rates={"light": 30})
    lights = [e for e in s.events if e.kind == "light"]
    assert len(lights) >= 3 and not [e for e in s.events if e.kind in ("head", "speech")]
    g = light_levels(s)
    assert g is not None and g.shape == (s.n_frames,) and g[0] == 1.0
    assert np.all((g >= 0.75) & (g <= 1.25))
    for e in lights:  # each change reaches its level by its last frame and holds it until the next
        assert g[e.offset + 1] == pytest.approx(s.params(e)["level"])
        assert abs(g[e.offset + 1] / g[e.onset - 1] - 1) == pytest.approx(e.amplitude / 100, rel=1e-6)
    out = render_video(make_identity("obama/3"), s, (320, 240), 30, tmp_path / "l.mkv", codec="ffv1", noise=0.0)
    with av.open(str(out.video)) as c:
        mean = np.array([f.to_ndarray(format="rgb24").mean() for f in c.decode(video=0)])
    first = lights[0]
    assert mean[first.offset + 1] / mean[first.onset - 1] == pytest.approx(g[first.offset + 1], rel=0.03)
    rows = list(csv.DictReader(open(out.ground_truth)))
    assert sum(r["type"] == "light" and r["kind"] == "interference" for r in rows) == len(lights)
    with pytest.raises(MexlabError, match="light"):
        make_varied_schedule(8.0, interference=("flicker",))


def test_held_out_face_micro_expressions_are_spotted(tmp_path):
    """A held-out person (Grace Hopper, never tuned on), warped, 640x360 H.264 with sensor noise:
    the 2-2.5 px brow, nose and mouth micro-expressions are found, and nothing else is flagged."""
    from analysis.evaluation import evaluate_spotting
    from analysis.spotting.pipeline import spot

    ident = make_identity("grace_hopper/1")
    assert ident.split == "heldout"
    s = clip_schedule()
    out = render_video(ident, s, (640, 360), 30, tmp_path / "gh.mp4", face_width=150, noise=1.0, crf=23, seed=3)
    res = spot(out.video, use_cache=False)
    gt = {"v": [(e.onset, e.offset, e.kind) for e in s.of_kind("micro")]}
    pred = {"v": [(i["onset"], i["offset"], i["type"]) for i in res.intervals]}
    ev = evaluate_spotting(gt, pred)["overall"]
    assert ev["tp"] >= 3, (res.intervals, res.suppressed)
    assert ev["fp"] <= 1, res.intervals


def test_ffv1_and_the_face_width_asked_for(tmp_path):
    s = make_varied_schedule(1.0, fps=25, seed=4, interference=("blink",))
    out = render_video(
        make_identity("grace_hopper/2"), s, (640, 360), 25, tmp_path / "g.mkv", codec="ffv1", face_width=180, noise=0.0
    )
    with av.open(str(out.video)) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "ffv1"
        assert sum(1 for _ in c.decode(st)) == 25
    assert abs(out.meta["face_width_px"] - 180) < 1
    assert out.meta["split"] == "heldout"


def _casme3_tree(root, ident, s):
    """A CAS(ME)^3 Part A release of one long video: JPG frames of a varied-rig face + the sheet."""
    import cv2
    import openpyxl

    from analysis.datasets.export import HEADER

    color = root / "part_A" / "data" / "part_A" / "spNO.1" / "a" / "color"
    color.mkdir(parents=True)
    (color.parent / "depth").mkdir()
    for k, img in render_frames(ident, s):
        cv2.imwrite(str(color / f"{k}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    (root / "part_A" / "annotation").mkdir(parents=True)
    wb = openpyxl.Workbook()
    wb.active.append(HEADER)
    for e in s.of_kind("micro", "macro"):
        wb.active.append(
            [
                "spNO.1",
                "a",
                e.onset,
                e.apex,
                e.offset,
                "+".join(e.aus),
                "1",
                "others",
                "Micro-expression" if e.kind == "micro" else "Macro-expression",
            ]
        )
    wb.save(root / "part_A" / "annotation" / "CAS(ME)3_part_A_v2.xlsx")


def test_evaluate_spotting_on_a_casme3_release(tmp_path, capsys):
    """`mexlab evaluate-spotting --dataset casme3:ROOT` spots the release's long video (frames as
    images) and scores it against the sheet with the MEGC protocol."""
    import json

    from app.cli import main

    root = tmp_path / "C3"
    _casme3_tree(root, make_identity("grace_hopper/1"), clip_schedule())
    assert main(["evaluate-spotting", "--dataset", f"casme3:{root}", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["dataset"] == "casme3" and len(res["videos"]) == 1
    assert res["videos"][0]["frames"] == 240 and res["videos"][0]["truth"] == 4
    assert res["overall"]["tp"] >= 3 and res["overall"]["fp"] <= 1, res["videos"]
    # a reader of clips, not long videos: one line, non-zero
    assert main(["evaluate-spotting", "--dataset", f"samm:{root}"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "long videos" in err


def test_held_out_face_micro_expressions_during_slow_head_drift(tmp_path):
    """Grace Hopper (held out) turning and sliding slowly for 6 s (5°): the smile and the brow
    raise made during the drift are found. Before the detector was chosen on the varied rig's
    tuning faces, only one of them was (the drift's residual joined the brow raise into one long
    movement that the head-motion rule removed)."""
    from acquisition.sim.schedule import FacialEvent, Schedule
    from analysis.evaluation import evaluate_spotting
    from analysis.spotting.pipeline import spot

    def me(on, n, aus, amp):
        return FacialEvent("micro", on, on + n // 2 - 1, on + n - 1, aus, amp, True)

    drift = FacialEvent("head", 20, 110, 200, (), 5.0, False)
    s = Schedule(
        fps=30.0, n_frames=240, seed=0, events=[drift, me(110, 10, ("AU12",), 2.5), me(160, 12, ("AU1", "AU2"), 2.5)]
    )
    s.set_params(
        drift, {"yaw": 0.8, "pitch": 0.5, "roll": 0.2, "tx": 3.0, "ty": 2.0, "detail": "drift", "emg_lead_s": 0.04}
    )
    out = render_video(
        make_identity("grace_hopper/1"), s, (640, 360), 30, tmp_path / "d.mp4", face_width=150, noise=1.0, seed=3
    )
    res = spot(out.video, use_cache=False)
    gt = {"v": [(e.onset, e.offset, e.kind) for e in s.of_kind("micro")]}
    pred = {"v": [(i["onset"], i["offset"], i["type"]) for i in res.intervals]}
    ev = evaluate_spotting(gt, pred)["overall"]
    assert ev["tp"] == 2 and ev["fp"] == 0, (res.intervals, res.suppressed)
