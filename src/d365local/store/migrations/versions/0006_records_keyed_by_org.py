"""records keyed by organization

A record id is unique within its organization only (as in Dataverse, where every org is its own database): each
record table's primary key becomes (orgid, id), which also replaces the (orgid, id) paging index. The role links
carry the org so their foreign keys can reference those keys. Privilege names of users and business units become
Dataverse's own (``prvReadUser``, ``prvReadBusinessUnit``). Data is kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 18:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RECORD_TABLES = {
    "dv_account": "accountid",
    "dv_businessunit": "businessunitid",
    "dv_contact": "contactid",
    "dv_lead": "leadid",
    "dv_opportunity": "opportunityid",
    "dv_role": "roleid",
    "dv_systemuser": "systemuserid",
    "dv_task": "activityid",
    "dv_team": "teamid",
}
ACCESS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")
RENAMED_STEMS = {"systemuser": "User", "businessunit": "BusinessUnit"}


def _privilege(name: str) -> str:
    for access in ACCESS:
        for stem, new in RENAMED_STEMS.items():
            if name.lower() == f"prv{access}{stem}".lower():
                return f"prv{access}{new}"
    return name


def upgrade() -> None:
    conn = op.get_bind()
    # 1. Keep the links (with the org each belongs to) and drop their tables, whose keys point at the old ones.
    user_links = conn.execute(
        sa.text(
            "SELECT u.orgid, l.systemuserid, l.roleid FROM dv_systemuserroles l "
            "JOIN dv_systemuser u ON u.systemuserid = l.systemuserid"
        )
    ).all()
    privileges = conn.execute(
        sa.text(
            "SELECT r.orgid, p.roleid, p.privilege, p.depth FROM dv_roleprivileges p "
            "JOIN dv_role r ON r.roleid = p.roleid"
        )
    ).all()
    with op.batch_alter_table("dv_systemuserroles", schema=None) as batch_op:
        batch_op.drop_index("ix_dv_systemuserroles_roleid")
    op.drop_table("dv_systemuserroles")
    op.drop_table("dv_roleprivileges")

    # 2. Every record table: primary key (orgid, id); the paging index it replaces goes.
    for table, key in RECORD_TABLES.items():
        with op.batch_alter_table(table, schema=None, recreate="always") as batch_op:
            batch_op.drop_index(f"ix_{table}_orgid_{key}")
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", ["orgid", key])

    # 3. The links again, keyed by org.
    privilege_table = op.create_table(
        "dv_roleprivileges",
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("roleid", sa.String(length=36), nullable=False),
        sa.Column("privilege", sa.String(length=128), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["orgid", "roleid"],
            ["dv_role.orgid", "dv_role.roleid"],
            name=op.f("fk_dv_roleprivileges_orgid_dv_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("orgid", "roleid", "privilege", name=op.f("pk_dv_roleprivileges")),
    )
    link_table = op.create_table(
        "dv_systemuserroles",
        sa.Column("orgid", sa.String(length=36), nullable=False),
        sa.Column("systemuserid", sa.String(length=36), nullable=False),
        sa.Column("roleid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["orgid", "roleid"],
            ["dv_role.orgid", "dv_role.roleid"],
            name=op.f("fk_dv_systemuserroles_orgid_dv_role"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["orgid", "systemuserid"],
            ["dv_systemuser.orgid", "dv_systemuser.systemuserid"],
            name=op.f("fk_dv_systemuserroles_orgid_dv_systemuser"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("orgid", "systemuserid", "roleid", name=op.f("pk_dv_systemuserroles")),
    )
    with op.batch_alter_table("dv_systemuserroles", schema=None) as batch_op:
        batch_op.create_index("ix_dv_systemuserroles_orgid_roleid", ["orgid", "roleid"], unique=False)
    assert privilege_table is not None
    assert link_table is not None
    # Renaming can make two stored names one (a role listing both spellings): keep the deepest.
    merged: dict[tuple[str, str, str], int] = {}
    for org, role, name, depth in privileges:
        merged_key = (str(org), str(role), _privilege(name))
        merged[merged_key] = max(merged.get(merged_key, depth), depth)
    if merged:
        op.bulk_insert(
            privilege_table,
            [{"orgid": o, "roleid": r, "privilege": p, "depth": d} for (o, r, p), d in merged.items()],
        )
    if user_links:
        op.bulk_insert(link_table, [{"orgid": o, "systemuserid": u, "roleid": r} for o, u, r in user_links])


def downgrade() -> None:
    """Back to ids unique across organizations: fails (leaving the database as it was) when two orgs share one."""
    conn = op.get_bind()
    user_links = conn.execute(sa.text("SELECT systemuserid, roleid FROM dv_systemuserroles")).all()
    privileges = conn.execute(sa.text("SELECT roleid, privilege, depth FROM dv_roleprivileges")).all()
    op.drop_table("dv_systemuserroles")
    op.drop_table("dv_roleprivileges")
    for table, key in RECORD_TABLES.items():
        with op.batch_alter_table(table, schema=None, recreate="always") as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", [key])
            batch_op.create_index(f"ix_{table}_orgid_{key}", ["orgid", key], unique=False)
    privilege_table = op.create_table(
        "dv_roleprivileges",
        sa.Column("roleid", sa.String(length=36), nullable=False),
        sa.Column("privilege", sa.String(length=128), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["roleid"], ["dv_role.roleid"], name=op.f("fk_dv_roleprivileges_roleid_dv_role"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("roleid", "privilege", name=op.f("pk_dv_roleprivileges")),
    )
    link_table = op.create_table(
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
    assert privilege_table is not None
    assert link_table is not None
    old_names = {
        _privilege(f"prv{a}{stem}").lower(): f"prv{a}{stem.capitalize()}" for a in ACCESS for stem in RENAMED_STEMS
    }
    if privileges:
        op.bulk_insert(
            privilege_table,
            [{"roleid": r, "privilege": old_names.get(p.lower(), p), "depth": d} for r, p, d in privileges],
        )
    if user_links:
        op.bulk_insert(link_table, [{"systemuserid": u, "roleid": r} for u, r in user_links])
