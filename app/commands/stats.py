"""``mexlab stats STUDY...``: ME and physiological measures per participant and paradigm/condition, tests."""

from __future__ import annotations

import json
import math
import sys

from app.commands._study_args import add_study_args, progress, stream_names, study_options, study_paths


def add_parser(sub) -> None:
    p = sub.add_parser(
        "stats",
        help="statistics of a study: groups, t tests, correlations",
        description="ME count, rate and duration, heart-rate and SCR responses per participant "
        "and paradigm (or condition); paired/independent t tests with Cohen's d and "
        "95 % CIs; Pearson correlations between ME measures and physiology.",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_study_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.study import analyse_study

    paths = study_paths(args)
    quiet = len(paths) < 2
    study = analyse_study(
        paths,
        by=args.by,
        names=stream_names(args),
        design=args.design,
        progress=None if quiet else progress("stats"),
        **study_options(args),
    )
    for note in study.notes:
        print(f"mexlab stats: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(study.to_json(), indent=2))
    else:
        print(format_study(study))
    return 0


def _n(v, nd=2) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{nd}f}"


def format_study(study) -> str:
    from analysis.stats import MEASURES

    t = study.table
    lines = [f"{len(study.sessions)} session(s), {t['participant'].nunique()} participant(s), grouped by {study.by}"]
    for x in getattr(study, "excluded", []):
        lines.append(f"left out: {x['path']}: {x['why']}")
    if getattr(study, "truth_used", None):
        lines.append(
            "GROUND TRUTH USED AS RESULTS (--use-ground-truth): the ME events of "
            + ", ".join(study.truth_used)
            + " are the simulated rig's ground_truth.csv, not spotting"
        )
    cols = ["duration_min", *MEASURES]
    heads = ["participant", study.by, "min"] + [MEASURES[c][0] for c in cols[1:]]
    keep = [i for i, c in enumerate(cols) if c == "duration_min" or t[c].notna().any()]
    heads = heads[:2] + [heads[2 + i] for i in keep]
    body = [
        [str(r["participant"]), str(r["group"])] + [_n(r[cols[i]], 0 if cols[i] == "me_count" else 2) for i in keep]
        for _, r in t.iterrows()
    ]
    widths = [max(len(h), *(len(b[j]) for b in body)) if body else len(h) for j, h in enumerate(heads)]
    for row in [heads, *body]:
        lines.append("  ".join(v.ljust(w) if j < 2 else v.rjust(w) for j, (v, w) in enumerate(zip(row, widths))))
    if study.tests:
        lines.append("tests (two-sided, 95 % CI of the difference and of Cohen's d; Holm: p adjusted over all tests):")
    for x in study.tests:
        name = MEASURES[x.measure][0]
        lines.append(
            f"  {name}: {x.group_a} {_n(x.mean_a)} vs {x.group_b} {_n(x.mean_b)} ({x.test}, n={x.n_a}/{x.n_b}): "
            f"diff {_n(x.diff)} [{_n(x.ci_low)}, {_n(x.ci_high)}], t({_n(x.df, 1)}) = {_n(x.t)}, "
            f"p = {_n(x.p, 4)} (Holm {_n(x.p_holm, 4)}), d = {_n(x.d)} [{_n(x.d_ci_low)}, {_n(x.d_ci_high)}]"
        )
    if study.correlations:
        lines.append("Pearson correlations (95 % CI; Holm: p adjusted over all correlations):")
    for c in study.correlations:
        lines.append(
            f"  {MEASURES[c.x][0]} ~ {MEASURES[c.y][0]}: r = {_n(c.r)} [{_n(c.ci_low)}, {_n(c.ci_high)}], "
            f"n = {c.n}, p = {_n(c.p, 4)} (Holm {_n(c.p_holm, 4)})"
        )
    return "\n".join(lines)
