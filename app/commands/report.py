"""``mexlab report STUDY... --out report.html``: one self-contained HTML page of a study."""

from __future__ import annotations

import sys
from pathlib import Path

from app.commands._batch import add_batch_args
from app.commands._study_args import (
    add_study_args,
    progress,
    stream_names,
    study_options,
    study_paths,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report of sessions or a study",
        description="Timelines per session (markers, MEs, HR, EDA, EMG), per-group plots with "
        "95 % CIs, tables of the tests. Images are embedded: the file opens anywhere.",
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument("--title", help="the report's title")
    add_study_args(p)
    add_batch_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.report.html import check_report_out, write_report
    from analysis.study import analyse_study

    check_report_out(args.out)  # a bad --out is refused before any session is analysed (or cached)
    say = progress("report")
    paths = study_paths(args)
    analysed = analyse_in_workers("report", paths, args, say)
    study = analyse_study(
        paths,
        by=args.by,
        names=stream_names(args),
        design=args.design,
        progress=lambda m: None if " analysing " in m else say(m),  # said by analyse_in_workers
        analysed=analysed,
        **study_options(args),
    )
    for note in study.notes:
        print(f"mexlab report: note: {note}", file=sys.stderr)
    out = write_report(study, args.out, title=args.title, progress=say)
    print(f"report written to {out}")
    return 0


def analyse_in_workers(command: str, paths, args, say=None) -> dict:
    """Each session's analysis (:func:`analysis.study.analyse_session`) in worker processes when there
    are several sessions and more than one worker, else here (:func:`analyse_here`); each read back
    from the session's report cache when it has not changed (:mod:`analysis.report.cache`):
    ``str(path)`` -> SessionResult or MexlabError."""
    from acquisition.errors import MexlabError
    from analysis.batch import Job, default_workers
    from app.commands._batch import run_jobs

    workers = args.workers or default_workers()
    if len(paths) < 2 or workers < 2:
        return analyse_here(paths, args, say)
    jobs = [Job.of("study", p, names=stream_names(args), use_truth=study_options(args)["use_truth"]) for p in paths]
    res, _rc = run_jobs(command, jobs, args)
    if res.cancelled:
        raise KeyboardInterrupt
    return {o.job.path: (o.result if o.status == "done" else MexlabError(o.error or o.status)) for o in res.outcomes}


def analyse_here(paths, args, say=None) -> dict:
    """Each session's analysis in this process, read back from its report cache when the session has
    not changed (:mod:`analysis.report.cache`): ``str(path)`` -> SessionResult or MexlabError."""
    from acquisition.errors import MexlabError
    from analysis.report.cache import analyse_session

    out: dict = {}
    for i, p in enumerate(paths, 1):
        if say is not None:
            say(f"[{i}/{len(paths)}] analysing {p}")
        try:
            out[str(p)] = analyse_session(p, names=stream_names(args), use_truth=study_options(args)["use_truth"])
        except MexlabError as exc:
            out[str(p)] = exc
    return out
