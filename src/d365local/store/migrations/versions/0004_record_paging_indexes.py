"""record paging indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 16:02:29.920895
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("dv_account", schema=None) as batch_op:
        batch_op.create_index("ix_dv_account_orgid_accountid", ["orgid", "accountid"], unique=False)

    with op.batch_alter_table("dv_businessunit", schema=None) as batch_op:
        batch_op.create_index("ix_dv_businessunit_orgid_businessunitid", ["orgid", "businessunitid"], unique=False)

    with op.batch_alter_table("dv_contact", schema=None) as batch_op:
        batch_op.create_index("ix_dv_contact_orgid_contactid", ["orgid", "contactid"], unique=False)

    with op.batch_alter_table("dv_lead", schema=None) as batch_op:
        batch_op.create_index("ix_dv_lead_orgid_leadid", ["orgid", "leadid"], unique=False)

    with op.batch_alter_table("dv_opportunity", schema=None) as batch_op:
        batch_op.create_index("ix_dv_opportunity_orgid_opportunityid", ["orgid", "opportunityid"], unique=False)

    with op.batch_alter_table("dv_role", schema=None) as batch_op:
        batch_op.create_index("ix_dv_role_orgid_roleid", ["orgid", "roleid"], unique=False)

    with op.batch_alter_table("dv_systemuser", schema=None) as batch_op:
        batch_op.create_index("ix_dv_systemuser_orgid_systemuserid", ["orgid", "systemuserid"], unique=False)

    with op.batch_alter_table("dv_task", schema=None) as batch_op:
        batch_op.create_index("ix_dv_task_orgid_activityid", ["orgid", "activityid"], unique=False)

    with op.batch_alter_table("dv_team", schema=None) as batch_op:
        batch_op.create_index("ix_dv_team_orgid_teamid", ["orgid", "teamid"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("dv_team", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_team_orgid_teamid")

    with op.batch_alter_table("dv_task", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_task_orgid_activityid")

    with op.batch_alter_table("dv_systemuser", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_systemuser_orgid_systemuserid")

    with op.batch_alter_table("dv_role", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_role_orgid_roleid")

    with op.batch_alter_table("dv_opportunity", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_opportunity_orgid_opportunityid")

    with op.batch_alter_table("dv_lead", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_lead_orgid_leadid")

    with op.batch_alter_table("dv_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_contact_orgid_contactid")

    with op.batch_alter_table("dv_businessunit", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_businessunit_orgid_businessunitid")

    with op.batch_alter_table("dv_account", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_account_orgid_accountid")
