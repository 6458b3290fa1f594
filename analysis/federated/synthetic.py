"""Synthetic feature sets for CI and the federated benchmark — NOT micro-expressions.

Each sample is a set of 3×32×32 views (the recognition task's input size) holding a class pattern
(a blob at a class-specific place) plus a subject-specific offset pattern and noise ("head motion",
larger at some sites). Subjects differ in class mix, so sites split by subject are non-IID. It is a
workload with the right shapes for testing and timing the federated machinery; model quality on
it says nothing about micro-expressions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable

    from analysis.recognition.task import FeatureSet


def make(
    n_subjects: int,
    per_subject: int = 12,
    views: Iterable[str] = ("rgb", "depth"),
    n_classes: int = 3,
    seed: int = 0,
    motion: list[float] | None = None,
    prefix: str = "sub",
    signal: float = 1.2,
    label_noise: float = 0.0,
    shift: int = 0,
) -> FeatureSet:
    """``signal``: the class pattern's amplitude; ``label_noise``: share of samples whose label is
    drawn at random; ``shift``: each subject's pattern is moved by up to this many pixels."""
    from analysis.recognition.task import FeatureSet

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    centres = [(8 + 16 * (c % 2), 8 + 16 * ((c // 2) % 2)) for c in range(n_classes)]
    blobs = [np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 30.0).astype(np.float32) for cy, cx in centres]
    xs = {v: [] for v in views}
    ys, subj = [], []
    for s in range(n_subjects):
        mix = rng.dirichlet(np.ones(n_classes) * 0.8)  # each subject its own class mix
        offset = rng.normal(0, 0.4, (3, 32, 32)).astype(np.float32)
        sigma = motion[s] if motion else 0.6
        dy, dx = rng.integers(-shift, shift + 1, 2) if shift else (0, 0)
        for _ in range(per_subject):
            c = int(rng.choice(n_classes, p=mix))
            for k, v in enumerate(views):
                img = offset + rng.normal(0, sigma, (3, 32, 32)).astype(np.float32)
                img += (signal + 0.25 * signal * k) * np.roll(blobs[c], (dy, dx), (0, 1))[None]
                xs[v].append(img)
            ys.append(int(rng.integers(n_classes)) if rng.random() < label_noise else c)
            subj.append(f"{prefix}{s:03d}")
    names = ["negative", "positive", "surprise", "others"][:n_classes]
    return FeatureSet(
        {v: np.stack(a).astype(np.float32) for v, a in xs.items()}, np.array(ys, np.int64), subj, names, tuple(views)
    )
