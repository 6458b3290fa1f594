"""Table of the self-report answers of protocol runs: one row per row of a session's ``responses.csv``.

A row belongs to a session by its ``session_id`` (the uuid hex of ``session.json``), like the
annotation tables: no foreign key. The rows are only a copy of the file, replaced wholesale each
time the session is registered (:mod:`acquisition.catalog.responses`) and removed with the session.
The columns are those of ``responses.csv`` (``acquisition.session_read.names.RESPONSE_COLUMNS``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from acquisition.catalog.base import Base


class Response(Base):
    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    participant: Mapped[str | None] = mapped_column(String(255), index=True)
    protocol: Mapped[str | None] = mapped_column(String(255))
    group: Mapped[str | None] = mapped_column(String(255))  # the protocol's counterbalancing group
    block: Mapped[str | None] = mapped_column(String(255))
    block_n: Mapped[int | None] = mapped_column(Integer)
    trial: Mapped[int | None] = mapped_column(Integer)
    row: Mapped[int | None] = mapped_column(Integer)  # 1-based row of the conditions table
    step_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str | None] = mapped_column(String(32))  # self_report | answer
    stimulus: Mapped[str | None] = mapped_column(Text)
    question: Mapped[str | None] = mapped_column(Text)
    question_kind: Mapped[str | None] = mapped_column(String(32))
    condition: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    intensity: Mapped[int | None] = mapped_column(Integer)
    valence: Mapped[int | None] = mapped_column(Integer)
    arousal: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    onset_lsl: Mapped[float | None] = mapped_column(Float)
    response_lsl: Mapped[float | None] = mapped_column(Float)
    rt_s: Mapped[float | None] = mapped_column(Float)
    simulated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    def __repr__(self) -> str:
        return f"Response(session_id={self.session_id!r}, step_id={self.step_id!r}, kind={self.kind!r})"
