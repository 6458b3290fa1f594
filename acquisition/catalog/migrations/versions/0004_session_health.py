"""Session health: one verdict per session (ok / warning / bad, with its reasons) and a status detail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

``health`` and ``health_reasons`` (a JSON list of sentences) are computed from the session's check
(:mod:`acquisition.health`) when it is registered; ``status_detail`` says more about the status
(e.g. "aborted at step 7 of 24, …"). Sessions catalogued before have NULL until they are registered
again (``mexlab sessions rescan ROOT``, ``register`` or ``check``); lists show them "not checked".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("health", sa.String(length=16), nullable=True))
    op.add_column("sessions", sa.Column("health_reasons", sa.Text(), nullable=True))
    op.add_column("sessions", sa.Column("status_detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("status_detail")
        batch.drop_column("health_reasons")
        batch.drop_column("health")
