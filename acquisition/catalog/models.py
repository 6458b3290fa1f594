"""Tables of the sessions in the catalog: participants (and their identities apart), sessions, their
files and streams (SQLAlchemy 2 declarative models on :class:`~acquisition.catalog.base.Base`).

The schema itself is created and upgraded by the Alembic migrations in ``migrations/versions``;
the tables registered in :mod:`acquisition.catalog.tables` must match them (a test compares the two).

Identifying details of a participant (real name, contact) live in their own table,
``participant_identities``, so that every other table can be exported or shared as it is: they only
ever name a participant by pseudonym.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from acquisition.catalog.base import Base, UTCDateTime, utcnow


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    sessions: Mapped[list[Session]] = relationship(back_populates="participant")
    identity: Mapped[ParticipantIdentity | None] = relationship(
        back_populates="participant", cascade="all, delete-orphan", uselist=False
    )

    def __repr__(self) -> str:
        return f"Participant(id={self.id!r}, pseudonym={self.pseudonym!r})"


class ParticipantIdentity(Base):
    """Who a pseudonym is. Kept apart so the rest of the catalog can be shared without it."""

    __tablename__ = "participant_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    real_name: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)

    participant: Mapped[Participant] = relationship(back_populates="identity")

    def __repr__(self) -> str:  # never shows the identifying fields
        return f"ParticipantIdentity(id={self.id!r}, participant_id={self.participant_id!r})"


class Session(Base):
    """One recording: one session folder."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"), index=True)
    protocol: Mapped[str | None] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    source: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    dropped_frames: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    dropped_samples: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    disk_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sidecar: Mapped[str | None] = mapped_column(Text)  # session.json as last read, verbatim JSON
    # the check's verdict (acquisition.health), computed at register: ok | warning | bad
    health: Mapped[str | None] = mapped_column(String(16))
    health_reasons: Mapped[str | None] = mapped_column(Text)  # JSON list of sentences
    status_detail: Mapped[str | None] = mapped_column(Text)  # e.g. "aborted at step 7 of 24, …"

    participant: Mapped[Participant | None] = relationship(back_populates="sessions")
    files: Mapped[list[SessionFile]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="SessionFile.path"
    )
    streams: Mapped[list[Stream]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Stream.id"
    )

    def __repr__(self) -> str:
        return f"Session(session_id={self.session_id!r}, status={self.status!r})"


class SessionFile(Base):
    __tablename__ = "session_files"
    __table_args__ = (UniqueConstraint("session_pk", "path", name="uq_session_files_session_pk_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the row id of the session (sessions.id), not the uuid hex of session.json
    session_pk: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(64), nullable=False)  # xdf, rgb, depth, sidecar, …
    path: Mapped[str] = mapped_column(Text, nullable=False)  # relative to the folder, "/" separated
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

    session: Mapped[Session] = relationship(back_populates="files")


class Stream(Base):
    __tablename__ = "streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the row id of the session (sessions.id), not the uuid hex of session.json
    session_pk: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(32))  # input | markers | frame_index
    channel_count: Mapped[int | None] = mapped_column(Integer)
    nominal_srate: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int | None] = mapped_column(BigInteger)
    gaps: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[Session] = relationship(back_populates="streams")
