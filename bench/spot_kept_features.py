"""``mexlab spot`` on a session whose live spotter kept every frame's features (issue 14), against the
same command decoding the video.

    .venv/bin/python bench/spot_kept_features.py SESSION [--rounds 3] [--decode-rounds 1] [--json]

1. The session's frames (colour and depth, by frame number) are pushed into the live spotter
   (:class:`analysis.spotting.live.StreamingSpotter` with ``keep_features``) as the recorder pushes them,
   with LSL-like timestamps, and it writes ``.mexlab-cache/live-features.npz``: what a recording in which
   the live spotter kept up leaves behind. Its time is printed (the live spotter's own cost, not
   part of ``mexlab spot``).
2. ``mexlab spot SESSION --quiet`` runs in a fresh process (start-up included, as a user runs it): the
   first run takes the kept features (checked: parameters, frame count, three frames' CRCs) and writes
   them as the feature cache. Before each further round the keyed cache is removed and the kept file
   put back, so every round does the same work.
3. ``mexlab spot SESSION --quiet --no-cache`` (decoding the video and computing every feature), for the
   ratio, ``--decode-rounds`` times (0: skipped).

Wall time, frames per second and peak resident memory (``wait4``'s ``ru_maxrss``) of each run, the
load average with each; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def keep(session: Path) -> dict:
    from analysis.face.video import iter_frames, probe
    from analysis.spotting.inputs import depth_mapper, resolve_input
    from analysis.spotting.live import StreamingSpotter
    from analysis.spotting.live_features import live_path

    inp = resolve_input(session)
    info = probe(inp.video)
    mapper = depth_mapper(inp, info) if inp.depth is not None else None
    t0 = time.perf_counter()
    with StreamingSpotter(fps=info.fps) as sp:
        sp.keep_features(mapper)
        depth = iter_frames(inp.depth, gray=False, prefetch=8) if mapper is not None else None
        for fr in iter_frames(inp.video, want_rgb=lambda i: True, prefetch=8):
            d = next(depth).raw if depth is not None else None
            sp.push(fr.rgb, 1000.0 + fr.t, index=fr.index, depth=d)
        sp.flush()
        said = sp.save_features(str(live_path(inp.video)))
    said["seconds"] = round(time.perf_counter() - t0, 1)
    return said


def run(cmd: list[str]) -> dict:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err.strip()[-500:]}")
    return {"wall_s": round(wall, 2), "peak_mib": round(usage.ru_maxrss / 1024), "load": round(load, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("session", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode-rounds", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from analysis.face.video import probe
    from analysis.spotting.inputs import resolve_input
    from analysis.spotting.live_features import live_path

    inp = resolve_input(args.session)
    n = probe(inp.video).n_frames
    cache = inp.video.parent / ".mexlab-cache"
    for old in cache.glob(f"{inp.video.name}.*.npz"):
        old.unlink()
    kept = keep(args.session)
    print(f"live spotter kept features: {kept}", file=sys.stderr)
    if not kept["complete"]:
        raise SystemExit("the kept features are not complete")
    saved = cache / "live-features.kept"
    shutil.copy2(live_path(inp.video), saved)
    mexlab = [sys.executable, "-m", "app.cli", "spot", str(args.session), "--quiet"]
    taken = []
    for r in range(args.rounds):
        for old in cache.glob(f"{inp.video.name}.*.npz"):
            old.unlink()
        shutil.copy2(saved, live_path(inp.video))
        res = run(mexlab)
        if live_path(inp.video).exists():
            raise SystemExit("mexlab spot did not take the kept features")
        res["fps"] = round(n / res["wall_s"], 1)
        taken.append(res)
        print(f"kept features, round {r + 1}: {res}", file=sys.stderr)
    decoded = []
    for r in range(args.decode_rounds):
        res = run(mexlab + ["--no-cache"])
        res["fps"] = round(n / res["wall_s"], 1)
        decoded.append(res)
        print(f"decoding (--no-cache), round {r + 1}: {res}", file=sys.stderr)
    saved.unlink()
    out = {
        "session": str(args.session),
        "frames": n,
        "kept": kept,
        "with_kept_features": taken,
        "decoding": decoded,
        "median_fps_kept": statistics.median(r["fps"] for r in taken) if taken else None,
        "median_fps_decoding": statistics.median(r["fps"] for r in decoded) if decoded else None,
    }
    if taken and decoded:
        out["speed_ratio"] = round(out["median_fps_kept"] / out["median_fps_decoding"], 1)
    print(json.dumps(out, indent=1) if args.json else json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
