"""Spotting on a public database's long videos, scored with the MEGC protocol.

``evaluate_dataset("casme3:ROOT")`` reads the release with the dataset readers
(:mod:`analysis.datasets`, macro-expression rows included), spots every long video that the sheet
names — its frames (image files) are put, in their own numbering, into a temporary near-lossless
H.264 video (a dropped frame repeats the one before, so frame numbers never shift) and given to
:func:`analysis.spotting.pipeline.spot` — and scores all intervals against the sheet with
:func:`analysis.evaluation.evaluate_spotting` (IoU ≥ 0.5, one-to-one; overall, micro, macro).

Only CAS(ME)^3 Part A is read as long videos for now (``casme3``); the other readers hold short
clips cut around each expression, which spotting is not scored on.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from acquisition.errors import DataError, FileFormatError, InputError

LONG_VIDEO_KINDS = {"casme3": 30.0}


def _encode(files: dict[int, str], out: Path, fps: float) -> int:
    """Frames 0..max(files) of an image folder into ``out``; returns the frame count."""
    import av
    import cv2

    last = max(files)
    prev = cv2.imread(files[min(files)], cv2.IMREAD_COLOR)  # leading gaps repeat the first
    if prev is None:
        raise FileFormatError(f"{files[min(files)]}: not a readable image")
    h, w = prev.shape[:2]
    w2, h2 = w - w % 2, h - h % 2
    n = 0
    with av.open(str(out), "w") as c:
        st = c.add_stream("libx264", rate=int(round(fps)), options={"crf": "12", "preset": "veryfast"})
        st.width, st.height, st.pix_fmt = w2, h2, "yuv420p"
        for k in range(last + 1):
            img = cv2.imread(files[k], cv2.IMREAD_COLOR) if k in files else None
            if img is None or img.shape[:2] != (h, w):
                img = prev
            rgb = cv2.cvtColor(img[:h2, :w2], cv2.COLOR_BGR2RGB)
            for pkt in st.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(pkt)
            prev = img
            n += 1
        for pkt in st.encode():
            c.mux(pkt)
    return n


def evaluate_dataset(spec: str, *, fps: float | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Spot every long video of ``spec`` and score it (see the module docstring)."""
    from analysis.datasets import parse_spec, read_spec
    from analysis.evaluation import evaluate_spotting
    from analysis.spotting.pipeline import spot

    kind, _ = parse_spec(spec)
    if kind not in LONG_VIDEO_KINDS:
        raise InputError(
            f"dataset {spec!r}: spotting is scored on long videos; "
            f"{', '.join(LONG_VIDEO_KINDS)} only (the {kind} reader holds clips)"
        )
    res = read_spec(spec, "3", include_macro=True)
    if res.errors:
        raise DataError(f"{res.root}: {len(res.errors)} sheet row(s) cannot be used, the first: {res.errors[0]}")
    fps = float(fps or LONG_VIDEO_KINDS[kind])
    videos: dict[str, dict] = {}
    gt: dict[str, list] = defaultdict(list)
    for s in res.samples:
        name = f"{s.subject}/{s.video}"
        videos.setdefault(name, dict(s.rgb.files or {}))
        gt[name].append((s.onset, s.offset, s.type))
    pred: dict[str, list] = {}
    per_video = []
    tmp = Path(tempfile.mkdtemp(prefix="mexlab-spot-dataset-"))
    try:
        for i, (name, files) in enumerate(sorted(videos.items())):
            if progress:
                progress(f"[{i + 1}/{len(videos)}] {name}: {len(files)} frames")
            if not files:
                raise DataError(f"{res.root}: {name} holds no frame")
            video = tmp / "video.mp4"
            n = _encode(files, video, fps)
            r = spot(video, use_cache=False)
            pred[name] = [(iv["onset"], iv["offset"], iv["type"]) for iv in r.intervals]
            per_video.append(
                {
                    "video": name,
                    "frames": n,
                    "frames_with_face": r.frames_with_face,
                    "truth": len(gt[name]),
                    "spotted": len(pred[name]),
                    "intervals": r.intervals,
                }
            )
            video.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = evaluate_spotting(dict(gt), pred)
    out.update({"dataset": kind, "root": res.root, "fps": fps, "videos": per_video, "dropped_frames": res.dropped})
    return out
