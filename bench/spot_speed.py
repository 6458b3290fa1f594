"""Spotting speed, per stage and end to end, and live-flag latency.

    .venv/bin/python bench/spot_speed.py [--video V.mp4] [--session SIM_SESSION] [--json]

Speed is measured on a 640x480 @ 30 fps H.264 video. Without ``--video`` one is made from the real
face video ``../shared/data/video/WolfgangLanger_Pexels.mp4`` (640x360, letterboxed to 640x480,
re-labelled 30 fps). Stages:

* ``decode``   decoding alone, as the pipeline does it (luma every frame, RGB every 3rd frame);
* ``face``     the MediaPipe Face Landmarker on every 3rd frame (the pipeline's stride), alone;
* ``flow``     registration + DIS optical flow + rigid-motion fit, every frame;
* ``spotting`` detection and interference elimination on the extracted features;
* ``pipeline`` the whole of ``spot()`` without cache (decoding and the face model run in threads
  of their own, overlapped with the flow), and ``cached`` a second run that reads the cache.

Live latency (``--session``, a simulated-rig session with ground_truth.csv): the session's frames
are pushed into :class:`StreamingSpotter` with their frame times; for every ground-truth
micro-expression that gets a matching flag (IoU >= 0.5), latency = time of the frame whose push
raised the flag - time of the micro-expression's offset frame, plus the wall time that push took.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from acquisition.session_read.names import GROUND_TRUTH_NAME, RGB_NAME  # noqa: E402

SHARED = ROOT.parent / "shared"


def make_640x480(dst: Path) -> Path:
    """The real face video, letterboxed to 640x480 and labelled 30 fps (H.264, CRF 18)."""
    import av

    src = SHARED / "data" / "video" / "WolfgangLanger_Pexels.mp4"
    if not src.is_file():
        sys.exit(f"{src} is missing: give --video")
    out = av.open(str(dst), "w")
    st = out.add_stream("libx264", rate=30)
    st.width, st.height, st.pix_fmt = 640, 480, "yuv420p"
    st.options = {"crf": "18", "preset": "veryfast"}
    with av.open(str(src)) as c:
        for f in c.decode(video=0):
            img = f.to_ndarray(format="rgb24")
            pad = np.zeros((480, 640, 3), np.uint8)
            y0 = (480 - img.shape[0]) // 2
            pad[y0 : y0 + img.shape[0], : img.shape[1]] = img[:, :640]
            for p in st.encode(av.VideoFrame.from_ndarray(pad, format="rgb24")):
                out.mux(p)
    for p in st.encode():
        out.mux(p)
    out.close()
    return dst


def bench_stages(video: Path) -> dict:
    import cv2

    from analysis.face.landmarker import FaceTracker
    from analysis.face.video import iter_frames, probe
    from analysis.spotting.features import extract_features
    from analysis.spotting.flow import FlowEstimator
    from analysis.spotting.pipeline import SpotParams, spot, spot_features

    stride = SpotParams().stride
    info = probe(video)
    res = {"video": str(video), "size": f"{info.width}x{info.height}", "fps": info.fps, "codec": info.codec}
    t0 = time.perf_counter()
    frames = list(iter_frames(video, want_rgb=lambda i: i % stride == 0))
    dt = time.perf_counter() - t0
    n = len(frames)
    res["frames"] = n
    res["decode_fps"] = n / dt
    with FaceTracker() as tr:
        t0 = time.perf_counter()
        last = None
        for fr in frames[::stride]:
            ff = tr.process(fr.rgb, fr.t * 1000)
            last = ff or last
        dt = time.perf_counter() - t0
    res["face_ms_per_call"] = 1000 * dt / len(frames[::stride])
    res["face_ms_per_frame"] = 1000 * dt / n
    fe = FlowEstimator(128)
    t0 = time.perf_counter()
    fe.set_landmarks(last.landmarks)
    for fr in frames:
        fe.step(fr.gray)
    dt = time.perf_counter() - t0
    res["flow_ms_per_frame"] = 1000 * dt / n
    del frames
    with tempfile.TemporaryDirectory() as td:
        v = Path(td) / video.name
        shutil.copyfile(video, v)
        t0 = time.perf_counter()
        r = spot(v, use_cache=True)
        dt = time.perf_counter() - t0
        res["pipeline_fps"] = r.n_frames / dt
        res["pipeline_s"] = dt
        res["intervals"] = len(r.intervals)
        res["frames_with_face"] = r.frames_with_face
        res["pipeline_stage_s"] = {k: round(x, 3) if isinstance(x, float) else x for k, x in r.features.timings.items()}
        feat = extract_features(v)
        t0 = time.perf_counter()
        for _ in range(5):
            spot_features(feat, feat.fps)
        res["spotting_ms_per_frame"] = 1000 * (time.perf_counter() - t0) / 5 / feat.n_frames
        t0 = time.perf_counter()
        spot(v, use_cache=True)
        res["cached_s"] = time.perf_counter() - t0
    res["cv2_threads"] = cv2.getNumThreads()
    return res


def bench_live(session: Path) -> dict:
    from analysis.evaluation import interval_iou
    from analysis.face.video import iter_frames, probe
    from analysis.spotting.live import StreamingSpotter

    gt = [r for r in csv.DictReader(open(session / GROUND_TRUTH_NAME)) if r["type"] in ("micro", "macro")]
    fps = probe(session / RGB_NAME).fps
    pushes = []
    shown: dict = {}  # key -> when the flag was first shown (provisional or confirmed)
    with StreamingSpotter(fps) as sp:
        for fr in iter_frames(session / RGB_NAME, want_rgb=True, gray=False):
            t0 = time.perf_counter()
            got = sp.push(fr.rgb, fr.index / fps)
            pushes.append(time.perf_counter() - t0)
            for f in got:
                shown.setdefault(f.key, f.flagged_at + f.processing_s)
        sp.flush()
        flags = list(sp.flags)  # confirmed
    lat, lat_shown = [], []
    hit = 0
    for g in gt:
        on, off = int(g["onset"]), int(g["offset"])
        m = [f for f in flags if interval_iou(on, off, f.onset, f.offset) >= 0.5]
        if m:
            hit += 1
            f = m[0]
            if g["type"] == "micro":
                lat.append((f.flagged_at - off / fps) + f.processing_s)
                lat_shown.append(shown.get(f.key, f.flagged_at + f.processing_s) - off / fps)
    push = np.array(pushes)
    return {
        "session": str(session),
        "frames": len(push),
        "gt_expressions": len(gt),
        "flagged": hit,
        "flags": len(flags),
        "micro_latency_s": {  # ME offset -> flag confirmed
            "n": len(lat),
            "median": float(np.median(lat)) if lat else None,
            "max": float(np.max(lat)) if lat else None,
        },
        "micro_latency_shown_s": {  # ME offset -> flag first shown (provisional)
            "median": float(np.median(lat_shown)) if lat_shown else None,
            "max": float(np.max(lat_shown)) if lat_shown else None,
        },
        "push_ms": {
            "mean": 1000 * float(push.mean()),
            "p95": 1000 * float(np.percentile(push, 95)),
            "max": 1000 * float(push.max()),
        },
        "realtime_fps_capacity": float(1.0 / push.mean()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path)
    ap.add_argument("--session", type=Path, help="a simulated-rig session for live latency")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "load_avg": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as td:
        video = a.video or make_640x480(Path(td) / "face_640x480_30fps.mp4")
        out["speed"] = bench_stages(video)
    if a.session:
        out["live"] = bench_live(a.session)
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(f"{k}: {json.dumps(v, indent=1) if isinstance(v, dict) else v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
