"""Activities share ``activitypointer`` as in Dataverse: a task, phone call or email is also a row of
``activitypointers`` (with ``activitytypecode``), kept in step on update and gone with the activity."""

from __future__ import annotations

from tests.http.webapi_fixtures import WebApiEnv, dataverse_error, migrated_sqlite, webapi

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them


def pointers(webapi: WebApiEnv, query: str = "") -> list[tuple[str, str]]:
    rows = webapi.rows(f"activitypointers?$select=subject,activitytypecode&$orderby=subject{query}")
    return [(row["subject"], row["activitytypecode"]) for row in rows]


def test_every_activity_is_listed_by_activitypointers(webapi: WebApiEnv) -> None:
    account = webapi.create(name="Contoso")
    task = webapi.create(
        "tasks", subject="Call back", **{"regardingobjectid_account@odata.bind": f"/accounts({account})"}
    )
    webapi.create("phonecalls", subject="Intro call")
    assert pointers(webapi) == [("Call back", "task"), ("Intro call", "phonecall")]
    regarding = webapi.rows(f"activitypointers?$select=subject&$filter=_regardingobjectid_value eq {account}")
    assert [row["subject"] for row in regarding] == ["Call back"]
    single = webapi.get(f"activitypointers({task})?$select=subject,activitytypecode")
    assert (single.status_code, single.json()["activitytypecode"]) == (200, "task")


def test_updates_and_deletes_reach_the_pointer(webapi: WebApiEnv) -> None:
    task = webapi.create("tasks", subject="Draft")
    changed = webapi.send("PATCH", f"tasks({task})", json_body={"subject": "Final", "statecode": 1})
    assert changed.status_code == 204, changed.text
    row = webapi.get(f"activitypointers({task})?$select=subject,statecode,statuscode").json()
    assert (row["subject"], row["statecode"], row["statuscode"]) == ("Final", 1, 5)  # Completed
    assert webapi.send("DELETE", f"tasks({task})").status_code == 204
    assert webapi.get(f"activitypointers({task})").status_code == 404


def test_activities_are_created_in_their_own_table(webapi: WebApiEnv) -> None:
    response = webapi.send("POST", "activitypointers", json_body={"subject": "Nowhere"})
    assert "does not support entities of type 'activitypointer'" in dataverse_error(response, 400, "0x80040203")
    assert pointers(webapi) == []
