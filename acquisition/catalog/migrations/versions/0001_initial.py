"""The initial catalog: participants, their identities (apart), sessions, their files and streams.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_participants"),
        sa.UniqueConstraint("pseudonym", name="uq_participants_pseudonym"),
    )
    op.create_table(
        "participant_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("real_name", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_participant_identities"),
        sa.UniqueConstraint("participant_id", name="uq_participant_identities_participant_id"),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name="fk_participant_identities_participant_id_participants",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(length=255), nullable=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("stopped_at", TIMESTAMP, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("dropped_frames", sa.BigInteger(), nullable=False),
        sa.Column("dropped_samples", sa.BigInteger(), nullable=False),
        sa.Column("disk_bytes", sa.BigInteger(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("registered_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("sidecar", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("session_id", name="uq_sessions_session_id"),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name="fk_sessions_participant_id_participants",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_sessions_participant_id", "sessions", ["participant_id"])
    op.create_index("ix_sessions_status", "sessions", ["status"])
    op.create_index("ix_sessions_started_at", "sessions", ["started_at"])
    op.create_table(
        "session_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_pk", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_session_files"),
        sa.UniqueConstraint("session_pk", "path", name="uq_session_files_session_pk_path"),
        sa.ForeignKeyConstraint(
            ["session_pk"],
            ["sessions.id"],
            name="fk_session_files_session_pk_sessions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_session_files_session_pk", "session_files", ["session_pk"])
    op.create_table(
        "streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("channel_count", sa.Integer(), nullable=True),
        sa.Column("nominal_srate", sa.Float(), nullable=True),
        sa.Column("samples", sa.BigInteger(), nullable=True),
        sa.Column("gaps", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_streams"),
        sa.ForeignKeyConstraint(
            ["session_pk"],
            ["sessions.id"],
            name="fk_streams_session_pk_sessions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_streams_session_pk", "streams", ["session_pk"])


def downgrade() -> None:
    op.drop_index("ix_streams_session_pk", table_name="streams")
    op.drop_table("streams")
    op.drop_index("ix_session_files_session_pk", table_name="session_files")
    op.drop_table("session_files")
    op.drop_index("ix_sessions_started_at", table_name="sessions")
    op.drop_index("ix_sessions_status", table_name="sessions")
    op.drop_index("ix_sessions_participant_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("participant_identities")
    op.drop_table("participants")
