"""Classify the spotted micro-expressions of a session or video with a trained model.

Intervals come from ``<session>/analysis/spotting.json`` when it exists, else the spotter runs
first (:func:`analysis.spotting.pipeline.spot`, which writes that file for a session). Each micro
interval becomes a :class:`~analysis.datasets.sample.Sample` (onset, apex, offset of the interval)
and goes through the same features as training. The result is written to
``<session>/analysis/recognition.json`` (for a video file: ``<video>.recognition.json`` beside it).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import InputError, OutputError
from acquisition.session_read.names import RECOGNITION_FILE, SPOTTING_FILE

if TYPE_CHECKING:
    from collections.abc import Callable


def _intervals(inp, progress=None) -> list[dict]:
    from analysis.session_data import read_spotting
    from analysis.spotting.pipeline import spot

    f = inp.path / SPOTTING_FILE if inp.is_session else None
    if f is not None and f.is_file():
        rows, _ = read_spotting(f)
        return rows
    return spot(inp.path, progress=progress).intervals


def recognize(
    path: str | Path, model_path: str | Path | None = None, *, progress: Callable[[int, int, str], None] | None = None
) -> dict:
    from analysis.datasets.sample import FrameSource, Sample
    from analysis.recognition import modelfile
    from analysis.recognition.features import compute
    from analysis.recognition.task import FeatureSet, predict_proba
    from analysis.spotting.inputs import resolve_input

    model_path = Path(model_path) if model_path else modelfile.default_model()
    model, meta = modelfile.load(model_path)
    inp = resolve_input(path)
    views = tuple(meta["views"])
    if "depth" in views and inp.depth is None:
        raise InputError(
            f"{path}: the model {model_path.name} needs depth (views "
            f"{','.join(views)}) and this input has none; use an RGB-only model"
        )
    rows = [r for r in _intervals(inp, progress) if str(r.get("type", "micro")) == "micro"]
    samples = []
    for r in rows:
        on, off = int(r["onset"]), int(r["offset"])
        ap = int(r.get("apex") if r.get("apex") is not None else (on + off) // 2)
        samples.append(
            Sample(
                "mexlab",
                "",
                inp.path.name,
                on,
                ap,
                off,
                str(r.get("aus") or ""),
                "",
                None,
                FrameSource(str(inp.video)),
                FrameSource(str(inp.depth)) if inp.depth else None,
                origin=f"{inp.path} interval {on}-{off}",
            )
        )
    t0 = time.perf_counter()
    feats, problems = compute(samples)
    t_feat = time.perf_counter() - t0
    ok = [i for i, f in enumerate(feats) if f is not None]
    out_rows = []
    t_model = 0.0
    if ok:
        x = {v: np.stack([feats[i][v] for i in ok]).astype(np.float32) for v in views}
        fs = FeatureSet(x, np.zeros(len(ok), np.int64), [""] * len(ok), list(meta["classes"]), views)
        t1 = time.perf_counter()
        p = predict_proba(model, fs)
        t_model = time.perf_counter() - t1
        for j, i in enumerate(ok):
            s = samples[i]
            k = int(p[j].argmax())
            out_rows.append(
                {
                    "onset": s.onset,
                    "apex": s.apex,
                    "offset": s.offset,
                    "class": meta["classes"][k],
                    "confidence": round(float(p[j, k]), 4),
                    "probabilities": {c: round(float(v), 4) for c, v in zip(meta["classes"], p[j])},
                }
            )
    result = {
        "input": str(inp.path),
        "model": str(model_path),
        "model_sha256": modelfile.file_sha256(model_path),
        "classes": meta["classes"],
        "views": list(views),
        "expressions": out_rows,
        "problems": problems,
        "seconds": {"features": round(t_feat, 3), "model": round(t_model, 4)},
    }
    target = (
        inp.path / RECOGNITION_FILE if inp.is_session else inp.video.with_name(inp.video.name + ".recognition.json")
    )
    result["written"] = str(write_json(target, result))
    return result


def write_json(path: Path, obj: dict) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc})") from None
    return path
