"""Responses: the self-report answers of protocol runs (each session's responses.csv), as rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

The table starts empty: the rows of sessions catalogued before are filled when they are registered
again (``mexlab sessions rescan ROOT`` or ``register``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=255), nullable=True),
        sa.Column("protocol", sa.String(length=255), nullable=True),
        sa.Column("group", sa.String(length=255), nullable=True),
        sa.Column("block", sa.String(length=255), nullable=True),
        sa.Column("block_n", sa.Integer(), nullable=True),
        sa.Column("trial", sa.Integer(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("step_id", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("stimulus", sa.Text(), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("question_kind", sa.String(length=32), nullable=True),
        sa.Column("condition", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("intensity", sa.Integer(), nullable=True),
        sa.Column("valence", sa.Integer(), nullable=True),
        sa.Column("arousal", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("onset_lsl", sa.Float(), nullable=True),
        sa.Column("response_lsl", sa.Float(), nullable=True),
        sa.Column("rt_s", sa.Float(), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
    )
    op.create_index("ix_responses_session_id", "responses", ["session_id"])
    op.create_index("ix_responses_participant", "responses", ["participant"])


def downgrade() -> None:
    op.drop_table("responses")
