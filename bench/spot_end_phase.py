"""Peak memory of spotting's phase after feature extraction (EMG evidence, detection with
interference elimination) at a long session's length, without extracting an hour's features:
the per-frame features of a spotted SHORT session (its feature cache) repeated N times, with the
EMG of LONG (a session of about N times SHORT's length).

    .venv/bin/python bench/spot_end_phase.py SHORT [LONG] [--repeat 6]

SHORT must have been spotted with the cache on (``mexlab spot SHORT``: ``.mexlab-cache/rgb.mkv.*.npz``).
Without LONG, SHORT's own EMG is used (then use --repeat 1 for the baseline). Peak resident memory per
stage (``/proc/self/clear_refs`` resets VmHWM before each; Linux only). The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _status() -> dict[str, int]:
    with open("/proc/self/status") as fh:
        return {ln.split(":")[0]: int(ln.split()[1]) // 1024 for ln in fh if ln.startswith(("VmHWM", "VmRSS"))}


def _reset() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def repeated(arrays: dict, rep: int) -> dict:
    """The per-frame arrays of a session repeated ``rep`` times, frame numbers and times continued."""
    n, nk = arrays["t"].size, arrays["kf_index"].size
    span = float(arrays["t"][-1] - arrays["t"][0]) + 1 / 30
    out = {}
    for k, v in arrays.items():
        if k == "kf_index":
            out[k] = np.concatenate([v + i * n for i in range(rep)])
        elif k == "t":
            out[k] = np.concatenate([v + i * span for i in range(rep)])
        elif v.ndim >= 1 and v.shape[0] in (n, nk):
            out[k] = np.concatenate([v] * rep)
        else:
            out[k] = v
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("short", type=Path)
    ap.add_argument("long", type=Path, nargs="?")
    ap.add_argument("--repeat", type=int, default=6)
    a = ap.parse_args()
    from analysis.spotting import pipeline as P
    from analysis.spotting.features import Features

    caches = sorted((a.short / ".mexlab-cache").glob("rgb.mkv.*.npz"))
    if not caches:
        print(f"{a.short}: no feature cache; run `mexlab spot {a.short}` first", file=sys.stderr)
        return 2
    with np.load(caches[-1], allow_pickle=False) as z:
        arrays = repeated({k: z[k] for k in z.files}, a.repeat)
    n = arrays["t"].size
    feat = Features(str(a.short / "rgb.mkv"), 30.0, n, 0, 0, 128, 3, arrays)
    print(f"load {os.getloadavg()[0]:.1f}; {n} frames, features {sum(v.nbytes for v in arrays.values()) / 1e6:.1f} MB")
    print(f"with the features in memory: {_status()['VmRSS']} MiB")
    _reset()
    t = time.perf_counter()
    emg = P.load_emg((a.long or a.short) / "recording.xdf", n, P.SpotParams().emg)
    s = _status()
    print(f"EMG evidence: {time.perf_counter() - t:.1f} s, peak {s['VmHWM']} MiB, after {s['VmRSS']} MiB")
    _reset()
    t = time.perf_counter()
    groups, _ = P.spot_features(feat, 30.0, interference=True, emg=emg)
    s = _status()
    print(
        f"detection: {time.perf_counter() - t:.1f} s, peak {s['VmHWM']} MiB, after {s['VmRSS']} MiB, {len(groups)} intervals"
    )
    print(f"load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
