"""Annotations: coded events (with a version column for concurrent editing) and their revisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "annotation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("coder", sa.String(length=255), nullable=False),
        sa.Column("onset_frame", sa.Integer(), nullable=False),
        sa.Column("apex_frame", sa.Integer(), nullable=True),
        sa.Column("offset_frame", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("type_overridden", sa.Integer(), nullable=False),
        sa.Column("aus", sa.Text(), nullable=False),
        sa.Column("emotion", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_annotation_events"),
        sa.UniqueConstraint("uid", name="uq_annotation_events_uid"),
    )
    op.create_index("ix_annotation_events_session_id", "annotation_events", ["session_id"])
    op.create_index("ix_annotation_events_coder", "annotation_events", ["coder"])
    op.create_table(
        "annotation_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_uid", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_annotation_revisions"),
    )
    op.create_index("ix_annotation_revisions_event_uid", "annotation_revisions", ["event_uid"])
    op.create_index("ix_annotation_revisions_session_id", "annotation_revisions", ["session_id"])


def downgrade() -> None:
    op.drop_table("annotation_revisions")
    op.drop_table("annotation_events")
