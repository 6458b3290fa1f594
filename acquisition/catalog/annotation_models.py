"""Tables of the annotation (coding) store: coded events and their revision history.

An event belongs to a session by its ``session_id`` (the uuid hex of ``session.json``, or
``video-<hash>`` for a plain video): no foreign key, so a session can be coded before it is
catalogued and its codings outlive a catalog row deleted and registered again.

``version`` is SQLAlchemy's ``version_id_col``: every UPDATE and DELETE is ``... WHERE id = ? AND
version = ?``, so an edit to an event another coder changed meanwhile fails (StaleDataError) instead
of overwriting it; :mod:`analysis.annotation.store` turns that into a conflict shown to the coder.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from acquisition.catalog.base import Base, UTCDateTime, utcnow


class AnnotationEvent(Base):
    __tablename__ = "annotation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    session_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    coder: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    onset_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    apex_frame: Mapped[int | None] = mapped_column(Integer)
    offset_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)  # micro | macro
    type_overridden: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    aus: Mapped[str] = mapped_column(Text, nullable=False, default="")  # "4+R12C"
    emotion: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # candidate|accepted|rejected
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # manual|emg|spotting|import
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))

    __mapper_args__ = {"version_id_col": version}


class AnnotationRevision(Base):
    """One change of one event: its state after the change (JSON), by whom and when."""

    __tablename__ = "annotation_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_uid: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    session_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # create|update|delete
    by: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    data: Mapped[str] = mapped_column(Text, nullable=False)
