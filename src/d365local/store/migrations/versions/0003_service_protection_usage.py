"""service protection usage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:42:57.306151
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "dv_throttle_usage",
        sa.Column("user_key", sa.String(length=80), nullable=False),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("process", sa.String(length=36), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("execution_ms", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("user_key", "second", "process", name=op.f("pk_dv_throttle_usage")),
    )
    with op.batch_alter_table("dv_throttle_usage", schema=None) as batch_op:
        batch_op.create_index("ix_dv_throttle_usage_second", ["second"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("dv_throttle_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_throttle_usage_second")

    op.drop_table("dv_throttle_usage")
