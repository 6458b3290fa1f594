"""A small learned spotter: a temporal convolutional network over the per-region signals.

Input, per frame (after the same face tracking, registration, flow and rigid-motion removal as the
hand-tuned spotter, :mod:`analysis.spotting.features`), resampled to 30 fps:

* the residual flow of the 17 expression regions (x, y; crop px per 1/30 s, 2-s moving mean out:
  :func:`analysis.spotting.detect.detrend`), ×5;
* each region's noise floor over the video (log of its robust per-frame flow σ), so the network
  can tell a movement from this video's own noise;
* head motion (rigid motion in crop px/frame ×5, rotation speed / 30 °/s), the eye-closure proxy
  (AU45), the speech mask of :mod:`analysis.spotting.interference` and whether the frame has flow.

Output, per frame: P(inside a micro-expression), P(inside a macro-expression). Intervals are the
runs of frames where their sum exceeds ``threshold`` (at least ``min_len_s``); type by duration
(≤ 0.5 s micro) as everywhere; apex, regions and AUs from the region displacement inside the run.
Weights and the configuration are one safetensors file (``analysis/models/spotter_tcn.safetensors``;
docs/spotting.md says how it was trained). torch is imported only here, only when this spotter is
used; :func:`available` says whether it can be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.spotting import regions as R
from analysis.spotting.detect import (
    Candidate,
    DetectParams,
    Group,
    detrend,
    finish_group,
    noise_levels,
)

if TYPE_CHECKING:
    from torch import nn

    from analysis.spotting.features import Features

MODEL_FILE = Path(__file__).resolve().parents[1] / "models" / "spotter_tcn.safetensors"
BASE_FPS = 30.0
EXPR = tuple(i for i, n in enumerate(R.REGION_NAMES) if n != "bridge")
N_IN = 3 * len(EXPR) + 5
#: index of each expression region's mirror image (left <-> right), for flip augmentation
MIRROR = tuple(
    EXPR.index(R.REGION_NAMES.index(n[:-2] + ("_r" if n.endswith("_l") else "_l") if n[-2:] in ("_l", "_r") else n))
    for n in (R.REGION_NAMES[i] for i in EXPR)
)


@dataclass
class LearnedParams:
    threshold: float = 0.5
    min_len_s: float = 0.13
    channels: int = 32
    dilations: tuple = (1, 2, 4, 8, 16)


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return MODEL_FILE.is_file()


def _resample(x: np.ndarray, n_out: int) -> np.ndarray:
    n = len(x)
    if n == n_out or n < 2:
        return x
    src = np.linspace(0.0, n - 1.0, n_out)
    i0 = np.clip(np.floor(src).astype(int), 0, n - 2)
    w = (src - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return (x[i0] * (1 - w) + x[i0 + 1] * w).astype(x.dtype)


def inputs(feat: Features, fps: float) -> np.ndarray:
    """The network's input (n30, N_IN) float32 on the 30-fps grid of the video's frames."""
    from analysis.face.aus import AU_NAMES, au_proxies
    from analysis.spotting.interference import (
        InterferenceParams,
        head_signals,
        speech_mask,
    )

    valid = feat.flow_valid
    flow = detrend(feat.flow, valid, fps, 2.0)
    _, _, s_v = noise_levels(flow, valid, fps, DetectParams())
    scale = fps / BASE_FPS
    f = flow[:, EXPR, :] * scale
    closure = np.nan_to_num(au_proxies(feat.blendshapes)[:, AU_NAMES.index("AU45")])
    head = head_signals(feat.glob, feat.pose, feat.depth_face, fps, feat.crop)
    # the speech floor the shipped model was trained with (0.15 by default since the seventh round)
    speech = speech_mask(feat.flow, valid, fps, InterferenceParams(speech_prom=0.3))
    n = len(valid)
    x = np.concatenate(
        [
            5.0 * f.reshape(n, -1),
            np.broadcast_to(np.log10(np.maximum(s_v[list(EXPR)] * scale, 1e-3)) + 2.0, (n, len(EXPR))),
            np.stack(
                [
                    5.0 * np.nan_to_num(head["path_px"]) * scale,
                    np.nan_to_num(head["deg_s"]) / 30.0,
                    closure,
                    speech.astype(np.float32),
                    valid.astype(np.float32),
                ],
                axis=1,
            ),
        ],
        axis=1,
    ).astype(np.float32)
    x[~valid, : 2 * len(EXPR)] = 0.0
    n30 = max(2, int(round(n * BASE_FPS / fps)))
    return _resample(np.clip(x, -20, 20), n30)


def mirror(x: np.ndarray) -> np.ndarray:
    """The input of the mirrored face (left and right regions swapped, x motion negated)."""
    k = len(EXPR)
    f = x[:, : 2 * k].reshape(len(x), k, 2)[:, MIRROR, :].copy()
    f[:, :, 0] *= -1
    out = x.copy()
    out[:, : 2 * k] = f.reshape(len(x), -1)
    out[:, 2 * k : 3 * k] = x[:, 2 * k : 3 * k][:, MIRROR]
    return out


def build(lp: LearnedParams) -> nn.Module:
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c, d):
            super().__init__()
            self.conv = nn.Conv1d(c, c, 3, padding=d, dilation=d)
            self.mix = nn.Conv1d(c, c, 1)
            self.norm = nn.GroupNorm(4, c)

        def forward(self, h):
            return h + self.mix(torch.relu(self.norm(self.conv(h))))

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv1d(N_IN, lp.channels, 1)
            self.blocks = nn.Sequential(*[Block(lp.channels, d) for d in lp.dilations])
            self.out = nn.Conv1d(lp.channels, 3, 1)

        def forward(self, x):  # (batch, N_IN, time) -> logits (batch, 3, time)
            return self.out(self.blocks(torch.relu(self.inp(x))))

    return TCN()


def save(model: nn.Module, lp: LearnedParams, path: Path, meta: dict) -> None:
    from safetensors.torch import save_file

    from acquisition.atomic import atomic_path

    cfg = {
        "threshold": lp.threshold,
        "min_len_s": lp.min_len_s,
        "channels": lp.channels,
        "dilations": list(lp.dilations),
        "n_in": N_IN,
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(Path(path)) as tmp:
        save_file(state, str(tmp), metadata={"config": json.dumps(cfg), "trained": json.dumps(meta)})


_CACHE: dict = {}


def load(path: Path | None = None) -> tuple[nn.Module, LearnedParams, dict]:
    """(model, LearnedParams, metadata) of a model file (cached per path)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from acquisition.errors import FileFormatError

    path = Path(path or MODEL_FILE)
    if path in _CACHE:
        return _CACHE[path]
    try:
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
        cfg = json.loads(meta["config"])
        if cfg.get("n_in") != N_IN:
            raise ValueError(f"input size {cfg.get('n_in')} != {N_IN}")
        lp = LearnedParams(cfg["threshold"], cfg["min_len_s"], cfg["channels"], tuple(cfg["dilations"]))
        model = build(lp)
        model.load_state_dict(load_file(str(path)))
    except (OSError, KeyError, ValueError, RuntimeError, SafetensorError) as exc:
        raise FileFormatError(f"{path}: not a usable spotter model ({exc})") from None
    model.eval()
    _CACHE[path] = (model, lp, json.loads(meta.get("trained", "{}")))
    return _CACHE[path]


def frame_probs(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """P(micro), P(macro) per frame (n, 2) of an input (n, N_IN)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few ms of small convolutions: threads would only spin
    try:
        with torch.no_grad():
            logit = model(torch.from_numpy(x.T[None].copy()))[0]
            p = torch.softmax(logit, dim=0)[1:].T.numpy()
    finally:
        torch.set_num_threads(threads)
    return p


def spot_learned(
    feat: Features, fps: float, *, model_path: Path | None = None, threshold: float | None = None
) -> list[Group]:
    """Intervals of a video's features found by the learned spotter (Groups, as the hand path)."""
    model, lp, _ = load(model_path)
    n = len(feat.flow_valid)
    x = inputs(feat, fps)
    p = frame_probs(model, x)
    p = _resample(p, n) if len(p) != n else p
    return intervals_from_probs(p, feat, fps, lp, threshold)


def intervals_from_probs(
    p: np.ndarray, feat: Features, fps: float, lp: LearnedParams, threshold: float | None = None
) -> list[Group]:
    thr = lp.threshold if threshold is None else threshold
    act = (p.sum(axis=1) >= thr) & feat.flow_valid
    m = np.concatenate([[False], act, [False]]).astype(np.int8)
    d = np.diff(m)
    runs = zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1)
    dp = DetectParams()
    flow = detrend(feat.flow, feat.flow_valid, fps, 2.0)
    disp = np.cumsum(np.where(feat.flow_valid[:, None, None], flow, 0.0), axis=0)
    out = []
    for a, b in runs:
        if b - a + 1 < lp.min_len_s * fps or b >= n_last(feat):
            continue
        i0 = max(a - 1, 0)
        dv = disp[a : b + 1] - disp[i0]
        mag = np.linalg.norm(dv, axis=2)  # (len, regions)
        mag[:, R.REF] = 0.0
        best = mag.max(axis=0)
        top = float(best.max())
        members = []
        for r in np.argsort(-best)[:4]:
            if best[r] < 0.35 * top or best[r] <= 0:
                continue
            k = int(np.argmax(mag[:, r]))
            direction = dv[k, r]
            name = R.REGION_NAMES[r]
            members.append(
                Candidate(
                    name,
                    int(a),
                    int(a + k),
                    int(b),
                    float(best[r]),
                    1.0,
                    (float(direction[0]), float(direction[1])),
                    R.aus_for(name, direction),
                )
            )
        if not members:
            continue
        score = float(p[a : b + 1].sum(axis=1).max())
        for c in members:
            c.score = score * c.amplitude / top
        g = Group(int(a), members[0].apex, int(b), score, members)
        finish_group(g, fps, dp)
        g.onset, g.offset, g.score = int(a), int(b), score
        g.type = "micro" if (g.offset - g.onset) / fps <= dp.micro_max_s else "macro"
        out.append(g)
    return out


def n_last(feat: Features) -> int:
    """Runs reaching the last frame cannot be seen to end: not reported."""
    return len(feat.flow_valid) - 1
