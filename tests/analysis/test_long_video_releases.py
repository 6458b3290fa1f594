"""CAS(ME)^2 and SAMM Long Videos: their readers on the releases' layouts (sheets with several
worksheets, preambles, uncoded offsets), and `mexlab evaluate-spotting --dataset` spotting them."""

from __future__ import annotations

import json

import cv2
import numpy as np
import openpyxl
import pytest

from acquisition.errors import FileFormatError, MexlabError
from acquisition.sim.identities import make_identity
from analysis.datasets import read_spec
from app.cli import main
from tests.helpers_varied import clip_schedule, render_frames

# ---------------------------------------------------------------- CAS(ME)^2


def _touch_frames(folder, n, name="img{k}.jpg", first=1):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(first, first + n):
        (folder / name.format(k=k)).write_bytes(b"")


def _casme_sq_sheet(root, rows, *, naming=True, name="CAS(ME)^2code_final.xlsx"):
    """The release's workbook: expressions (no header), then the subject and clip naming sheets."""
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    for r in rows:
        wb.active.append(r)
    if naming:
        subj = wb.create_sheet("naming rule1")
        for i, n in enumerate((15, 16, 19), start=1):
            subj.append([n, f"s{n}", i])
        clips = wb.create_sheet("naming rule2")
        for code, clip in (("0101", "disgust1"), ("0102", "disgust2"), ("0502", "happy1")):
            clips.append([code, clip])
    wb.save(root / name)


def _casme_sq_release(root, *, naming=True):
    raw = root / "rawpic"
    _touch_frames(raw / "s15" / "15_0101disgustingteeth", 300)
    _touch_frames(raw / "s15" / "15_0502funnyerrors", 200)
    _touch_frames(raw / "s19" / "23_0502funnyerrors", 100)  # the release's folder named for another number
    _touch_frames(raw / "s16" / "16_0101disgustingteeth", 50)  # no expression coded in it
    rows = [
        [1, "disgust1_1", 10, 15, 20, "4", "negative", "micro-expression", "disgust"],
        [1, "disgust1_2", 100, 120, 0, "4+9", "negative", "macro-expression", ""],
        [1, "happy1_1", 30, 40, 60, "12", "positive", "macro-expression", "happy"],
        [3, "happy1_1", 5, 8, 12, "12", "positive", "micro-expression", ""],
        [1, "happy1_2", 150, 0, 160, "12", "positive", "micro-expression", ""],  # apex not coded
    ]
    _casme_sq_sheet(root, rows, naming=naming)


def test_casme_sq_reader_maps_participants_and_clips_to_the_frame_folders(tmp_path):
    from analysis.datasets import casme_sq

    _casme_sq_release(tmp_path)
    res = read_spec(f"casme_sq:{tmp_path}", "3", include_macro=True)
    assert res.errors == []
    got = sorted((s.subject, s.video, s.onset, s.apex, s.offset, s.type, s.label) for s in res.samples)
    assert got == [
        ("s15", "15_0101disgustingteeth", 10, 15, 20, "micro", "negative"),
        ("s15", "15_0101disgustingteeth", 100, 120, 120, "macro", "negative"),  # offset 0: the apex
        ("s15", "15_0502funnyerrors", 30, 40, 60, "macro", "positive"),
        ("s15", "15_0502funnyerrors", 150, 155, 160, "micro", "positive"),  # apex 0: the middle frame
        ("s19", "23_0502funnyerrors", 5, 8, 12, "micro", "positive"),
    ]
    assert any("row 2" in p and "offset 0" in p for p in res.problems), res.problems
    assert not any("naming" in p for p in res.problems)
    # another spelling of the kind; macro rows left out unless asked, counted
    res = read_spec(f"cas(me)^2:{tmp_path}", "3")
    assert len(res.samples) == 3 and res.left_out["macro-expression"] == 2
    assert sorted(casme_sq.long_videos(tmp_path)) == [
        "s15/15_0101disgustingteeth",
        "s15/15_0502funnyerrors",
        "s16/16_0101disgustingteeth",
        "s19/23_0502funnyerrors",
    ]


def test_casme_sq_without_naming_sheets_uses_the_published_naming(tmp_path):
    _casme_sq_release(tmp_path, naming=False)
    res = read_spec(f"casme_sq:{tmp_path}", "3", include_macro=True)
    assert res.errors == [] and len(res.samples) == 5
    assert any("naming" in p and "published" in p for p in res.problems)


def test_casme_sq_bad_rows_are_named(tmp_path):
    raw = tmp_path / "rawpic"
    _touch_frames(raw / "s15" / "15_0101disgustingteeth", 30)
    rows = [
        [1, "disgust1_1", 10, 15, 20, "4", "negative", "micro-expression", ""],
        [9, "disgust1_2", 10, 15, 20, "4", "negative", "micro-expression", ""],  # participant not named
        [2, "disgust2_1", 10, 15, 20, "4", "negative", "micro-expression", ""],  # s16 has no such folder
        [1, "disgust1_3", 40, 45, 50, "4", "negative", "micro-expression", ""],  # frames past the video
        [1, "disgust1_4", 10, 15, 20, "4", "negative", "smile", ""],
    ]
    _casme_sq_sheet(tmp_path, rows)
    res = read_spec(f"casme_sq:{tmp_path}", "3", include_macro=True)
    assert len(res.samples) == 1
    errs = "\n".join(res.errors)
    assert "row 2" in errs and "'9'" in errs
    assert "row 3" in errs and "s16" in errs and "0102" in errs
    assert "row 4" in errs and "40" in errs
    assert "row 5" in errs and "'smile'" in errs
    # a row whose onset is no frame number stops the read, naming sheet and row
    _casme_sq_sheet(tmp_path, [rows[0], [1, "disgust1_2", "ten", 15, 20, "4", "negative", "micro-expression", ""]])
    with pytest.raises(FileFormatError, match=r"code_final\.xlsx, row 2: onset"):
        read_spec(f"casme_sq:{tmp_path}", "3")


def test_evaluate_spotting_refuses_a_bad_release_before_spotting(tmp_path, capsys):
    raw = tmp_path / "rawpic"
    _touch_frames(raw / "s15" / "15_0101disgustingteeth", 30)
    _casme_sq_sheet(tmp_path, [[1, "disgust2_1", 10, 15, 20, "4", "negative", "micro-expression", ""]])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["evaluate-spotting", "--dataset", f"casme_sq:{tmp_path}"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "row 1" in err and "0102" in err, err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    for bad in (["--step", "0"], ["--fps", "-3"]):
        assert main(["evaluate-spotting", "--dataset", f"casme_sq:{tmp_path}", *bad]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and bad[0] in err


# ---------------------------------------------------------------- SAMM Long Videos

HEADER = [
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset",
    "Apex",
    "Offset",
    "Duration",
    "Type",
    "Action Units",
    "Notes",
]


def _samm_lv_sheet(root, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in ("SAMM Long Videos", "", "Micro- and macro-movements", "FACS coded", "", "", "", "", ""):
        ws.append([line])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    wb.save(root / "SAMM_LongVideos_V3_Release.xlsx")


def test_samm_lv_reader_finds_the_header_and_the_videos(tmp_path):
    from analysis.datasets import samm_lv

    base = tmp_path / "SAMM_longvideos"
    _touch_frames(base / "006_1", 400, "006_1_{k:04d}.jpg")
    _touch_frames(base / "007_2", 100, "007_2_{k:04d}.jpg")
    _touch_frames(base / "008_1", 50, "008_1_{k:04d}.jpg")  # no expression coded
    _samm_lv_sheet(
        tmp_path,
        [
            [6, "006_1_1", 1, 100, 110, 120, 21, "Micro - 1/2", "4", ""],
            [6, "006_1_2", 1, 0, 200, 390, 391, "Macro", "12", "long"],  # onset 0: left out
            [6, "006_1_3", 1, 300, -1, 340, 41, "Macro", "12", ""],  # apex not coded (-1)
            [7, "007_2_1", 2, 50, 60, 0, 0, "Micro - 1/2", "1+2", ""],  # offset not coded
        ],
    )
    res = read_spec(f"samm_lv:{tmp_path}", "3", include_macro=True)
    assert res.errors == []
    got = sorted((s.subject, s.video, s.onset, s.apex, s.offset, s.type, s.label) for s in res.samples)
    assert got == [
        ("006", "006_1", 100, 110, 120, "micro", None),
        ("006", "006_1", 300, 320, 340, "macro", None),
        ("007", "007_2", 50, 60, 60, "micro", None),
    ]
    assert res.left_out["macro-expression with onset 0 (not coded)"] == 1
    assert any("row 13" in p and "middle" in p for p in res.problems), res.problems
    assert any("row 14" in p and "offset" in p for p in res.problems), res.problems
    assert len(read_spec(f"sammlv:{tmp_path}", "3").samples) == 2  # macro rows left out unless asked
    assert sorted(samm_lv.long_videos(tmp_path)) == ["006/006_1", "007/007_2", "008/008_1"]
    _samm_lv_sheet(
        tmp_path, [[6, "006_1_1", 1, 100, 110, 120, 21, "Blink", "4", ""], [6, "6-1", 1, 1, 2, 3, 3, "Micro", "", ""]]
    )
    res = read_spec(f"samm_lv:{tmp_path}", "3")
    assert "row 11" in res.errors[0] and "'Blink'" in res.errors[0]
    assert "row 12" in res.errors[1] and "'6-1'" in res.errors[1]


def test_samm_lv_sheet_without_its_columns_is_named(tmp_path):
    _touch_frames(tmp_path / "SAMM_longvideos" / "006_1", 10, "006_1_{k:04d}.jpg")
    wb = openpyxl.Workbook()
    wb.active.append(["Subject", "Filename", "Onset", "Offset"])
    wb.save(tmp_path / "SAMM_LongVideos_V1_Release.xlsx")
    with pytest.raises(MexlabError, match=r"SAMM_LongVideos_V1_Release\.xlsx: missing column\(s\) Apex, Type"):
        read_spec(f"samm_lv:{tmp_path}", "3")


# ---------------------------------------------------------------- thinning a fast release


def test_encode_thins_frames_in_their_own_numbering(tmp_path):
    """Every step-th frame goes into the video; a frame the release dropped is the one before it."""
    import av

    from analysis.spotting.dataset_eval import _encode, default_step

    assert (default_step(200.0), default_step(30.0), default_step(60.0), default_step(25.0)) == (7, 1, 2, 1)
    files = {}
    for k in range(1, 21):  # numbered from 1, as CAS(ME)^2 and SAMM-LV are; frame 9 dropped
        if k == 9:
            continue
        p = tmp_path / f"f_{k:04d}.png"
        cv2.imwrite(str(p), np.full((48, 64, 3), 10 * k, np.uint8))
        files[k] = str(p)
    n = _encode(files, tmp_path / "v.mp4", 60.0, 3)
    with av.open(str(tmp_path / "v.mp4")) as c:
        st = c.streams.video[0]
        assert round(float(st.average_rate)) == 20
        means = [float(f.to_ndarray(format="gray").mean()) for f in c.decode(st)]
    assert n == len(means) == 7  # frames 0, 3, …, 18
    # frame 0 is not in the release: the first one is used; 9 was dropped: 8 is used
    want = [10, 30, 60, 80, 120, 150, 180]
    assert all(abs(m - w) < 4 for m, w in zip(means, want, strict=True)), means


# ---------------------------------------------------------------- spotted end to end


def _jpg(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


@pytest.mark.face_model
def test_evaluate_spotting_on_a_casme_sq_release(tmp_path, capsys):
    """A CAS(ME)^2 release (held-out face, frames img1.jpg …): the coded video's micro-expressions
    are found; a video with nothing coded is spotted too, and scored."""
    s = clip_schedule()
    vid = tmp_path / "rawpic" / "s15" / "15_0101disgustingteeth"
    vid.mkdir(parents=True)
    for k, img in render_frames(make_identity("grace_hopper/1"), s):
        _jpg(vid / f"img{k + 1}.jpg", img)
    calm = tmp_path / "rawpic" / "s16" / "16_0101disgustingteeth"
    calm.mkdir(parents=True)
    for k, img in render_frames(make_identity("grace_hopper/2"), clip_schedule(40), seed=2):
        _jpg(calm / f"img{k + 1}.jpg", img)
    rows = [
        [
            1,
            f"disgust1_{i + 1}",
            e.onset + 1,
            e.apex + 1,
            e.offset + 1,
            "+".join(e.aus),
            "negative",
            "micro-expression",
            "",
        ]
        for i, e in enumerate(s.of_kind("micro"))
    ]
    rows[0][6] = "fear/surprise"  # a label no class scheme knows: it stops recognition, not spotting
    _casme_sq_sheet(tmp_path, rows)
    with pytest.raises(MexlabError, match="fear/surprise"):
        read_spec(f"casme_sq:{tmp_path}", "3")
    assert main(["evaluate-spotting", "--dataset", f"casme_sq:{tmp_path}", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["dataset"] == "casme_sq" and res["step"] == 1 and len(res["videos"]) == 2
    assert res["videos_without_expressions"] == 1
    v = {x["video"]: x for x in res["videos"]}
    assert v["s15/15_0101disgustingteeth"]["frames"] == 241 and v["s15/15_0101disgustingteeth"]["truth"] == 4
    assert res["overall"]["tp"] >= 3 and res["overall"]["fp"] <= 1, res["videos"]


@pytest.mark.face_model
def test_evaluate_spotting_on_a_samm_lv_release_thinned(tmp_path, capsys):
    """A SAMM-LV release at 60 fps (each rendered frame written twice, numbered from 1): spotted on
    every second frame, the intervals back in the release's numbering match the sheet's."""
    s = clip_schedule()
    vid = tmp_path / "SAMM_longvideos" / "006_1"
    vid.mkdir(parents=True)
    for k, img in render_frames(make_identity("grace_hopper/1"), s):
        _jpg(vid / f"006_1_{2 * k + 1:04d}.jpg", img)
        _jpg(vid / f"006_1_{2 * k + 2:04d}.jpg", img)
    rows = [
        [
            6,
            f"006_1_{i + 1}",
            1,
            2 * e.onset + 1,
            2 * e.apex + 1,
            2 * e.offset + 2,
            0,
            "Micro - 1/2",
            "+".join(e.aus),
            "",
        ]
        for i, e in enumerate(s.of_kind("micro"))
    ]
    _samm_lv_sheet(tmp_path, rows)
    assert main(["evaluate-spotting", "--dataset", f"samm_lv:{tmp_path}", "--fps", "60", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["step"] == 2 and res["fps"] == 60
    (v,) = res["videos"]
    assert v["frames"] == 481 and v["frames_spotted"] == 241 and v["truth"] == 4
    assert res["overall"]["tp"] >= 3 and res["overall"]["fp"] <= 1, v
    for iv in v["intervals"]:  # in the release's numbering: spans of the doubled frames
        assert iv["onset"] % 2 == 0 and iv["offset"] % 2 == 1 and iv["offset"] <= 480
