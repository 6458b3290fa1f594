"""``mexlab reliability DIR…``: agreement between coders (CASME R, intervals, kappa)."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "reliability",
        help="inter-coder reliability of coded sessions",
        description="CASME R = 2|AU agreed|/(|AU 1|+|AU 2|) over events paired at IoU >= 0.5, "
        "interval agreement, and Cohen's (2 coders) or Fleiss' kappa on frames.",
    )
    p.add_argument("sessions", type=Path, nargs="+", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--db", metavar="URL")
    p.set_defaults(func=run)


def _f(v, fmt="{:.3f}"):
    return "-" if v is None else fmt.format(v)


def run(args) -> int:
    from analysis.annotation.service import session_reliability
    from analysis.annotation.store import AnnotationStore

    with AnnotationStore(args.db) as store:
        rep = session_reliability(store, args.sessions)
    if args.json:
        print(json.dumps(rep, indent=2))
        return 0
    print(f"coders: {', '.join(rep['coders'])}")
    sessions = rep["sessions"]
    clips = {k: v for k, v in rep["clips"].items() if k not in sessions}
    for title, rows in (("clips", clips), ("sessions", sessions), ("study", {"ALL": rep})):
        if rows:
            print(f"-- {title}")
            _print_rows(rep["coders"], rows)
    return 0


def _print_rows(coders, rows: dict) -> None:
    for name, clip in rows.items():
        ia = clip["interval_agreement"]
        if len(coders) == 2:
            diffs = ", ".join(f"{k} {_f(v['mean'], '{:+.1f}')}" for k, v in ia["frame_differences"].items())
            print(
                f"{name}: CASME R {_f(clip['casme_r'])}; matched {ia['matched']} "
                f"(unmatched {ia['unmatched_1']}/{ia['unmatched_2']}), mean IoU {_f(ia['mean_iou'])}; "
                f"frame differences {diffs}; kappa ({clip['kappa']['method']}) {_f(clip['kappa']['value'])}"
            )
        else:
            print(
                f"{name}: mean CASME R {_f(clip['casme_r'])}; kappa ({clip['kappa']['method']}) "
                f"{_f(clip['kappa']['value'])}"
            )
