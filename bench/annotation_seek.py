"""Frame step and random seek of the annotation video reader on a recorded 848x480 FFV1 session
(RGB + depth, as the Annotate workspace shows them). Goal: step <= 16 ms, random seek <= 50 ms.

usage: python bench/annotation_seek.py SESSION_DIR   (make one: mexlab record --simulate --duration 8 --out DIR --no-catalog)
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.annotation.video_reader import VideoReader, colorize_depth  # noqa: E402


def main(folder: str) -> None:
    rgb, depth = VideoReader(Path(folder) / "rgb.mkv"), VideoReader(Path(folder) / "depth.mkv", "gray16le")
    n = min(rgb.n_frames, depth.n_frames)

    def both(i):
        rgb.frame(i)
        colorize_depth(depth.frame(i))

    both(0)
    steps = []
    for i in range(1, min(n, 150)):
        t = time.perf_counter()
        both(i)
        steps.append((time.perf_counter() - t) * 1000)
    rnd = random.Random(1)
    seeks = []
    for _ in range(60):
        i = rnd.randrange(n)
        rgb._cache.clear(), depth._cache.clear()
        t = time.perf_counter()
        both(i)
        seeks.append((time.perf_counter() - t) * 1000)
    q = lambda v, p: sorted(v)[int(p * (len(v) - 1))]  # noqa: E731
    print(f"{rgb.width}x{rgb.height} RGB + depth, {n} frames")
    print(f"step (RGB+depth):        median {statistics.median(steps):.1f} ms, p95 {q(steps, .95):.1f} ms")
    print(f"random seek (RGB+depth): median {statistics.median(seeks):.1f} ms, p95 {q(seeks, .95):.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
