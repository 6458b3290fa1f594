"""``mexlab evaluate-spotting --gt GT.csv --pred PRED.csv``: score spotted intervals (MEGC-style)."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate-spotting", help="score spotting results against ground truth",
        description="Both CSVs have columns video, onset, offset, type (micro|macro; apex "
                    "optional); frames are 0-based and inclusive. A prediction matches a truth "
                    "when IoU >= 0.5, one-to-one (maximum bipartite matching); TP, FP and FN are "
                    "summed over videos before precision, recall and F1.")
    p.add_argument("--gt", type=Path, required=True, metavar="GT.csv")
    p.add_argument("--pred", type=Path, required=True, metavar="PRED.csv")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.evaluation import evaluate_spotting_files, format_spotting

    res = evaluate_spotting_files(args.gt, args.pred)
    print(json.dumps(res, indent=1) if args.json else format_spotting(res))
    return 0
