"""injected faults

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "injected_faults",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("retry_after", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_injected_faults")),
    )
    with op.batch_alter_table("injected_faults", schema=None) as batch_op:
        batch_op.create_index(
            "ix_injected_faults_target_scope_id_app_id", ["target", "scope_id", "app_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("injected_faults", schema=None) as batch_op:
        batch_op.drop_index("ix_injected_faults_target_scope_id_app_id")
    op.drop_table("injected_faults")
