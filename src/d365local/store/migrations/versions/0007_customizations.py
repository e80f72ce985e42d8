"""organizations' customizations (custom tables, columns, keys, relationships, choices)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 22:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dv_customizations",
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_customizations_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("orgid", name=op.f("pk_dv_customizations")),
    )


def downgrade() -> None:
    op.drop_table("dv_customizations")
