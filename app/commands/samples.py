"""``mexlab samples INPUT --au AU12 --threshold T --out DIR``: onset-apex clips for recognition."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "samples",
        help="cut onset-apex samples (frame folders + CASME-style sheet) for an AU",
        description="Apex frames are the peaks of the AU's intensity above --threshold; the onset "
        "is --span frames earlier (default 8 at 30 fps, scaled with fps); the offset is "
        "where the intensity falls below the threshold again. Writes "
        "DIR/<Subject>/<Filename>/img<frame>.png and DIR/samples.csv (+ .xlsx). "
        "Intensities: MediaPipe blendshape proxies (0..1, not FACS-validated) or an "
        "OpenFace CSV (--openface, 0..5).",
    )
    p.add_argument("input", type=Path, metavar="INPUT", help="a video file or a session folder")
    p.add_argument("--au", required=True, help="the action unit, e.g. AU12")
    p.add_argument(
        "--threshold",
        type=float,
        required=True,
        metavar="T",
        help="apex intensity threshold (proxy 0..1, or OpenFace 0..5)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument(
        "--openface", type=Path, metavar="CSV", help="take the AU intensity from this OpenFace FeatureExtraction CSV"
    )
    p.add_argument("--span", type=int, metavar="N", help="onset back-track in frames")
    p.add_argument("--subject", help="Subject column (default: participant or file name)")
    p.add_argument("--emotion", default="", help="Estimated Emotion column (default: empty)")
    p.add_argument(
        "--full-frame", action="store_true", help="write whole frames instead of the aligned 256x256 face crop"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from analysis.face.landmarker import quiet_native_start

    with quiet_native_start():  # MediaPipe's start-up chatter off this command's stderr
        return _run(args)


def _run(args) -> int:
    from acquisition.atomic import check_out_folder
    from analysis.spotting.samples import make_samples
    from app.commands._bounds import number

    number(args.threshold, "--threshold", 0.0, 5.0)  # proxies 0..1, OpenFace 0..5; nan/inf refused
    check_out_folder(args.out)
    if args.span is not None and not 1 <= args.span <= 100_000:
        from acquisition.errors import MexlabError

        raise MexlabError(f"--span must be 1 to 100000 frames, not {args.span}")
    samples = make_samples(
        args.input,
        args.au,
        args.threshold,
        args.out,
        span=args.span,
        openface=args.openface,
        subject=args.subject,
        emotion=args.emotion,
        crop="full" if args.full_frame else "face",
    )
    for s in samples:
        print(f"{s.subject}/{s.filename}: onset {s.onset} apex {s.apex} offset {s.offset} ({s.au} {s.intensity:.2f})")
    print(f"{len(samples)} sample(s) written to {args.out}", file=sys.stderr)
    return 0
