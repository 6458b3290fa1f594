"""The ``models`` table: recognition models known to the catalog (issue 12).

One row per model file, keyed by the file's sha256 (the same model copied elsewhere is one row,
its latest path kept). The columns copy the model's plain metadata (classes, views, training data
summary, metrics, date, mexlab version; see ``analysis/recognition/modelfile.py``) so that a
session's recognition result, which names the model's sha256, says which model made it.
No foreign key to sessions: models come from other labs and federated runs too.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import Integer, String, Text, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Mapped, mapped_column

from acquisition.catalog.models import Base, UTCDateTime, utcnow
from acquisition.errors import CatalogError


class RecognitionModel(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str | None] = mapped_column(String(128))
    classes: Mapped[str] = mapped_column(Text, nullable=False)        # JSON list
    views: Mapped[str] = mapped_column(String(255), nullable=False)   # comma-separated
    n_samples: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[str | None] = mapped_column(Text)                 # JSON object
    meta: Mapped[str] = mapped_column(Text, nullable=False)           # the file's whole metadata
    mexlab_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the model's date
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


def _row_dict(r: RecognitionModel) -> dict:
    return {"sha256": r.sha256, "path": r.path, "name": r.name, "kind": r.kind,
            "classes": json.loads(r.classes), "views": r.views.split(","),
            "n_samples": r.n_samples, "metrics": json.loads(r.metrics) if r.metrics else None,
            "mexlab_version": r.mexlab_version,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "registered_at": r.registered_at.isoformat() if r.registered_at else None}


def register_model(path, meta: dict, url: str | None = None) -> dict:
    """Add (or update the path of) the model file ``path`` with its metadata ``meta``."""
    from acquisition.catalog import Catalog
    from analysis.recognition.modelfile import file_sha256

    path = Path(path).resolve()
    sha = file_sha256(path)
    created = None
    try:
        created = datetime.fromisoformat(str(meta.get("created")))
    except (TypeError, ValueError):
        pass
    with Catalog(url) as cat:
        try:
            with cat._db() as db, db.begin():
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
            raise CatalogError(f"catalog {cat.url}: cannot register the model "
                               f"({' '.join(str(exc).split())[:200]})") from None


def list_models(url: str | None = None) -> list[dict]:
    from acquisition.catalog import Catalog

    with Catalog(url) as cat:
        try:
            with cat._db() as db:
                return [_row_dict(r) for r in db.scalars(
                    select(RecognitionModel).order_by(RecognitionModel.registered_at))]
        except sa_exc.SQLAlchemyError as exc:
            raise CatalogError(f"catalog {cat.url}: cannot list models "
                               f"({' '.join(str(exc).split())[:200]})") from None
