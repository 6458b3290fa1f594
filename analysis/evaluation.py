"""Evaluation: spotting (interval matching, MEGC-style) and recognition metrics (UF1, UAR, LOSO).

Spotting
--------
Both files are CSVs with columns ``video, onset, offset, type`` (``apex`` optional, ignored);
frames are 0-based and **inclusive** (an interval ``[10, 19]`` is 10 frames). ``type`` is ``micro``
or ``macro``. For each video, a prediction and a truth interval may match when

    IoU = |P ∩ G| / |P ∪ G| ≥ 0.5      (frame counts, inclusive ends; exactly 0.5 counts)

and matching is strictly one-to-one: the largest set of such pairs is found with a maximum bipartite
matching (``scipy.optimize.linear_sum_assignment``, ties broken towards higher IoU), never greedily.
TP = matched pairs; FP = unmatched predictions; FN = unmatched truths. TP, FP and FN are summed over
all videos (a video on one side only contributes all its intervals as FP or FN) before

    precision = TP/(TP+FP),  recall = TP/(TP+FN),  F1 = 2TP/(2TP+FP+FN)   (0 when undefined).

``overall`` matches regardless of type; ``micro`` and ``macro`` keep only intervals of that type on
both sides.

Recognition
-----------
:func:`uf1` (unweighted mean of per-class F1), :func:`uar` (unweighted mean of per-class recall) and
:func:`loso_splits` (leave-one-subject-out folds), as used by MEGC recognition tasks.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from acquisition.errors import FileFormatError, NotFoundError

TYPES = ("micro", "macro")
Interval = tuple[int, int, str]  # onset, offset, type


MAX_CSV_BYTES = 256 << 20


def read_intervals(path: str | Path) -> dict[str, list[Interval]]:
    """``{video: [(onset, offset, type), …]}`` from a spotting CSV. A file with the header row and
    no rows holds no intervals; an empty file is refused (a results file that was never written
    is not "nothing found")."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_CSV_BYTES:
            raise FileFormatError(
                f"{path}: {path.stat().st_size / 2**20:.0f} MB is far more than a spotting "
                f"CSV holds (limit {MAX_CSV_BYTES >> 20} MB); not read"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{path}: cannot read the CSV ({exc})") from None
    out: dict[str, list[Interval]] = defaultdict(list)
    if not text.strip():
        raise FileFormatError(
            f"{path}: the file is empty; a file of no intervals still has its header row (video,onset,offset,type)"
        )
    rows = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(rows)]
    missing = [c for c in ("video", "onset", "offset", "type") if c not in header]
    if missing:
        raise FileFormatError(f"{path}: missing column(s) {', '.join(missing)} (need video, onset, offset, type)")
    col = {h: i for i, h in enumerate(header)}
    for lineno, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise FileFormatError(f"{path}, line {lineno}: {len(row)} values, expected {len(header)}")
        video = row[col["video"]].strip()
        try:
            on, off = int(row[col["onset"]].strip()), int(row[col["offset"]].strip())
        except ValueError:
            raise FileFormatError(f"{path}, line {lineno}: onset and offset must be whole frame numbers") from None
        if on < 0 or off < on:
            raise FileFormatError(
                f"{path}, line {lineno}: interval [{on}, {off}] is not valid (need 0 <= onset <= offset)"
            )
        typ = row[col["type"]].strip().lower()
        if typ not in TYPES:
            raise FileFormatError(f"{path}, line {lineno}: type {typ!r} is not micro or macro")
        out[video].append((on, off, typ))
    return dict(out)


def interval_iou(a0: int, a1: int, b0: int, b1: int) -> float:
    """IoU of two inclusive frame intervals."""
    inter = min(a1, b1) - max(a0, b0) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a1 - a0 + 1) + (b1 - b0 + 1) - inter)


def _hit(a0: int, a1: int, b0: int, b1: int, thr: float) -> bool:
    inter = min(a1, b1) - max(a0, b0) + 1
    if inter <= 0:
        return False
    union = (a1 - a0 + 1) + (b1 - b0 + 1) - inter
    if thr == 0.5:
        return 2 * inter >= union  # exact integer test: IoU of exactly 0.5 counts
    return inter >= thr * union


def match_intervals(gt: list, pred: list, thr: float = 0.5) -> list[tuple[int, int]]:
    """Maximum one-to-one matching of ``pred`` to ``gt`` (lists of (onset, offset, …));
    returns ``[(gt_index, pred_index), …]`` with IoU ≥ thr."""
    if not gt or not pred:
        return []
    from scipy.optimize import linear_sum_assignment

    w = np.zeros((len(gt), len(pred)))
    for i, g in enumerate(gt):
        for j, p in enumerate(pred):
            if _hit(g[0], g[1], p[0], p[1], thr):
                # 1 per pair (maximum cardinality) + a small IoU bonus (ties → better overlap)
                w[i, j] = 1.0 + 1e-3 * interval_iou(g[0], g[1], p[0], p[1])
    rows, cols = linear_sum_assignment(w, maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if w[i, j] > 0]


def prf(tp: int, fp: int, fn: int) -> dict:
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }


def evaluate_spotting(gt: dict, pred: dict, thr: float = 0.5) -> dict:
    """``{"overall": {...}, "micro": {...}, "macro": {...}}`` for interval dicts as read by
    :func:`read_intervals`."""
    out = {}
    for name, keep in (("overall", None), ("micro", "micro"), ("macro", "macro")):
        tp = fp = fn = 0
        for video in set(gt) | set(pred):
            g = [x for x in gt.get(video, []) if keep is None or x[2] == keep]
            p = [x for x in pred.get(video, []) if keep is None or x[2] == keep]
            m = len(match_intervals(g, p, thr))
            tp += m
            fp += len(p) - m
            fn += len(g) - m
        out[name] = prf(tp, fp, fn)
    return out


def evaluate_spotting_files(gt_path: str | Path, pred_path: str | Path, thr: float = 0.5) -> dict:
    return evaluate_spotting(read_intervals(gt_path), read_intervals(pred_path), thr)


def format_spotting(res: dict) -> str:
    lines = [f"{'':8s} {'TP':>5s} {'FP':>5s} {'FN':>5s} {'precision':>9s} {'recall':>7s} {'F1':>6s}"]
    for k in ("overall", "micro", "macro"):
        r = res[k]
        lines.append(
            f"{k:8s} {r['tp']:5d} {r['fp']:5d} {r['fn']:5d} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- recognition
def _classes(y_true, y_pred, labels):
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    return y_true, y_pred, (list(labels) if labels is not None else sorted(set(y_true)))


def uf1(y_true: Iterable, y_pred: Iterable, labels: Iterable | None = None) -> float:
    """Unweighted F1: the mean over classes (those in ``y_true`` unless ``labels``) of per-class
    F1 = 2TP/(2TP+FP+FN)."""
    y_true, y_pred, labels = _classes(y_true, y_pred, labels)
    f1s = []
    for c in labels:
        tp = sum(t == c and p == c for t, p in zip(y_true, y_pred))
        fp = sum(t != c and p == c for t, p in zip(y_true, y_pred))
        fn = sum(t == c and p != c for t, p in zip(y_true, y_pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def uar(y_true: Iterable, y_pred: Iterable, labels: Iterable | None = None) -> float:
    """Unweighted average recall: the mean over classes of TP / (number of samples of the class)."""
    y_true, y_pred, labels = _classes(y_true, y_pred, labels)
    recalls = []
    for c in labels:
        n = sum(t == c for t in y_true)
        if n:
            recalls.append(sum(t == c and p == c for t, p in zip(y_true, y_pred)) / n)
    return float(np.mean(recalls)) if recalls else 0.0


def loso_splits(subjects: Iterable) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Leave-one-subject-out folds: ``[(subject, train_indices, test_indices), …]``, one per
    subject (in sorted order); no subject is ever on both sides of a fold."""
    subjects = np.asarray([str(s) for s in subjects])
    folds = []
    for s in sorted(set(subjects.tolist())):
        test = np.flatnonzero(subjects == s)
        train = np.flatnonzero(subjects != s)
        folds.append((s, train, test))
    return folds
