"""``mexlab spot INPUT...``: spot micro- and macro-expressions in video files or session folders.

One input runs here as before; several (or a catalog query) run as a batch in worker processes
(:mod:`analysis.batch`), skipping sessions whose spotting is current."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.commands._batch import add_batch_args, print_outcomes, run_jobs
from app.commands._study_args import add_query_args, is_batch, study_paths


def add_parser(sub) -> None:
    p = sub.add_parser(
        "spot",
        help="spot micro- and macro-expressions in a video or a session",
        description="Find micro- (<= 0.5 s) and macro-expression intervals with optical flow in "
        "landmark-defined face regions. INPUT is a video file (mp4, mkv, avi, mov; "
        "H.264, HEVC, FFV1) or a session folder (then depth, EMG and markers are used "
        "too, and the result is also written to <session>/analysis/spotting.json). "
        "Frame numbers are 0-based and inclusive. Several inputs, or a catalog query, "
        "are spotted in parallel worker processes (--workers); a session whose "
        "spotting is current (same files, parameters and code) is skipped.",
    )
    p.add_argument("inputs", nargs="*", type=Path, metavar="INPUT")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON result to FILE")
    p.add_argument(
        "--no-interference-elimination",
        action="store_true",
        help="keep candidates caused by blinks, speech and head motion (and do not "
        "remove rigid head motion from the regions' flow)",
    )
    p.add_argument("--no-cache", action="store_true", help="recompute the per-video features even if a cache exists")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_query_args(p)
    add_batch_args(p)
    p.set_defaults(func=run)


class _Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.monotonic()
        self.last = self.t0

    def __call__(self, done: int, total: int, stage: str) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last < 1.0 and done < total:
            return
        self.last = now
        el = now - self.t0
        rate = done / el if el > 0 else 0.0
        pct = 100.0 * done / total if total else 0.0
        print(f"mexlab spot: {stage}: {done}/{total} frames ({pct:.0f} %, {rate:.0f} fps)", file=sys.stderr, flush=True)


def run(args) -> int:
    from analysis.face.landmarker import quiet_native_start

    with quiet_native_start():  # MediaPipe's start-up chatter off this command's stderr
        return _run(args)


def _run(args) -> int:
    from analysis.spotting.pipeline import spot, write_json

    if is_batch(args):
        return _run_batch(args)
    if args.out is not None:  # before any frame is read: never over a session's own file
        from acquisition.atomic import check_out_file

        check_out_file(args.out, (".json",), what="JSON result")
    res = spot(
        args.inputs[0],
        interference=not args.no_interference_elimination,
        progress=_Progress(args.quiet),
        use_cache=not args.no_cache,
    )
    out = res.as_dict()
    if args.out is not None:
        write_json(args.out, out)
    for note in res.notes:
        print(f"mexlab spot: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(format_result(out))
    if res.written:
        print(f"written: {res.written}")
    return 0


def _run_batch(args) -> int:
    from acquisition.errors import MexlabError
    from analysis.batch import Job

    if args.out is not None:
        raise MexlabError(
            "--out names one file: give it with one input only (each session's result "
            "is written to <session>/analysis/spotting.json)"
        )
    jobs = [
        Job.of("spot", p, interference=not args.no_interference_elimination, use_cache=not args.no_cache)
        for p in study_paths(args)
    ]
    res, rc = run_jobs("spot", jobs, args, quiet=args.quiet)
    print_outcomes(res, args.json, "spot")
    return rc


def format_result(d: dict) -> str:
    fps = d["fps"]
    lines = [
        f"{d['input']}: {d['n_frames']} frames at {fps:g} fps, face in {d['frames_with_face']}",
        f"{len(d['intervals'])} interval(s)"
        + ("" if d.get("interference_elimination", True) else " (interference elimination off)"),
    ]
    for i in d["intervals"]:
        lines.append(
            f"  {i['type']:5s} frames {i['onset']:6d}-{i['offset']:<6d} apex {i['apex']:6d}"
            f"  ({i['onset'] / fps:7.2f}-{i['offset'] / fps:7.2f} s)  score "
            f"{i['score']:5.2f}  {'+'.join(i['aus']) or '-'}"
        )
    if d["suppressed"]:
        lines.append(f"{len(d['suppressed'])} suppressed")
        for s in d["suppressed"]:
            lines.append(f"  frames {s['onset']:6d}-{s['offset']:<6d} {s['reason']}")
    return "\n".join(lines)
