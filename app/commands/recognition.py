"""``mexlab recognition pretrain|train|evaluate``: micro-expression recognition models (MvCL)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from acquisition.errors import MexlabError


def _common(p, *, classes=True) -> None:
    p.add_argument(
        "--dataset",
        action="append",
        required=True,
        metavar="SPEC",
        help="KIND:ROOT (casme2, samm, smic, casme3, casme_sq, mexlab:SESSION[,SESSION…]); repeat for several",
    )
    if classes:
        p.add_argument("--classes", default="3", help="class scheme 3, 5, 4, 7 or a mapping file (default 3)")
    p.add_argument(
        "--views",
        default="rgb,depth",
        help="views: rgb (optical flow), depth, diff (apex-onset image), roi (the flow per landmark region); "
        "default rgb,depth",
    )
    p.add_argument("--truth", choices=["rig"], help="mexlab sessions: labels from the simulated rig's ground_truth.csv")
    p.add_argument("--coder", help="mexlab sessions: this coder's coding when there is no consensus")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _catalog_args(p) -> None:
    p.add_argument(
        "--db", metavar="URL", help="catalog to register the model in (default: $MEXLAB_DB or the user's catalog)"
    )
    p.add_argument("--no-catalog", action="store_true", help="do not register the model")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recognition",
        help="train and evaluate ME recognition models (MvCL)",
        description="Micro-expression recognition with multi-view contrastive "
        "learning (RGB flow + depth). See docs/recognition.md.",
    )
    s = p.add_subparsers(dest="recognition_command", metavar="ACTION")
    pre = s.add_parser("pretrain", help="MvCL pretraining on every segment, labelled or not")
    _common(pre)
    pre.add_argument("--out", required=True, type=Path, metavar="M.pt")
    pre.add_argument("--epochs", type=int, default=30)
    pre.add_argument("--temperature", type=float, default=0.1)
    pre.add_argument("--batch", type=int, default=64)
    pre.add_argument("--resume", action="store_true", help="continue from M.pt.checkpoint (left by an interrupted run)")
    _catalog_args(pre)
    pre.set_defaults(func=run_pretrain)
    tr = s.add_parser("train", help="train a classifier (optionally from a pretrained model)")
    _common(tr)
    tr.add_argument("--init", type=Path, metavar="M.pt", help="start from this (pretrained) model")
    tr.add_argument("--out", required=True, type=Path, metavar="M.pt")
    tr.add_argument("--epochs", type=int, default=40)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--resume", action="store_true", help="continue from M.pt.checkpoint (left by an interrupted run)")
    _catalog_args(tr)
    tr.set_defaults(func=run_train)
    ev = s.add_parser("evaluate", help="leave-one-subject-out evaluation, fixed training budget")
    _common(ev)
    ev.add_argument(
        "--protocol",
        choices=["loso", "heldout"],
        default="loso",
        help="loso: a model per left-out subject (estimates the recipe); heldout: test the --model file "
        "itself on the data's subjects (not its training data; its views are used)",
    )
    ev.add_argument(
        "--model",
        type=Path,
        metavar="M.pt",
        help="keep the result with this model (M.pt.evaluations.json, shown in the Models view); "
        "with --protocol heldout, the model tested",
    )
    ev.add_argument("--pretrain", choices=["none", "mvcl"], default="none")
    ev.add_argument(
        "--regime",
        choices=["strict", "transductive"],
        default="strict",
        help="MvCL pretraining without (strict) or with the held-out subject's unlabelled segments",
    )
    ev.add_argument(
        "--label-fraction",
        type=float,
        default=1.0,
        metavar="F",
        help="keep this share of each training fold's labels (>= 1 per class)",
    )
    ev.add_argument("--epochs", type=int, default=40)
    ev.add_argument("--pretrain-epochs", type=int, default=30)
    ev.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="keep each finished LOSO fold here (default: loso-checkpoints/ in mexlab's config folder, "
        "named by the evaluation); removed when all folds are done",
    )
    ev.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted LOSO run (the same command) from its checkpoint",
    )
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=run_evaluate)
    ls = s.add_parser("models", help="the recognition models of the catalog (and the shipped one); * marks the default")
    ls.add_argument("--db", metavar="URL", help="catalog (default: $MEXLAB_DB or the user's)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_models)
    df = s.add_parser("default", help="show or set the default model (used when none is named)")
    df.add_argument("model", nargs="?", type=Path, metavar="M.pt", help="make this model the default")
    df.add_argument("--shipped", action="store_true", help="go back to the shipped model")
    df.set_defaults(func=run_default)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def run_models(args) -> int:
    from app.services.models_state import ModelsState

    st = ModelsState(args.db)
    rows = st.refresh()
    if args.json:
        print(
            json.dumps(
                {"models": rows, "catalog_error": st.error, "default_error": st.default_error}, indent=1, default=str
            )
        )
        return 0
    for m in (st.error, st.default_error):
        if m:
            print(f"note: {m}", file=sys.stderr)
    cols = ("default", "name", "date", "views", "UF1", "UAR", "evaluated on", "sha256")
    print("  ".join(cols))
    for i in range(len(rows)):
        print("  ".join(st.cell(i, c) or "-" for c in cols))
    return 0


def run_default(args) -> int:
    from analysis.recognition import modelfile

    if args.shipped and args.model:
        raise MexlabError("give a model or --shipped, not both")
    if args.shipped:
        modelfile.set_default_model(None)
    elif args.model:
        modelfile.set_default_model(args.model)
    p = modelfile.default_model()
    print(f"default recognition model: {p}" + (" (shipped)" if p == modelfile.DEFAULT_MODEL else ""))
    return 0


def _views(text: str) -> tuple[str, ...]:
    from analysis.recognition.features import check_views

    return check_views(tuple(v.strip() for v in text.split(",") if v.strip()))


def _say(args, msg: str) -> None:
    if not args.quiet:
        print(msg, file=sys.stderr, flush=True)


def _load(args, views, *, unlabelled=False):
    from analysis.recognition.task import load_dataset

    t0 = time.perf_counter()
    _say(args, f"reading {', '.join(args.dataset)} …")

    def prog(done, total):
        if done == total or done % 25 == 0:
            _say(args, f"features {done}/{total}")

    data = load_dataset(
        args.dataset,
        args.classes,
        views,
        truth=args.truth,
        coder=args.coder,
        include_unlabelled=unlabelled,
        progress=prog,
    )
    for p in data.problems[:20]:
        _say(args, f"note: {p}")
    _say(
        args,
        f"{len(data)} samples of {data.summary['n_subjects']} subjects "
        f"({', '.join(f'{c}: {n}' for c, n in data.summary['per_class'].items())}) "
        f"in {time.perf_counter() - t0:.0f} s",
    )
    return data


def _epoch_progress(args, what: str):
    """Epoch lines (epochs counted over the whole run); the ETA counts only the epochs this process ran."""
    t0 = time.perf_counter()
    first: list[int] = []  # the first epoch this process ran (a resumed run starts past 1)

    def prog(ep, n, loss):
        el = time.perf_counter() - t0
        if not first:
            first.append(ep - 1)
        eta = el / max(ep - first[0], 1) * (n - ep)
        _say(args, f"{what} epoch {ep}/{n}: loss {loss:.4f}; elapsed {el:.0f} s, ETA {eta:.0f} s")

    return prog


def _register(args, path: Path, meta: dict) -> None:
    if args.no_catalog:
        return
    from acquisition.catalog.recognition_models import register_model

    row = register_model(path, meta, args.db)
    _say(args, f"registered in the catalog as model {row['sha256'][:12]}")


def _quiet_native() -> None:
    from analysis.face import landmarker

    landmarker.QUIET_NATIVE_START = True


def run_pretrain(args) -> int:
    from analysis.recognition.training import PretrainRun, pretrain_encoders

    _quiet_native()
    run = PretrainRun(
        out=args.out,
        views=_views(args.views),
        epochs=args.epochs,
        seed=args.seed,
        resume=args.resume,
        temperature=args.temperature,
        batch=args.batch,
    )
    run.check()
    data = _load(args, run.views, unlabelled=True)
    try:
        res = pretrain_encoders(
            run,
            data,
            on_epoch=_epoch_progress(args, "pretrain"),
            on_resume=lambda done: _say(args, f"resuming from {run.checkpoint} after epoch {done}"),
        )
    except KeyboardInterrupt:
        ck = run.checkpoint
        _say(args, f"interrupted; the last checkpoint is {ck}" if ck.exists() else "interrupted")
        return 130
    _register(args, args.out, res["meta"])
    print(
        f"pretrained model written to {args.out} (views {','.join(run.views)}, {res['n']} "
        f"segments, final InfoNCE loss {res['loss']:.3f})"
    )
    return 0


def run_train(args) -> int:
    from analysis.recognition.training import TrainRun, train_classifier

    _quiet_native()
    run = TrainRun(
        out=args.out,
        views=_views(args.views),
        epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        init=args.init,
        resume=args.resume,
    )
    run.check()  # before any feature is read
    data = _load(args, run.views)
    try:
        res = train_classifier(
            run,
            data,
            on_epoch=_epoch_progress(args, "train"),
            on_resume=lambda done: _say(args, f"resuming from {run.checkpoint} after epoch {done}"),
        )
    except KeyboardInterrupt:
        ck = run.checkpoint
        _say(args, f"interrupted; the last checkpoint is {ck}" if ck.exists() else "interrupted")
        return 130
    _register(args, args.out, res["meta"])
    print(
        f"model written to {args.out} (classes {', '.join(data.class_names)}; views "
        f"{','.join(run.views)}; {res['n']} labelled samples; final loss {res['loss']:.3f})"
    )
    return 0


def format_result(r: dict) -> str:
    if r.get("protocol") == "held-out":
        head = (
            f"held-out test of {r['config']['model']} on {r['n_subjects']} subjects, {r['n_samples']} samples "
            f"(views {','.join(r['config']['views'])})"
        )
    else:
        head = (
            f"LOSO over {r['n_subjects']} subjects, {r['n_samples']} samples "
            f"({r['config']['pretrain']} pretraining, {r['config']['regime']}, "
            f"{r['config']['label_fraction']:.0%} labels, views {','.join(r['config']['views'])}, "
            f"{r['config']['epochs']} epochs fixed)"
        )
    lines = [
        head,
        f"UF1 {r['uf1']:.3f}  UAR {r['uar']:.3f}  accuracy {r['accuracy']:.3f}",
        "class        f1     recall   n",
    ]
    for c, v in r["per_class"].items():
        lines.append(f"{c[:11]:<11} {v['f1']:.3f}  {v['recall']:.3f}  {v['n']:>4}")
    labs = r["confusion"]["labels"]
    lines.append("confusion (rows true, columns predicted): " + " ".join(lab[:8] for lab in labs))
    for lab, row in zip(labs, r["confusion"]["matrix"]):
        lines.append(f"  {lab[:10]:<10} " + " ".join(f"{v:>8}" for v in row))
    lines.append(f"time {r['seconds']:.0f} s")
    return "\n".join(lines)


def run_evaluate(args) -> int:
    from analysis.recognition import modelfile
    from analysis.recognition.protocol import Config, check_data, loso, run_key
    from analysis.recognition.training import evaluate_model, store_evaluation

    _quiet_native()
    if args.protocol == "heldout":
        if args.model is None:
            raise MexlabError("--protocol heldout tests a model file: give --model M.pt")
        meta, _ = modelfile.read_meta(args.model)  # checked before any feature is read
        data = _load(args, tuple(meta["views"]))
        res = evaluate_model(args.model, data, args.dataset)
        entry = store_evaluation(args.model, res, args.dataset)
        _say(args, f"kept with {args.model} ({modelfile.evaluations_path(args.model).name}): {entry['on']}")
        print(json.dumps(res, indent=1) if args.json else format_result(res))
        return 0
    views = _views(args.views)
    cfg = Config(
        views=views,
        pretrain=args.pretrain,
        regime=args.regime,
        label_fraction=args.label_fraction,
        epochs=args.epochs,
        pretrain_epochs=args.pretrain_epochs,
        seed=args.seed,
    )
    cfg.check()
    if args.model is not None:
        meta, _ = modelfile.read_meta(args.model)
        if tuple(meta["views"]) != views:
            raise MexlabError(
                f"{args.model}: a model of views {','.join(meta['views'])}; this LOSO uses {','.join(views)} "
                f"(give --views {','.join(meta['views'])} to keep the result with it)"
            )
    data = _load(args, views, unlabelled=args.pretrain == "mvcl")
    if args.model is not None and list(meta["classes"]) != list(data.class_names):
        raise MexlabError(
            f"{args.model}: a model of classes {', '.join(meta['classes'])}; the data has "
            f"{', '.join(data.class_names)} (give the model's class scheme to keep the result with it)"
        )
    check_data(data)
    ck = args.checkpoint
    if ck is None:
        from app.services.settings import config_dir

        ck = config_dir() / "loso-checkpoints" / f"{run_key(data, cfg)[:16]}.json"
    if args.resume and not ck.is_file():
        raise MexlabError(f"--resume: no checkpoint of this evaluation ({ck}); run it without --resume")
    if args.resume:
        _say(args, f"resuming from {ck}")
    elif ck.is_file():
        _say(args, f"note: {ck} holds an interrupted run of this evaluation; starting again (--resume continues it)")
    try:
        res = loso(data, cfg, progress=lambda m: _say(args, m), checkpoint=ck, resume=args.resume)
    except KeyboardInterrupt:
        if ck.is_file():
            _say(
                args,
                f"interrupted; the finished folds are kept in {ck} (the same command with --resume "
                "continues; folds are pooled only when all are done)",
            )
        else:
            _say(args, "interrupted before the first fold ended; no result")
        return 130
    res["datasets"] = list(args.dataset)
    if args.model is not None:
        entry = store_evaluation(args.model, res, args.dataset)
        _say(args, f"kept with {args.model} ({modelfile.evaluations_path(args.model).name}): {entry['on']}")
    print(json.dumps(res, indent=1) if args.json else format_result(res))
    return 0
