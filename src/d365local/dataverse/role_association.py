"""``systemuserroles_association``: assigning security roles through the Web API, as Dataverse allows.

``POST systemusers(<id>)/systemuserroles_association/$ref {"@odata.id": "<org>/api/data/v9.2/roles(<id>)"}``,
``DELETE systemusers(<id>)/systemuserroles_association(<roleid>)/$ref`` (or ``…/$ref?$id=<url>``), and
``GET systemusers(<id>)/systemuserroles_association``. Role changes take effect on the user's next request.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from d365local.dataverse import errors
from d365local.dataverse.callers import AuthorizedCaller
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.metadata import Catalog
from d365local.dataverse.model import Access, ApplicationUser, Role
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.storage import SecurityStore
from d365local.dataverse.web_request import WebRequest, WebResponse, json_response

NAVIGATION = "systemuserroles_association"
_ROLE_REFERENCE = re.compile(r"roles\(([0-9a-fA-F-]{36})\)\s*$")


class RoleAssociation:
    def __init__(self, store: SecurityStore, catalog: Catalog) -> None:
        self._store = store
        self._catalog = catalog

    def handle(self, request: WebRequest, caller: AuthorizedCaller, segments: tuple[Segment, ...]) -> WebResponse:
        systemuser = self._catalog.by_logical_name("systemuser")
        role_table = self._catalog.by_logical_name("role")
        assert systemuser is not None
        assert role_table is not None
        user = self._user(caller, segments[0])
        roles = {r.id: r for r in self._store.roles(caller.organization.id)}
        is_ref = segments[-1].name == "$ref"
        if request.method == "GET" and not is_ref and len(segments) == 2:
            caller.permissions.grant(Access.READ, role_table)
            value = [_role_document(roles[r]) for r in user.role_ids if r in roles]
            return json_response({"@odata.context": f"{request.base_url}/$metadata#roles", "value": value})
        if not is_ref:
            raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=NAVIGATION)
        # Dataverse asks for write access to the user and read access to the role to change a user's roles.
        caller.permissions.grant(Access.WRITE, systemuser)
        caller.permissions.grant(Access.READ, role_table)
        if request.method == "POST" and len(segments) == 3:
            role = self._role(roles, _referenced_role(request))
            self._store.assign_role(user.id, role.id)
            return WebResponse(204)
        if request.method == "DELETE":
            role_id = str(segments[1].guid) if segments[1].guid else None
            if role_id is None:
                target = dict(parse_qsl(request.query)).get("$id", "")
                match = _ROLE_REFERENCE.search(target)
                role_id = match.group(1) if match else None
            role = self._role(roles, role_id)
            if not self._store.remove_role(user.id, role.id):
                raise DataverseError(errors.INVALID_ARGUMENT, detail=f"The user does not have the role {role.id}.")
            return WebResponse(204)
        raise DataverseError(errors.METHOD_NOT_ALLOWED, method=request.method, segment=NAVIGATION)

    def _user(self, caller: AuthorizedCaller, segment: Segment) -> ApplicationUser:
        users = self._store.application_users(caller.organization.id)
        user = next((u for u in users if segment.guid is not None and u.id == str(segment.guid)), None)
        if user is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity="systemuser", id=str(segment.guid or "?"))
        return user

    def _role(self, roles: dict[str, Role], role_id: str | None) -> Role:
        role = roles.get(role_id or "")
        if role is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity="role", id=role_id or "?")
        return role


def _referenced_role(request: WebRequest) -> str | None:
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
    return match.group(1)


def _role_document(role: Role) -> dict[str, object]:
    return {
        "@odata.etag": 'W/"1"',
        "roleid": role.id,
        "name": role.name,
        "_businessunitid_value": role.business_unit_id,
    }
