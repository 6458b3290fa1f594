"""``mexlab recognize INPUT [--model M.pt] [--json]``: the class of every spotted micro-expression."""

from __future__ import annotations

import json
from pathlib import Path

from app.commands._batch import add_batch_args, print_outcomes, run_jobs
from app.commands._study_args import add_query_args, is_batch, study_paths


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recognize",
        help="classify the spotted micro-expressions of a session or video",
        description="Spots first where the session has no analysis/spotting.json, "
        "then classifies each micro interval with the model (default: "
        "the model shipped with mexlab, trained on the simulated rig "
        "only). Writes <session>/analysis/recognition.json "
        "(<video>.recognition.json for a video file).",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        metavar="INPUT",
        help="session folders or video files (several, or a catalog query: in parallel "
        "worker processes, skipping those whose result is current)",
    )
    p.add_argument("--model", type=Path, metavar="M.pt", help="a model file (mexlab recognition train)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_query_args(p)
    add_batch_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.face import landmarker
    from analysis.recognition.recognize import recognize

    landmarker.QUIET_NATIVE_START = True
    if is_batch(args):
        return _run_batch(args)
    args.input = args.inputs[0]

    from analysis.face.video import probe
    from analysis.spotting.inputs import resolve_input

    inp = resolve_input(args.input)  # the input is checked before the model is looked for
    probe(inp.video)
    res = recognize(args.input, args.model)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(
        f"{res['input']}: {len(res['expressions'])} micro-expression(s); model "
        f"{Path(res['model']).name} (classes {', '.join(res['classes'])})"
    )
    for e in res["expressions"]:
        print(f"  frames {e['onset']}-{e['apex']}-{e['offset']}: {e['class']} (confidence {e['confidence']:.2f})")
    for p in res["problems"]:
        print(f"  note: {p}")
    print(f"written to {res['written']}")
    return 0


def _run_batch(args) -> int:
    from analysis.batch import Job

    jobs = [Job.of("recognize", p, model=str(args.model) if args.model else None) for p in study_paths(args)]
    res, rc = run_jobs("recognize", jobs, args)
    print_outcomes(res, args.json, "recognize")
    return rc
