"""The recognition task as functions on arrays: datasets → features, a model, train, evaluate.

This is the contract the federated code (issue 13) and the CLI build on:

* :func:`load_dataset` — dataset specs → :class:`FeatureSet` (read through :mod:`analysis.datasets`,
  features from :mod:`analysis.recognition.features`, cached);
* :func:`new_model`, :func:`get_weights`, :func:`set_weights` (fixed order: the model's
  ``state_dict`` order, BatchNorm statistics included; shapes checked);
* :func:`train` (supervised; class-balanced cross-entropy, Adam, a fixed number of epochs),
  :func:`pretrain_mvcl` (symmetric InfoNCE between the views), :func:`evaluate`, :func:`predict`;
* :func:`subset`.

torch is imported inside the functions only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from acquisition.errors import DataError, FileFormatError, InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike
    from torch import nn

    from analysis.recognition.nets import MultiViewNet

TEMPERATURE = 0.1
DEFAULT_WIDTH = 16
#: torch threads while training/predicting: on a shared 2-core machine two threads per process
#: were 19× slower than one (231 ms vs 4.45 s per batch of 32 at load average 15).
THREADS = 1


class _threads:
    """Run torch with :data:`THREADS` threads inside the block, restoring the count after."""

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(THREADS)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


@dataclass
class FeatureSet:
    x: dict[str, np.ndarray]  # view → float32 (N, C, H, W)
    y: np.ndarray  # int64 (N,), index into class_names
    subjects: list[str]
    class_names: list[str]
    views: tuple[str, ...]
    keys: list[str] = field(default_factory=list)  # sample keys (dataset/subject/video/frames)
    problems: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.y))


def subset(data: FeatureSet, idx: ArrayLike) -> FeatureSet:
    idx = np.asarray(idx)
    if idx.dtype == bool:
        idx = np.nonzero(idx)[0]
    idx = idx.astype(np.int64)
    return FeatureSet(
        {v: a[idx] for v, a in data.x.items()},
        data.y[idx],
        [data.subjects[i] for i in idx],
        list(data.class_names),
        tuple(data.views),
        [data.keys[i] for i in idx] if data.keys else [],
        list(data.problems),
        dict(data.summary),
    )


def load_dataset(
    specs: list[str],
    classes: str = "3",
    views: tuple[str, ...] = ("rgb", "depth"),
    *,
    truth: str | None = None,
    coder: str | None = None,
    include_unlabelled: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureSet:
    """Read every spec, keep the samples the class scheme keeps, compute (or load) their features.

    ``truth="rig"`` labels mexlab sessions from the simulated rig's ground truth. With
    ``include_unlabelled`` the samples the scheme leaves out are kept with ``y = -1`` (for
    contrastive pretraining)."""
    from analysis.datasets import get_scheme, read_spec
    from analysis.recognition.features import check_views, compute

    views = check_views(views)
    if not specs:
        raise InputError("no dataset given (--dataset KIND:ROOT)")
    scheme = get_scheme(classes)
    samples, problems, per_ds = [], [], {}
    for spec in specs:
        res = read_spec(spec, scheme, truth=truth, coder=coder)
        if res.errors:
            more = f" (and {len(res.errors) - 1} more; see mexlab datasets show {spec})" if len(res.errors) > 1 else ""
            raise FileFormatError(f"{res.errors[0]}{more}")
        problems += res.problems
        keep = res.samples if include_unlabelled else res.usable
        per_ds[spec] = len(keep)
        samples += keep
    if not samples:
        why = ""  # what left the samples out (a session without the coder's coding, …): the reason a lab needs
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            why = f": {problems[0]}{more}"
        raise DataError(f"{', '.join(specs)}: no sample with a class of scheme {scheme.name}{why}")
    feats, probs = compute(samples, progress=progress)
    problems += probs
    rows = []
    for s, f in zip(samples, feats):
        if f is None:
            continue
        lacking = [v for v in views if v not in f]
        if lacking:
            raise InputError(
                f"{s.origin}: no {', '.join(lacking)} for this sample "
                f"({s.dataset} has no depth frames here); choose --views "
                f"among {', '.join(sorted(f))}"
            )
        rows.append((s, f))
    if not rows:
        raise DataError(f"{', '.join(specs)}: no sample could be read ({problems[:1]})")
    cls = list(scheme.classes)
    x = {v: np.stack([f[v] for _, f in rows]).astype(np.float32) for v in views}
    y = np.array([cls.index(s.label) if s.label is not None else -1 for s, _ in rows], np.int64)
    subj = [f"{s.dataset}:{s.subject}" if len(specs) > 1 else s.subject for s, _ in rows]
    summary = {
        "datasets": per_ds,
        "n": len(rows),
        "per_class": {c: int((y == i).sum()) for i, c in enumerate(cls)},
        "n_subjects": len(set(subj)),
        "scheme": scheme.name,
    }
    return FeatureSet(x, y, subj, cls, views, [s.key for s, _ in rows], problems, summary)


def new_model(n_classes: int, views: tuple[str, ...], seed: int = 0, width: int = DEFAULT_WIDTH) -> MultiViewNet:
    import torch

    from analysis.recognition.features import CHANNELS, check_views
    from analysis.recognition.nets import MultiViewNet

    views = check_views(views)
    torch.manual_seed(seed)
    return MultiViewNet(int(n_classes), views, CHANNELS, width=width)


def get_weights(model: nn.Module) -> list[np.ndarray]:
    return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]


def set_weights(model: nn.Module, weights: list[np.ndarray]) -> None:
    import torch

    sd = model.state_dict()
    if len(weights) != len(sd):
        raise DataError(f"weights: {len(weights)} arrays given, the model has {len(sd)}")
    new = {}
    for (name, cur), w in zip(sd.items(), weights):
        w = np.asarray(w)
        if tuple(w.shape) != tuple(cur.shape):
            raise DataError(f"weights: {name} has shape {tuple(w.shape)}, the model expects {tuple(cur.shape)}")
        new[name] = torch.as_tensor(w).to(cur.dtype)
    model.load_state_dict(new)


def _tensors(data: FeatureSet, views, idx=None):
    import torch

    return {v: torch.from_numpy(data.x[v] if idx is None else data.x[v][idx]) for v in views}


def _train(
    model,
    data: FeatureSet,
    epochs: int,
    lr: float,
    seed: int = 0,
    batch_size: int = 32,
    *,
    weight_decay: float = 1e-4,
    progress=None,
    stop=None,
) -> dict:
    """Supervised training for a fixed number of epochs (class-balanced cross-entropy, Adam).
    Samples with ``y < 0`` (unlabelled) are skipped. ``stop()`` → True ends after the batch."""
    import torch
    import torch.nn.functional as F

    lab = np.nonzero(data.y >= 0)[0]
    if len(lab) == 0:
        raise DataError("training: no labelled sample")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_cls = len(data.class_names)
    counts = np.bincount(data.y[lab], minlength=n_cls).astype(np.float64)
    wts = torch.tensor(np.where(counts > 0, len(lab) / (n_cls * np.maximum(counts, 1)), 0.0), dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    x = _tensors(data, model.views)
    y = torch.from_numpy(data.y)
    model.train()
    loss_sum, seen = 0.0, 0
    for ep in range(int(epochs)):
        order = rng.permutation(lab)
        ep_loss, ep_n = 0.0, 0
        for b in range(0, len(order), batch_size):
            i = torch.from_numpy(order[b : b + batch_size])
            if len(i) < 2:
                continue  # BatchNorm needs two samples
            out = model({v: t[i] for v, t in x.items()})
            loss = F.cross_entropy(out, y[i], weight=wts)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ep_loss += loss.item() * len(i)
            ep_n += len(i)
            if stop is not None and stop():
                cut = b + batch_size < len(order)  # batches of this epoch left undone
                break
        else:
            cut = False
        if cut:  # an epoch stopped part-way is not reported (nor checkpointed) as done
            break
        loss_sum, seen = ep_loss, ep_n
        if progress is not None:
            progress(ep + 1, int(epochs), ep_loss / max(ep_n, 1))
        if stop is not None and stop():
            break
    model.eval()
    return {"loss": loss_sum / max(seen, 1), "n": int(len(lab)), "epochs": int(epochs)}


def _pretrain_mvcl(
    model,
    data: FeatureSet,
    epochs: int,
    lr: float,
    seed: int = 0,
    batch_size: int = 64,
    temperature: float = TEMPERATURE,
    *,
    progress=None,
    stop=None,
) -> dict:
    """MvCL: symmetric InfoNCE between every pair of the model's views, on every sample of
    ``data`` (labels unused). Trains the encoders and projection heads."""
    import torch

    from analysis.recognition.nets import info_nce

    views = model.views
    if len(views) < 2:
        raise DataError(f"MvCL pretraining needs two views or more, not {', '.join(views)}")
    n = len(data)
    if n < 4:
        raise DataError(f"MvCL pretraining needs at least 4 samples, not {n}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = list(model.encoders.parameters()) + list(model.proj.parameters())
    opt = torch.optim.Adam(params, lr=lr, weight_decay=1e-4)
    x = _tensors(data, views)
    model.train()
    last = 0.0
    for ep in range(int(epochs)):
        order = rng.permutation(n)
        tot, cnt = 0.0, 0
        for b in range(0, n, batch_size):
            i = torch.from_numpy(order[b : b + batch_size])
            if len(i) < 4:
                continue
            e = model.embed({v: t[i] for v, t in x.items()})
            z = {v: model.proj[v](e[v]) for v in views}
            loss = sum(info_nce(z[a], z[b2], temperature) for k, a in enumerate(views) for b2 in views[k + 1 :])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(i)
            cnt += len(i)
            if stop is not None and stop():
                cut = b + batch_size < n  # batches of this epoch left undone
                break
        else:
            cut = False
        if cut:  # an epoch stopped part-way is not reported (nor checkpointed) as done
            break
        last = tot / max(cnt, 1)
        if progress is not None:
            progress(ep + 1, int(epochs), last)
        if stop is not None and stop():
            break
    model.eval()
    return {"loss": last, "n": n, "epochs": int(epochs), "temperature": temperature, "batch_size": batch_size}


def _predict_proba(model, data: FeatureSet) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        out = model(_tensors(data, model.views))
        return torch.softmax(out, dim=1).numpy()


def metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    from analysis.evaluation import uar, uf1

    labels = list(range(len(class_names)))
    per = {}
    for k, c in enumerate(class_names):
        tp = int(((y_pred == k) & (y_true == k)).sum())
        fp = int(((y_pred == k) & (y_true != k)).sum())
        fn = int(((y_pred != k) & (y_true == k)).sum())
        n = int((y_true == k).sum())
        per[c] = {
            "f1": 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0,
            "recall": tp / n if n else 0.0,
            "n": n,
        }
    conf = [[int(((y_true == a) & (y_pred == b)).sum()) for b in labels] for a in labels]
    present = sorted(set(int(v) for v in y_true))
    return {
        "uf1": float(uf1(y_true, y_pred, present)),
        "uar": float(uar(y_true, y_pred, present)),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "n": int(len(y_true)),
        "per_class": per,
        "confusion": {"labels": list(class_names), "matrix": conf},
    }


def evaluate(model: MultiViewNet, data: FeatureSet) -> dict:
    lab = np.nonzero(data.y >= 0)[0]
    if len(lab) == 0:
        raise DataError("evaluation: no labelled sample")
    pred = predict_proba(model, subset(data, lab)).argmax(axis=1)
    return metrics(data.y[lab], pred, data.class_names)


def train(
    model: MultiViewNet, data: FeatureSet, epochs: int, lr: float, seed: int = 0, batch_size: int = 32, **kw: Any
) -> dict:
    """Supervised training for a fixed number of epochs (class-balanced cross-entropy, Adam).
    Samples with ``y < 0`` (unlabelled) are skipped. Returns ``{"loss", "n", "epochs"}``."""
    with _threads():
        return _train(model, data, epochs, lr, seed, batch_size, **kw)


def pretrain_mvcl(
    model: MultiViewNet,
    data: FeatureSet,
    epochs: int,
    lr: float,
    seed: int = 0,
    batch_size: int = 64,
    temperature: float = TEMPERATURE,
    **kw: Any,
) -> dict:
    """MvCL pretraining (symmetric InfoNCE between each pair of views, labels unused)."""
    with _threads():
        return _pretrain_mvcl(model, data, epochs, lr, seed, batch_size, temperature, **kw)


def predict_proba(model: MultiViewNet, data: FeatureSet) -> np.ndarray:
    """Class probabilities (N × classes)."""
    with _threads():
        return _predict_proba(model, data)
