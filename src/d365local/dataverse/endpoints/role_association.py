"""``systemuserroles_association``: assigning security roles through the Web API, as Dataverse allows.

``POST systemusers(<id>)/systemuserroles_association/$ref {"@odata.id": "<org>/api/data/v9.2/roles(<id>)"}``,
``DELETE systemusers(<id>)/systemuserroles_association(<roleid>)/$ref`` (or ``…/$ref?$id=<url>``), and
``GET systemusers(<id>)/systemuserroles_association``. Role changes take effect on the user's next request.
"""

from __future__ import annotations

import re

from d365local.dataverse import errors
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.model import Access, ApplicationUser, Role, privilege_name
from d365local.dataverse.domain.storage import SecurityStore
from d365local.dataverse.endpoints.api_request import ApiRequest
from d365local.dataverse.endpoints.web_request import WebResponse, json_response
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import Catalog, EntityDefinition

NAVIGATION = "systemuserroles_association"
_ROLE_REFERENCE = re.compile(r"roles\(([0-9a-fA-F-]{36})\)\s*$")


class RoleAssociation:
    """Who may change whose roles, as Dataverse decides: Read and Append on the user (at a depth that reaches it),
    Read and Assign on the role, and — to add a role — every privilege in it held at least as deep by the caller."""

    def __init__(self, store: SecurityStore, catalog: Catalog) -> None:
        self._store = store
        self._catalog = catalog

    def handle(self, request: ApiRequest, caller: AuthorizedCaller) -> WebResponse:
        segments = request.segments
        systemuser = self._table("systemuser")
        role_table = self._table("role")
        permissions = caller.permissions
        user = self._user(caller, segments[0])
        user_row = {systemuser.primary_id: user.id, "businessunitid": user.business_unit_id}
        permissions.grant_on(Access.READ, systemuser, user_row)
        roles = {r.id: r for r in self._store.roles(caller.organization.id)}
        is_ref = segments[-1].name == "$ref"
        if request.method == "GET" and not is_ref and len(segments) == 2:
            grant = permissions.grant(Access.READ, role_table)
            value = [
                _role_document(roles[r])
                for r in user.role_ids
                if r in roles and grant.allows_row(role_table, _role_row(roles[r]))
            ]
            return json_response({"@odata.context": f"{request.base_url}/$metadata#roles", "value": value})
        if not is_ref or request.method not in ("POST", "DELETE") or (request.method == "POST" and len(segments) != 3):
            raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=NAVIGATION)
        permissions.grant_on(Access.APPEND, systemuser, user_row)
        if request.method == "POST":
            role = self._role(roles, _referenced_role(request))
        else:
            role = self._role(roles, _removed_role_id(request))
        permissions.grant_on(Access.READ, role_table, _role_row(role))
        permissions.grant_on(Access.ASSIGN, role_table, _role_row(role))
        if request.method == "POST":
            beyond = permissions.beyond_own(role)
            if beyond is not None:
                raise permissions.denied_privilege(beyond, self._table_of(beyond, role_table))
            self._store.assign_role(caller.organization.id, user.id, role.id)
            return WebResponse(204)
        if not self._store.remove_role(caller.organization.id, user.id, role.id):
            raise DataverseError(errors.INVALID_ARGUMENT, detail=f"The user does not have the role {role.id}.")
        return WebResponse(204)

    def _table(self, name: str) -> EntityDefinition:
        table = self._catalog.by_logical_name(name)
        assert table is not None
        return table

    def _table_of(self, privilege: str, default: EntityDefinition) -> EntityDefinition:
        """The table a privilege belongs to (its OTC and name go into PrivilegeDenied)."""
        for table in self._catalog.entities:
            if any(privilege_name(a, table.privilege_stem).lower() == privilege.lower() for a in Access):
                return table
        return default

    def _user(self, caller: AuthorizedCaller, segment: Segment) -> ApplicationUser:
        user = self._store.user(caller.organization.id, str(segment.guid)) if segment.guid is not None else None
        if user is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity="systemuser", id=str(segment.guid or "?"))
        return user

    def _role(self, roles: dict[str, Role], role_id: str | None) -> Role:
        role = roles.get((role_id or "").lower())
        if role is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity="role", id=role_id or "?")
        return role


def _role_row(role: Role) -> dict[str, str]:
    return {"roleid": role.id, "businessunitid": role.business_unit_id}


def _removed_role_id(request: ApiRequest) -> str | None:
    """``…/systemuserroles_association(<roleid>)/$ref`` or ``…/systemuserroles_association/$ref?$id=<role URL>``."""
    if request.segments[1].guid:
        return str(request.segments[1].guid)
    match = _ROLE_REFERENCE.search(request.options.id or "")
    return match.group(1).lower() if match else None


def _referenced_role(request: ApiRequest) -> str | None:
    try:
        document = request.json()
    except ValueError as exc:
        raise DataverseError(errors.INVALID_ARGUMENT, detail=str(exc)[:300]) from exc
    reference = document.get("@odata.id") if isinstance(document, dict) else None
    match = _ROLE_REFERENCE.search(reference) if isinstance(reference, str) else None
    if match is None:
        raise DataverseError(
            errors.INVALID_ARGUMENT, detail='Send {"@odata.id": "<org>/api/data/v9.2/roles(<roleid>)"}.'
        )
    return match.group(1).lower()


def _role_document(role: Role) -> dict[str, object]:
    return {
        "@odata.etag": 'W/"1"',
        "roleid": role.id,
        "name": role.name,
        "_businessunitid_value": role.business_unit_id,
    }
