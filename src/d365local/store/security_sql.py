"""Organizations, application users and roles of the Dataverse side on SQL (implements ``dataverse.domain.storage``).

Application users are rows of the ``systemuser`` record table and roles rows of ``role``, so the Web API serves
them like any other table; role privileges and user-role links have their own tables. Writes go through the
directory's write transaction, so they bump the shared change counter that running servers watch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Integer,
    String,
    Text,
    and_,
    column,
    delete,
    func,
    insert,
    select,
    table,
    update,
)
from sqlalchemy.sql.expression import ColumnClause

from d365local.dataverse.domain.model import (
    ACCESS_MODE_NON_INTERACTIVE,
    ApplicationUser,
    Depth,
    Organization,
    Role,
    RolePrivilege,
)
from d365local.store import schema as t
from d365local.store.directory_sql import SqlDirectory
from d365local.store.records_schema import dataverse_organizations

# The columns of the record tables this store reads and writes (``record_tables`` defines the tables): lightweight
# clauses, so that the admin commands need neither the catalog nor the full tables.
_GUID = String(36)


def _stamps() -> tuple[ColumnClause[Any], ...]:
    return column("createdon", DateTime()), column("modifiedon", DateTime()), column("versionnumber", BigInteger())


SYSTEMUSER = table(
    "dv_systemuser",
    column("systemuserid", _GUID),
    column("orgid", _GUID),
    column("fullname", Text()),
    column("lastname", Text()),
    column("domainname", Text()),
    column("applicationid", _GUID),
    column("azureactivedirectoryobjectid", _GUID),
    column("accessmode", Integer()),
    column("isdisabled", Boolean()),
    column("islicensed", Boolean()),
    column("businessunitid", _GUID),
    *_stamps(),
)
ROLE = table(
    "dv_role", column("roleid", _GUID), column("orgid", _GUID), column("name", Text()), column("businessunitid", _GUID),
    *_stamps(),
)  # fmt: skip
BUSINESSUNIT = table(
    "dv_businessunit", column("businessunitid", _GUID), column("orgid", _GUID), column("name", Text()), *_stamps()
)
role_privileges = table(
    "dv_roleprivileges", column("orgid", _GUID), column("roleid", _GUID), column("privilege", String(128)),
    column("depth", Integer()),
)  # fmt: skip
user_roles = table("dv_systemuserroles", column("orgid", _GUID), column("systemuserid", _GUID), column("roleid", _GUID))


def _when(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC).replace(tzinfo=None)


class SqlSecurityStore:
    def __init__(self, directory: SqlDirectory) -> None:
        self._directory = directory
        self._engine = directory.engine

    # -- organizations ---------------------------------------------------------------------------------------
    def organizations(self, key: str | None = None) -> Sequence[Organization]:
        registered = self._directory.organizations(key=key)
        query = select(dataverse_organizations)
        if key is not None:
            query = query.where(dataverse_organizations.c.id.in_([o.id for o in registered]))
        with self._engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(query)}
        return [
            Organization(o.id, o.tenant_id, o.name, o.url, rows[o.id].business_unit_id, rows[o.id].throttling)
            for o in registered
            if o.id in rows
        ]

    def missing_organizations(self) -> Sequence[tuple[str, str, str]]:
        query = (
            select(t.organizations.c.id, t.organizations.c.tenant_id, t.organizations.c.unique_name)
            .outerjoin(dataverse_organizations, dataverse_organizations.c.id == t.organizations.c.id)
            .where(dataverse_organizations.c.id.is_(None))
            .order_by(t.organizations.c.created_at)
        )
        with self._engine.connect() as conn:
            return [(r.id, r.tenant_id, r.unique_name) for r in conn.execute(query)]

    def add_organization(self, org_id: str, business_unit_id: str, business_unit_name: str, now: float) -> None:
        with self._directory.write() as conn:
            conn.execute(
                insert(BUSINESSUNIT).values(
                    businessunitid=business_unit_id,
                    orgid=org_id,
                    name=business_unit_name,
                    createdon=_when(now),
                    modifiedon=_when(now),
                    versionnumber=1,
                )
            )
            conn.execute(
                insert(dataverse_organizations).values(id=org_id, business_unit_id=business_unit_id, throttling=True)
            )

    def set_throttling(self, org_id: str, enabled: bool) -> None:
        with self._directory.write() as conn:
            conn.execute(
                update(dataverse_organizations).where(dataverse_organizations.c.id == org_id).values(throttling=enabled)
            )

    # -- application users -----------------------------------------------------------------------------------
    def application_users(self, org_id: str) -> Sequence[ApplicationUser]:
        return self._users(and_(SYSTEMUSER.c.orgid == org_id, SYSTEMUSER.c.applicationid.is_not(None)))

    def application_user(self, org_id: str, application_id: str) -> ApplicationUser | None:
        users = self._users(
            and_(SYSTEMUSER.c.orgid == org_id, func.lower(SYSTEMUSER.c.applicationid) == application_id.lower())
        )
        return users[0] if users else None

    def user(self, org_id: str, user_id: str) -> ApplicationUser | None:
        users = self._users(and_(SYSTEMUSER.c.orgid == org_id, SYSTEMUSER.c.systemuserid == user_id.lower()))
        return users[0] if users else None

    def _users(self, where: Any) -> list[ApplicationUser]:
        with self._engine.connect() as conn:
            rows = list(conn.execute(select(SYSTEMUSER).where(where).order_by(SYSTEMUSER.c.createdon)))
            links = _roles_by_user(conn, rows)
        return [
            ApplicationUser(
                id=r.systemuserid,
                org_id=r.orgid,
                application_id=r.applicationid or "",
                object_id=r.azureactivedirectoryobjectid,
                full_name=r.fullname or "",
                business_unit_id=r.businessunitid,
                disabled=bool(r.isdisabled),
                role_ids=tuple(links.get((r.orgid, r.systemuserid), ())),
            )
            for r in rows
        ]

    def add_application_user(self, user: ApplicationUser, now: float) -> None:
        with self._directory.write() as conn:
            conn.execute(
                insert(SYSTEMUSER).values(
                    systemuserid=user.id,
                    orgid=user.org_id,
                    fullname=user.full_name,
                    lastname=user.full_name[:64],
                    domainname=f"{user.application_id}@d365local",
                    applicationid=user.application_id,
                    azureactivedirectoryobjectid=user.object_id,
                    accessmode=ACCESS_MODE_NON_INTERACTIVE,
                    isdisabled=user.disabled,
                    islicensed=False,
                    businessunitid=user.business_unit_id,
                    createdon=_when(now),
                    modifiedon=_when(now),
                    versionnumber=1,
                )
            )
            for role_id in user.role_ids:
                conn.execute(insert(user_roles).values(orgid=user.org_id, systemuserid=user.id, roleid=role_id))

    def set_user_disabled(self, org_id: str, user_id: str, disabled: bool) -> None:
        with self._directory.write() as conn:
            conn.execute(
                update(SYSTEMUSER)
                .where(SYSTEMUSER.c.orgid == org_id, SYSTEMUSER.c.systemuserid == user_id)
                .values(isdisabled=disabled, versionnumber=SYSTEMUSER.c.versionnumber + 1)
            )

    # -- roles -----------------------------------------------------------------------------------------------
    def roles(self, org_id: str) -> Sequence[Role]:
        with self._engine.connect() as conn:
            rows = list(conn.execute(select(ROLE).where(ROLE.c.orgid == org_id).order_by(ROLE.c.name)))
            privileges: dict[str, list[RolePrivilege]] = {}
            ids = [r.roleid for r in rows]
            if ids:
                for p in conn.execute(
                    select(role_privileges)
                    .where(role_privileges.c.orgid == org_id, role_privileges.c.roleid.in_(ids))
                    .order_by(role_privileges.c.privilege)
                ):
                    privileges.setdefault(p.roleid, []).append(RolePrivilege(p.privilege, Depth(p.depth)))
        return [Role(r.roleid, r.orgid, r.name, r.businessunitid, tuple(privileges.get(r.roleid, ()))) for r in rows]

    def add_role(self, role: Role, now: float) -> None:
        with self._directory.write() as conn:
            conn.execute(
                insert(ROLE).values(
                    roleid=role.id,
                    orgid=role.org_id,
                    name=role.name,
                    businessunitid=role.business_unit_id,
                    createdon=_when(now),
                    modifiedon=_when(now),
                    versionnumber=1,
                )
            )
            _insert_privileges(conn, role.org_id, role.id, role.privileges)

    def set_role_privileges(self, org_id: str, role_id: str, privileges: Sequence[RolePrivilege]) -> None:
        with self._directory.write() as conn:
            conn.execute(
                delete(role_privileges).where(role_privileges.c.orgid == org_id, role_privileges.c.roleid == role_id)
            )
            _insert_privileges(conn, org_id, role_id, privileges)

    def assign_role(self, org_id: str, user_id: str, role_id: str) -> None:
        link = (user_roles.c.orgid == org_id, user_roles.c.systemuserid == user_id, user_roles.c.roleid == role_id)
        with self._directory.write() as conn:
            if conn.execute(select(user_roles.c.roleid).where(*link)).first() is None:
                conn.execute(insert(user_roles).values(orgid=org_id, systemuserid=user_id, roleid=role_id))

    def remove_role(self, org_id: str, user_id: str, role_id: str) -> bool:
        link = (user_roles.c.orgid == org_id, user_roles.c.systemuserid == user_id, user_roles.c.roleid == role_id)
        with self._directory.write() as conn:
            return conn.execute(delete(user_roles).where(*link)).rowcount > 0


def _insert_privileges(conn: Connection, org_id: str, role_id: str, privileges: Sequence[RolePrivilege]) -> None:
    if privileges:
        conn.execute(
            insert(role_privileges),
            [{"orgid": org_id, "roleid": role_id, "privilege": p.name, "depth": int(p.depth)} for p in privileges],
        )


def _roles_by_user(conn: Connection, users: Sequence[Any]) -> dict[tuple[str, str], list[str]]:
    """(org id, user id) → role ids, for these ``systemuser`` rows."""
    links: dict[tuple[str, str], list[str]] = {}
    for org_id in {u.orgid for u in users}:
        ids = [u.systemuserid for u in users if u.orgid == org_id]
        query = select(user_roles).where(user_roles.c.orgid == org_id, user_roles.c.systemuserid.in_(ids))
        for row in conn.execute(query):
            links.setdefault((org_id, row.systemuserid), []).append(row.roleid)
    return links
