"""What the Models view shows and does, without Qt (tested without a display).

Rows: the recognition models of the catalog's ``models`` table plus the model shipped with mexlab
(always listed, even when not registered), one row per sha256. Per row: name, date, views,
classes, metrics (UF1/UAR/accuracy and what they were measured on), the file's sha256, whether the
file is still there and whether it is the default (:func:`analysis.recognition.modelfile.
default_model`: the lab's choice, else the shipped model). ``set_default`` checks the file (a
damaged or foreign model is refused with a message) and remembers it; ``use_shipped`` forgets the
choice.

Evaluations kept with a model (``M.safetensors.evaluations.json``,
:func:`analysis.recognition.modelfile.read_evaluations`) are shown before the metrics of its
metadata: the newest one's UF1/UAR/accuracy and what it was evaluated on (LOSO or held-out
subjects); the details list every one.

Pretraining, training and evaluation (:func:`pretrain_model`, :func:`train_model`,
:func:`evaluate_form`) run the library calls of `mexlab recognition pretrain` / `train` / `evaluate`
(:mod:`analysis.recognition.training`) for the view's form — MvCL pretraining, ``--init`` from a
pretrained model, ``--resume`` from a checkpoint, a held-out test of a model file and the result kept
with it — in a worker, with a :class:`Progress` (stage, count, ETA) whose ``stop`` is Cancel.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acquisition.errors import MexlabError

COLUMNS = (
    "default",
    "name",
    "date",
    "views",
    "classes",
    "UF1",
    "UAR",
    "accuracy",
    "n test",
    "evaluated on",
    "sha256",
)


def _metric(m: dict | None, key: str) -> str:
    v = (m or {}).get(key)
    return f"{v:.3f}" if isinstance(v, (int, float)) else "-"


def _shown(r: dict) -> dict:
    """The metrics a row shows: its newest kept evaluation, else its metadata's."""
    ev = r.get("evaluations") or []
    return ev[-1] if ev else (r.get("metrics") or {})


def _evaluated_on(m: dict) -> str:
    """Short: ``LOSO, 12 subj.`` / ``held-out, 4 subj.`` for a kept evaluation; the metadata's
    ``test`` text (cut) otherwise."""
    if m.get("protocol") == "loso":
        return f"LOSO, {m.get('n_subjects', '?')} subj."
    if m.get("protocol") == "held-out":
        return f"held-out, {m.get('n_subjects', '?')} subj."
    t = str(m.get("test") or "")
    return (t[:40] + "…" if len(t) > 41 else t) or "-"


class ModelsState:
    def __init__(self, db_url: str | None = None):
        self.db_url = db_url
        self.rows: list[dict] = []
        self.error: str | None = None  # the catalog could not be read (shown, not raised)
        self.default_error: str | None = None

    # ------------------------------------------------------------------ reading
    def refresh(self) -> list[dict]:
        from acquisition.catalog.recognition_models import list_models
        from analysis.recognition import modelfile

        rows, self.error = [], None
        try:
            rows = list_models(self.db_url)
        except MexlabError as exc:
            self.error = str(exc)
        shipped = modelfile.DEFAULT_MODEL
        ship_sha = modelfile.file_sha256(shipped) if shipped.is_file() else None
        if ship_sha and not any(r["sha256"] == ship_sha for r in rows):
            try:
                meta, _ = modelfile.read_meta(shipped)
                rows.insert(
                    0,
                    {
                        "sha256": ship_sha,
                        "path": str(shipped),
                        "name": shipped.name,
                        "kind": meta.get("kind"),
                        "classes": meta.get("classes") or [],
                        "views": meta.get("views") or [],
                        "n_samples": (meta.get("training") or {}).get("n"),
                        "metrics": meta.get("metrics"),
                        "mexlab_version": meta.get("mexlab_version"),
                        "created_at": meta.get("created"),
                        "registered_at": None,
                    },
                )
            except MexlabError as exc:
                self.error = f"the shipped model: {exc}"
        try:
            default = modelfile.default_model()
            self.default_error = None
        except MexlabError as exc:
            default, self.default_error = None, str(exc)
        for r in rows:
            p = Path(r["path"])
            r["exists"] = p.is_file()
            r["evaluations"], r["evaluation_note"] = (
                modelfile.read_evaluations(p, r["sha256"]) if r["exists"] else ([], None)
            )
            r["shipped"] = r["sha256"] == ship_sha
            r["default"] = default is not None and r["exists"] and p.resolve() == Path(default).resolve()
        self.rows = rows
        return rows

    # ------------------------------------------------------------------ table
    def cell(self, i: int, column: str) -> str:
        r = self.rows[i]
        m = _shown(r)
        if column == "default":
            return "★" if r["default"] else ""
        if column == "name":
            tag = " (shipped)" if r["shipped"] else ""
            return r["name"] + tag + ("" if r["exists"] else " — file missing")
        if column == "date":
            return (r.get("created_at") or "")[:16].replace("T", " ") or "-"
        if column == "views":
            return ",".join(r.get("views") or [])
        if column == "classes":
            return ", ".join(r.get("classes") or [])
        if column in ("UF1", "UAR", "accuracy"):
            return _metric(m, column.lower())
        if column == "n test":
            return str(m.get("n", "-")) if m else "-"
        if column == "evaluated on":
            return _evaluated_on(m)
        if column == "sha256":
            return r["sha256"][:12]
        raise KeyError(column)

    def tooltip(self, i: int, column: str) -> str:
        r = self.rows[i]
        if column == "sha256":
            return r["sha256"]
        if column == "name":
            return r["path"]
        if column in ("UF1", "UAR", "accuracy", "n test", "evaluated on"):
            m = _shown(r)
            return str(m.get("on") or m.get("test") or "")
        return ""

    def details(self, i: int) -> str:
        r = self.rows[i]
        m = r.get("metrics") or {}
        lines = [
            f"{r['name']}  ({r.get('kind') or 'model'})",
            f"file: {r['path']}",
            f"sha256: {r['sha256']}",
            f"mexlab {r.get('mexlab_version') or '?'}, {r.get('n_samples') or '?'} training samples",
        ]
        evs = r.get("evaluations") or []
        for k, e in enumerate(reversed(evs)):
            lines.append(
                f"{'evaluated' if k == 0 else 'earlier'} {str(e.get('evaluated') or '')[:16].replace('T', ' ')}: "
                f"UF1 {_metric(e, 'uf1')}, UAR {_metric(e, 'uar')}, accuracy {_metric(e, 'accuracy')}, "
                f"n {e.get('n', '?')}"
            )
            lines.append(f"  on {e.get('on', '?')}")
        if r.get("evaluation_note"):
            lines.append(f"note: {r['evaluation_note']}")
        if m.get("test"):
            lines.append(f"{'in its metadata, tested' if evs else 'tested'} on: {m['test']}")
        shown = _shown(r)
        for c, pc in (shown.get("per_class") or {}).items():
            lines.append(f"  {c}: F1 {pc.get('f1', 0):.3f}, recall {pc.get('recall', 0):.3f}, n {pc.get('n', '?')}")
        if not m and not evs:
            lines.append("no metrics in its metadata")
        elif m.get("note") and not evs:
            lines.append(f"metrics: {m['note']}")
        return "\n".join(lines)

    def confusion(self, i: int) -> tuple[list[str], list[list[int]]] | None:
        c = _shown(self.rows[i]).get("confusion")
        if not c or not c.get("labels") or not c.get("matrix"):
            return None
        return list(c["labels"]), [list(map(int, row)) for row in c["matrix"]]

    def default_index(self) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r["default"]), None)

    # ------------------------------------------------------------------ actions
    def set_default(self, i: int) -> dict:
        """Make row ``i``'s model the default (checked first); returns the choice."""
        from analysis.recognition import modelfile

        r = self.rows[i]
        if not r["exists"]:
            raise MexlabError(f"{r['path']}: the model file is missing; it cannot be the default")
        if modelfile.file_sha256(r["path"]) != r["sha256"]:
            raise MexlabError(
                f"{r['path']}: the file has changed since it was registered "
                f"(sha256 differs); register it again with `mexlab recognition train`"
            )
        choice = modelfile.set_default_model(None) if r["shipped"] else modelfile.set_default_model(r["path"])
        self.refresh()
        return choice or {"path": r["path"], "sha256": r["sha256"]}

    def use_shipped(self) -> None:
        from analysis.recognition import modelfile

        modelfile.set_default_model(None)
        self.refresh()


# ---------------------------------------------------------------------- training and evaluation
class TrainingCancelled(MexlabError):
    """Cancel was pressed: the run stopped; nothing was written but the checkpoint (if any)."""


@dataclass
class TrainForm:
    """The Models view's form: what `mexlab recognition train` / `evaluate` take."""

    datasets: list[str] = field(default_factory=list)  # KIND:ROOT, e.g. casme3:/data/casme3
    classes: str = "3"
    views: str = "rgb,diff"
    label_fraction: float = 1.0
    epochs: int = 40
    truth: str | None = None  # "rig": mexlab sessions labelled by the rig's ground truth
    coder: str | None = None  # mexlab sessions: this coder's coding where there is no consensus
    pretrain: str = "none"  # evaluate (LOSO): none, or mvcl (MvCL pretraining in every fold)
    pretrain_epochs: int = 30  # evaluate with mvcl: MvCL epochs per fold
    temperature: float = 0.1  # MvCL: InfoNCE temperature (Pretrain, LOSO with mvcl)
    batch: int = 64  # MvCL: segments per contrastive batch (Pretrain, LOSO with mvcl)
    seed: int = 0
    lr: float = 2e-3
    init: str | None = None  # train: start from this (pretrained) model file (--init)
    resume: bool = False  # train / pretrain: continue from OUT.checkpoint (--resume)
    protocol: str = "loso"  # evaluate: loso (a model per fold) or heldout (test ``model`` itself)
    model: str | None = None  # evaluate: keep the result with this model file (heldout: the one tested)

    def view_tuple(self) -> tuple[str, ...]:
        from analysis.recognition.features import check_views

        return check_views(tuple(v.strip() for v in self.views.split(",") if v.strip()))

    def check(self) -> None:
        if not self.datasets:
            raise MexlabError(
                "no dataset: give one or more KIND:ROOT (casme2, samm, smic, casme3, casme_sq, mexlab:SESSION)"
            )
        if self.epochs < 1:
            raise MexlabError(f"epochs {self.epochs}: at least 1")
        if not 0 < self.label_fraction <= 1:
            raise MexlabError(f"label fraction {self.label_fraction}: must be in (0, 1]")
        if self.protocol not in ("loso", "heldout"):
            raise MexlabError(f"protocol {self.protocol!r}: loso or heldout")
        if self.init and not Path(self.init).expanduser().is_file():
            raise MexlabError(f"{self.init}: no such model file (start from)")
        if self.truth not in (None, "rig"):
            raise MexlabError(f"labels {self.truth!r}: the coders' (consensus or a named coder) or rig")
        if self.coder is not None and not self.coder.strip():
            raise MexlabError("coder: give a coder's name, or leave it empty for the consensus")
        if self.pretrain not in ("none", "mvcl"):
            raise MexlabError(f"LOSO pretraining {self.pretrain!r}: none or mvcl")
        if self.pretrain_epochs < 1:
            raise MexlabError(f"MvCL epochs {self.pretrain_epochs}: at least 1")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise MexlabError(f"MvCL temperature {self.temperature}: must be > 0")
        if self.batch < 2:
            raise MexlabError(f"MvCL batch {self.batch}: at least 2 (InfoNCE needs other segments)")
        self.view_tuple()


class Progress:
    """Progress of a run for the bar: ``report(stage, done, total)`` from the worker; ``text()`` is
    the line shown (stage, count, elapsed, ETA); ``stop()`` is the training code's stop callback."""

    def __init__(self, on_change: Callable[[str, int, int, str], None] | None = None):
        self.on_change = on_change
        self.cancelled = threading.Event()
        self.stage, self.done, self.total = "", 0, 0
        self._t0: dict[str, float] = {}

    def stop(self) -> bool:
        return self.cancelled.is_set()

    def report(self, stage: str, done: int, total: int, extra: str = "") -> None:
        t0 = self._t0.setdefault(stage, time.perf_counter())
        self.stage, self.done, self.total = stage, int(done), int(total)
        el = time.perf_counter() - t0
        eta = el / done * (total - done) if done else float("nan")
        line = f"{stage} {done}/{total}" + (f" ({extra})" if extra else "") + f"; elapsed {el:.0f} s"
        if done and done < total:
            line += f", ETA {eta:.0f} s"
        if self.on_change is not None:
            self.on_change(stage, self.done, self.total, line)


def _load(form: TrainForm, prog: Progress, *, unlabelled: bool = False, views: tuple[str, ...] | None = None):
    from analysis.recognition.task import load_dataset

    return load_dataset(
        form.datasets,
        form.classes,
        views or form.view_tuple(),
        truth=form.truth,
        coder=form.coder,
        include_unlabelled=unlabelled,
        progress=lambda d, n: prog.report("features", d, n),
    )


def checkpoint_info(out: str | Path | None) -> str | None:
    """A line about ``OUT.checkpoint`` (left by a cancelled or interrupted run) for the form, or None."""
    from analysis.recognition import modelfile

    if not out:
        return None
    ck = Path(out).expanduser()
    ck = ck.with_name(ck.name + ".checkpoint")
    if not ck.is_file():
        return None
    try:
        meta, _ = modelfile.read_meta(ck)
    except MexlabError as exc:
        return f"{ck.name}: unusable ({exc})"
    what = "pretraining" if str(meta.get("kind", "")).startswith("pretrained") else "training"
    return (
        f"{ck.name}: an interrupted {what} ({meta.get('epochs_done', '?')} epochs done; views "
        f"{','.join(meta.get('views') or [])}); tick resume to continue from it"
    )


def _cancelled(what: str, ck: Path, done: int, epochs: int) -> TrainingCancelled:
    return TrainingCancelled(
        f"{what} cancelled after epoch {done}/{epochs}; no model written"
        + (f"; the last checkpoint is {ck} (tick resume and run again to continue)" if ck.exists() else "")
    )


def train_model(form: TrainForm, out: str | Path, db_url: str | None, prog: Progress) -> dict:
    """`mexlab recognition train`'s sequence (:func:`analysis.recognition.training.train_classifier`:
    a checkpoint ``OUT.checkpoint`` after every epoch, removed once the model is written) with the
    form's label fraction, then the model registered in the catalog. Blocking: a worker."""
    from acquisition.catalog.recognition_models import register_model
    from acquisition.errors import Cancelled
    from analysis.recognition.training import TrainRun, check_out, train_classifier

    form.check()
    out = Path(out)
    check_out(out, "the model file")
    data = _load(form, prog)
    run = TrainRun(
        out=out,
        views=form.view_tuple(),
        epochs=form.epochs,
        lr=form.lr,
        seed=form.seed,
        init=Path(form.init).expanduser() if form.init else None,
        resume=form.resume,
        label_fraction=form.label_fraction,
    )
    resumed: list[int] = []
    try:
        res = train_classifier(
            run,
            data,
            on_epoch=lambda ep, n, loss: prog.report("epoch", ep, n, f"loss {loss:.4f}"),
            stop=prog.stop,
            on_resume=resumed.append,
        )
    except Cancelled:
        raise _cancelled("training", run.checkpoint, prog.done, form.epochs) from None
    row = register_model(out, res["meta"], db_url)
    return {
        "action": "train",
        "path": str(out),
        "sha256": row["sha256"],
        "loss": res["loss"],
        "n": res["n"],
        "classes": data.class_names,
        "summary": data.summary,
        "init": str(run.init) if run.init else None,
        "resumed_after_epoch": resumed[0] if resumed else None,
    }


def pretrain_model(form: TrainForm, out: str | Path, db_url: str | None, prog: Progress) -> dict:
    """`mexlab recognition pretrain`'s sequence (:func:`analysis.recognition.training.pretrain_encoders`:
    MvCL on every segment, labelled or not; a checkpoint after every epoch; ``form.resume`` continues
    from it) for ``form.epochs`` epochs, then the model registered. Blocking: a worker."""
    from acquisition.catalog.recognition_models import register_model
    from acquisition.errors import Cancelled
    from analysis.recognition.training import PretrainRun, pretrain_encoders

    form.check()
    run = PretrainRun(
        out=Path(out),
        views=form.view_tuple(),
        epochs=form.epochs,
        seed=form.seed,
        resume=form.resume,
        temperature=form.temperature,
        batch=form.batch,
    )
    run.check()
    data = _load(form, prog, unlabelled=True)
    resumed: list[int] = []
    try:
        res = pretrain_encoders(
            run,
            data,
            on_epoch=lambda ep, n, loss: prog.report("pretrain epoch", ep, n, f"InfoNCE {loss:.4f}"),
            stop=prog.stop,
            on_resume=resumed.append,
        )
    except Cancelled:
        raise _cancelled("pretraining", run.checkpoint, prog.done, form.epochs) from None
    row = register_model(run.out, res["meta"], db_url)
    return {
        "action": "pretrain",
        "path": str(run.out),
        "sha256": row["sha256"],
        "loss": res["loss"],
        "n": res["n"],
        "classes": data.class_names,
        "summary": data.summary,
        "init": None,
        "resumed_after_epoch": resumed[0] if resumed else None,
    }


def evaluate_form(form: TrainForm, prog: Progress) -> dict:
    """`mexlab recognition evaluate`'s library calls. ``form.protocol == "loso"`` (load_dataset,
    protocol.check_data, protocol.loso: leave-one-subject-out, no pretraining, strict): progress per
    fold; Cancel ends it after the current fold's batch (no result: folds are pooled only when all
    are done). ``"heldout"``: the model file ``form.model`` itself tested on the form's data
    (:func:`analysis.recognition.training.evaluate_model`). With ``form.model`` the result is kept
    with that model (:func:`~analysis.recognition.training.store_evaluation`; ``"stored"`` in the
    result) and the Models list shows it."""
    from analysis.recognition import modelfile
    from analysis.recognition.protocol import Config, check_data, loso
    from analysis.recognition.training import evaluate_model, store_evaluation

    form.check()
    model = Path(form.model).expanduser() if form.model else None
    if form.protocol == "heldout":
        if model is None:
            raise MexlabError("a held-out test needs a model: select one in the list")
        meta, _ = modelfile.read_meta(model)
        data = _load(form, prog, views=tuple(meta["views"]))
        prog.report("test", 0, 1)
        res = evaluate_model(model, data, form.datasets)
        prog.report("test", 1, 1)
        return {"action": "evaluate", **res, "stored": store_evaluation(model, res, form.datasets)}
    cfg = Config(
        views=form.view_tuple(),
        pretrain=form.pretrain,
        label_fraction=form.label_fraction,
        epochs=form.epochs,
        pretrain_epochs=form.pretrain_epochs,
        pretrain_batch=form.batch,
        temperature=form.temperature,
        seed=form.seed,
    )
    cfg.check()
    if model is not None:
        meta, _ = modelfile.read_meta(model)
        if tuple(meta["views"]) != cfg.views:
            raise MexlabError(
                f"{model.name}: a model of views {','.join(meta['views'])}; the form has {','.join(cfg.views)} "
                f"(choose its views to keep the LOSO result with it)"
            )
    data = _load(form, prog, unlabelled=form.pretrain == "mvcl")
    if model is not None and list(meta["classes"]) != list(data.class_names):
        raise MexlabError(
            f"{model.name}: a model of classes {', '.join(meta['classes'])}; the data has "
            f"{', '.join(data.class_names)} (choose its class scheme to keep the LOSO result with it)"
        )
    check_data(data)

    def fold(msg: str) -> None:
        m = re.match(r"fold (\d+)/(\d+)", msg)
        if m:
            prog.report("fold", int(m[1]), int(m[2]), msg.split(";")[0].split(": ", 1)[-1])

    try:
        res = loso(data, cfg, progress=fold, stop=prog.stop)
    except KeyboardInterrupt:
        raise TrainingCancelled(
            "evaluation cancelled; no result (the folds are pooled only when all are done)"
        ) from None
    res["datasets"] = list(form.datasets)
    stored = store_evaluation(model, res, form.datasets) if model is not None else None
    return {"action": "evaluate", **res, "stored": stored}


def result_text(res: dict) -> str:
    """What the view shows when a run ends."""
    if res["action"] in ("train", "pretrain"):
        s = res["summary"]
        extra = "".join(
            [
                f"; started from {res['init']}" if res.get("init") else "",
                f"; resumed after epoch {res['resumed_after_epoch']}" if res.get("resumed_after_epoch") else "",
            ]
        )
        if res["action"] == "pretrain":
            return (
                f"pretrained model (MvCL) written to {res['path']} and registered ({res['sha256'][:12]}): "
                f"{res['n']} segments of {s.get('n_subjects', '?')} subjects, labelled or not, final InfoNCE "
                f"loss {res['loss']:.3f}{extra}. Train from it: put it in 'start from'."
            )
        return (
            f"model written to {res['path']} and registered ({res['sha256'][:12]}): {res['n']} labelled "
            f"samples of {s.get('n_subjects', '?')} subjects, classes {', '.join(res['classes'])}, "
            f"final loss {res['loss']:.3f}{extra}"
        )
    from app.commands.recognition import format_result

    text = format_result(res)
    if res.get("stored"):
        text += f"\nkept with the model: {res['stored']['on']}"
    return text
