"""Privilege escalation attempts: an application user can never give itself (or take from others) more than its
roles allow — through role associations, ``ownerid``, lookups, or writes to the security tables.

Each attempt runs as a second application user with a custom role, beside the System Administrator the fixture
creates; every refusal is Dataverse's 403 PrivilegeDenied (0x80040220) naming the privilege that is missing.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from tests.http.webapi_fixtures import API_URL, WebApiEnv, dataverse_error, migrated_sqlite, webapi

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them

DENIED = "0x80040220"
ROLE_ADMIN = ("prvReadUser:Global", "prvAppendUser:Global", "prvReadRole:Global", "prvAssignRole:Global")
"""What Microsoft documents for handing out roles: Read/Append on users, Read/Assign on roles."""


@dataclasses.dataclass(frozen=True)
class Principal:
    env: WebApiEnv
    """The same Web API, with this principal's token."""
    user_id: str
    app_id: str


def principal(env: WebApiEnv, *privileges: str) -> Principal:
    """A new app with an application user holding one custom role of exactly these privileges."""
    tag = uuid.uuid4().hex[:8]
    app = env.directory.create_app(env.tenant.id, f"attacker-{tag}")
    secret = env.directory.add_secret(env.tenant.id, app.app_id).value
    role = env.dataverse.create_role("contoso", f"Limited {tag}", privileges)
    user = env.dataverse.create_application_user(
        "contoso", app.app_id, object_id=app.service_principal_id, full_name=f"attacker {tag}", roles=[role.name]
    )
    return Principal(dataclasses.replace(env, token=env.token_for(app.app_id, secret)), user.id, app.app_id)


def role_id(env: WebApiEnv, name: str) -> str:
    return next(r.id for r in env.dataverse.roles("contoso") if r.name == name)


def admin_user_id(env: WebApiEnv) -> str:
    return env.dataverse.application_user("contoso", env.app.app_id).id


def associate(caller: WebApiEnv, user_id: str, role: str) -> Any:
    reference = {"@odata.id": f"{API_URL}/roles({role})"}
    return caller.send("POST", f"systemusers({user_id})/systemuserroles_association/$ref", json_body=reference)


def disassociate(caller: WebApiEnv, user_id: str, role: str) -> Any:
    return caller.send("DELETE", f"systemusers({user_id})/systemuserroles_association({role})/$ref")


def role_names(env: WebApiEnv, app_id: str) -> list[str]:
    user = env.dataverse.application_user("contoso", app_id)
    names = {r.id: r.name for r in env.dataverse.roles("contoso")}
    return sorted(names[r] for r in user.role_ids)


# -- role association ------------------------------------------------------------------------------------------
def test_write_on_own_user_and_read_on_roles_cannot_grant_system_administrator(webapi: WebApiEnv) -> None:
    """The reported escalation: Basic write on users + read on roles was enough to become System Administrator."""
    attacker = principal(webapi, "prvWriteUser:Basic", "prvReadUser:Basic", "prvReadRole:Global")
    response = associate(attacker.env, attacker.user_id, role_id(webapi, "System Administrator"))
    assert "is missing prvAppendUser privilege" in dataverse_error(response, 403, DENIED)
    assert "System Administrator" not in role_names(webapi, attacker.app_id)
    dataverse_error(attacker.env.get("accounts"), 403, DENIED)


def test_assigning_a_role_needs_prv_assign_role(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, "prvReadUser:Global", "prvAppendUser:Global", "prvReadRole:Global")
    readers = webapi.dataverse.create_role("contoso", "Readers", ["prvReadRole:Global"]).id
    response = associate(attacker.env, attacker.user_id, readers)
    assert "is missing prvAssignRole privilege" in dataverse_error(response, 403, DENIED)


def test_a_role_with_privileges_beyond_the_callers_is_refused_naming_one(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, *ROLE_ADMIN)
    message = dataverse_error(
        associate(attacker.env, attacker.user_id, role_id(webapi, "System Administrator")), 403, DENIED
    )
    assert "is missing prv" in message
    assert f"Id={attacker.user_id}" in message
    assert len(role_names(webapi, attacker.app_id)) == 1


def test_a_deeper_copy_of_a_held_privilege_is_beyond_the_caller(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, *ROLE_ADMIN, "prvReadAccount:Basic")
    everything = webapi.dataverse.create_role("contoso", "All accounts", ["prvReadAccount:Global"]).id
    message = dataverse_error(associate(attacker.env, attacker.user_id, everything), 403, DENIED)
    assert "is missing prvReadAccount privilege" in message
    assert "for entity 'account'" in message


def test_a_role_within_the_callers_privileges_can_be_handed_out(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, *ROLE_ADMIN, "prvReadAccount:Global")
    readers = webapi.dataverse.create_role("contoso", "Account readers", ["prvReadAccount:Local"]).id
    victim = principal(webapi, "prvReadRole:Global")
    assert associate(attacker.env, victim.user_id, readers).status_code == 204
    assert "Account readers" in role_names(webapi, victim.app_id)
    assert victim.env.get("accounts").status_code == 200  # takes effect on the user's next request


def test_basic_depth_on_users_reaches_only_the_callers_own_record(webapi: WebApiEnv) -> None:
    attacker = principal(
        webapi, "prvReadUser:Basic", "prvAppendUser:Basic", "prvReadRole:Global", "prvAssignRole:Global"
    )
    administrator = admin_user_id(webapi)
    system_administrator = role_id(webapi, "System Administrator")
    # Stripping another user's roles (a denial of service for the org's admin) is refused...
    dataverse_error(disassociate(attacker.env, administrator, system_administrator), 403, DENIED)
    by_id = attacker.env.send(
        "DELETE",
        f"systemusers({administrator})/systemuserroles_association/$ref?$id={API_URL}/roles({system_administrator})",
    )
    dataverse_error(by_id, 403, DENIED)
    dataverse_error(attacker.env.get(f"systemusers({administrator})/systemuserroles_association"), 403, DENIED)
    assert role_names(webapi, webapi.app.app_id) == ["System Administrator"]
    # ...while the caller's own record is within reach.
    own_roles = attacker.env.get(f"systemusers({attacker.user_id})/systemuserroles_association")
    assert own_roles.status_code == 200, own_roles.text
    own = role_names(webapi, attacker.app_id)[0]
    assert disassociate(attacker.env, attacker.user_id, role_id(webapi, own)).status_code == 204
    assert role_names(webapi, attacker.app_id) == []


def test_local_depth_on_users_reaches_users_of_the_business_unit(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, "prvReadUser:Local", "prvAppendUser:Local", "prvReadRole:Local", "prvAssignRole:Local")
    victim = principal(webapi, "prvReadRole:Global")
    victim_role = role_names(webapi, victim.app_id)[0]
    assert disassociate(attacker.env, victim.user_id, role_id(webapi, victim_role)).status_code == 204


def test_role_association_in_a_change_set_is_checked_the_same_way(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, *ROLE_ADMIN)
    system_administrator = role_id(webapi, "System Administrator")
    body = (
        "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n"
        "--changeset_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        f"POST {API_URL}/systemusers({attacker.user_id})/systemuserroles_association/$ref HTTP/1.1\r\n"
        "Content-Type: application/json\r\n\r\n"
        f'{{"@odata.id": "{API_URL}/roles({system_administrator})"}}\r\n'
        "--changeset_1--\r\n--batch_1--\r\n"
    )
    response = attacker.env.send(
        "POST", "$batch", content=body, headers={"Content-Type": "multipart/mixed; boundary=batch_1"}
    )
    assert response.status_code == 400, response.text  # a failed change set fails the batch
    assert "HTTP/1.1 403" in response.text
    assert DENIED in response.text
    assert "System Administrator" not in role_names(webapi, attacker.app_id)


# -- users and other security tables through the record API -----------------------------------------------------
def test_write_on_own_user_cannot_reach_other_users(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, "prvReadUser:Basic", "prvWriteUser:Basic")
    administrator = admin_user_id(webapi)
    dataverse_error(
        attacker.env.send("PATCH", f"systemusers({administrator})", json_body={"isdisabled": True}), 403, DENIED
    )
    dataverse_error(attacker.env.get(f"systemusers({administrator})"), 403, DENIED)
    listed = attacker.env.rows("systemusers?$select=fullname")
    assert [r["systemuserid"] for r in listed] == [attacker.user_id]
    assert webapi.get("WhoAmI").status_code == 200  # the admin was not disabled


def test_no_write_gives_a_second_user_an_apps_id(webapi: WebApiEnv) -> None:
    """A token's app id names one user: taking over the System Administrator's record by writing one's own app id
    into it (or creating a twin) is refused."""
    attacker = principal(webapi, "prvReadUser:Global", "prvWriteUser:Global", "prvCreateUser:Global")
    administrator = admin_user_id(webapi)
    hijack = attacker.env.send("PATCH", f"systemusers({administrator})", json_body={"applicationid": attacker.app_id})
    dataverse_error(hijack, 412, "0x80040237")
    twin = attacker.env.send(
        "POST",
        "systemusers",
        json_body={"applicationid": webapi.app.app_id, "firstname": "twin", "lastname": "admin"},
    )
    dataverse_error(twin, 412, "0x80040237")
    assert webapi.dataverse.application_user("contoso", attacker.app_id).id == attacker.user_id


# -- ownerid -------------------------------------------------------------------------------------------------------
def test_creating_a_record_for_another_owner_needs_assign(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, "prvCreateAccount:Basic", "prvReadAccount:Basic", "prvReadUser:Global")
    body = {"name": "planted", "ownerid@odata.bind": f"/systemusers({admin_user_id(webapi)})"}
    message = dataverse_error(attacker.env.send("POST", "accounts", json_body=body), 403, DENIED)
    assert "is missing prvAssignAccount privilege" in message
    assert webapi.rows("accounts?$filter=name eq 'planted'") == []


def test_a_new_owner_must_be_able_to_read_the_record(webapi: WebApiEnv) -> None:
    attacker = principal(webapi, "prvCreateAccount:Global", "prvReadAccount:Global", "prvAssignAccount:Global")
    no_accounts = principal(webapi, "prvReadRole:Global")
    body = {"name": "dumped", "ownerid@odata.bind": f"/systemusers({no_accounts.user_id})"}
    message = dataverse_error(attacker.env.send("POST", "accounts", json_body=body), 403, DENIED)
    assert f"Principal user (Id={no_accounts.user_id}" in message
    assert "is missing prvReadAccount privilege" in message
    team = webapi.create("teams", name="Sales", teamtype=0)
    to_team = {"name": "teamed", "ownerid@odata.bind": f"/teams({team})"}
    dataverse_error(attacker.env.send("POST", "accounts", json_body=to_team), 403, DENIED)
    readers = principal(webapi, "prvReadAccount:Basic")
    given = {"name": "given", "ownerid@odata.bind": f"/systemusers({readers.user_id})"}
    assert attacker.env.send("POST", "accounts", json_body=given).status_code == 204
    assert [r["name"] for r in readers.env.rows("accounts?$select=name")] == ["given"]


def test_reassigning_an_existing_record_needs_assign_at_its_depth(webapi: WebApiEnv) -> None:
    attacker = principal(
        webapi, "prvCreateAccount:Basic", "prvReadAccount:Basic", "prvWriteAccount:Basic", "prvAppendAccount:Basic"
    )
    own = attacker.env.create("accounts", name="mine")
    move = {"ownerid@odata.bind": f"/systemusers({admin_user_id(webapi)})"}
    message = dataverse_error(attacker.env.send("PATCH", f"accounts({own})", json_body=move), 403, DENIED)
    assert "is missing prvAssignAccount privilege" in message
    assigner = principal(webapi, "prvReadAccount:Global", "prvWriteAccount:Global", "prvAssignAccount:Basic")
    theirs = webapi.create("accounts", name="admin's")
    moved = assigner.env.send(
        "PATCH", f"accounts({theirs})", json_body={"ownerid@odata.bind": f"/systemusers({assigner.user_id})"}
    )
    dataverse_error(moved, 403, DENIED)  # Basic Assign does not reach a record the caller does not own


# -- lookups ---------------------------------------------------------------------------------------------------------
def test_a_lookup_may_point_only_at_records_within_append_to_depth(webapi: WebApiEnv) -> None:
    theirs = webapi.create("accounts", name="someone else's")
    attacker = principal(
        webapi,
        "prvCreateContact:Basic",
        "prvReadContact:Basic",
        "prvAppendContact:Basic",
        "prvReadAccount:Global",
        "prvAppendToAccount:Basic",
        "prvCreateAccount:Basic",
    )
    body = {"lastname": "x", "parentcustomerid_account@odata.bind": f"/accounts({theirs})"}
    message = dataverse_error(attacker.env.send("POST", "contacts", json_body=body), 403, DENIED)
    assert "is missing prvAppendToAccount privilege" in message
    own = attacker.env.create("accounts", name="mine")
    body = {"lastname": "y", "parentcustomerid_account@odata.bind": f"/accounts({own})"}
    assert attacker.env.send("POST", "contacts", json_body=body).status_code == 204


# -- organizations -------------------------------------------------------------------------------------------------
def test_record_ids_are_scoped_by_organization(webapi: WebApiEnv) -> None:
    """The same id in two orgs: two records, neither visible from the other (no 412 that leaks the other org's row)."""
    webapi.directory.create_org(webapi.tenant.id, "fabrikam")
    webapi.dataverse.ensure_organizations()
    webapi.dataverse.create_application_user(
        "fabrikam", webapi.app.app_id, object_id=None, full_name="x", roles=["System Administrator"]
    )
    fabrikam_url = "https://localhost:5443/orgs/fabrikam"
    other = dataclasses.replace(webapi, token=webapi.token_for(webapi.app.app_id, _secret(webapi), fabrikam_url))
    shared = str(uuid.uuid4())
    assert webapi.send("POST", "accounts", json_body={"accountid": shared, "name": "contoso's"}).status_code == 204
    created = other.client.post(
        "/orgs/fabrikam/api/data/v9.2/accounts",
        json={"accountid": shared, "name": "fabrikam's"},
        headers={"Authorization": f"Bearer {other.token}"},
    )
    assert created.status_code == 204, created.text
    fetched = other.client.get(
        f"/orgs/fabrikam/api/data/v9.2/accounts({shared})?$select=name",
        headers={"Authorization": f"Bearer {other.token}"},
    )
    assert fetched.json()["name"] == "fabrikam's"
    assert webapi.get(f"accounts({shared})?$select=name").json()["name"] == "contoso's"
    assert webapi.send("DELETE", f"accounts({shared})").status_code == 204
    assert (
        other.client.get(
            f"/orgs/fabrikam/api/data/v9.2/accounts({shared})", headers={"Authorization": f"Bearer {other.token}"}
        ).status_code
        == 200
    )


def _secret(env: WebApiEnv) -> str:
    return env.directory.add_secret(env.tenant.id, env.app.app_id).value


# -- signing keys ----------------------------------------------------------------------------------------------------
def test_a_retired_key_is_refused_on_the_next_request_even_for_a_token_validated_before(webapi: WebApiEnv) -> None:
    assert webapi.get("WhoAmI").status_code == 200  # validated, and remembered
    old = webapi.directory.signing_keys()[0].kid
    webapi.directory.rotate_signing_key()
    assert webapi.get("WhoAmI").status_code == 200  # rotation alone keeps the old key published
    webapi.directory.retire_signing_key(old)
    refused = webapi.get("WhoAmI")
    assert refused.status_code == 401
    assert "unknown kid" in refused.headers["x-d365local-auth-error"]
    fresh = dataclasses.replace(webapi, token=webapi.token_for(webapi.app.app_id, _secret(webapi)))
    assert fresh.get("WhoAmI").status_code == 200  # signed with the new key, known at once


def test_expand_shows_no_related_record_beyond_read_depth(webapi: WebApiEnv) -> None:
    secret_contact = webapi.create("contacts", lastname="confidential")
    reader = principal(
        webapi,
        "prvReadContact:Basic",
        "prvCreateAccount:Basic",
        "prvReadAccount:Basic",
        "prvWriteAccount:Basic",
        "prvAppendAccount:Basic",
        "prvAppendToContact:Global",
    )
    account = reader.env.create(
        "accounts", name="mine", **{"primarycontactid@odata.bind": f"/contacts({secret_contact})"}
    )
    expanded = reader.env.get(f"accounts({account})?$select=name&$expand=primarycontactid($select=lastname)")
    assert expanded.status_code == 200, expanded.text
    assert expanded.json()["primarycontactid"] is None
    dataverse_error(reader.env.get(f"accounts({account})/primarycontactid"), 403, DENIED)


def test_a_filter_through_a_navigation_sees_only_related_records_within_read_depth(webapi: WebApiEnv) -> None:
    """A navigation in $filter is a join: the related rows it tests are limited to what the caller may read, so a
    filter cannot serve as an oracle for other users' records."""
    secret = webapi.create("contacts", lastname="confidential", firstname="Top")
    reader = principal(
        webapi,
        "prvReadAccount:Global",
        "prvReadContact:Basic",
        "prvCreateAccount:Basic",
        "prvAppendAccount:Basic",
        "prvAppendToContact:Global",
    )
    account = webapi.create("accounts", name="shared", **{"primarycontactid@odata.bind": f"/contacts({secret})"})
    webapi.create(
        "contacts", lastname="hidden child", **{"parentcustomerid_account@odata.bind": f"/accounts({account})"}
    )
    assert webapi.rows("accounts?$select=name&$filter=primarycontactid/lastname eq 'confidential'") != []
    assert reader.env.rows("accounts?$select=name&$filter=primarycontactid/lastname eq 'confidential'") == []
    any_child = "accounts?$select=name&$filter=contact_customer_accounts/any(c: c/lastname eq 'hidden child')"
    assert webapi.rows(any_child) != []
    assert reader.env.rows(any_child) == []
    assert [r["name"] for r in reader.env.rows("accounts?$select=name")] == ["shared"]
    blind = principal(webapi, "prvReadAccount:Global")
    message = dataverse_error(
        blind.env.get("accounts?$filter=primarycontactid/lastname eq 'confidential'"), 403, DENIED
    )
    assert "is missing prvReadContact privilege" in message


@pytest.mark.parametrize(
    "privileges", [["prvReadUser:Basic", "prvReadSystemUser:Global"], ["prvReadAccount:Basic", "prvReadAccount"]]
)
def test_a_role_cannot_list_a_privilege_twice(webapi: WebApiEnv, privileges: list[str]) -> None:
    from d365local.dataverse.domain.admin import DataverseAdminError

    with pytest.raises(DataverseAdminError, match="is listed more than once"):
        webapi.dataverse.create_role("contoso", f"Twice {uuid.uuid4().hex[:6]}", privileges)
