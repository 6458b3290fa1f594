"""A trained recognition model as a file: tensors and plain metadata only (safetensors, never pickle).

The file is a safetensors file (its header is JSON; loading it never runs code from it). Its
``__metadata__`` holds one entry, ``mexlab``: a JSON object with the format
(:data:`FORMAT`), the feature version (:data:`analysis.recognition.features.VERSION`), classes,
views, network width, the training data summary, metrics, date, mexlab version and
``tensors_sha256`` — the sha256 of every tensor's name, shape, dtype and bytes in file order. A file
whose checksum, format, feature version or shapes do not match is refused with a message.

Evaluations made after training (a LOSO estimate of its recipe, a test on held-out subjects) are kept
next to the model in ``M.safetensors.evaluations.json`` (:func:`add_evaluation`, temp file + rename;
for the shipped model in mexlab's config folder), keyed by the model file's sha256: the model file
is never rewritten, so its sha256 (the catalog's key, the default choice's check) stays valid, and a
sidecar left by an earlier file at the same path is recognised as stale and not shown.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from acquisition.errors import FileFormatError, InputError, MexlabError, NotFoundError, OutputError

if TYPE_CHECKING:
    from torch import nn

    from analysis.recognition.nets import MultiViewNet

FORMAT = "mexlab-recognition-model/1"
EVAL_FORMAT = "mexlab-model-evaluations/1"
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "recognition_default.safetensors"


def mexlab_version() -> str:
    try:
        from importlib.metadata import version

        return version("mexlab")
    except Exception:
        return "unknown"


def tensors_sha256(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.shape}|{a.dtype.str}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(path: str | Path, model: nn.Module, meta: dict) -> dict:
    """Write ``model`` with ``meta`` (temp file + rename). Returns the metadata written."""
    from safetensors.numpy import save_file

    path = Path(path)
    arrays = {
        k: np.ascontiguousarray(v.detach().cpu().numpy()).reshape(v.shape or (1,))
        for k, v in model.state_dict().items()
    }  # scalars stored as shape (1,)
    from analysis.recognition import features as FE

    full = {
        "format": FORMAT,
        "feature_version": FE.VERSION,
        "features": {**FE.PARAMS, "depth_avg": FE.DEPTH_AVG},  # depth's ends: frames averaged (1 before 2026-12-02)
        "classes": list(meta.get("classes") or []),
        "views": list(model.views),
        "width": int(meta.get("width", 16)),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "mexlab_version": mexlab_version(),
        **meta,
    }
    full["views"] = list(model.views)
    full["tensors_sha256"] = tensors_sha256(arrays)
    if not path.parent.is_dir():
        raise OutputError(f"{path.parent}: no such folder")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(arrays, tmp, metadata={"mexlab": json.dumps(full)})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the model ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return full


def read_meta(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata and tensors of a model file, checked (format, feature version, checksum)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw = (f.metadata() or {}).get("mexlab")
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise FileFormatError(
            f"{path}: not a mexlab model file (not a readable safetensors file: {' '.join(str(exc).split())[:160]})"
        ) from None
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or "format" not in meta:
        raise FileFormatError(f"{path}: not a mexlab model file (no mexlab metadata)")
    if meta["format"] != FORMAT:
        raise FileFormatError(
            f"{path}: model format {meta['format']!r}, this mexlab ({mexlab_version()}) reads {FORMAT!r}"
        )
    from analysis.recognition.features import VERSION

    if meta.get("feature_version") != VERSION:
        raise FileFormatError(
            f"{path}: made by mexlab {meta.get('mexlab_version', '?')} with "
            f"features v{meta.get('feature_version')}; this mexlab "
            f"({mexlab_version()}) computes v{VERSION}: retrain the model"
        )
    got = tensors_sha256(arrays)
    if got != meta.get("tensors_sha256"):
        raise FileFormatError(
            f"{path}: checksum mismatch (the tensors do not match the sha256 in "
            f"its metadata: the file is damaged or was altered)"
        )
    return meta, arrays


def load(path: str | Path) -> tuple[MultiViewNet, dict]:
    """``(model, meta)`` from a model file; refused with a message when anything does not fit."""
    from analysis.recognition.task import new_model, set_weights

    meta, arrays = read_meta(path)
    try:
        model = new_model(len(meta["classes"]), tuple(meta["views"]), width=int(meta["width"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: metadata lacks or garbles {exc}") from None
    names = list(model.state_dict())
    if sorted(names) != sorted(arrays):
        extra = sorted(set(arrays) - set(names))[:3]
        lack = sorted(set(names) - set(arrays))[:3]
        raise FileFormatError(f"{path}: tensors do not fit the network (unexpected {extra}, missing {lack})")
    sd = model.state_dict()
    fixed = [arrays[n].reshape(()) if sd[n].dim() == 0 and arrays[n].shape == (1,) else arrays[n] for n in names]
    try:
        set_weights(model, fixed)
    except MexlabError as exc:
        raise FileFormatError(f"{path}: {exc}") from None
    model.eval()
    return model, meta


# ------------------------------------------------------------------ the lab's default model
def _choice_file() -> Path:
    """Where the lab's default model is remembered: ``recognition_default.json`` in mexlab's config
    folder (``MEXLAB_CONFIG_DIR`` or the user config folder, as ``app/services/settings.py``)."""
    env = os.environ.get("MEXLAB_CONFIG_DIR")
    if env:
        return Path(env) / "recognition_default.json"
    import platformdirs

    return Path(platformdirs.user_config_dir("mexlab")) / "recognition_default.json"


def default_choice() -> dict | None:
    """``{"path", "sha256"}`` set by :func:`set_default_model`, or None (the shipped model)."""
    try:
        d = json.loads(_choice_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and d.get("path") else None


def default_model() -> Path:
    """The model used when none is named: the lab's choice, else the shipped one. A chosen file
    that is gone or whose content changed is refused with a message (never silently replaced)."""
    c = default_choice()
    if c is None:
        return DEFAULT_MODEL
    p = Path(c["path"])
    if not p.is_file():
        raise NotFoundError(
            f"the default recognition model {p} (chosen in the Models view) is "
            f"missing; choose another there or with `mexlab recognition default`"
        )
    if c.get("sha256") and file_sha256(p) != c["sha256"]:
        raise InputError(
            f"the default recognition model {p} has changed since it was chosen "
            f"(sha256 differs); choose it again to trust the new file"
        )
    return p


def set_default_model(path: str | Path | None) -> dict | None:
    """Make ``path`` (checked: a loadable model) the default; ``None`` goes back to the shipped
    model. Written by temp file + rename."""
    f = _choice_file()
    if path is None:
        try:
            f.unlink()
        except FileNotFoundError:
            pass
        return None
    p = Path(path).resolve()
    read_meta(p)  # refuses a damaged or foreign file
    choice = {
        "path": str(p),
        "sha256": file_sha256(p),
        "chosen": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        f.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=f.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(choice, fh, indent=1)
        os.replace(tmp, f)
    except OSError as exc:
        raise OutputError(f"{f}: cannot write ({exc})") from None
    return choice


# ------------------------------------------------------------------ evaluations kept with a model
def evaluations_path(path: str | Path) -> Path:
    """Where the evaluations of the model file ``path`` are kept: ``PATH.evaluations.json`` next to
    it; for the shipped model (inside the installed package), mexlab's config folder."""
    p = Path(path)
    if p.resolve() == DEFAULT_MODEL.resolve():
        return _choice_file().with_name("shipped-model.evaluations.json")
    return p.with_name(p.name + ".evaluations.json")


def read_evaluations(path: str | Path, sha256: str | None = None) -> tuple[list[dict], str | None]:
    """``(evaluations, note)``: the evaluations kept for the model file ``path`` (oldest first) and a
    note when a sidecar is there but unreadable or belongs to another file (then no evaluation).
    ``sha256``: the model file's, when the caller knows it (else computed)."""
    side = evaluations_path(path)
    if not side.is_file():
        return [], None
    try:
        d = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], f"{side}: unreadable ({' '.join(str(exc).split())[:120]}); not shown"
    if not isinstance(d, dict) or d.get("format") != EVAL_FORMAT or not isinstance(d.get("evaluations"), list):
        return [], f"{side}: not a mexlab evaluations file; not shown"
    if sha256 is None:
        sha256 = file_sha256(path) if Path(path).is_file() else None
    if d.get("model_sha256") != sha256:
        return [], f"{side}: the evaluations of an earlier file at this path (sha256 differs); not shown"
    return [e for e in d["evaluations"] if isinstance(e, dict)], None


def add_evaluation(path: str | Path, result: dict, on: str) -> dict:
    """Keep ``result`` (UF1, UAR, accuracy, per class, confusion, protocol, subjects, config) as the
    newest evaluation of the model file ``path`` (checked first: a damaged or foreign file is refused),
    described by ``on``. Written temp file + rename; stale evaluations (of an earlier file at the
    path) are dropped. Returns the entry."""
    read_meta(path)
    sha = file_sha256(path)
    keep, _note = read_evaluations(path, sha)
    entry = {
        "on": on,
        "protocol": result.get("protocol"),
        **{k: result.get(k) for k in ("uf1", "uar", "accuracy", "per_class", "confusion", "n_subjects")},
        "n": result.get("n_samples", result.get("n")),
        "datasets": result.get("datasets"),
        "config": result.get("config"),
        "evaluated": datetime.now(UTC).isoformat(timespec="seconds"),
        "mexlab_version": mexlab_version(),
    }
    side = evaluations_path(path)
    doc = {"format": EVAL_FORMAT, "model": Path(path).name, "model_sha256": sha, "evaluations": [*keep, entry]}
    try:
        side.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=side.parent, prefix=f".{side.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
            os.replace(tmp, side)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"{side}: cannot write the evaluation ({exc})") from None
    return entry
