"""``mexlab evaluate-spotting --gt GT.csv --pred PRED.csv``: score spotted intervals (MEGC-style);
``--dataset casme3:ROOT``: spot every long video of a database release and score it."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate-spotting",
        help="score spotting results against ground truth",
        description="Both CSVs have columns video, onset, offset, type (micro|macro; apex "
        "optional); frames are 0-based and inclusive. A prediction matches a truth "
        "when IoU >= 0.5, one-to-one (maximum bipartite matching); TP, FP and FN are "
        "summed over videos before precision, recall and F1. With --dataset "
        "casme3:ROOT every long video of the release is spotted and scored against "
        "its sheet (micro and macro rows).",
    )
    p.add_argument("--gt", type=Path, metavar="GT.csv")
    p.add_argument("--pred", type=Path, metavar="PRED.csv")
    p.add_argument(
        "--dataset", metavar="KIND:ROOT", help="a database release with long videos (casme3:ROOT) to spot and score"
    )
    p.add_argument(
        "--fps", type=float, default=None, help="frame rate of the dataset's image sequences (default: the database's)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from acquisition.errors import MexlabError
    from analysis.evaluation import evaluate_spotting_files, format_spotting

    if args.dataset:
        if args.gt or args.pred:
            raise MexlabError("evaluate-spotting: give either --dataset or --gt and --pred")
        from analysis.spotting.dataset_eval import evaluate_dataset

        res = evaluate_dataset(args.dataset, fps=args.fps, progress=lambda m: print(m, file=sys.stderr, flush=True))
        if args.json:
            print(json.dumps(res, indent=1))
        else:
            print(f"{res['dataset']} {res['root']}: {len(res['videos'])} long videos")
            print(format_spotting(res))
        return 0
    if not (args.gt and args.pred):
        raise MexlabError("evaluate-spotting: give --gt and --pred (or --dataset KIND:ROOT)")
    res = evaluate_spotting_files(args.gt, args.pred)
    print(json.dumps(res, indent=1) if args.json else format_spotting(res))
    return 0
