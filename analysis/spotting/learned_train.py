"""Training of the learned spotter (:mod:`analysis.spotting.learned`) on labelled videos.

A video is used through its extracted features (:func:`analysis.spotting.features.extract_features`,
cache on) and its ground truth (rows with onset, offset, type ``micro``/``macro``; every other
frame — blinks, head turns, speech, rest — is background). Training (400 steps of 8 windows by default): random 256-frame windows of
the 30-fps inputs, mirrored (left <-> right) half of the time, flow scaled ×0.6-1.4 and with extra
noise, weighted cross-entropy (background 1, micro 4, macro 2), Adam. Deterministic for a seed.

    python -m analysis.spotting.learned_train --dir /tmp/mexlab-spot-quality --out FILE [--seeds 0,1,2,3,4]
        (the tuning sets of bench/spot_quality.py: seeds 0 and 1 by default; the shipped model of the
        fifth round: seeds 0-4, the four tuning people, --threshold 0.7)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.spotting.learned import (
    BASE_FPS,
    EXPR,
    LearnedParams,
    build,
    inputs,
    mirror,
    save,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from torch import nn

WIN = 256


def labels(rows: list[dict], n_frames: int, fps: float, n30: int) -> np.ndarray:
    """Class per 30-fps frame: 0 background, 1 micro, 2 macro."""
    y = np.zeros(n_frames, np.int64)
    for r in rows:
        if r["type"] in ("micro", "macro"):
            y[max(0, r["onset"]) : min(n_frames, r["offset"] + 1)] = 1 if r["type"] == "micro" else 2
    idx = np.clip(np.round(np.arange(n30) * fps / BASE_FPS).astype(int), 0, n_frames - 1)
    return y[idx]


def example(video: str | Path, gt_rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    from analysis.spotting.features import extract_features

    feat = extract_features(video, use_cache=True)
    x = inputs(feat, feat.fps)
    return x, labels(gt_rows, feat.n_frames, feat.fps, len(x))


def train(
    data: list[tuple[np.ndarray, np.ndarray]],
    *,
    steps: int = 400,
    seed: int = 0,
    lp: LearnedParams | None = None,
    batch: int = 8,
    log: Callable[[str], None] | None = None,
) -> nn.Module:
    """A trained model (eval mode) on (input, labels) pairs."""
    import torch

    lp = lp or LearnedParams()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: more threads only spin against each other
    try:
        return _train(data, steps, seed, lp, batch, log)
    finally:
        torch.set_num_threads(threads)


def _train(data, steps, seed, lp, batch, log):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build(lp)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    weight = torch.tensor([1.0, 4.0, 2.0])
    k = 2 * len(EXPR)
    lens = np.array([len(x) for x, _ in data], float)
    pick = lens / lens.sum()
    model.train()
    for step in range(steps):
        xb, yb = [], []
        for _ in range(batch):
            x, y = data[int(rng.choice(len(data), p=pick))]
            w = min(WIN, len(x))
            s = int(rng.integers(0, len(x) - w + 1))
            xw, yw = x[s : s + w].copy(), y[s : s + w]
            if rng.random() < 0.5:
                xw = mirror(xw)
            xw[:, :k] *= rng.uniform(0.6, 1.4)
            xw[:, :k] += rng.normal(0, rng.uniform(0, 0.08), size=(w, k)).astype(np.float32)
            if w < WIN:
                xw = np.pad(xw, ((0, WIN - w), (0, 0)))
                yw = np.pad(yw, (0, WIN - w), constant_values=-100)
            xb.append(xw.T)
            yb.append(yw)
        xt = torch.from_numpy(np.stack(xb).astype(np.float32))
        yt = torch.from_numpy(np.stack(yb))
        loss = torch.nn.functional.cross_entropy(model(xt), yt, weight=weight, ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log and (step % 250 == 0 or step == steps - 1):
            log(f"step {step} loss {loss.item():.4f}")
    model.eval()
    return model


def tuning_items(folder: Path, seeds: Iterable[int] = (0, 1), n: int = 10, duration: float = 30.0) -> list[dict]:
    """The tuning sets of bench/spot_quality.py (rendered when missing)."""
    root = Path(__file__).resolve().parents[2]
    if str(root / "bench") not in sys.path:
        sys.path.insert(0, str(root / "bench"))
    import spot_quality  # bench/spot_quality.py

    items = []
    for s in seeds:
        items += spot_quality.build("tuning", n, duration, folder, s, log=lambda *a: None)
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train the learned spotter on the varied rig's tuning faces")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mexlab-spot-quality"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--people", default="", help="comma-separated: train only on these people")
    ap.add_argument(
        "--seeds", default="0,1", help="comma-separated tuning-set seeds (from 3 on they hold obama and biden too)"
    )
    ap.add_argument("--chosen-by", default="", help="how the threshold was chosen (kept in the file's metadata)")
    a = ap.parse_args(argv)
    items = tuning_items(a.dir, seeds=[int(x) for x in a.seeds.split(",") if x.strip()])
    if a.people:
        keep = set(a.people.split(","))
        items = [it for it in items if it["identity"].person in keep]
    t0 = time.perf_counter()
    data = [example(it["video"], it["gt"]) for it in items]
    lp = LearnedParams(threshold=a.threshold)
    model = train(data, steps=a.steps, seed=a.seed, lp=lp, batch=a.batch, log=print)
    meta = {
        "videos": [it["name"] for it in items],
        "steps": a.steps,
        "batch": a.batch,
        "seed": a.seed,
        "frames_30fps": int(sum(len(x) for x, _ in data)),
        "train_s": round(time.perf_counter() - t0, 1),
    }
    if a.chosen_by:
        meta["threshold_chosen_by"] = a.chosen_by
    save(model, lp, a.out, meta)
    print(f"saved {a.out} ({meta['frames_30fps']} frames, {meta['train_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
