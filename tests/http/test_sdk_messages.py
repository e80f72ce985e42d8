"""The ``sdkmessage``/``sdkmessagefilter`` rows clients read to decide whether a table takes CreateMultiple and
UpdateMultiple (the query ``dataverse-api`` sends), on SQLite and PostgreSQL: there for every table, custom ones
included as soon as they exist, and gone with them."""

from __future__ import annotations

from d365local.dataverse.domain.sdk_messages import filter_id, message_id
from tests.http.webapi_fixtures import WebApiEnv, migrated_sqlite, webapi

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them

BULK_QUERY = (
    "sdkmessagefilters?$select=sdkmessagefilterid&$expand=sdkmessageid($select=name)"
    "&$filter=(sdkmessageid/name eq 'CreateMultiple' or sdkmessageid/name eq 'UpdateMultiple')"
    " and primaryobjecttypecode eq '{table}'"
)


def bulk_messages(webapi: WebApiEnv, table: str) -> dict[str, str]:
    rows = webapi.rows(BULK_QUERY.format(table=table))
    return {row["sdkmessageid"]["name"]: row["sdkmessagefilterid"] for row in rows}


def test_every_table_has_its_create_and_update_multiple_filters(webapi: WebApiEnv) -> None:
    assert bulk_messages(webapi, "account") == {
        "CreateMultiple": filter_id("CreateMultiple", "account"),
        "UpdateMultiple": filter_id("UpdateMultiple", "account"),
    }
    assert set(bulk_messages(webapi, "contact")) == {"CreateMultiple", "UpdateMultiple"}
    assert bulk_messages(webapi, "no_such_table") == {}


def test_messages_are_rows_with_their_names(webapi: WebApiEnv) -> None:
    response = webapi.get(f"sdkmessages({message_id('CreateMultiple')})?$select=name,isprivate")
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["isprivate"]) == ("CreateMultiple", False)
    names = {row["name"] for row in webapi.rows("sdkmessages?$select=name")}
    assert {"Create", "Update", "Delete", "CreateMultiple", "UpdateMultiple", "UpsertMultiple", "Assign"} <= names
    # The owner-only messages apply to user-owned tables only.
    assigns = webapi.rows("sdkmessagefilters?$select=primaryobjecttypecode&$filter=sdkmessageid/name eq 'Assign'")
    tables = {row["primaryobjecttypecode"] for row in assigns}
    assert "account" in tables
    assert "competitor" not in tables  # organization-owned


def test_a_custom_table_has_its_filters_at_once_and_loses_them_with_it(webapi: WebApiEnv) -> None:
    label = {"LocalizedLabels": [{"Label": "Widget", "LanguageCode": 1033}]}
    table = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": "new_Widget",
        "DisplayName": label,
        "DisplayCollectionName": {"LocalizedLabels": [{"Label": "Widgets", "LanguageCode": 1033}]},
        "OwnershipType": "UserOwned",
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "new_Name",
                "IsPrimaryName": True,
                "MaxLength": 100,
                "DisplayName": label,
            }
        ],
    }
    assert bulk_messages(webapi, "account")  # rows made for the catalog before the table exists
    created = webapi.send("POST", "EntityDefinitions", json_body=table)
    assert created.status_code == 204, created.text
    assert set(bulk_messages(webapi, "new_widget")) == {"CreateMultiple", "UpdateMultiple"}
    deleted = webapi.send("DELETE", "EntityDefinitions(LogicalName='new_widget')")
    assert deleted.status_code == 204, deleted.text
    assert bulk_messages(webapi, "new_widget") == {}
