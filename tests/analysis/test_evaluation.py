"""Spotting evaluation (interval IoU, strict one-to-one matching) and recognition metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acquisition.errors import MexlabError
from analysis.evaluation import (
    evaluate_spotting,
    evaluate_spotting_files,
    interval_iou,
    loso_splits,
    match_intervals,
    read_intervals,
    uar,
    uf1,
)
from app.cli import main


def write(path: Path, rows: list[tuple], header="video,onset,offset,type") -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_iou_uses_inclusive_ends():
    assert interval_iou(0, 9, 0, 9) == 1.0
    assert interval_iou(0, 9, 9, 18) == pytest.approx(1 / 19)  # one shared frame
    assert interval_iou(0, 9, 10, 19) == 0.0  # adjacent: nothing shared
    assert interval_iou(5, 5, 5, 5) == 1.0  # one-frame intervals


def test_iou_exactly_half_counts_as_a_match():
    # [0, 9] vs [5, 14]: 5 shared of 15 → 1/3; [0, 9] vs [0, 4]: 5 of 10 → exactly 0.5
    assert interval_iou(0, 9, 0, 4) == 0.5
    assert match_intervals([(0, 9)], [(0, 4)]) == [(0, 0)]
    # [0, 8] vs [0, 3]: 4 of 9 < 0.5
    assert match_intervals([(0, 8)], [(0, 3)]) == []
    # inclusive vs exclusive end: [0,9] vs [3,12] is 7/13 (match) inclusive; exclusive reading
    # (0..8 vs 3..11) would give 6/12 too, but [0,9] vs [4,13] is 6/14 < 0.5 inclusive
    assert match_intervals([(0, 9)], [(3, 12)]) == [(0, 0)]
    assert match_intervals([(0, 9)], [(4, 13)]) == []


def test_one_prediction_overlapping_two_truths_matches_only_one():
    gt = [(0, 9, "micro"), (5, 14, "micro")]
    pred = [(2, 12, "micro")]  # IoU 8/13 with the first, 8/15 with the second
    res = evaluate_spotting({"v": gt}, {"v": pred})["overall"]
    assert (res["tp"], res["fp"], res["fn"]) == (1, 0, 1)


def test_matching_is_maximum_not_greedy():
    # p0 overlaps both truths and g0 best (0.82); p1 only g0 (0.6). Greedy by IoU takes g0↔p0 and
    # leaves p1 and g1 unmatched (1 TP); the maximum matching is g1↔p0 (0.67) and g0↔p1 (2 TP).
    gt = [(0, 9), (3, 12)]
    pred = [(1, 10), (0, 5)]
    assert interval_iou(1, 10, 0, 9) > interval_iou(1, 10, 3, 12) >= 0.5
    assert interval_iou(0, 5, 0, 9) >= 0.5 > interval_iou(0, 5, 3, 12)
    assert sorted(match_intervals(gt, pred)) == [(0, 1), (1, 0)]
    res = evaluate_spotting({"v": [g + ("micro",) for g in gt]}, {"v": [p + ("micro",) for p in pred]})["overall"]
    assert (res["tp"], res["fp"], res["fn"]) == (2, 0, 0)
    gt2 = [(0, 9), (10, 19)]
    pred2 = [(0, 9), (0, 9)]  # a duplicate prediction is a false positive
    assert len(match_intervals(gt2, pred2)) == 1


def test_types_and_videos_on_one_side(tmp_path):
    gt = write(tmp_path / "gt.csv", [("a", 0, 9, "micro"), ("a", 30, 89, "macro"), ("only_gt", 0, 9, "micro")])
    pred = write(tmp_path / "pred.csv", [("a", 1, 9, "micro"), ("a", 30, 80, "micro"), ("only_pred", 5, 9, "macro")])
    res = evaluate_spotting_files(gt, pred)
    o, mi, ma = res["overall"], res["micro"], res["macro"]
    # overall: a/0-9 ↔ 1-9 and a/30-89 ↔ 30-80 (types ignored); only_gt FN; only_pred FP
    assert (o["tp"], o["fp"], o["fn"]) == (2, 1, 1)
    assert o["precision"] == pytest.approx(2 / 3) and o["recall"] == pytest.approx(2 / 3)
    assert o["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # micro: truths a/0-9, only_gt; predictions a/1-9, a/30-80 → 1 TP, 1 FP, 1 FN
    assert (mi["tp"], mi["fp"], mi["fn"]) == (1, 1, 1)
    # macro: truth a/30-89 has no macro prediction; only_pred is a macro FP
    assert (ma["tp"], ma["fp"], ma["fn"]) == (0, 1, 1)


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = write(tmp_path / "h.csv", [])
    gt = write(tmp_path / "gt.csv", [("v", 0, 9, "micro")])
    assert read_intervals(header_only) == {}  # a header and no rows: nothing spotted
    r = evaluate_spotting_files(gt, header_only)["overall"]
    assert (r["tp"], r["fp"], r["fn"], r["precision"], r["recall"], r["f1"]) == (0, 0, 1, 0, 0, 0)
    r = evaluate_spotting_files(header_only, header_only)["overall"]
    assert (r["tp"], r["fp"], r["fn"], r["f1"]) == (0, 0, 0, 0.0)
    for args in ((gt, empty), (empty, gt)):  # an empty file was read as "no predictions"
        with pytest.raises(MexlabError, match=r"empty\.csv: the file is empty"):
            evaluate_spotting_files(*args)


def test_apex_column_is_optional_and_ignored(tmp_path):
    gt = write(tmp_path / "gt.csv", [("v", 0, 4, 9, "micro")], "video,onset,apex,offset,type")
    pred = write(tmp_path / "p.csv", [("v", 0, 9, "MICRO")])
    assert evaluate_spotting_files(gt, pred)["micro"]["tp"] == 1


@pytest.mark.parametrize(
    "rows,header,msg",
    [
        ([("v", 0, 9)], "video,onset,offset", "missing column(s) type"),
        ([("v", "x", 9, "micro")], None, "line 2: onset and offset must be whole frame numbers"),
        ([("v", 9, 3, "micro")], None, "line 2: interval [9, 3] is not valid"),
        ([("v", 0, 9, "blink")], None, "line 2: type 'blink' is not micro or macro"),
    ],
)
def test_bad_files_give_one_clear_message(tmp_path, rows, header, msg):
    p = write(tmp_path / "bad.csv", rows, header or "video,onset,offset,type")
    with pytest.raises(MexlabError) as e:
        read_intervals(p)
    assert msg in str(e.value) and str(p) in str(e.value)


def test_cli_json_and_errors(tmp_path, capsys):
    gt = write(tmp_path / "gt.csv", [("v", 0, 9, "micro"), ("v", 100, 160, "macro")])
    pred = write(tmp_path / "p.csv", [("v", 0, 8, "micro"), ("v", 40, 50, "micro")])
    assert main(["evaluate-spotting", "--gt", str(gt), "--pred", str(pred), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"overall", "micro", "macro"}
    assert set(out["overall"]) == {"tp", "fp", "fn", "precision", "recall", "f1"}
    assert (out["overall"]["tp"], out["overall"]["fp"], out["overall"]["fn"]) == (1, 1, 1)
    assert out["micro"]["f1"] == pytest.approx(2 / 3)
    assert main(["evaluate-spotting", "--gt", str(gt), "--pred", str(pred)]) == 0
    assert "overall" in capsys.readouterr().out
    rc = main(["evaluate-spotting", "--gt", str(tmp_path / "nope.csv"), "--pred", str(pred)])
    err = capsys.readouterr().err
    assert rc == 2 and "nope.csv: no such file" in err and "Traceback" not in err


def test_uf1_uar():
    y = ["pos", "pos", "pos", "neg", "sur"]
    p = ["pos", "pos", "neg", "neg", "pos"]
    # pos: TP2 FP1 FN1 → F1 4/6 ; neg: TP1 FP1 FN0 → 2/3 ; sur: TP0 FP0 FN1 → 0
    assert uf1(y, p) == pytest.approx((4 / 6 + 2 / 3 + 0) / 3)
    # recalls: pos 2/3, neg 1, sur 0
    assert uar(y, p) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert uf1(y, y) == 1.0 and uar(y, y) == 1.0
    with pytest.raises(ValueError):
        uf1(["a"], [])


def test_loso_splits_never_share_a_subject():
    subjects = ["s1", "s2", "s1", "s3", "s2", "s2"]
    folds = loso_splits(subjects)
    assert [f[0] for f in folds] == ["s1", "s2", "s3"]
    for s, train, test in folds:
        assert {subjects[i] for i in test} == {s}
        assert s not in {subjects[i] for i in train}
        assert sorted(list(train) + list(test)) == list(range(len(subjects)))
