"""Lossless codecs for the session videos, compared on the simulated rig's 848x480 @ 30 frames.

    .venv/bin/python bench/codec_compare.py [--frames 150] [--noise 2] [--json]

For each candidate (colour: the rig's RGB frames; depth: its uint16 frames) one file is written the
way :class:`acquisition.video_writer.VideoFile` writes, then read back:

* ``MB/s``      file size per second of video at 30 fps;
* ``enc fps``   encoding rate, one encoder with 2 threads (as in a recording), frames rendered before;
* ``dec fps``   decoding every frame to numpy as the spotting reader does (PyAV, thread_type AUTO):
                ``raw``: the decoder alone (frames not converted); ``pipeline``: through
                :func:`analysis.face.video.iter_frames` (luma every frame, RGB every 3rd);
Interleaved: each of ``--repeat`` rounds measures every codec once.

* ``seek ms``   frame-accurate random access: seek to the keyframe at or before a random frame and
                decode up to it (median of 30 seeks, container kept open, as the annotator does);
* ``exact``     every decoded frame equals the frame written (colour as rgb24, depth as uint16).

``--noise N`` adds uniform sensor noise of +-N levels to the colour frames (a real camera's picture
compresses worse than the rig's clean rendering). Medians over ``--repeat`` runs; the load average
before and after is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (codec, pix_fmt for colour, options, gop) ; gop 1 = all intra
COLOUR = {
    "ffv1 slices=4 (now)": ("ffv1", "bgr0", {"level": "3", "slices": "4", "slicecrc": "1", "g": "1"}),
    "ffv1 slices=16": ("ffv1", "bgr0", {"level": "3", "slices": "16", "slicecrc": "1", "g": "1"}),
    "ffv1 slices=4 range coder": (
        "ffv1",
        "bgr0",
        {"level": "3", "slices": "4", "slicecrc": "1", "g": "1", "coder": "1"},
    ),
    "x264rgb qp0 ultrafast intra": ("libx264rgb", "bgr24", {"qp": "0", "preset": "ultrafast", "g": "1"}),
    "x264rgb qp0 superfast intra": ("libx264rgb", "bgr24", {"qp": "0", "preset": "superfast", "g": "1"}),
    "x264rgb qp0 ultrafast gop30": ("libx264rgb", "bgr24", {"qp": "0", "preset": "ultrafast", "g": "30"}),
    # utvideo, magicyuv, ffvhuff: PyAV's Matroska muxer refuses them (checked: "'matroska' format
    # does not support 'utvideo' codec"), so they cannot keep the crash-safe MKV layout
}
DEPTH = {
    "ffv1 slices=4 (now)": ("ffv1", "gray16le", {"level": "3", "slices": "4", "slicecrc": "1", "g": "1"}),
    "ffv1 slices=16": ("ffv1", "gray16le", {"level": "3", "slices": "16", "slicecrc": "1", "g": "1"}),
}


def rig_frames(n: int, noise: int) -> tuple[list, list]:
    from acquisition.sim.depth import DepthRenderer
    from acquisition.sim.face import FaceRenderer
    from acquisition.sim.schedule import make_schedule

    sched = make_schedule(n / 30 + 5, fps=30, seed=3)
    face, depth = FaceRenderer(848, 480), DepthRenderer(848, 480)
    rng = np.random.default_rng(0)
    rgb, dep = [], []
    for k in range(n):
        img, pose = face.render(k, sched)
        img = img.copy()
        if noise:
            img = np.clip(img.astype(np.int16) + rng.integers(-noise, noise + 1, img.shape), 0, 255).astype(np.uint8)
        rgb.append(img)
        dep.append(depth.render(pose).copy())
    return rgb, dep


def encode(path: Path, frames: list, codec: str, pix_fmt: str, options: dict, in_fmt: str) -> float:
    import av

    c = av.open(str(path), mode="w", format="matroska", options={"cluster_time_limit": "500", "flush_packets": "1"})
    st = c.add_stream(codec, rate=Fraction(30))
    st.width, st.height, st.pix_fmt = 848, 480, pix_fmt
    st.options = dict(options)
    st.codec_context.thread_count = 2
    st.time_base = Fraction(1, 1000)
    t0 = time.perf_counter()
    for i, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format=in_fmt)
        f.pts = int(round(i * 1000 / 30))
        f.time_base = Fraction(1, 1000)
        for p in st.encode(f):
            c.mux(p)
    for p in st.encode():
        c.mux(p)
    c.close()
    return len(frames) / (time.perf_counter() - t0)


def decode_raw(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        t0 = time.perf_counter()
        n = sum(1 for _ in c.decode(s))
    return n / (time.perf_counter() - t0)


def decode_pipeline(path: Path) -> float:
    from analysis.face.video import iter_frames

    t0 = time.perf_counter()
    n = sum(1 for _ in iter_frames(path, want_rgb=lambda i: i % 3 == 0))
    return n / (time.perf_counter() - t0)


def exact(path: Path, frames: list, depth: bool) -> bool:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        got = [f.to_ndarray(format="gray16le" if depth else "rgb24") for f in c.decode(s)]
    return len(got) == len(frames) and all(np.array_equal(a, b) for a, b in zip(got, frames))


def seek_ms(path: Path, n: int, tries: int = 30) -> float:
    """Median ms to get frame k (random) from an open container: seek to its keyframe, decode on."""
    import av

    rnd = random.Random(1)
    times = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        for _ in range(tries):
            k = rnd.randrange(n)
            pts = int(round(k * 1000 / 30 / 1000 / tb))
            t0 = time.perf_counter()
            c.seek(pts, stream=s, backward=True, any_frame=False)
            for f in c.decode(s):
                if f.pts >= pts:
                    f.to_ndarray(format="rgb24" if f.format.name not in ("gray16le",) else "gray16le")
                    break
            times.append(time.perf_counter() - t0)
            if f.pts != pts:
                return float("nan")  # not frame-accurate
    return 1000 * statistics.median(times)


def measure_round(specs: dict, frames, depth: bool, tmp: Path, rows: dict) -> None:
    """One round over every codec (rounds interleave the codecs, so a change of load hits them
    all alike); the figures of each round are appended to ``rows[name]``."""
    in_fmt = "gray16le" if depth else "rgb24"
    for name, (codec, pix_fmt, opts) in specs.items():
        row = rows.setdefault(name, {"codec": name, "enc": [], "raw": [], "pipe": [], "seek": []})
        if "error" in row:
            continue
        path = tmp / (
            name.replace(" ", "_").replace("=", "").replace("(", "").replace(")", "")
            + ("-d" if depth else "-c")
            + ".mkv"
        )
        try:
            row["enc"].append(encode(path, frames, codec, pix_fmt, opts, in_fmt))
        except Exception as exc:  # a codec this FFmpeg build lacks or refuses the format
            row["error"] = str(exc)[:120]
            continue
        row["MB_per_s"] = path.stat().st_size / len(frames) * 30 / 1e6
        row["raw"].append(decode_raw(path))
        row["pipe"].append(decode_pipeline(path))
        row["seek"].append(seek_ms(path, len(frames)))
        if "exact" not in row:
            row["exact"] = exact(path, frames, depth)
        print(
            name,
            "depth" if depth else "colour",
            {k: round(v[-1], 1) for k, v in row.items() if isinstance(v, list)},
            file=sys.stderr,
            flush=True,
        )


def summarise(rows: dict) -> list:
    out = []
    for r in rows.values():
        if "error" in r:
            out.append({"codec": r["codec"], "error": r["error"]})
            continue
        out.append(
            {
                "codec": r["codec"],
                "MB_per_s": r["MB_per_s"],
                "enc_fps": statistics.median(r["enc"]),
                "dec_raw_fps": statistics.median(r["raw"]),
                "dec_pipeline_fps": statistics.median(r["pipe"]),
                "seek_ms": statistics.median(r["seek"]),
                "exact": r["exact"],
                "runs": len(r["enc"]),
            }
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--noise", type=int, default=0, help="colour sensor noise, +-levels")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="comma-separated substrings of codec names")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rgb, dep = rig_frames(a.frames, a.noise)
    out = {"load_before": os.getloadavg(), "frames": a.frames, "noise": a.noise, "colour": [], "depth": []}
    keep = (lambda n: any(s in n for s in a.only.split(","))) if a.only else (lambda n: True)
    colour = {k: v for k, v in COLOUR.items() if keep(k)}
    depth = {k: v for k, v in DEPTH.items() if keep(k)}
    rc, rd = {}, {}
    with tempfile.TemporaryDirectory() as td:
        for _ in range(a.repeat):
            measure_round(colour, rgb, False, Path(td), rc)
            measure_round(depth, dep, True, Path(td), rd)
    out["colour"], out["depth"] = summarise(rc), summarise(rd)
    out["load_after"] = os.getloadavg()
    if a.json:
        print(json.dumps(out, indent=1))
        return 0
    print(
        f"load average before {out['load_before'][0]:.1f}, after {out['load_after'][0]:.1f}; "
        f"{a.frames} frames 848x480, colour noise +-{a.noise}"
    )
    print("| video | codec | MB/s | enc fps | dec fps (raw / pipeline) | seek ms | bit-exact |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("colour", "depth"):
        for r in out[kind]:
            if "error" in r:
                print(f"| {kind} | {r['codec']} | — | — | — | — | {r['error']} |")
                continue
            print(
                f"| {kind} | {r['codec']} | {r['MB_per_s']:.2f} | {r['enc_fps']:.0f} | "
                f"{r['dec_raw_fps']:.0f} / {r['dec_pipeline_fps']:.0f} | {r['seek_ms']:.1f} | "
                f"{'yes' if r['exact'] else 'NO'} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
