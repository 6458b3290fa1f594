"""What ``mexlab datasets show`` prints: counts per subject and class, dropped frames, problems."""

from __future__ import annotations

from collections import Counter

from analysis.datasets.sample import DatasetRead


def summarize(res: DatasetRead) -> dict:
    per_subject: dict[str, Counter] = {}
    for s in res.samples:
        per_subject.setdefault(s.subject, Counter())[s.label or "(left out)"] += 1
    classes = Counter(s.label for s in res.samples if s.label is not None)
    return {
        "kind": res.kind,
        "root": res.root,
        "scheme": res.scheme,
        "n_samples": len(res.usable),
        "n_subjects": len({s.subject for s in res.usable}),
        "per_class": dict(sorted(classes.items())),
        "per_subject": {k: dict(sorted(v.items())) for k, v in sorted(per_subject.items())},
        "with_depth": sum(1 for s in res.usable if s.depth is not None),
        "dropped_frames": dict(sorted(res.dropped.items())),
        "dropped_total": int(sum(res.dropped.values())),
        "left_out": dict(res.left_out),
        "problems": list(res.problems),
        "errors": list(res.errors),
    }


def format_summary(d: dict) -> str:
    lines = [
        f"{d['kind']}:{d['root']} — {d['n_samples']} samples, {d['n_subjects']} subjects, "
        f"class scheme {d['scheme']} ({d['with_depth']} with depth)"
    ]
    classes = sorted({c for v in d["per_subject"].values() for c in v})
    lines.append("subject".ljust(14) + "".join(c[:11].rjust(12) for c in classes))
    for subj, cnt in d["per_subject"].items():
        lines.append(subj[:13].ljust(14) + "".join(str(cnt.get(c, 0)).rjust(12) for c in classes))
    lines.append(
        "total".ljust(14) + "".join(str(sum(v.get(c, 0) for v in d["per_subject"].values())).rjust(12) for c in classes)
    )
    if d["left_out"]:
        lines.append("left out: " + "; ".join(f"{k}: {v}" for k, v in d["left_out"].items()))
    lines.append(
        f"dropped frames: {d['dropped_total']}"
        + (
            " ("
            + ", ".join(f"{k}: {v}" for k, v in list(d["dropped_frames"].items())[:10])
            + (" …" if len(d["dropped_frames"]) > 10 else "")
            + ")"
            if d["dropped_total"]
            else ""
        )
    )
    for p in d["problems"]:
        lines.append(f"note: {p}")
    for e in d["errors"]:
        lines.append(f"problem: {e}")
    return "\n".join(lines)
