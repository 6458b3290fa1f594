"""Registering and listing recognition models in the catalog (issue 12): rows of the ``models``
table (:mod:`acquisition.catalog.recognition_table`), keyed by the model file's sha256.

The table class is importable from here as before (``RecognitionModel``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from acquisition.catalog.db import Catalog
from acquisition.catalog.recognition_table import RecognitionModel

__all__ = ["RecognitionModel", "list_models", "register_model"]


def _file_sha256(path: Path) -> str:
    """The file's sha256, as ``analysis.recognition.modelfile.file_sha256`` computes it (acquisition
    cannot import analysis)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _row_dict(r: RecognitionModel) -> dict:
    return {
        "sha256": r.sha256,
        "path": r.path,
        "name": r.name,
        "kind": r.kind,
        "classes": json.loads(r.classes),
        "views": r.views.split(","),
        "n_samples": r.n_samples,
        "metrics": json.loads(r.metrics) if r.metrics else None,
        "mexlab_version": r.mexlab_version,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "registered_at": r.registered_at.isoformat() if r.registered_at else None,
    }


def register_model(path: str | Path, meta: dict, url: str | None = None) -> dict:
    """Add (or update the path of) the model file ``path`` with its metadata ``meta``."""
    path = Path(path).resolve()
    sha = _file_sha256(path)
    created = None
    try:
        created = datetime.fromisoformat(str(meta.get("created")))
    except (TypeError, ValueError):
        pass
    with Catalog(url) as cat:
        try:
            with cat.transaction() as db:
                row = db.scalar(select(RecognitionModel).where(RecognitionModel.sha256 == sha))
                if row is None:
                    row = RecognitionModel(sha256=sha)
                    db.add(row)
                row.path, row.name = str(path), path.name
                row.kind = str(meta.get("kind") or "")[:128]
                row.classes = json.dumps(list(meta.get("classes") or []))
                row.views = ",".join(meta.get("views") or [])
                row.n_samples = (meta.get("training") or {}).get("n")
                row.metrics = json.dumps(meta.get("metrics")) if meta.get("metrics") else None
                row.meta = json.dumps(meta)
                row.mexlab_version = str(meta.get("mexlab_version") or "")[:64]
                row.created_at = created
                db.flush()
                return _row_dict(row)
        except sa_exc.SQLAlchemyError as exc:
            raise cat.error(exc, "register the model") from None


def list_models(url: str | None = None) -> list[dict]:
    """Every registered model, oldest registration first."""
    with Catalog(url) as cat:
        try:
            with cat.reading() as db:
                return [
                    _row_dict(r) for r in db.scalars(select(RecognitionModel).order_by(RecognitionModel.registered_at))
                ]
        except sa_exc.SQLAlchemyError as exc:
            raise cat.error(exc, "list models") from None
