"""Dataset readers on synthetic trees laid out exactly as the public releases are (written here)."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

from acquisition.errors import MexlabError
from analysis.datasets import get_scheme, parse_spec, read_spec
from analysis.datasets.summary import summarize

REPO = Path(__file__).resolve().parents[2]


def _img(path: Path, depth=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = (
        np.full((12, 16), 600, np.uint16)
        if depth
        else np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    )
    assert cv2.imwrite(str(path), a)


def _xlsx(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)


def casme2_tree(root: Path, rows=None, skip=()):
    rows = rows or [
        (1, "EP02_01f", 46, 59, 86, "1+2", "surprise"),
        (1, "EP03_02", 10, 14, 20, "12", "happiness"),
        (2, "EP01_11f", 5, 9, 12, "4", "repression"),
        (2, "EP05_09", 3, 5, 8, "14", "others"),
    ]
    head = [
        "Subject",
        "Filename",
        "",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "",
        "Action Units",
        "Estimated Emotion",
    ]
    _xlsx(
        root / "CASME2-coding-20140508.xlsx",
        [head] + [[s, f, None, on, ap, off, None, au, em] for s, f, on, ap, off, au, em in rows],
    )
    for s, f, on, _ap, off, *_ in rows:
        for k in range(on, off + 1):
            if (f, k) not in skip:
                _img(root / "CASME2_RAW_selected" / f"sub{s:02d}" / f / f"img{k}.jpg")
    return root


def test_casme2(tmp_path):
    res = read_spec(f"casme2:{casme2_tree(tmp_path / 'CASME2')}", "3")
    assert [(s.subject, s.video, s.onset, s.apex, s.offset, s.label) for s in res.samples] == [
        ("sub01", "EP02_01f", 46, 59, 86, "surprise"),
        ("sub01", "EP03_02", 10, 14, 20, "positive"),
        ("sub02", "EP01_11f", 5, 9, 12, "negative"),
        ("sub02", "EP05_09", 3, 5, 8, None),
    ]
    s = res.samples[0]
    assert s.rgb.files[59].endswith("sub01/EP02_01f/img59.jpg") and s.depth is None
    assert res.left_out == {"label others left out by scheme 3: 1".rsplit(":", 1)[0]: 1}
    assert not res.errors
    five = read_spec(f"casme2:{tmp_path / 'CASME2'}", "5")
    assert [s.label for s in five.samples] == ["surprise", "happiness", "repression", "others"]


def test_casme2_frames_named_but_absent_are_named_with_their_path(tmp_path):
    root = casme2_tree(tmp_path / "C", skip={("EP03_02", 14)})
    res = read_spec(f"casme2:{root}", "3")
    assert len(res.errors) == 1
    assert str(root / "CASME2_RAW_selected/sub01/EP03_02/img14.jpg") in res.errors[0]
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "datasets", "show", f"casme2:{root}"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode != 0 and "img14.jpg" in r.stdout and "Traceback" not in r.stderr


def test_unknown_labels_are_named_and_a_mapping_file_maps_them(tmp_path):
    root = casme2_tree(tmp_path / "C", rows=[(1, "EP1", 1, 2, 3, "4", "sadness"), (2, "EP2", 1, 2, 3, "4", "grumpy")])
    with pytest.raises(MexlabError, match=r"unknown emotion label.*'grumpy'.*row 3"):
        read_spec(f"casme2:{root}", "3")
    m = tmp_path / "map.csv"
    m.write_text("label,class\nsadness,low\ngrumpy,low\n# none\n")
    res = read_spec(f"casme2:{root}", str(m))
    assert [s.label for s in res.samples] == ["low", "low"]


def test_sheet_with_missing_columns(tmp_path):
    root = tmp_path / "C"
    _xlsx(root / "CASME2-coding-x.xlsx", [["Subject", "Filename", "OnsetFrame"], [1, "EP", 3]])
    with pytest.raises(MexlabError, match="missing column.*ApexFrame"):
        read_spec(f"casme2:{root}", "3")


def test_missing_folder_and_bad_spec(tmp_path):
    with pytest.raises(MexlabError, match="no such folder"):
        read_spec(f"samm:{tmp_path / 'nope'}", "3")
    with pytest.raises(MexlabError, match="KIND:ROOT"):
        parse_spec("casme9:/x")
    with pytest.raises(MexlabError, match="neither 3, 5, 4, 7"):
        get_scheme("9")


def test_samm_header_found_after_the_preamble(tmp_path):
    root = tmp_path / "SAMM"
    pre = [["SAMM Micro-Movement Database"], ["Action Units coded by ..."], [], ["note", "x"]]
    head = [
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Type",
        "Action Units",
        "Notes",
        "Estimated Emotion",
    ]
    rows = [
        [6, "006_1_2", 1, 5562, 5588, 5618, 57, "Micro - 1/2", "4+7", "", "Anger"],
        [7, "007_3_1", 3, 101, 104, 110, 10, "Micro - 1/2", "12", "", "Happiness"],
        [7, "007_3_2", 3, 200, 204, 210, 10, "Micro - 1/2", "A1", "", "Other"],
    ]
    _xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", pre + [head] + rows)
    for r in rows:
        subj = f"{r[0]:03d}"
        for k in range(r[3], r[5] + 1):
            _img(root / subj / r[1] / f"{subj}_{k:05d}.jpg")
    res = read_spec(f"samm:{root}", "3")
    assert [(s.subject, s.video, s.onset, s.apex, s.label) for s in res.samples] == [
        ("006", "006_1_2", 5562, 5588, "negative"),
        ("007", "007_3_1", 101, 104, "positive"),
        ("007", "007_3_2", 200, 204, None),
    ]
    assert res.samples[0].origin == "SAMM_Micro_FACS_Codes_v2.xlsx row 6"


def test_smic_class_from_folders(tmp_path):
    root = tmp_path / "SMIC"
    for subj, cls, clip, n in [
        ("s1", "negative", "s1_ne_01", 5),
        ("s1", "positive", "s1_po_02", 4),
        ("s2", "surprise", "s2_sur_01", 6),
    ]:
        for k in range(n):
            _img(root / "HS" / subj / "micro" / cls / clip / f"image{100 + k:06d}.bmp")
    (root / "VIS" / "s9").mkdir(parents=True)
    res = read_spec(f"smic:{root}", "3")
    assert [(s.subject, s.video, s.onset, s.apex, s.offset, s.label) for s in res.samples] == [
        ("s1", "s1_ne_01", 100, 102, 104, "negative"),
        ("s1", "s1_po_02", 100, 101, 103, "positive"),
        ("s2", "s2_sur_01", 100, 102, 105, "surprise"),
    ]


def casme3_tree(root: Path, dropped=(), sheet_rows=None):
    data = root / "part_A" / "data" / "part_A"
    head = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion", "Expression type"]
    rows = sheet_rows or [
        ["spNO.1", "a", 0, 3, 6, "12", 1, "happy", "Micro-expression"],
        ["spNO.1", "a", 10, 14, 40, "4", 2, "disgust", "Macro-expression"],
        ["spNO.2", "b", 20, 22, 25, "1+2", 3, "surprise", "Micro-expression"],
    ]
    for r in rows:
        for k in range(r[2], r[4] + 1):
            if (r[0], k) in dropped:
                continue
            _img(data / r[0] / r[1] / "color" / f"{k}.jpg")
            _img(data / r[0] / r[1] / "depth" / f"{k}.png", depth=True)
    _xlsx(root / "part_A" / "annotation" / "CAS(ME)3_part_A_v2.xlsx", [head] + rows)
    return root


def test_casme3_dropped_frames_counted_never_shifted_and_macro_left_out(tmp_path):
    root = casme3_tree(tmp_path / "C3", dropped={("spNO.1", 2), ("spNO.1", 4)})
    res = read_spec(f"casme3:{root}", "4")
    assert [(s.subject, s.video, s.onset, s.apex, s.offset, s.label) for s in res.samples] == [
        ("spNO.1", "a", 0, 3, 6, "positive"),
        ("spNO.2", "b", 20, 22, 25, "surprise"),
    ]
    s = res.samples[0]
    assert s.missing == (2, 4) and res.dropped == {"spNO.1/a": 2}
    assert [k for k in sorted(s.rgb.files) if k <= 6] == [0, 1, 3, 5, 6] and s.rgb.files[5].endswith("color/5.jpg")
    assert s.depth.files[3].endswith("depth/3.png")
    assert res.left_out == {"macro-expression": 1}
    with_macro = read_spec(f"casme3:{root}", "4", include_macro=True)
    assert [s.type for s in with_macro.samples] == ["micro", "macro", "micro"]
    d = summarize(res)
    assert d["dropped_total"] == 2 and d["per_subject"]["spNO.2"] == {"surprise": 1}


def test_casme3_xls_needs_xlrd_or_says_so(tmp_path):
    pytest.importorskip("openpyxl")
    root = casme3_tree(tmp_path / "C3")
    x = root / "part_A" / "annotation" / "CAS(ME)3_part_A_v2.xlsx"
    x.rename(x.with_suffix(".xls"))
    try:
        import xlrd  # noqa: F401

        pytest.skip("xlrd installed: .xls is read by it")
    except ImportError:
        pass
    with pytest.raises(MexlabError, match="needs the xlrd package"):
        read_spec(f"casme3:{root}", "4")


def test_datasets_show_cli(tmp_path):
    root = casme3_tree(tmp_path / "C3", dropped={("spNO.2", 23)})
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "datasets", "show", f"casme3:{root}", "--classes", "4"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    assert "spNO.1" in r.stdout and "dropped frames: 1" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "datasets", "show", f"casme3:{tmp_path / 'none'}"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode != 0 and "no such folder" in r.stderr and "Traceback" not in r.stderr
