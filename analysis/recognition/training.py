"""Training, pretraining and testing a model file: the sequences that `mexlab recognition train`,
`pretrain` and `evaluate` and the Models view's form all run (one copy).

* :func:`train_classifier` — new model (or encoders taken from ``init``), the training labels
  thinned to ``label_fraction`` (at least one per class, :func:`protocol.thin_labels`), a resume from
  ``OUT.checkpoint`` when asked, a fixed number of epochs with a checkpoint after each, then the
  model file written and the checkpoint removed.
* :func:`pretrain_encoders` — MvCL pretraining (symmetric InfoNCE between the views, every segment,
  labels unused) with the same checkpoint, resume and stop.
* :func:`evaluate_model` — a model file's own predictions on data it was not trained on (held-out
  subjects); :func:`store_evaluation` keeps a result with the model (a sidecar, see
  :mod:`analysis.recognition.modelfile`).

A stop (Cancel) or Ctrl+C leaves the last checkpoint and no model file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acquisition.errors import Cancelled, DataError, InputError, NotFoundError

if TYPE_CHECKING:
    from analysis.recognition.nets import MultiViewNet
    from analysis.recognition.task import FeatureSet


@dataclass
class TrainRun:
    """What to train and where: ``out`` the model file; the rest as `mexlab recognition train` names them."""

    out: Path
    views: tuple[str, ...]
    epochs: int
    lr: float
    seed: int = 0
    init: Path | None = None
    resume: bool = False
    label_fraction: float = 1.0
    metrics_note: str = "none measured at training; run an evaluation (mexlab recognition evaluate, or the Models view)"

    @property
    def checkpoint(self) -> Path:
        return self.out.with_name(self.out.name + ".checkpoint")

    def check(self) -> None:
        """Before any feature is read: epochs, learning rate, label share, the folder."""
        from analysis.recognition.protocol import check_epochs

        check_epochs(self.epochs)
        _check_lr(self.lr)
        if not 0 < self.label_fraction <= 1:
            raise InputError(f"label fraction {self.label_fraction}: give a share in (0, 1]")
        check_out(self.out)


def _check_lr(lr: float) -> None:
    if not (math.isfinite(lr) and 0 < lr <= 10):
        raise InputError(f"learning rate {lr}: a finite number in (0, 10]")


@dataclass
class PretrainRun:
    """MvCL pretraining into ``out``, as `mexlab recognition pretrain` names it."""

    out: Path
    views: tuple[str, ...]
    epochs: int = 30
    lr: float = 2e-3
    seed: int = 0
    resume: bool = False
    temperature: float = 0.1
    batch: int = 64

    @property
    def checkpoint(self) -> Path:
        return self.out.with_name(self.out.name + ".checkpoint")

    def check(self) -> None:
        """Before any feature is read: two views or more, epochs, temperature, batch, the folder."""
        if len(self.views) < 2:
            raise InputError(
                f"MvCL pretraining needs two views or more (rgb,depth or rgb,diff), not {','.join(self.views)}"
            )
        from analysis.recognition.protocol import check_epochs

        check_epochs(self.epochs)
        _check_lr(self.lr)
        if not (math.isfinite(self.temperature) and 0 < self.temperature <= 100):
            raise InputError(f"temperature {self.temperature}: a finite number in (0, 100]")
        if not 4 <= self.batch <= 65536:
            raise InputError(f"batch {self.batch}: an integer from 4 (InfoNCE needs negatives) to 65536")
        check_out(self.out)


def check_out(out: Path, what: str = "--out") -> None:
    from acquisition.atomic import check_out_file

    if not Path(out).parent.is_dir():
        raise NotFoundError(f"{Path(out).parent}: no such folder (for {what})")
    check_out_file(out, (".safetensors", ".pt"), flag=what, what="model file")


def subject_digests(subjects: list[str]) -> list[str]:
    """Short digests of subject names (kept in a model's metadata to say whether a test set shares
    subject names with its training data without writing the names themselves)."""
    import hashlib

    return sorted({hashlib.sha256(s.encode()).hexdigest()[:16] for s in subjects})


def _from_init(run: TrainRun, model: MultiViewNet, class_names: list[str]) -> None:
    """The init model's encoders (and its classifier too when the classes are the same) into ``model``."""
    from analysis.recognition import modelfile
    from analysis.recognition.task import get_weights, set_weights

    init_model, init_meta = modelfile.load(run.init)
    if tuple(init_meta["views"]) != tuple(run.views):
        raise InputError(
            f"{run.init}: a model of views {','.join(init_meta['views'])}, "
            f"not {','.join(run.views)} (give --views {','.join(init_meta['views'])})"
        )
    if list(init_meta["classes"]) == class_names:
        set_weights(model, get_weights(init_model))
        return
    sd = init_model.state_dict()  # same encoders, a new classifier for these classes
    own = model.state_dict()
    for k in own:
        if not k.startswith("head.") and k in sd and sd[k].shape == own[k].shape:
            own[k] = sd[k]
    model.load_state_dict(own)


def _n(k, word: str) -> str:
    """'1 subject', '3 subjects'."""
    return f"{k} {word}" + ("" if k == 1 else "s")


def resume_from(ck: Path, epochs: int, model: MultiViewNet, class_names: list[str]) -> int:
    """Load the checkpoint ``ck`` into ``model`` (same views and classes); the epochs it had done
    (fewer than ``epochs``). Adam's moments are not in the checkpoint: the resumed epochs start a
    fresh optimiser. Used by training and by MvCL pretraining (`--resume`)."""
    from analysis.recognition import modelfile
    from analysis.recognition.task import get_weights, set_weights

    if not ck.is_file():
        raise NotFoundError(f"--resume: no checkpoint {ck} (an interrupted run leaves one)")
    m, meta = modelfile.load(ck)
    if tuple(meta["views"]) != tuple(model.views) or list(meta["classes"]) != list(class_names):
        raise InputError(
            f"--resume: {ck} is a model of views {','.join(meta['views'])} and "
            f"classes {', '.join(meta['classes'])}; this run has "
            f"{','.join(model.views)} and {', '.join(class_names)}"
        )
    done = int(meta.get("epochs_done") or 0)
    if done >= epochs:
        raise InputError(f"--resume: {ck} has done {done} epochs already (--epochs {epochs}); give more epochs")
    set_weights(model, get_weights(m))
    return done


def train_classifier(
    run: TrainRun,
    data: FeatureSet,
    *,
    on_epoch: Callable[[int, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
    on_resume: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train, checkpoint every epoch, write ``run.out``. ``on_epoch(epoch, of, loss)`` after each epoch
    (epochs counted over the whole run, resumed ones included); ``stop()`` true ends the run after the
    current batch with :class:`Cancelled` (checkpoint kept, no model file). Ctrl+C propagates as
    KeyboardInterrupt, likewise leaving the checkpoint. Returns ``{"meta", "loss", "n", "epochs_done"}``
    with ``meta`` the metadata written (sha256 included)."""
    from analysis.recognition import modelfile
    from analysis.recognition.protocol import thin_labels
    from analysis.recognition.task import new_model, subset, train

    run.check()
    model = new_model(len(data.class_names), tuple(run.views), seed=run.seed)
    if run.init is not None:
        _from_init(run, model, data.class_names)
    labelled = np.nonzero(data.y >= 0)[0]
    lab = thin_labels(data.y, labelled, run.label_fraction, run.seed)
    meta: dict[str, Any] = {
        "classes": data.class_names,
        "kind": "classifier",
        "init": str(run.init) if run.init else None,
        "training": {
            **data.summary,
            "epochs": run.epochs,
            "lr": run.lr,
            "seed": run.seed,
            "views": list(run.views),
            "label_fraction": run.label_fraction,
            "n_labels": int(len(lab)),
            "subjects_sha": subject_digests(data.subjects),
        },
        "metrics": {"note": run.metrics_note},
    }
    train_data = data if len(lab) == len(labelled) else subset(data, lab)
    rec = _checkpointed(
        run.checkpoint,
        run.epochs,
        run.resume,
        model,
        data.class_names,
        meta,
        lambda left, done, progress, kw: train(
            model, train_data, left, run.lr, seed=run.seed + done, progress=progress, **kw
        ),
        on_epoch=on_epoch,
        stop=stop,
        on_resume=on_resume,
        command="train",
    )
    full = modelfile.save(run.out, model, meta)
    run.checkpoint.unlink(missing_ok=True)
    return {"meta": full, "loss": rec["loss"], "n": rec["n"], "epochs_done": run.epochs}


def _checkpointed(
    ck: Path,
    epochs: int,
    resume: bool,
    model: MultiViewNet,
    class_names: list[str],
    meta: dict[str, Any],
    fit: Callable[[int, int, Callable[[int, int, float], None], dict], dict],
    *,
    on_epoch: Callable[[int, int, float], None] | None,
    stop: Callable[[], bool] | None,
    on_resume: Callable[[int], None] | None,
    command: str,
) -> dict:
    """The run sequence training and MvCL pretraining share: resume from the checkpoint ``ck``
    (``resume``), ``fit(epochs_left, epochs_done, progress, kw)`` with a checkpoint after every
    epoch (epochs counted over the whole run), and :class:`Cancelled` when ``stop()`` ended it
    (checkpoint kept, no model written). Returns what ``fit`` returned."""
    from analysis.recognition import modelfile

    done = resume_from(ck, epochs, model, class_names) if resume else 0
    if done:
        meta["resumed_after_epoch"] = done
        if on_resume:
            on_resume(done)

    def epoch(ep: int, n: int, loss: float) -> None:
        modelfile.save(ck, model, {**meta, "epochs_done": ep + done})
        if on_epoch:
            on_epoch(ep + done, n + done, loss)

    rec = fit(epochs - done, done, epoch, {"stop": stop} if stop is not None else {})
    if stop is not None and stop():
        what = "training" if command == "train" else "pretraining"
        raise Cancelled(
            f"{what} cancelled; no model written"
            + (f"; the last checkpoint is {ck} (`mexlab recognition {command} --resume`)" if ck.exists() else "")
        )
    return rec


def pretrain_encoders(
    run: PretrainRun,
    data: FeatureSet,
    *,
    on_epoch: Callable[[int, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
    on_resume: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """MvCL pretraining of a new model on every segment of ``data`` (labelled or not), a checkpoint
    ``OUT.checkpoint`` after every epoch (``run.resume`` continues from it), then ``run.out`` written
    and the checkpoint removed. ``on_epoch``, ``stop`` and the return value as
    :func:`train_classifier` (``{"meta", "loss", "n", "epochs_done"}``)."""
    from analysis.recognition import modelfile
    from analysis.recognition.task import new_model, pretrain_mvcl

    run.check()
    model = new_model(len(data.class_names), tuple(run.views), seed=run.seed)
    meta: dict[str, Any] = {
        "classes": data.class_names,
        "kind": "pretrained (MvCL; classifier untrained)",
        "training": {
            **data.summary,
            "labels_used": False,
            "subjects_sha": subject_digests(data.subjects),
        },
        "metrics": {"note": "a pretrained encoder: train a classifier from it (--init) before evaluating"},
    }
    rec = _checkpointed(
        run.checkpoint,
        run.epochs,
        run.resume,
        model,
        data.class_names,
        meta,
        lambda left, done, progress, kw: pretrain_mvcl(
            model,
            data,
            left,
            run.lr,
            seed=run.seed + done,
            batch_size=run.batch,
            temperature=run.temperature,
            progress=progress,
            **kw,
        ),
        on_epoch=on_epoch,
        stop=stop,
        on_resume=on_resume,
        command="pretrain",
    )
    rec["epochs"] = run.epochs
    meta["pretrain"] = rec
    full = modelfile.save(run.out, model, meta)
    run.checkpoint.unlink(missing_ok=True)
    return {"meta": full, "loss": rec["loss"], "n": rec["n"], "epochs_done": run.epochs}


def evaluate_model(model_path: Path, data: FeatureSet, specs: list[str]) -> dict[str, Any]:
    """The model file's own predictions on ``data`` (read from ``specs``): UF1, UAR, accuracy, per
    class, confusion, as :func:`protocol.loso` reports them, with ``protocol: "held-out"``. Refused
    when a spec is one the model was trained on (that is no test; LOSO estimates on it), when the
    classes differ or when the model is only a pretrained encoder. Subject names shared with its
    training data are counted in ``shared_subject_names`` (the same person, or the same name for
    another person, as the rig's releases number their subjects alike)."""
    import time

    from analysis.recognition import modelfile
    from analysis.recognition.task import evaluate

    t0 = time.perf_counter()
    model, meta = modelfile.load(model_path)
    if str(meta.get("kind", "")).startswith("pretrained"):
        raise InputError(f"{model_path}: a pretrained encoder (no trained classifier); train from it (--init) first")
    if list(meta["classes"]) != list(data.class_names):
        raise InputError(
            f"{model_path}: a model of classes {', '.join(meta['classes'])}; the data has "
            f"{', '.join(data.class_names)} (give the model's class scheme, --classes "
            f"{(meta.get('training') or {}).get('scheme', '?')})"
        )
    trained = set((meta.get("training") or {}).get("datasets") or {})
    same = [s for s in specs if s in trained]
    if same:
        raise InputError(
            f"{model_path} was trained on {', '.join(same)}: testing it there is no held-out test "
            f"(for an estimate on its own data use LOSO)"
        )
    if not (data.y >= 0).any():
        raise DataError(f"{', '.join(specs)}: no labelled sample to test on")
    res = evaluate(model, data)
    lab = data.y >= 0
    test_subjects = sorted(set(np.asarray(data.subjects)[lab].tolist()))
    seen = set((meta.get("training") or {}).get("subjects_sha") or [])
    shared = len(set(subject_digests(test_subjects)) & seen)
    return {
        **{k: res[k] for k in ("uf1", "uar", "accuracy", "per_class", "confusion")},
        "n_samples": res["n"],
        "n_subjects": len(test_subjects),
        "protocol": "held-out",
        "datasets": list(specs),
        "shared_subject_names": shared if seen else None,
        "config": {"views": list(meta["views"]), "model": str(model_path)},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def store_evaluation(model_path: Path, result: dict[str, Any], specs: list[str]) -> dict[str, Any]:
    """Keep an evaluation result (:func:`protocol.loso` or :func:`evaluate_model`) with the model file
    (:func:`modelfile.add_evaluation`: a sidecar written temp-and-rename; the model file itself is not
    changed, so its sha256, the catalog row and a default choice stay valid). A LOSO result is refused
    for a model of other views or classes (it would describe another recipe). Returns the entry."""
    from analysis.recognition import modelfile

    meta, _ = modelfile.read_meta(model_path)
    if str(meta.get("kind", "")).startswith("pretrained"):
        raise InputError(
            f"{model_path}: a pretrained encoder (no trained classifier): keep the evaluation with the "
            f"classifier trained from it"
        )
    cfg = result.get("config") or {}
    classes = (result.get("confusion") or {}).get("labels")
    if list(cfg.get("views") or []) != list(meta["views"]) or (classes and list(classes) != list(meta["classes"])):
        raise InputError(
            f"{model_path}: a model of views {','.join(meta['views'])} and classes {', '.join(meta['classes'])}; "
            f"this evaluation used views {','.join(cfg.get('views') or [])}"
            + (f" and classes {', '.join(classes)}" if classes else "")
            + ": not stored with it"
        )
    if result.get("protocol") == "loso":
        trained = set((meta.get("training") or {}).get("datasets") or {})
        on = (
            f"LOSO over {_n(result['n_subjects'], 'subject')} of {', '.join(specs)} "
            f"({cfg.get('pretrain', 'none')} pretraining, {cfg.get('regime', 'strict')}, "
            f"{cfg.get('epochs')} epochs; a model per fold with this model's views"
            + ("; its own training data)" if set(specs) <= trained else ")")
        )
    else:
        shared = result.get("shared_subject_names")
        on = f"held-out: {_n(result['n_subjects'], 'subject')} of {', '.join(specs)} (this model's predictions" + (
            f"; {shared} subject name(s) also in its training data)" if shared else ")"
        )
    return modelfile.add_evaluation(model_path, result, on)
