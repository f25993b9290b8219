"""Run lifecycle across processes: cancel requests, attempts, queue, priority, time limit,
tags; unknown token counts are NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("cancel_requested", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("queue", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("timeout_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("tags", JSON, nullable=True))
    with op.batch_alter_table("model_calls") as batch:
        batch.alter_column("prompt_tokens", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("completion_tokens", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.alter_column("completion_tokens", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prompt_tokens", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("runs") as batch:
        for column in ("tags", "timeout_s", "priority", "queue", "attempts", "cancel_requested"):
            batch.drop_column(column)
