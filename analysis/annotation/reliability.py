"""Inter-coder reliability of micro-expression codings.

* Pairing: two coders' events are paired one-to-one, greatest interval IoU first, when their
  IoU (frames, inclusive) is ≥ 0.5.
* CASME formula: ``R = 2·|AU agreed| / (|AU by coder 1| + |AU by coder 2|)``; the AUs agreed are
  the AU numbers common to a pair (side and intensity ignored); every event's AUs count in the
  denominator, paired or not. With three or more coders: the mean R over coder pairs.
* Interval agreement: matched count, unmatched per coder, mean IoU of the pairs, and the mean
  (and mean absolute) onset/apex/offset frame differences (coder 2 - coder 1).
* Kappa on frame-level event/no-event: Cohen's for two coders, Fleiss' for three or more.

Per clip, session and study: :func:`reliability` takes ``{clip: {coder: [events]}}`` (a clip is a
session, or a stretch of one) and reports each clip and all of them pooled (AU counts, pairs and
frames summed).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from analysis.annotation.model import Event, au_numbers

IOU_MIN = 0.5


def iou(a: Event, b: Event) -> float:
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    union = (a.offset - a.onset + 1) + (b.offset - b.onset + 1) - inter
    return inter / union


def pair_events(a: list[Event], b: list[Event], iou_min: float = IOU_MIN) -> list[tuple[int, int, float]]:
    """One-to-one pairs ``(i, j, iou)`` of ``a[i]`` and ``b[j]``, greatest IoU first."""
    cands = sorted(
        ((iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)), key=lambda t: (-t[0], t[1], t[2])
    )
    used_a, used_b, out = set(), set(), []
    for v, i, j in cands:
        if v < iou_min:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i), used_b.add(j)
        out.append((i, j, v))
    return sorted(out)


def _counts(a: list[Event], b: list[Event]) -> dict:
    pairs = pair_events(a, b)
    agreed = sum(len(au_numbers(a[i].aus) & au_numbers(b[j].aus)) for i, j, _ in pairs)
    n1 = sum(len(au_numbers(e.aus)) for e in a)
    n2 = sum(len(au_numbers(e.aus)) for e in b)
    d = {k: [] for k in ("onset", "apex", "offset")}
    for i, j, _ in pairs:
        for k in d:
            x, y = getattr(a[i], k), getattr(b[j], k)
            if x is not None and y is not None:
                d[k].append(y - x)
    return {
        "pairs": pairs,
        "agreed": agreed,
        "n1": n1,
        "n2": n2,
        "diffs": d,
        "ious": [v for _, _, v in pairs],
        "n_a": len(a),
        "n_b": len(b),
    }


def casme_r(a: list[Event], b: list[Event]) -> float | None:
    c = _counts(a, b)
    return 2 * c["agreed"] / (c["n1"] + c["n2"]) if c["n1"] + c["n2"] else None


def frame_labels(events: list[Event], n_frames: int) -> np.ndarray:
    x = np.zeros(n_frames, dtype=np.int8)
    for e in events:
        x[max(0, e.onset) : min(n_frames, e.offset + 1)] = 1
    return x


def cohen_kappa(x: np.ndarray, y: np.ndarray) -> float | None:
    x, y = np.asarray(x).astype(int), np.asarray(y).astype(int)
    if x.size == 0:
        return None
    po = float(np.mean(x == y))
    p1, p2 = float(x.mean()), float(y.mean())
    pe = p1 * p2 + (1 - p1) * (1 - p2)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def fleiss_kappa(labels: np.ndarray) -> float | None:
    """Fleiss' kappa of binary ``labels`` shaped (raters, items)."""
    m = np.asarray(labels).astype(int)
    n, N = m.shape
    if N == 0 or n < 2:
        return None
    ones = m.sum(axis=0)
    counts = np.stack([n - ones, ones], axis=1).astype(float)  # (items, categories)
    p_i = (np.sum(counts * counts, axis=1) - n) / (n * (n - 1))
    p_bar = float(p_i.mean())
    p_j = counts.sum(axis=0) / (N * n)
    pe = float(np.sum(p_j**2))
    return 1.0 if pe == 1 else (p_bar - pe) / (1 - pe)


def _summary(c: dict) -> dict:
    def stats(v):
        return {"mean": float(np.mean(v)) if v else None, "mean_abs": float(np.mean(np.abs(v))) if v else None}

    return {
        "matched": len(c["pairs"]),
        "unmatched_1": c["n_a"] - len(c["pairs"]),
        "unmatched_2": c["n_b"] - len(c["pairs"]),
        "mean_iou": float(np.mean(c["ious"])) if c["ious"] else None,
        "frame_differences": {k: stats(v) for k, v in c["diffs"].items()},
    }


def _merge(cs: list[dict]) -> dict:
    out = {
        "pairs": [],
        "agreed": 0,
        "n1": 0,
        "n2": 0,
        "ious": [],
        "n_a": 0,
        "n_b": 0,
        "diffs": {k: [] for k in ("onset", "apex", "offset")},
    }
    for c in cs:
        out["pairs"] += c["pairs"]
        out["ious"] += c["ious"]
        for k in ("agreed", "n1", "n2", "n_a", "n_b"):
            out[k] += c[k]
        for k in out["diffs"]:
            out["diffs"][k] += c["diffs"][k]
    return out


def _n_frames(codings: dict[str, list[Event]], n_frames: int | None) -> int:
    last = max((e.offset + 1 for evs in codings.values() for e in evs), default=0)
    return max(int(n_frames or 0), last)


def reliability(clips: dict[str, dict[str, list[Event]]], n_frames: dict[str, int] | None = None) -> dict:
    """Reliability of every clip and of all clips pooled (see the module doc).

    ``clips``: ``{clip: {coder: [events]}}`` (rejected events should be left out by the caller);
    ``n_frames``: frames per clip for the kappa (else up to the last coded frame).
    """
    coders = sorted({c for cod in clips.values() for c in cod})
    per_clip, pooled_pairs, pooled_labels = {}, {}, {c: [] for c in coders}
    for clip, cod in clips.items():
        n = _n_frames(cod, (n_frames or {}).get(clip))
        labels = {c: frame_labels(cod.get(c, []), n) for c in coders}
        for c in coders:
            pooled_labels[c].append(labels[c])
        pairs = {}
        for c1, c2 in combinations(coders, 2):
            cnt = _counts(
                sorted(cod.get(c1, []), key=lambda e: e.onset), sorted(cod.get(c2, []), key=lambda e: e.onset)
            )
            pairs[(c1, c2)] = cnt
            pooled_pairs.setdefault((c1, c2), []).append(cnt)
        per_clip[clip] = _report(coders, pairs, labels, n)
    pooled = {k: _merge(v) for k, v in pooled_pairs.items()}
    all_labels = {c: np.concatenate(v) if v else np.zeros(0, np.int8) for c, v in pooled_labels.items()}
    total = int(next(iter(all_labels.values())).size) if all_labels else 0
    study = _report(coders, pooled, all_labels, total)
    return {"coders": coders, "clips": per_clip, **study}


def _report(coders, pairs: dict, labels: dict, n: int) -> dict:
    rs, ia = {}, {}
    for (c1, c2), cnt in pairs.items():
        den = cnt["n1"] + cnt["n2"]
        rs[f"{c1}|{c2}"] = 2 * cnt["agreed"] / den if den else None
        ia[f"{c1}|{c2}"] = {**_summary(cnt), "aus_agreed": cnt["agreed"], "aus_1": cnt["n1"], "aus_2": cnt["n2"]}
    if len(coders) == 2:
        key = f"{coders[0]}|{coders[1]}"
        casme = rs[key]
        interval = ia[key]
        kappa = {"method": "cohen", "value": cohen_kappa(labels[coders[0]], labels[coders[1]])}
    else:
        vals = [v for v in rs.values() if v is not None]
        casme = float(np.mean(vals)) if vals else None
        interval = ia
        kappa = {
            "method": "fleiss",
            "value": fleiss_kappa(np.stack([labels[c] for c in coders])) if len(coders) >= 3 else None,
        }
    kappa["frames"] = int(n)
    return {"casme_r": casme, "casme_r_pairs": rs, "interval_agreement": interval, "kappa": kappa}
