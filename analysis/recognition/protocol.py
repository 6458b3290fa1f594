"""Leave-one-subject-out evaluation with a fixed training budget.

Per fold (one subject held out): the training subjects' labels are thinned to ``label_fraction``
(stratified per class, at least one per class, seeded); with ``pretrain="mvcl"`` the encoders are
first pretrained by symmetric InfoNCE between the views on every training segment — labelled,
thinned-out and unlabelled (e.g. *others*) alike — and, in the ``transductive`` regime only, also on
the held-out subject's segments without their labels (``strict``, the default, never sees them);
then the whole network is trained with the labels for a fixed number of epochs. The epoch count
is fixed in :class:`Config` and never chosen on the test subject. Predictions of all folds are
pooled before UF1, UAR, accuracy, per-class F1 and the confusion matrix (MEGC 2019).

A LOSO run is the longest job: with ``checkpoint=PATH`` each finished fold's predictions are kept in
PATH (JSON, temp-and-rename, keyed by the configuration and a digest of the features), so an
interrupted run (Ctrl+C) loses at most the fold in progress; ``resume=True`` skips the folds kept.
Each fold is seeded on its own, so a resumed run gives the result of an uninterrupted one. The file
is removed when all folds are done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
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
        check_epochs(self.epochs, "--epochs")
        check_epochs(self.pretrain_epochs, "--pretrain-epochs")
        if self.pretrain == "mvcl" and len(self.views) < 2:
            raise InputError(
                f"--pretrain mvcl needs two views or more (--views rgb,depth or rgb,diff), not {','.join(self.views)}"
            )

    def as_dict(self) -> dict:
        d = asdict(self)
        d["views"] = list(self.views)
        return d


MAX_EPOCHS = 1_000_000  # beyond this a run does not end; a typo, not a budget


def check_epochs(epochs: int, what: str = "epochs") -> None:
    """A training budget in epochs: 1 to MAX_EPOCHS (InputError naming ``what`` otherwise)."""
    if not 1 <= epochs <= MAX_EPOCHS:
        raise InputError(f"{what} {epochs}: an integer from 1 to {MAX_EPOCHS}")


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
    checkpoint: str | Path | None = None,
    resume: bool = False,
) -> dict:
    """Pooled LOSO metrics (see the module docstring). ``progress(msg)`` gets one line per fold
    with an ETA; ``stop()`` → True ends early (the folds done so far are not reported, but kept in
    ``checkpoint`` when one is given; ``resume`` continues from it)."""
    from analysis.evaluation import loso_splits
    from analysis.recognition import task as T

    cfg.check()
    check_data(data)
    subjects = np.asarray(data.subjects)
    folds_in = [(s, tr, te) for s, tr, te in loso_splits(subjects) if (data.y[te] >= 0).any()]
    preds = np.full(len(data), -1, np.int64)
    probs = np.zeros((len(data), len(data.class_names)), np.float32)
    folds, t0 = [], time.perf_counter()
    key = run_key(data, cfg)
    done: set[str] = set()
    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            raise InputError(f"--resume: no LOSO checkpoint {checkpoint} (nothing to continue)")
        folds, done = _read_checkpoint(Path(checkpoint), key, preds, probs)
    n_ran, t_ran = 0, time.perf_counter()
    for subj, tr, te in folds_in:
        if subj in done:
            continue
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
        if checkpoint is not None:
            _write_checkpoint(Path(checkpoint), key, cfg, folds, preds, probs)
        n_ran += 1
        if progress is not None:
            el = time.perf_counter() - t0
            eta = (time.perf_counter() - t_ran) / n_ran * (len(folds_in) - len(folds))
            progress(
                f"fold {len(folds)}/{len(folds_in)} ({subj}): {len(te_l)} samples, accuracy "
                f"{acc:.2f}; elapsed {el:.0f} s, ETA {eta:.0f} s"
            )
    folds.sort(key=lambda f: [s for s, _, _ in folds_in].index(f["subject"]))
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
    if done:
        out["resumed_folds"] = len(done)
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return out


def run_key(data: FeatureSet, cfg: Config) -> str:
    """A digest of the configuration and the features (views, labels, subjects): a LOSO checkpoint
    is continued only by the same evaluation of the same data."""
    h = hashlib.sha256(json.dumps(cfg.as_dict(), sort_keys=True).encode())
    h.update(json.dumps([list(map(str, data.subjects)), list(data.class_names)]).encode())
    h.update(np.ascontiguousarray(data.y, np.int64).tobytes())
    for v in sorted(data.x):
        h.update(v.encode())
        h.update(np.ascontiguousarray(data.x[v]).tobytes())
    return h.hexdigest()


def _write_checkpoint(path: Path, key: str, cfg: Config, folds: list, preds: np.ndarray, probs: np.ndarray) -> None:
    kept = np.nonzero(preds >= 0)[0]
    doc = {
        "format": "mexlab-loso-checkpoint-1",
        "key": key,
        "config": cfg.as_dict(),
        "folds": folds,
        "index": kept.tolist(),
        "preds": preds[kept].tolist(),
        "probs": probs[kept].tolist(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)


def _read_checkpoint(path: Path, key: str, preds: np.ndarray, probs: np.ndarray) -> tuple[list, set[str]]:
    """Fill ``preds``/``probs`` from the checkpoint; the folds kept and their subjects."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != "mexlab-loso-checkpoint-1":
            raise ValueError("not a mexlab LOSO checkpoint")
        idx = np.asarray(doc["index"], np.int64)
        p, pr = np.asarray(doc["preds"], np.int64), np.asarray(doc["probs"], np.float32)
        folds = list(doc["folds"])
        if len(p) != len(idx) or pr.shape != (len(idx), probs.shape[1]):
            raise ValueError("its predictions do not match")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: damaged LOSO checkpoint ({e}); delete it to start again") from None
    if doc["key"] != key:
        raise DataError(
            f"{path}: a checkpoint of another evaluation (other data, views, classes, labels or epochs); "
            "give the same command as the interrupted run, or delete it to start again"
        )
    preds[idx], probs[idx] = p, pr
    return folds, {f["subject"] for f in folds}
