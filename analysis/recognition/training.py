"""Training a classifier into a model file: the one sequence that `mexlab recognition train` and the
Models view's Train both run.

New model (or encoders taken from ``init``), the training labels thinned to ``label_fraction`` (at
least one per class, :func:`protocol.thin_labels`), a resume from ``OUT.checkpoint`` when asked, a
fixed number of epochs with a checkpoint after each, then the model file written and the checkpoint
removed. A stop (Cancel) or Ctrl+C leaves the last checkpoint and no model file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acquisition.errors import Cancelled, InputError, NotFoundError

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


def check_out(out: Path, what: str = "--out") -> None:
    if not Path(out).parent.is_dir():
        raise NotFoundError(f"{Path(out).parent}: no such folder (for {what})")


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

    check_out(run.out)
    if not 0 < run.label_fraction <= 1:
        raise InputError(f"label fraction {run.label_fraction}: give a share in (0, 1]")
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
        },
        "metrics": {"note": run.metrics_note},
    }
    ck = run.checkpoint
    done = resume_from(ck, run.epochs, model, data.class_names) if run.resume else 0
    if done:
        meta["resumed_after_epoch"] = done
        if on_resume:
            on_resume(done)

    def epoch(ep: int, n: int, loss: float) -> None:
        modelfile.save(ck, model, {**meta, "epochs_done": ep + done})
        if on_epoch:
            on_epoch(ep + done, n + done, loss)

    train_data = data if len(lab) == len(labelled) else subset(data, lab)
    kw = {"stop": stop} if stop is not None else {}
    rec = train(model, train_data, run.epochs - done, run.lr, seed=run.seed + done, progress=epoch, **kw)
    if stop is not None and stop():
        raise Cancelled(
            "training cancelled; no model written"
            + (f"; the last checkpoint is {ck} (`mexlab recognition train --resume`)" if ck.exists() else "")
        )
    full = modelfile.save(run.out, model, meta)
    ck.unlink(missing_ok=True)
    return {"meta": full, "loss": rec["loss"], "n": rec["n"], "epochs_done": run.epochs}
