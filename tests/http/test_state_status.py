"""State and status reason pairs on the standard tables, as Dataverse enforces them: defaults on create, the
default reason of a new state, a reason that must belong to the record's state (0x80048408)."""

from __future__ import annotations

from tests.http.webapi_fixtures import WebApiEnv, dataverse_error, migrated_sqlite, webapi

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them

INVALID_STATE_STATUS = "0x80048408"


def state_of(webapi: WebApiEnv, path: str) -> tuple[int, int]:
    response = webapi.get(f"{path}?$select=statecode,statuscode")
    assert response.status_code == 200, response.text
    return response.json()["statecode"], response.json()["statuscode"]


def test_a_new_record_is_in_its_first_state_with_that_states_default_reason(webapi: WebApiEnv) -> None:
    account = webapi.create(name="Contoso")
    assert state_of(webapi, f"accounts({account})") == (0, 1)
    opportunity = webapi.create("opportunities", name="Deal")
    assert state_of(webapi, f"opportunities({opportunity})") == (0, 1)  # Open, In Progress


def test_changing_the_state_alone_takes_the_new_states_default_reason(webapi: WebApiEnv) -> None:
    account = webapi.create(name="Contoso")
    response = webapi.send("PATCH", f"accounts({account})", json_body={"statecode": 1})
    assert response.status_code == 204, response.text
    assert state_of(webapi, f"accounts({account})") == (1, 2)  # Inactive, Inactive


def test_a_reason_of_the_records_state_is_accepted_alone(webapi: WebApiEnv) -> None:
    opportunity = webapi.create("opportunities", name="Deal")
    response = webapi.send("PATCH", f"opportunities({opportunity})", json_body={"statuscode": 2})  # On Hold
    assert response.status_code == 204, response.text
    assert state_of(webapi, f"opportunities({opportunity})") == (0, 2)


def test_a_reason_of_another_state_is_refused(webapi: WebApiEnv) -> None:
    account = webapi.create(name="Contoso")
    response = webapi.send("PATCH", f"accounts({account})", json_body={"statuscode": 2})
    message = dataverse_error(response, 400, INVALID_STATE_STATUS)
    assert message == f"2 is not a valid status code for state code AccountState.Active on account with Id {account}."
    both = webapi.send("PATCH", f"accounts({account})", json_body={"statecode": 1, "statuscode": 1})
    assert "state code AccountState.Inactive" in dataverse_error(both, 400, INVALID_STATE_STATUS)
    assert state_of(webapi, f"accounts({account})") == (0, 1)  # nothing changed
    created = webapi.send("POST", "opportunities", json_body={"name": "Won already", "statuscode": 3})
    assert "OpportunityState.Open" in dataverse_error(created, 400, INVALID_STATE_STATUS)
    assert webapi.rows("opportunities?$filter=name eq 'Won already'") == []
