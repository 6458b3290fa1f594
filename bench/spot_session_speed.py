"""``mexlab spot`` on a recorded session folder, with its colour video as recorded (the codec its
session.json names; FFV1 before codecs were recorded) and re-encoded losslessly with another codec,
side by side; also peak memory of each run.

    .venv/bin/python bench/spot_session_speed.py SESSION [--codec x264rgb] [--rounds 1] [--json]

A copy of SESSION is made in ``--work`` (default: a temporary folder beside nothing — /tmp) whose
``rgb.mkv`` is re-encoded with :class:`acquisition.video_writer.VideoFile` (``--codec``: a name in
``COLOUR_CODECS``); the other files are hard links (or copies). Every frame's CRC-32 (rgb24) is
compared between the two videos: the copy is bit-exact or the bench stops. Then the spotting
pipeline (``analysis.spotting.pipeline.spot``, no feature cache) runs in a fresh process on each
folder, alternating, ``--rounds`` times: wall time, frames per second, peak resident memory
(``wait4``'s ``ru_maxrss``). The load average (1 min) is printed with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from acquisition.session_read.names import RGB_NAME  # noqa: E402


def frame_crcs(path: Path) -> list[int]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        return [zlib.crc32(f.to_ndarray(format="rgb24").tobytes()) for f in c.decode(s)]


def reencode(src: Path, dst_folder: Path, codec: str) -> dict:
    import av

    from acquisition.video_writer import VideoFile

    dst_folder.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name != RGB_NAME:
            try:
                os.link(f, dst_folder / f.name)
            except OSError:
                shutil.copy2(f, dst_folder / f.name)
    crcs = []
    t0 = time.perf_counter()
    with av.open(str(src / RGB_NAME)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        rate = float(s.average_rate or 30)
        vf = VideoFile(dst_folder / RGB_NAME, s.codec_context.width, s.codec_context.height, rate, "rgb", codec=codec)
        for f in c.decode(s):
            img = f.to_ndarray(format="rgb24")
            crcs.append(zlib.crc32(img.tobytes()))
            vf.write(img)
        vf.close()
    dt = time.perf_counter() - t0
    got = frame_crcs(dst_folder / RGB_NAME)
    if got != crcs:
        sys.exit(f"{codec}: the re-encoded video is NOT bit-exact ({len(got)} vs {len(crcs)} frames)")
    return {
        "frames": len(crcs),
        "transcode_s": dt,
        "bit_exact": True,
        "size_before": (src / RGB_NAME).stat().st_size,
        "size_after": (dst_folder / RGB_NAME).stat().st_size,
    }


def run_measured(code: str) -> dict:
    """Run ``python -c code`` in a fresh process: wall s, peak RSS MiB, its last stdout line."""
    l0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"failed ({p.returncode}): {code}")
    return {
        "seconds": dt,
        "peak_rss_mib": ru.ru_maxrss / 1024,
        "load_before": l0,
        "load_after": os.getloadavg()[0],
        "out": out.strip().splitlines()[-1] if out.strip() else "",
    }


SPOT = (
    "import sys; sys.path.insert(0, '.'); from analysis.spotting.pipeline import spot; "
    "r = spot({path!r}, use_cache=False); print(r.n_frames, len(r.intervals))"
)


def spot_run(folder: Path) -> dict:
    r = run_measured(SPOT.format(path=str(folder)))
    n, k = (int(x) for x in r["out"].split())
    r.update(frames=n, intervals=k, fps=n / r["seconds"])
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("session", type=Path)
    ap.add_argument("--codec", default="x264rgb")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--work", type=Path, help="where the re-encoded copy goes (kept)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="mexlab-codec-"))
    copy = work / f"{a.session.name}-{a.codec}"
    out = {"session": str(a.session), "codec": a.codec}
    out["reencode"] = reencode(a.session, copy, a.codec) if not (copy / RGB_NAME).is_file() else {"reused": str(copy)}
    print(json.dumps(out["reencode"]), file=sys.stderr, flush=True)
    try:
        recorded = (json.loads((a.session / "session.json").read_text()).get("codecs") or {}).get("rgb", "ffv1")
    except (OSError, ValueError):
        recorded = "ffv1"  # a folder without a readable sidecar: sessions before codecs were recorded
    # two keys even when the copy has the recorded codec: each variant's runs stay apart
    as_recorded, copied = f"{recorded} (as recorded)", f"{a.codec} (re-encoded)"
    runs = {as_recorded: [], copied: []}
    for r in range(a.rounds):
        order = [(as_recorded, a.session), (copied, copy)]
        for name, folder in order if r % 2 == 0 else order[::-1]:
            runs[name].append(spot_run(folder))
            print(name, json.dumps(runs[name][-1]), file=sys.stderr, flush=True)
    out["runs"] = runs
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for name, rs in runs.items():
            for x in rs:
                print(
                    f"{name}: {x['frames']} frames in {x['seconds']:.1f} s = {x['fps']:.1f} fps, "
                    f"{x['intervals']} intervals, peak {x['peak_rss_mib']:.0f} MiB, load "
                    f"{x['load_before']:.1f} -> {x['load_after']:.1f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
