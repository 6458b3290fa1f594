"""Leave-one-subject-out evaluation with a fixed training budget.

Per fold (one subject held out): the training subjects' labels are thinned to ``label_fraction``
(stratified per class, at least one per class, seeded); with ``pretrain="mvcl"`` the encoders are
first pretrained by symmetric InfoNCE between the views on every training segment — labelled,
thinned-out and unlabelled (e.g. *others*) alike — and, in the ``transductive`` regime only, also on
the held-out subject's segments without their labels (``strict``, the default, never sees them);
then the whole network is trained with the labels for a fixed number of epochs. The epoch count
is fixed in :class:`Config` and never chosen on the test subject. Predictions of all folds are
pooled before UF1, UAR, accuracy, per-class F1 and the confusion matrix (MEGC 2019).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from analysis.recognition.nets import MultiViewNet
    from analysis.recognition.task import FeatureSet


@dataclass
class Config:
    views: tuple[str, ...] = ("rgb", "depth")
    pretrain: str = "none"  # none | mvcl
    regime: str = "strict"  # strict | transductive
    label_fraction: float = 1.0
    epochs: int = 40  # supervised epochs (fixed budget)
    pretrain_epochs: int = 30
    lr: float = 2e-3
    pretrain_lr: float = 2e-3
    batch_size: int = 32
    pretrain_batch: int = 64
    temperature: float = 0.1
    width: int = 16
    seed: int = 0

    def check(self) -> None:
        if self.pretrain not in ("none", "mvcl"):
            raise InputError(f"--pretrain {self.pretrain!r}: none or mvcl")
        if self.regime not in ("strict", "transductive"):
            raise InputError(f"regime {self.regime!r}: strict or transductive")
        if not 0 < self.label_fraction <= 1:
            raise InputError(f"--label-fraction {self.label_fraction}: must be in (0, 1]")
        if self.pretrain == "mvcl" and len(self.views) < 2:
            raise InputError(
                f"--pretrain mvcl needs two views or more (--views rgb,depth or rgb,diff), not {','.join(self.views)}"
            )

    def as_dict(self) -> dict:
        d = asdict(self)
        d["views"] = list(self.views)
        return d


def thin_labels(y: np.ndarray, idx: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """The subset of ``idx`` (labelled samples) keeping ``fraction`` of each class, ≥ 1 each."""
    if fraction >= 1.0:
        return idx
    rng = np.random.default_rng(seed)
    keep = []
    for c in sorted(set(y[idx].tolist())):
        ic = idx[y[idx] == c]
        n = max(1, int(round(fraction * len(ic))))
        keep.extend(rng.choice(ic, size=n, replace=False).tolist())
    return np.array(sorted(keep), np.int64)


def check_data(data: FeatureSet) -> None:
    lab = data.y >= 0
    subjects = sorted(set(np.asarray(data.subjects)[lab].tolist()))
    if len(subjects) < 2:
        raise DataError(
            f"leave-one-subject-out needs two subjects or more; the data has "
            f"{len(subjects)} ({', '.join(subjects) or 'none'})"
        )
    counts = np.bincount(data.y[lab], minlength=len(data.class_names))
    empty = [c for c, n in zip(data.class_names, counts) if n == 0]
    if empty:
        raise DataError(
            f"class(es) {', '.join(empty)} have no sample in the data "
            f"({', '.join(f'{c}: {n}' for c, n in zip(data.class_names, counts))}); "
            f"choose another class scheme or a mapping file"
        )


def fit(
    data: FeatureSet,
    cfg: Config,
    train_idx: np.ndarray,
    unlabelled_extra: np.ndarray | None = None,
    *,
    progress: Callable[..., None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[MultiViewNet, dict]:
    """Pretrain (optional) and train one model on ``train_idx`` of ``data``; returns the model and
    the training records."""
    from analysis.recognition import task as T

    model = T.new_model(len(data.class_names), cfg.views, seed=cfg.seed, width=cfg.width)
    rec = {}
    if cfg.pretrain == "mvcl":
        pool = np.asarray(train_idx)
        if unlabelled_extra is not None and len(unlabelled_extra):
            pool = np.concatenate([pool, unlabelled_extra])
        rec["pretrain"] = T.pretrain_mvcl(
            model,
            T.subset(data, pool),
            cfg.pretrain_epochs,
            cfg.pretrain_lr,
            seed=cfg.seed,
            batch_size=cfg.pretrain_batch,
            temperature=cfg.temperature,
            stop=stop,
            progress=progress and (lambda e, n, loss: progress("pretrain", e, n, loss)),
        )
    lab = np.asarray(train_idx)
    lab = lab[data.y[lab] >= 0]
    lab = thin_labels(data.y, lab, cfg.label_fraction, cfg.seed)
    rec["train"] = T.train(
        model,
        T.subset(data, lab),
        cfg.epochs,
        cfg.lr,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        stop=stop,
        progress=progress and (lambda e, n, loss: progress("train", e, n, loss)),
    )
    rec["n_labels"] = int(len(lab))
    return model, rec


def loso(
    data: FeatureSet,
    cfg: Config,
    *,
    progress: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict:
    """Pooled LOSO metrics (see the module docstring). ``progress(msg)`` gets one line per fold
    with an ETA; ``stop()`` → True ends early (the folds done so far are not reported)."""
    from analysis.evaluation import loso_splits
    from analysis.recognition import task as T

    cfg.check()
    check_data(data)
    subjects = np.asarray(data.subjects)
    folds_in = [(s, tr, te) for s, tr, te in loso_splits(subjects) if (data.y[te] >= 0).any()]
    preds = np.full(len(data), -1, np.int64)
    probs = np.zeros((len(data), len(data.class_names)), np.float32)
    folds, t0 = [], time.perf_counter()
    for k, (subj, tr, te) in enumerate(folds_in):
        extra = te if cfg.regime == "transductive" else None
        model, rec = fit(data, cfg, tr, extra, stop=stop)
        if stop is not None and stop():
            raise KeyboardInterrupt
        te_l = te[data.y[te] >= 0]
        p = T.predict_proba(model, T.subset(data, te_l))
        probs[te_l] = p
        preds[te_l] = p.argmax(axis=1)
        acc = float((preds[te_l] == data.y[te_l]).mean())
        folds.append({"subject": subj, "n": int(len(te_l)), "accuracy": acc, "n_train_labels": rec["n_labels"]})
        if progress is not None:
            el = time.perf_counter() - t0
            eta = el / (k + 1) * (len(folds_in) - k - 1)
            progress(
                f"fold {k + 1}/{len(folds_in)} ({subj}): {len(te_l)} samples, accuracy "
                f"{acc:.2f}; elapsed {el:.0f} s, ETA {eta:.0f} s"
            )
    lab = preds >= 0
    res = T.metrics(data.y[lab], preds[lab], data.class_names)
    out = {
        "uf1": res["uf1"],
        "uar": res["uar"],
        "accuracy": res["accuracy"],
        "per_class": res["per_class"],
        "confusion": res["confusion"],
        "n_samples": int(lab.sum()),
        "n_subjects": len(folds),
        "folds": folds,
        "protocol": "loso",
        "config": cfg.as_dict(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return out
