"""``mexlab evaluate-spotting --gt GT.csv --pred PRED.csv``: score spotted intervals (MEGC-style);
``--dataset KIND:ROOT`` (casme3, casme_sq = CAS(ME)^2, samm_lv = SAMM-LV): spot every long video of
a database release and score it."""

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
        "KIND:ROOT (casme3: CAS(ME)^3 Part A; casme_sq: CAS(ME)^2; samm_lv: SAMM Long "
        "Videos) every long video of the release is spotted and scored against its "
        "sheet (micro and macro rows); a release filmed at 45 fps or more is thinned to about "
        "30 fps (--step).",
    )
    p.add_argument("--gt", type=Path, metavar="GT.csv")
    p.add_argument("--pred", type=Path, metavar="PRED.csv")
    p.add_argument(
        "--dataset",
        metavar="KIND:ROOT",
        help="a database release with long videos to spot and score: casme3:ROOT, casme_sq:ROOT (CAS(ME)^2), "
        "samm_lv:ROOT (SAMM-LV)",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frame rate of the dataset's image sequences (default: the database's: 30, SAMM-LV 200)",
    )
    p.add_argument(
        "--step",
        type=int,
        default=None,
        help="spot every STEP-th frame (default: the step nearest 30 fps; 7 for SAMM-LV's 200 fps)",
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

        res = evaluate_dataset(
            args.dataset, fps=args.fps, step=args.step, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
        if args.json:
            print(json.dumps(res, indent=1))
        else:
            print(
                f"{res['dataset']} {res['root']}: {len(res['videos'])} long video(s) "
                f"({res['videos_without_expressions']} with no expression coded), {res['fps']:g} fps, "
                + ("every frame spotted" if res["step"] == 1 else f"1 frame in {res['step']} spotted")
            )
            for line in res["skipped"]:
                print(f"  skipped: {line}")
            for why, n in res["left_out"].items():
                print(f"  left out: {n} × {why}")
            if res["notes"]:
                print(f"  {len(res['notes'])} note(s) on sheet rows, the first: {res['notes'][0]} (--json lists all)")
            print(format_spotting(res))
        return 0
    if not (args.gt and args.pred):
        raise MexlabError("evaluate-spotting: give --gt and --pred (or --dataset KIND:ROOT)")
    res = evaluate_spotting_files(args.gt, args.pred)
    print(json.dumps(res, indent=1) if args.json else format_spotting(res))
    return 0
