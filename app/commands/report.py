"""``mexlab report STUDY... --out report.html``: one self-contained HTML page of a study."""

from __future__ import annotations

import sys
from pathlib import Path

from app.commands._study_args import add_study_args, progress, stream_names, study_options, study_paths


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write an HTML report of sessions or a study",
                       description="Timelines per session (markers, MEs, HR, EDA, EMG), per-group plots with "
                                   "95 % CIs, tables of the tests. Images are embedded: the file opens anywhere.")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument("--title", help="the report's title")
    add_study_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.report.html import write_report
    from analysis.study import analyse_study

    say = progress("report")
    paths = study_paths(args)
    study = analyse_study(paths, by=args.by, names=stream_names(args), design=args.design, progress=say,
                           **study_options(args))
    for note in study.notes:
        print(f"mexlab report: note: {note}", file=sys.stderr)
    out = write_report(study, args.out, title=args.title, progress=say)
    print(f"report written to {out}")
    return 0
