"""``mexlab datasets show KIND:ROOT`` and ``mexlab datasets export SESSION... --format casme3``."""

from __future__ import annotations

import json
from pathlib import Path

from acquisition.errors import MexlabError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "datasets",
        help="recognition datasets: show a release, export sessions",
        description="Recognition datasets read by mexlab: casme2:ROOT, samm:ROOT, "
        "smic:ROOT, casme3:ROOT, casme_sq:ROOT (CAS(ME)^2), samm_lv:ROOT (SAMM Long Videos; "
        "no emotion labels), mexlab:SESSION_OR_FOLDER[,…].",
    )
    s = p.add_subparsers(dest="datasets_command", metavar="ACTION")
    show = s.add_parser("show", help="counts per subject and class, dropped frames, problems")
    show.add_argument("spec", metavar="KIND:ROOT")
    show.add_argument(
        "--classes", default="3", help="class scheme 3, 5, 4, 7 or a mapping file (label,class per line); default 3"
    )
    show.add_argument(
        "--truth", choices=["rig"], help="mexlab sessions: label from the simulated rig's ground_truth.csv"
    )
    show.add_argument("--coder", help="mexlab sessions: this coder's coding when there is no consensus")
    show.add_argument("--include-macro", action="store_true", help="keep macro-expression rows")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)
    ex = s.add_parser("export", help="coded sessions as a release in another layout")
    ex.add_argument("sessions", nargs="+", metavar="SESSION")
    ex.add_argument("--format", required=True, choices=["casme3"])
    ex.add_argument("--out", required=True, type=Path, metavar="DIR")
    ex.add_argument("--truth", choices=["rig"])
    ex.add_argument("--coder")
    ex.add_argument("--classes", default="3")
    ex.add_argument("--include-macro", action="store_true")
    ex.set_defaults(func=run_export)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def run_show(args) -> int:
    from analysis.datasets import read_spec
    from analysis.datasets.summary import format_summary, summarize

    res = read_spec(args.spec, args.classes, truth=args.truth, coder=args.coder, include_macro=args.include_macro)
    d = summarize(res)
    print(json.dumps(d, indent=1) if args.json else format_summary(d))
    return 1 if d["errors"] else 0


def run_export(args) -> int:
    from acquisition.atomic import check_out_folder
    from analysis.datasets import get_scheme
    from analysis.datasets.export import export_casme3
    from analysis.datasets.mexlab_reader import read

    check_out_folder(args.out)  # before any session is read
    res = read(
        [str(s) for s in args.sessions],
        get_scheme(args.classes),
        truth=args.truth,
        coder=args.coder,
        include_macro=args.include_macro,
    )
    for p in res.problems:
        print(f"note: {p}")
    if not res.samples:
        raise MexlabError("no coded expression in these sessions: nothing to export")
    out = export_casme3(res, args.out)
    print(
        f"exported {out['expressions']} expressions of {out['subjects']} subject(s) "
        f"({out['videos']} videos, {out['frames']} colour frames) to {out['out']} "
        f"(CAS(ME)^3 Part A layout, pseudonyms only)"
    )
    return 0
