"""Options shared by ``mexlab spot/recognize/physio/stats/report``: streams, the study's sessions
(paths and/or a catalog query, :func:`analysis.study.select_sessions`)."""

from __future__ import annotations

import sys
from pathlib import Path


def add_stream_args(p) -> None:
    g = p.add_argument_group("streams (default: found by LSL type)")
    g.add_argument("--ecg", metavar="NAME", help="the ECG stream (name or source_id)")
    g.add_argument("--ppg", metavar="NAME", help="a PPG (pulse) stream, used for the heart instead of ECG")
    g.add_argument("--eda", metavar="NAME", help="the EDA/GSR stream")
    g.add_argument("--emg", metavar="NAME", action="append", help="an EMG stream (repeatable)")


def stream_names(args) -> dict:
    return {"ecg": args.ecg, "ppg": args.ppg, "eda": args.eda, "emg": args.emg}


def add_study_args(p) -> None:
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="SESSION_OR_XDF",
        help="session folders or XDF files (or use --db/--participant/--protocol)",
    )
    p.add_argument(
        "--by",
        choices=["protocol", "condition"],
        default="protocol",
        help="group by paradigm (session.json 'protocol') or by the markers' 'condition'",
    )
    p.add_argument(
        "--design",
        choices=["auto", "paired", "independent"],
        default="auto",
        help="t tests: paired when the same participants are in both groups (auto)",
    )
    p.add_argument(
        "--include-aborted",
        action="store_true",
        help="include sessions whose protocol was aborted (left out by default, and said so)",
    )
    p.add_argument(
        "--use-ground-truth",
        action="store_true",
        help="for sessions of the simulated rig not spotted, use its ground_truth.csv as ME events "
        "(marked as such; by default only spotting results are used)",
    )
    add_query_args(p)
    add_stream_args(p)


def add_query_args(p) -> None:
    q = p.add_argument_group("catalog query (instead of, or added to, the paths)")
    q.add_argument("--db", metavar="URL", help="catalog database URL (default: MEXLAB_DB or the user's SQLite)")
    q.add_argument("--participant", metavar="ID", help="sessions of this participant")
    q.add_argument("--protocol", metavar="NAME", help="sessions of this protocol (paradigm)")
    q.add_argument(
        "--status",
        choices=["complete", "aborted", "interrupted", "recording", "unknown"],
        help="sessions with this status (also filters the session folders named)",
    )


def study_options(args) -> dict:
    """The keyword arguments of :func:`analysis.study.analyse_study` that the options give."""
    return {
        "include_aborted": bool(getattr(args, "include_aborted", False)),
        "use_truth": bool(getattr(args, "use_ground_truth", False)),
    }


def study_paths(args) -> list[Path]:
    """The sessions the arguments select (:func:`analysis.study.select_sessions`)."""
    from analysis.study import select_sessions

    given = getattr(args, "paths", None) or getattr(args, "inputs", None) or []
    return select_sessions(
        list(given),
        db=args.db,
        participant=args.participant,
        protocol=args.protocol,
        status=getattr(args, "status", None),
    )


def is_batch(args) -> bool:
    """True when a one-input command (spot, recognize, physio) was given several inputs, a catalog
    query or --workers: it then runs as a batch (:mod:`app.commands._batch`)."""
    inputs = getattr(args, "inputs", None) or []
    return (
        len(inputs) != 1
        or getattr(args, "workers", None) is not None
        or any(getattr(args, k, None) is not None for k in ("db", "participant", "protocol", "status"))
    )


def progress(command: str):
    def say(message: str) -> None:
        print(f"mexlab {command}: {message}", file=sys.stderr, flush=True)

    return say
