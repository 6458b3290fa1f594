"""The ``models`` table: recognition models known to the catalog (issue 12).

One row per model file, keyed by the file's sha256 (the same model copied elsewhere is one row,
its latest path kept). The columns copy the model's plain metadata (classes, views, training data
summary, metrics, date, mexlab version; see ``analysis/recognition/modelfile.py``) so that a
session's recognition result, which names the model's sha256, says which model made it.
No foreign key to sessions: models come from other labs and federated runs too.
Registering and listing them: :mod:`acquisition.catalog.recognition_models`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from acquisition.catalog.base import Base, UTCDateTime, utcnow


class RecognitionModel(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str | None] = mapped_column(String(128))
    classes: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    views: Mapped[str] = mapped_column(String(255), nullable=False)  # comma-separated
    n_samples: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[str | None] = mapped_column(Text)  # JSON object
    meta: Mapped[str] = mapped_column(Text, nullable=False)  # the file's whole metadata
    mexlab_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the model's date
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
