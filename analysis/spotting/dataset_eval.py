"""Spotting on a public database's long videos, scored with the MEGC protocol.

``evaluate_dataset("KIND:ROOT")`` — KIND ``casme3`` (CAS(ME)^3 Part A), ``casme_sq`` (CAS(ME)^2) or
``samm_lv`` (SAMM Long Videos) — reads the release with the dataset readers (:mod:`analysis.datasets`,
macro-expression rows included) and spots **every long video of the release** (those the sheet codes
no expression in too: what is flagged there counts as false), and scores all intervals against the
sheet with :func:`analysis.evaluation.evaluate_spotting` (IoU ≥ 0.5, one-to-one; overall, micro,
macro). A video's frames (image files) are put, in their own numbering, into a temporary
near-lossless H.264 video (a dropped frame repeats the nearest one before it, so frame numbers never
shift) and given to :func:`analysis.spotting.pipeline.spot`. A release filmed faster than the
spotter's range (SAMM-LV, 200 fps) is spotted on every ``step``-th frame (default: the step that
brings it nearest 30 fps, 7 for 200 fps, as the MEGC baselines downsample SAMM-LV); an interval
spotted on frames ``a..b`` of the thinned video is ``a*step .. b*step + step - 1`` in the release's
numbering.
"""

from __future__ import annotations

import bisect
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from acquisition.errors import DataError, FileFormatError, InputError

#: long-video kinds → the frame rate the release was filmed at
LONG_VIDEO_KINDS = {"casme3": 30.0, "casme_sq": 30.0, "samm_lv": 200.0}


def default_step(fps: float) -> int:
    """The frame step that brings ``fps`` nearest 30 fps (1 below 45 fps, 2 from 45 fps)."""
    return max(1, round(fps / 30.0))


def _encode(files: dict[int, str], out: Path, fps: float, step: int = 1) -> int:
    """Frames 0, step, 2·step … ≤ max(files) of an image folder into ``out`` (a frame the folder
    lacks: the nearest one before it, or the first); returns the frame count written."""
    import av
    import cv2

    keys = sorted(files)
    first = cv2.imread(files[keys[0]], cv2.IMREAD_COLOR)
    if first is None:
        raise FileFormatError(f"{files[keys[0]]}: not a readable image")
    h, w = first.shape[:2]
    w2, h2 = w - w % 2, h - h % 2
    n = 0
    prev, prev_key = first, keys[0]
    with av.open(str(out), "w") as c:
        st = c.add_stream(
            "libx264", rate=Fraction(fps / step).limit_denominator(1001), options={"crf": "12", "preset": "veryfast"}
        )
        st.width, st.height, st.pix_fmt = w2, h2, "yuv420p"
        for k in range(0, keys[-1] + 1, step):
            i = bisect.bisect_right(keys, k) - 1
            key = keys[max(i, 0)]
            img = prev
            if key != prev_key:
                img = cv2.imread(files[key], cv2.IMREAD_COLOR)
                if img is None or img.shape[:2] != (h, w):
                    img = prev
            rgb = cv2.cvtColor(img[:h2, :w2], cv2.COLOR_BGR2RGB)
            for pkt in st.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(pkt)
            prev, prev_key = img, key
            n += 1
        for pkt in st.encode():
            c.mux(pkt)
    return n


def _any_label():
    """A class scheme that takes every emotion label (as no class): spotting does not read them, so
    a label no recognition scheme knows must not stop it."""
    from analysis.datasets.classes import Scheme

    class AnyLabel(Scheme):
        def classify(self, label: str) -> tuple[bool, str | None]:
            return True, None

    return AnyLabel("spotting", (), {})


def evaluate_dataset(
    spec: str,
    *,
    fps: float | None = None,
    step: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Spot every long video of ``spec`` and score it (see the module docstring)."""
    import importlib

    from analysis.datasets import parse_spec, read_spec
    from analysis.datasets.sheets import image_frames
    from analysis.evaluation import evaluate_spotting
    from analysis.spotting.pipeline import spot

    kind, roots = parse_spec(spec)
    if kind not in LONG_VIDEO_KINDS:
        raise InputError(
            f"dataset {spec!r}: spotting is scored on long videos; "
            f"{', '.join(LONG_VIDEO_KINDS)} only (the {kind} reader holds clips)"
        )
    if fps is not None and not 1.0 <= fps <= 1000.0:
        raise InputError(f"--fps {fps}: a frame rate from 1 to 1000")
    if step is not None and not 1 <= step <= 100:
        raise InputError(f"--step {step}: a frame step from 1 to 100")
    res = read_spec(spec, _any_label(), include_macro=True)
    if res.errors:
        more = f" (and {len(res.errors) - 1} more)" if len(res.errors) > 1 else ""
        raise DataError(f"{res.root}: {len(res.errors)} sheet row(s) cannot be used, the first: {res.errors[0]}{more}")
    fps = float(fps or LONG_VIDEO_KINDS[kind])
    step = int(step or default_step(fps))
    folders = importlib.import_module(f"analysis.datasets.{kind}").long_videos(roots[0])
    gt: dict[str, list] = defaultdict(list)
    listed: dict[str, dict[int, str]] = {}  # the frames the reader listed already
    for s in res.samples:
        name = f"{s.subject}/{s.video}"
        folders.setdefault(name, Path(s.rgb.path))
        listed[name] = s.rgb.files or {}
        gt[name].append((s.onset, s.offset, s.type))
    pred: dict[str, list] = {}
    per_video = []
    skipped = []
    tmp = Path(tempfile.mkdtemp(prefix="mexlab-spot-dataset-"))
    try:
        for i, (name, folder) in enumerate(sorted(folders.items())):
            files = listed.get(name) or image_frames(folder)
            if not files:  # a sheet row's folder without frames is an error of the reader, above
                skipped.append(f"{name}: no frame in {folder}")
                continue
            if progress:
                thin = f", 1 in {step} spotted" if step > 1 else ""
                progress(f"[{i + 1}/{len(folders)}] {name}: {len(files)} frames{thin}")
            video = tmp / "video.mp4"
            n = _encode(files, video, fps, step)
            r = spot(video, use_cache=False)
            last = max(files)
            intervals = [  # in the release's numbering
                {
                    **iv,
                    "onset": iv["onset"] * step,
                    "offset": min(last, iv["offset"] * step + step - 1),
                    "apex": iv["apex"] * step,
                }
                for iv in r.intervals
            ]
            pred[name] = [(iv["onset"], iv["offset"], iv["type"]) for iv in intervals]
            per_video.append(
                {
                    "video": name,
                    "frames": last + 1,
                    "frames_spotted": n,
                    "frames_with_face": r.frames_with_face,
                    "truth": len(gt[name]),
                    "spotted": len(pred[name]),
                    "intervals": intervals,
                }
            )
            video.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not per_video:
        raise DataError(f"{res.root}: no long video with frames")
    out = evaluate_spotting({k: gt[k] for k in pred}, pred)
    out.update(
        {
            "dataset": kind,
            "root": res.root,
            "fps": fps,
            "step": step,
            "videos": per_video,
            "videos_without_expressions": sum(1 for v in per_video if not v["truth"]),
            "skipped": skipped,
            "dropped_frames": res.dropped,
            "left_out": {k: n for k, n in res.left_out.items() if not k.startswith(("label ", "no emotion label"))},
            "notes": res.problems,
        }
    )
    return out
