"""A copy of a rig recognition release whose depth frames carry sensor-like noise, to see how much
of depth's contribution survives a real camera's noise (the rig's depth is noise-free).

    nice -n 10 .venv/bin/python bench/recognition_depth_noise.py --src /tmp/rig12_heldout \\
        --out /tmp/rig12_heldout_noisy [--sigma 1.0] [--corr 1.0] [--corr-px 4]

Colour frames and the sheet are hard-linked (unchanged); every depth PNG gets, independently per
frame, white noise of ``--sigma`` mm plus spatially correlated noise of ``--corr`` mm (white noise
blurred by a Gaussian of ``--corr-px`` px, rescaled), rounded to the 1-mm unit. The figures are a
plausible model of an Intel D4xx at ~60 cm (RMS ~1-2 mm), not a measurement of one. Then run
bench/recognition_loso.py on ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    import cv2

    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--corr", type=float, default=1.0)
    ap.add_argument("--corr-px", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.out.exists():
        print(f"{a.out}: already exists", file=sys.stderr)
        return 2
    rng = np.random.default_rng(a.seed)
    n = 0
    for src in sorted(a.src.rglob("*")):
        if ".mexlab-cache" in src.parts:
            continue
        dst = a.out / src.relative_to(a.src)
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".png" and src.parent.name == "depth":
            d = cv2.imread(str(src), cv2.IMREAD_UNCHANGED).astype(np.float32)
            noise = rng.normal(0, a.sigma, d.shape).astype(np.float32)
            if a.corr > 0:
                c = cv2.GaussianBlur(rng.normal(0, 1, d.shape).astype(np.float32), (0, 0), a.corr_px)
                noise += c * np.float32(a.corr / max(float(c.std()), 1e-6))
            out = np.clip(np.round(d + noise), 1, 65535).astype(np.uint16)
            out[d == 0] = 0
            cv2.imwrite(str(dst), out)
            n += 1
        else:
            os.link(src, dst)
    print(f"{n} depth frames with noise (white {a.sigma} mm + correlated {a.corr} mm over {a.corr_px} px) in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
