"""The HTML report: self-contained (embedded PNG figures), with timelines, group plots and tests."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.image as mpimg
import pytest
from matplotlib.figure import Figure

from acquisition.errors import OutputError
from analysis.report import plots
from analysis.report.html import write_report
from analysis.study import analyse_study
from app.cli import main
from tests.helpers_physio import aborted_copy

pytestmark = [pytest.mark.usefixtures("record_early")]  # starts the shared recordings early (conftest.py)


def _images(text: str) -> list:
    out = []
    for b64 in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text):
        raw = base64.b64decode(b64)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        out.append(mpimg.imread(io.BytesIO(raw), format="png"))
    return out


def test_report_cli(study, tmp_path, capsys):
    out = tmp_path / "report.html"
    rc = main(
        [
            "report",
            str(study["sim1"]),
            str(study["sim2"]),
            str(study["lsl"]),
            "--by",
            "condition",
            "--out",
            str(out),
            "--title",
            "Deception <pilot>",
            "--use-ground-truth",
        ]
    )
    cap = capsys.readouterr()
    assert rc == 0 and f"report written to {out}" in cap.out
    assert "[3/3] timeline of lsl" in cap.err  # progress on stderr
    text = out.read_text(encoding="utf-8")
    assert "Deception &lt;pilot&gt;" in text  # user text is escaped
    # nothing fetched: no http(s) address in the page (the embedded images' base64 left out: it
    # spells "http" by chance now and then, as a CI run of 2026-12-03 found)
    body = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "data:", text.split("<body>")[1])
    assert "http" not in body.split("docs/physiology.md")[0]
    images = _images(text)
    # 3 timelines + group plot + event-locked HR + correlations
    assert len(images) == 6
    assert all(img.shape[0] > 150 and img.shape[1] > 300 for img in images)
    for label in ("sim1", "sim2", "lsl", "SIM1", "SIM2", "P3", "truthful", "deceptive"):
        assert label in text
    assert text.count("paired t") >= 3  # rows of the tests table
    assert "Cohen's d [95 % CI]" in text and "no EMG" in text
    # the truth was asked for: a banner says so before anything else
    banner = text.index("class='banner'>Ground truth used as results")
    assert banner < text.index("<h2>Sessions</h2>") and "sim1, sim2" in text[banner : banner + 200]


def test_report_without_spotting_never_shows_truth(study, tmp_path, capsys):
    """The defect: the report used the rig's ground truth for sessions never spotted, silently."""
    copy = aborted_copy(study["sim1"], tmp_path)
    out = tmp_path / "report.html"
    rc = main(["report", str(study["sim1"]), str(copy), "--out", str(out)])
    capsys.readouterr()
    assert rc == 0
    text = out.read_text(encoding="utf-8")
    assert "Ground truth used" not in text and "ground_truth.csv)" not in text
    assert "Not spotted, so without ME events: sim1" in text
    # the aborted run is left out, and the page says which and why
    left = text.index("<b>Left out: 1 session(s)</b>")
    assert left < text.index("<h2>Sessions</h2>") and "aborted at step 3 of 9" in text[left : left + 400]
    # the health verdict, as check gives it, in the sessions table
    from acquisition.check import check_path
    from acquisition.health import format_health

    assert format_health(check_path(study["sim1"])["health"]) in text


def test_timeline_panels(analysed):
    res = analyse_study([], sessions=analysed, by="condition")
    sim, _, lsl = res.sessions
    fig = plots.timeline_figure(sim)
    assert isinstance(fig, Figure)
    # events, heart rate, EDA, EMG (+ the EMG colour bar)
    assert [a.get_ylabel() for a in fig.axes[:4]][1:3] == ["HR (bpm)", "EDA (µS)"]
    assert len(fig.axes) == 5
    assert len(plots.timeline_figure(lsl).axes) == 3  # no EMG in the lsl session
    assert plots.to_png(fig)[:4] == b"\x89PNG"
    g = plots.group_figure(res.table, "condition")
    assert g is not None and any("ME rate" in a.get_title() for a in g.axes)


def test_a_long_line_is_drawn_as_the_min_and_max_of_bins():
    """An hour's EDA is drawn with as many points as ten minutes' (the report's memory stays flat),
    and no peak or trough is lost."""
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(115_211) / 32.0  # an hour at 32 Hz, not a multiple of the bins
    y = np.cumsum(rng.normal(size=t.size))
    y[40_000] += 50.0  # a one-sample spike
    tt, yy = plots.envelope(t, y, bins=1000)
    assert tt.size <= 2 * 1000 + 4 and np.all(np.diff(tt) > 0)  # the bins, the tail, the first and last
    assert yy.max() == y.max() and yy.min() == y.min() and t[40_000] in tt
    assert np.isin(yy, y).all()  # samples, not averages
    assert tt[0] == t[0] and tt[-1] == t[-1]
    short = np.arange(100.0)
    assert plots.envelope(short, short)[0] is short  # short lines: as they are
    gap = y.copy()
    gap[5] = np.nan
    assert plots.envelope(t, gap)[1].size == t.size  # a line with gaps: whole


def test_report_output_errors(analysed, tmp_path, capsys):
    res = analyse_study([], sessions=analysed[2:])
    with pytest.raises(OutputError, match="does not exist"):
        write_report(res, tmp_path / "no" / "r.html")
    with pytest.raises(OutputError, match="is a folder"):
        write_report(res, tmp_path)
    rc = main(["report", str(tmp_path / "missing-session"), "--out", str(tmp_path / "r.html")])
    assert rc == 2 and "no such file or folder" in capsys.readouterr().err


def test_report_counts_recognised_mes_per_class_and_paradigm(tmp_path):
    """Per-class counts from each session's analysis/recognition.json, per paradigm (protocol);
    sessions without a result and unreadable results are named; several models are flagged."""
    import json
    from types import SimpleNamespace as NS

    from analysis.report.classes import class_counts
    from analysis.report.html import _classes_section

    def session(name, protocol, classes, sha="a" * 64, raw=None):
        f = tmp_path / name
        (f / "analysis").mkdir(parents=True)
        if raw is not None:
            (f / "analysis" / "recognition.json").write_text(raw)
        elif classes is not None:
            (f / "analysis" / "recognition.json").write_text(
                json.dumps(
                    {
                        "model": "/m/recognition_default.safetensors",
                        "model_sha256": sha,
                        "classes": ["negative", "positive", "surprise"],
                        "expressions": [
                            {"onset": 1, "apex": 2, "offset": 3, "class": c, "confidence": 0.9} for c in classes
                        ],
                    }
                )
            )
        return NS(folder=f, label=name, protocol=protocol)

    ss = [
        session("s1", "deception", ["negative", "negative", "surprise"]),
        session("s2", "deception", ["positive"]),
        session("s3", None, ["negative"]),
        session("s4", "deception", None),
        session("s5", "films", [], raw="{not json"),
        NS(folder=None, label="bare.xdf", protocol=None),
    ]
    cc = class_counts(ss)
    assert cc.classes == ["negative", "positive", "surprise"]
    assert cc.counts == {"deception": {"negative": 2, "surprise": 1, "positive": 1}, "(no protocol)": {"negative": 1}}
    assert cc.sessions == {"deception": 2, "(no protocol)": 1} and cc.total("deception") == 4
    assert cc.missing == ["s4", "bare.xdf"] and len(cc.problems) == 1 and "s5" in cc.problems[0]
    html = _classes_section(NS(sessions=[NS(session=s) for s in ss]))
    assert "<th class=\"\">negative</th>" in html or ">negative</th>" in html
    assert (
        "<td class=\"l\">deception</td><td class=\"\">2</td><td class=\"\">2</td>"
        "<td class=\"\">1</td><td class=\"\">1</td><td class=\"\">4</td>" in html
    )
    assert "not recognised yet: s4, bare.xdf" in html and "several models" not in html
    ss.append(session("s6", "films", ["positive"], sha="b" * 64))
    assert "several models: counts are not comparable" in _classes_section(NS(sessions=[NS(session=s) for s in ss]))
    empty = _classes_section(NS(sessions=[NS(session=ss[3])]))
    assert "no session has a recognition result" in empty
