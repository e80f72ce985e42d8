"""dataverse records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:21:17.600557
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "dv_account",
        sa.Column("accountid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=True),
        sa.Column("accountnumber", sa.String(length=20), nullable=True),
        sa.Column("telephone1", sa.String(length=50), nullable=True),
        sa.Column("emailaddress1", sa.String(length=100), nullable=True),
        sa.Column("websiteurl", sa.String(length=200), nullable=True),
        sa.Column("address1_city", sa.String(length=80), nullable=True),
        sa.Column("address1_country", sa.String(length=80), nullable=True),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("revenue", sa.Numeric(precision=23, scale=10), nullable=True),
        sa.Column("numberofemployees", sa.Integer(), nullable=True),
        sa.Column("creditonhold", sa.Boolean(), nullable=True),
        sa.Column("industrycode", sa.Integer(), nullable=True),
        sa.Column("customertypecode", sa.Integer(), nullable=True),
        sa.Column("primarycontactid", sa.String(length=36), nullable=True),
        sa.Column("parentaccountid", sa.String(length=36), nullable=True),
        sa.Column("statecode", sa.Integer(), nullable=True),
        sa.Column("statuscode", sa.Integer(), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.Column("ownerid", sa.String(length=36), nullable=True),
        sa.Column("ownerid_type", sa.String(length=64), nullable=True),
        sa.Column("owningbusinessunit", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_account_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("accountid", name=op.f("pk_dv_account")),
        sa.UniqueConstraint("orgid", "accountnumber", name="uq_dv_account_accountnumber"),
    )
    with op.batch_alter_table("dv_account", schema=None) as batch_op:
        batch_op.create_index("ix_dv_account_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_account_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_account_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_account_orgid_name", ["orgid", "name"], unique=False)
        batch_op.create_index("ix_dv_account_ownerid", ["ownerid"], unique=False)
        batch_op.create_index("ix_dv_account_owningbusinessunit", ["owningbusinessunit"], unique=False)
        batch_op.create_index("ix_dv_account_parentaccountid", ["parentaccountid"], unique=False)
        batch_op.create_index("ix_dv_account_primarycontactid", ["primarycontactid"], unique=False)

    op.create_table(
        "dv_businessunit",
        sa.Column("businessunitid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=True),
        sa.Column("parentbusinessunitid", sa.String(length=36), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_businessunit_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("businessunitid", name=op.f("pk_dv_businessunit")),
    )
    with op.batch_alter_table("dv_businessunit", schema=None) as batch_op:
        batch_op.create_index("ix_dv_businessunit_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_businessunit_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_businessunit_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_businessunit_orgid_name", ["orgid", "name"], unique=False)
        batch_op.create_index("ix_dv_businessunit_parentbusinessunitid", ["parentbusinessunitid"], unique=False)

    op.create_table(
        "dv_contact",
        sa.Column("contactid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("fullname", sa.String(length=160), nullable=True),
        sa.Column("firstname", sa.String(length=50), nullable=True),
        sa.Column("lastname", sa.String(length=50), nullable=True),
        sa.Column("jobtitle", sa.String(length=100), nullable=True),
        sa.Column("emailaddress1", sa.String(length=100), nullable=True),
        sa.Column("telephone1", sa.String(length=50), nullable=True),
        sa.Column("mobilephone", sa.String(length=50), nullable=True),
        sa.Column("address1_city", sa.String(length=80), nullable=True),
        sa.Column("birthdate", sa.Date(), nullable=True),
        sa.Column("gendercode", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("parentcustomerid", sa.String(length=36), nullable=True),
        sa.Column("parentcustomerid_type", sa.String(length=64), nullable=True),
        sa.Column("statecode", sa.Integer(), nullable=True),
        sa.Column("statuscode", sa.Integer(), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.Column("ownerid", sa.String(length=36), nullable=True),
        sa.Column("ownerid_type", sa.String(length=64), nullable=True),
        sa.Column("owningbusinessunit", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_contact_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("contactid", name=op.f("pk_dv_contact")),
    )
    with op.batch_alter_table("dv_contact", schema=None) as batch_op:
        batch_op.create_index("ix_dv_contact_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_contact_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_contact_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_contact_orgid_fullname", ["orgid", "fullname"], unique=False)
        batch_op.create_index("ix_dv_contact_ownerid", ["ownerid"], unique=False)
        batch_op.create_index("ix_dv_contact_owningbusinessunit", ["owningbusinessunit"], unique=False)
        batch_op.create_index("ix_dv_contact_parentcustomerid", ["parentcustomerid"], unique=False)

    op.create_table(
        "dv_lead",
        sa.Column("leadid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("fullname", sa.String(length=160), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("firstname", sa.String(length=50), nullable=True),
        sa.Column("lastname", sa.String(length=50), nullable=True),
        sa.Column("companyname", sa.String(length=100), nullable=True),
        sa.Column("emailaddress1", sa.String(length=100), nullable=True),
        sa.Column("telephone1", sa.String(length=50), nullable=True),
        sa.Column("estimatedvalue", sa.Numeric(precision=23, scale=10), nullable=True),
        sa.Column("leadqualitycode", sa.Integer(), nullable=True),
        sa.Column("leadsourcecode", sa.Integer(), nullable=True),
        sa.Column("parentaccountid", sa.String(length=36), nullable=True),
        sa.Column("parentcontactid", sa.String(length=36), nullable=True),
        sa.Column("statecode", sa.Integer(), nullable=True),
        sa.Column("statuscode", sa.Integer(), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.Column("ownerid", sa.String(length=36), nullable=True),
        sa.Column("ownerid_type", sa.String(length=64), nullable=True),
        sa.Column("owningbusinessunit", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_lead_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("leadid", name=op.f("pk_dv_lead")),
    )
    with op.batch_alter_table("dv_lead", schema=None) as batch_op:
        batch_op.create_index("ix_dv_lead_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_lead_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_lead_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_lead_orgid_fullname", ["orgid", "fullname"], unique=False)
        batch_op.create_index("ix_dv_lead_ownerid", ["ownerid"], unique=False)
        batch_op.create_index("ix_dv_lead_owningbusinessunit", ["owningbusinessunit"], unique=False)
        batch_op.create_index("ix_dv_lead_parentaccountid", ["parentaccountid"], unique=False)
        batch_op.create_index("ix_dv_lead_parentcontactid", ["parentcontactid"], unique=False)

    op.create_table(
        "dv_opportunity",
        sa.Column("opportunityid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("estimatedvalue", sa.Numeric(precision=23, scale=10), nullable=True),
        sa.Column("estimatedclosedate", sa.Date(), nullable=True),
        sa.Column("closeprobability", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("parentaccountid", sa.String(length=36), nullable=True),
        sa.Column("parentcontactid", sa.String(length=36), nullable=True),
        sa.Column("statecode", sa.Integer(), nullable=True),
        sa.Column("statuscode", sa.Integer(), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.Column("ownerid", sa.String(length=36), nullable=True),
        sa.Column("ownerid_type", sa.String(length=64), nullable=True),
        sa.Column("owningbusinessunit", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_opportunity_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("opportunityid", name=op.f("pk_dv_opportunity")),
    )
    with op.batch_alter_table("dv_opportunity", schema=None) as batch_op:
        batch_op.create_index("ix_dv_opportunity_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_opportunity_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_opportunity_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_opportunity_orgid_name", ["orgid", "name"], unique=False)
        batch_op.create_index("ix_dv_opportunity_ownerid", ["ownerid"], unique=False)
        batch_op.create_index("ix_dv_opportunity_owningbusinessunit", ["owningbusinessunit"], unique=False)
        batch_op.create_index("ix_dv_opportunity_parentaccountid", ["parentaccountid"], unique=False)
        batch_op.create_index("ix_dv_opportunity_parentcontactid", ["parentcontactid"], unique=False)

    op.create_table(
        "dv_organizations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("business_unit_id", sa.String(length=36), nullable=False),
        sa.Column("throttling", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["organizations.id"], name=op.f("fk_dv_organizations_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dv_organizations")),
    )
    op.create_table(
        "dv_role",
        sa.Column("roleid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("businessunitid", sa.String(length=36), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_role_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("roleid", name=op.f("pk_dv_role")),
    )
    with op.batch_alter_table("dv_role", schema=None) as batch_op:
        batch_op.create_index("ix_dv_role_businessunitid", ["businessunitid"], unique=False)
        batch_op.create_index("ix_dv_role_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_role_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_role_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_role_orgid_name", ["orgid", "name"], unique=False)

    op.create_table(
        "dv_systemuser",
        sa.Column("systemuserid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("fullname", sa.String(length=200), nullable=True),
        sa.Column("firstname", sa.String(length=64), nullable=True),
        sa.Column("lastname", sa.String(length=64), nullable=True),
        sa.Column("domainname", sa.String(length=1024), nullable=True),
        sa.Column("internalemailaddress", sa.String(length=100), nullable=True),
        sa.Column("applicationid", sa.String(length=36), nullable=True),
        sa.Column("azureactivedirectoryobjectid", sa.String(length=36), nullable=True),
        sa.Column("accessmode", sa.Integer(), nullable=True),
        sa.Column("isdisabled", sa.Boolean(), nullable=True),
        sa.Column("islicensed", sa.Boolean(), nullable=True),
        sa.Column("businessunitid", sa.String(length=36), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_systemuser_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("systemuserid", name=op.f("pk_dv_systemuser")),
    )
    with op.batch_alter_table("dv_systemuser", schema=None) as batch_op:
        batch_op.create_index("ix_dv_systemuser_applicationid", ["applicationid"], unique=False)
        batch_op.create_index(
            "ix_dv_systemuser_azureactivedirectoryobjectid", ["azureactivedirectoryobjectid"], unique=False
        )
        batch_op.create_index("ix_dv_systemuser_businessunitid", ["businessunitid"], unique=False)
        batch_op.create_index("ix_dv_systemuser_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_systemuser_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_systemuser_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_systemuser_orgid_fullname", ["orgid", "fullname"], unique=False)

    op.create_table(
        "dv_task",
        sa.Column("activityid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("scheduledend", sa.DateTime(), nullable=True),
        sa.Column("percentcomplete", sa.Integer(), nullable=True),
        sa.Column("prioritycode", sa.Integer(), nullable=True),
        sa.Column("regardingobjectid", sa.String(length=36), nullable=True),
        sa.Column("regardingobjectid_type", sa.String(length=64), nullable=True),
        sa.Column("statecode", sa.Integer(), nullable=True),
        sa.Column("statuscode", sa.Integer(), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.Column("ownerid", sa.String(length=36), nullable=True),
        sa.Column("ownerid_type", sa.String(length=64), nullable=True),
        sa.Column("owningbusinessunit", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_task_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("activityid", name=op.f("pk_dv_task")),
    )
    with op.batch_alter_table("dv_task", schema=None) as batch_op:
        batch_op.create_index("ix_dv_task_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_task_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_task_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_task_orgid_subject", ["orgid", "subject"], unique=False)
        batch_op.create_index("ix_dv_task_ownerid", ["ownerid"], unique=False)
        batch_op.create_index("ix_dv_task_owningbusinessunit", ["owningbusinessunit"], unique=False)
        batch_op.create_index("ix_dv_task_regardingobjectid", ["regardingobjectid"], unique=False)

    op.create_table(
        "dv_team",
        sa.Column("teamid", sa.String(length=36), nullable=False),
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=True),
        sa.Column("teamtype", sa.Integer(), nullable=True),
        sa.Column("azureactivedirectoryobjectid", sa.String(length=36), nullable=True),
        sa.Column("businessunitid", sa.String(length=36), nullable=True),
        sa.Column("createdon", sa.DateTime(), nullable=True),
        sa.Column("modifiedon", sa.DateTime(), nullable=True),
        sa.Column("createdby", sa.String(length=36), nullable=True),
        sa.Column("modifiedby", sa.String(length=36), nullable=True),
        sa.Column("versionnumber", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["orgid"], ["organizations.id"], name=op.f("fk_dv_team_orgid_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("teamid", name=op.f("pk_dv_team")),
    )
    with op.batch_alter_table("dv_team", schema=None) as batch_op:
        batch_op.create_index("ix_dv_team_azureactivedirectoryobjectid", ["azureactivedirectoryobjectid"], unique=False)
        batch_op.create_index("ix_dv_team_businessunitid", ["businessunitid"], unique=False)
        batch_op.create_index("ix_dv_team_createdby", ["createdby"], unique=False)
        batch_op.create_index("ix_dv_team_modifiedby", ["modifiedby"], unique=False)
        batch_op.create_index("ix_dv_team_orgid_createdon", ["orgid", "createdon"], unique=False)
        batch_op.create_index("ix_dv_team_orgid_name", ["orgid", "name"], unique=False)

    op.create_table(
        "dv_roleprivileges",
        sa.Column("roleid", sa.String(length=36), nullable=False),
        sa.Column("privilege", sa.String(length=128), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["roleid"], ["dv_role.roleid"], name=op.f("fk_dv_roleprivileges_roleid_dv_role"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("roleid", "privilege", name=op.f("pk_dv_roleprivileges")),
    )
    op.create_table(
        "dv_systemuserroles",
        sa.Column("systemuserid", sa.String(length=36), nullable=False),
        sa.Column("roleid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["roleid"], ["dv_role.roleid"], name=op.f("fk_dv_systemuserroles_roleid_dv_role"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["systemuserid"],
            ["dv_systemuser.systemuserid"],
            name=op.f("fk_dv_systemuserroles_systemuserid_dv_systemuser"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("systemuserid", "roleid", name=op.f("pk_dv_systemuserroles")),
    )
    with op.batch_alter_table("dv_systemuserroles", schema=None) as batch_op:
        batch_op.create_index("ix_dv_systemuserroles_roleid", ["roleid"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("dv_systemuserroles", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_systemuserroles_roleid")

    op.drop_table("dv_systemuserroles")
    op.drop_table("dv_roleprivileges")
    with op.batch_alter_table("dv_team", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_team_orgid_name")
        batch_op.drop_index("ix_dv_team_orgid_createdon")
        batch_op.drop_index("ix_dv_team_modifiedby")
        batch_op.drop_index("ix_dv_team_createdby")
        batch_op.drop_index("ix_dv_team_businessunitid")
        batch_op.drop_index("ix_dv_team_azureactivedirectoryobjectid")

    op.drop_table("dv_team")
    with op.batch_alter_table("dv_task", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_task_regardingobjectid")
        batch_op.drop_index("ix_dv_task_owningbusinessunit")
        batch_op.drop_index("ix_dv_task_ownerid")
        batch_op.drop_index("ix_dv_task_orgid_subject")
        batch_op.drop_index("ix_dv_task_orgid_createdon")
        batch_op.drop_index("ix_dv_task_modifiedby")
        batch_op.drop_index("ix_dv_task_createdby")

    op.drop_table("dv_task")
    with op.batch_alter_table("dv_systemuser", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_systemuser_orgid_fullname")
        batch_op.drop_index("ix_dv_systemuser_orgid_createdon")
        batch_op.drop_index("ix_dv_systemuser_modifiedby")
        batch_op.drop_index("ix_dv_systemuser_createdby")
        batch_op.drop_index("ix_dv_systemuser_businessunitid")
        batch_op.drop_index("ix_dv_systemuser_azureactivedirectoryobjectid")
        batch_op.drop_index("ix_dv_systemuser_applicationid")

    op.drop_table("dv_systemuser")
    with op.batch_alter_table("dv_role", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_role_orgid_name")
        batch_op.drop_index("ix_dv_role_orgid_createdon")
        batch_op.drop_index("ix_dv_role_modifiedby")
        batch_op.drop_index("ix_dv_role_createdby")
        batch_op.drop_index("ix_dv_role_businessunitid")

    op.drop_table("dv_role")
    op.drop_table("dv_organizations")
    with op.batch_alter_table("dv_opportunity", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_opportunity_parentcontactid")
        batch_op.drop_index("ix_dv_opportunity_parentaccountid")
        batch_op.drop_index("ix_dv_opportunity_owningbusinessunit")
        batch_op.drop_index("ix_dv_opportunity_ownerid")
        batch_op.drop_index("ix_dv_opportunity_orgid_name")
        batch_op.drop_index("ix_dv_opportunity_orgid_createdon")
        batch_op.drop_index("ix_dv_opportunity_modifiedby")
        batch_op.drop_index("ix_dv_opportunity_createdby")

    op.drop_table("dv_opportunity")
    with op.batch_alter_table("dv_lead", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_lead_parentcontactid")
        batch_op.drop_index("ix_dv_lead_parentaccountid")
        batch_op.drop_index("ix_dv_lead_owningbusinessunit")
        batch_op.drop_index("ix_dv_lead_ownerid")
        batch_op.drop_index("ix_dv_lead_orgid_fullname")
        batch_op.drop_index("ix_dv_lead_orgid_createdon")
        batch_op.drop_index("ix_dv_lead_modifiedby")
        batch_op.drop_index("ix_dv_lead_createdby")

    op.drop_table("dv_lead")
    with op.batch_alter_table("dv_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_contact_parentcustomerid")
        batch_op.drop_index("ix_dv_contact_owningbusinessunit")
        batch_op.drop_index("ix_dv_contact_ownerid")
        batch_op.drop_index("ix_dv_contact_orgid_fullname")
        batch_op.drop_index("ix_dv_contact_orgid_createdon")
        batch_op.drop_index("ix_dv_contact_modifiedby")
        batch_op.drop_index("ix_dv_contact_createdby")

    op.drop_table("dv_contact")
    with op.batch_alter_table("dv_businessunit", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_businessunit_parentbusinessunitid")
        batch_op.drop_index("ix_dv_businessunit_orgid_name")
        batch_op.drop_index("ix_dv_businessunit_orgid_createdon")
        batch_op.drop_index("ix_dv_businessunit_modifiedby")
        batch_op.drop_index("ix_dv_businessunit_createdby")

    op.drop_table("dv_businessunit")
    with op.batch_alter_table("dv_account", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_account_primarycontactid")
        batch_op.drop_index("ix_dv_account_parentaccountid")
        batch_op.drop_index("ix_dv_account_owningbusinessunit")
        batch_op.drop_index("ix_dv_account_ownerid")
        batch_op.drop_index("ix_dv_account_orgid_name")
        batch_op.drop_index("ix_dv_account_orgid_createdon")
        batch_op.drop_index("ix_dv_account_modifiedby")
        batch_op.drop_index("ix_dv_account_createdby")

    op.drop_table("dv_account")
