"""What a site does with its own data: split off held-out subjects, train from a global version,
evaluate, and build the numbers it sends (parameter deltas, sample counts, metrics — nothing else).

The model and its training are the recognition task's (:mod:`analysis.recognition.task`), the same
functions ``mexlab recognition train`` uses. torch is imported inside those functions only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import DataError, FileFormatError, InputError, MexlabError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from analysis.recognition.task import FeatureSet

HOLDOUT = 0.25  # share of a site's subjects kept for its own evaluation (at least one)


@dataclass
class SiteData:
    train: object  # FeatureSet
    held: object  # FeatureSet (the site's held-out subjects)
    class_names: list
    views: tuple

    @property
    def n_train(self) -> int:
        return int((np.asarray(self.train.y) >= 0).sum())


def load_features(
    specs: list[str], classes: str = "3", views: Iterable[str] = ("rgb", "depth"), truth: str | None = None
) -> FeatureSet:
    """Dataset specs (``KIND:ROOT``, read by the recognition task) or ``features:FILE.npz`` (a
    FeatureSet saved by :func:`save_features`, e.g. by the benchmark)."""
    from analysis.recognition import task

    saved = [s for s in specs if str(s).startswith("features:")]
    if saved and len(saved) != len(specs):
        raise InputError("--data: give either dataset specs or features:FILE.npz files, not both")
    if not saved:
        return task.load_dataset(list(specs), classes=classes, views=tuple(views), truth=truth)
    parts = [read_features(s.partition(":")[2], views) for s in saved]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    if any(p.class_names != first.class_names for p in parts):
        raise DataError("--data: the feature files have different classes")
    return task.FeatureSet(
        {v: np.concatenate([p.x[v] for p in parts]) for v in first.views},
        np.concatenate([p.y for p in parts]),
        sum((p.subjects for p in parts), []),
        first.class_names,
        first.views,
    )


def save_features(path: str | Path, data: FeatureSet) -> None:
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    np.savez(
        tmp,
        y=data.y,
        subjects=np.array(data.subjects),
        class_names=np.array(data.class_names),
        views=np.array(data.views),
        **{f"x_{v}": data.x[v] for v in data.views},
    )
    os.replace(tmp, path)


def read_features(path: str, views: Iterable[str]) -> FeatureSet:
    from analysis.recognition import task

    try:
        z = np.load(path, allow_pickle=False)
        fs_views = tuple(str(v) for v in z["views"])
        missing = [v for v in views if v not in fs_views]
        if missing:
            raise DataError(f"{path}: no {', '.join(missing)} view (it has {', '.join(fs_views)})")
        return task.FeatureSet(
            {v: z[f"x_{v}"].astype(np.float32) for v in views},
            z["y"].astype(np.int64),
            [str(s) for s in z["subjects"]],
            [str(c) for c in z["class_names"]],
            tuple(views),
        )
    except MexlabError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise FileFormatError(f"{path}: not a feature file ({exc})") from None


def _order(subjects: list[str], seed: int) -> list[str]:
    return sorted(subjects, key=lambda s: hashlib.sha1(f"{seed}:{s}".encode()).hexdigest())


def split_site(
    data: FeatureSet,
    *,
    site_index: int | None = None,
    num_sites: int | None = None,
    holdout: float = HOLDOUT,
    seed: int = 0,
    where: str = "site",
) -> SiteData:
    """This site's part of ``data`` (when one dataset is split by subject across ``num_sites``
    sites), then its held-out subjects. Raises a MexlabError when nothing usable remains."""
    from analysis.recognition import task

    subjects = _order(sorted(set(data.subjects)), seed)
    if num_sites and num_sites > 1:
        if len(subjects) < num_sites:
            raise DataError(
                f"{where}: {len(subjects)} subjects cannot be split across "
                f"{num_sites} sites (one subject at least per site)"
            )
        mine = set(subjects[site_index::num_sites])
        data = task.subset(data, [i for i, s in enumerate(data.subjects) if s in mine])
        subjects = _order(sorted(mine), seed)
    if len(subjects) < 2:
        raise DataError(
            f"{where}: no usable data: {len(subjects)} subject(s); a site needs two "
            "or more (some are held out for its own evaluation)"
        )
    n_hold = max(1, int(math.floor(holdout * len(subjects))))
    held_s = set(subjects[:n_hold])
    idx_h = [i for i, s in enumerate(data.subjects) if s in held_s and data.y[i] >= 0]
    idx_t = [i for i, s in enumerate(data.subjects) if s not in held_s and data.y[i] >= 0]
    if len(idx_t) < 2 or not idx_h:
        raise DataError(
            f"{where}: no usable data: {len(idx_t)} labelled training samples and {len(idx_h)} held-out ones"
        )
    return SiteData(task.subset(data, idx_t), task.subset(data, idx_h), list(data.class_names), tuple(data.views))


def model_signature(weights: list[np.ndarray], class_names: Iterable[str], views: Iterable[str]) -> str:
    """Short fingerprint of the model's architecture (array shapes), classes and views."""
    h = hashlib.sha1()
    h.update(repr([tuple(np.shape(w)) for w in weights]).encode())
    h.update(repr(list(class_names)).encode())
    h.update(repr(tuple(views)).encode())
    return h.hexdigest()[:12]


def initial_weights(n_classes: int, views: Iterable[str], seed: int = 0) -> list[np.ndarray]:
    from analysis.recognition import task

    return [np.asarray(w, dtype=np.float32) for w in task.get_weights(task.new_model(n_classes, tuple(views), seed))]


def statistics_indices(n_classes: int, views: Iterable[str], seed: int = 0) -> list[int]:
    """Indices, in the weights' (``state_dict``) order, of the arrays that are running statistics,
    not trained parameters: BatchNorm's running mean/var and batch counts. A server step must
    average these, never extrapolate them (:class:`analysis.federated.strategies.FedBuff`)."""
    from analysis.recognition import task

    model = task.new_model(n_classes, tuple(views), seed)
    trained = {name for name, _ in model.named_parameters()}
    return [i for i, name in enumerate(model.state_dict()) if name not in trained]


def local_train(
    sd: SiteData,
    weights: list[np.ndarray],
    *,
    epochs: int,
    lr: float,
    seed: int,
    batch_size: int = 32,
    clip: float | None = None,
    noise: float = 0.0,
) -> tuple[list[np.ndarray], dict]:
    """Train from ``weights`` on the site's training subjects. Returns (delta, metrics) where the
    metrics include the received version's scores on the site's held-out subjects."""
    from analysis.federated.privacy import clip_and_noise
    from analysis.recognition import task

    model = task.new_model(len(sd.class_names), sd.views, seed)
    task.set_weights(model, weights)
    before = task.evaluate(model, sd.held)
    res = task.train(model, sd.train, epochs=epochs, lr=lr, seed=seed, batch_size=batch_size)
    after = task.get_weights(model)
    delta = [
        np.asarray(np.asarray(a, np.float64) - np.asarray(b, np.float64), dtype=np.float32)
        for a, b in zip(after, weights)
    ]
    delta, dp = clip_and_noise(delta, clip, noise, np.random.default_rng(seed))
    metrics = {
        "num-examples": int(res["n"]),
        "train-loss": float(res["loss"]),
        "uf1": float(before["uf1"]),
        "uar": float(before["uar"]),
        "num-eval": int(before["n"]),
        "update-norm": float(dp.get("update-norm", -1.0)),
    }
    return delta, metrics


def local_evaluate(sd: SiteData, weights: list[np.ndarray], seed: int = 0) -> dict:
    from analysis.recognition import task

    model = task.new_model(len(sd.class_names), sd.views, seed)
    task.set_weights(model, weights)
    m = task.evaluate(model, sd.held)
    return {"uf1": float(m["uf1"]), "uar": float(m["uar"]), "num-eval": int(m["n"])}
