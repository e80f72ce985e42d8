"""Schema changes through the metadata Web API over in-process HTTP, on SQLite and PostgreSQL: tables, columns and
keys created, used at once and deleted with their data; the answers' ``OData-EntityId`` in the client's addressing;
refusals (prefixes, lookups, privileges, hostile bodies) as Dataverse errors; two organizations that never see each
other's schema; two servers on one database (docs/reference/metadata-writes.md).

Table and column names carry a random part: catalogs extend the process-wide built-in catalog, so names must never
meet another test's."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from d365local.app import AppOptions, create_app
from d365local.store.database import open_database
from tests.http.webapi_fixtures import (
    API_URL,
    BASE_URL,
    WebApiEnv,
    dataverse_error,
    migrated_sqlite,
    webapi,
)

__all__ = ["migrated_sqlite", "webapi"]  # fixtures, imported so pytest finds them

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
INVALID_ARGUMENT = "0x80040203"
DENIED = "0x80040220"
DUPLICATE_KEY = "0x80060892"
FABRIKAM_URL = f"{BASE_URL}/orgs/fabrikam"


def label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033}
        ],
    }


def string_column(schema_name: str, *, primary: bool = False, max_length: int = 100) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(schema_name),
        "RequiredLevel": {"Value": "None"},
        "MaxLength": max_length,
        "FormatName": {"Value": "Text"},
        "IsPrimaryName": primary,
    }


def integer_column(schema_name: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(schema_name),
        "RequiredLevel": {"Value": "None"},
        "Format": "None",
        "MinValue": -2147483648,
        "MaxValue": 2147483647,
    }


def table_body(schema_name: str, *columns: dict[str, Any]) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": label("Project"),
        "DisplayCollectionName": label("Projects"),
        "Description": label("A test table"),
        "OwnershipType": "UserOwned",
        "IsActivity": False,
        "HasActivities": False,
        "HasNotes": False,
        "Attributes": [string_column("new_Name", primary=True), *columns],
    }


def unique(stem: str) -> str:
    return f"new_{stem}{uuid.uuid4().hex[:8]}"


def created_id(response: httpx.Response, pattern: str) -> str:
    """The GUID in ``OData-EntityId``, which must match ``pattern`` (``{id}`` stands for the GUID)."""
    assert response.status_code == 204, response.text
    assert response.content == b""
    location = response.headers["OData-EntityId"]
    match = re.fullmatch(re.escape(pattern).replace(re.escape("{id}"), f"({GUID})"), location)
    assert match is not None, location
    return match.group(1)


def create_table(env: WebApiEnv, schema_name: str, *columns: dict[str, Any]) -> str:
    """A new table; its MetadataId."""
    response = env.send("POST", "EntityDefinitions", json_body=table_body(schema_name, *columns))
    return created_id(response, f"{API_URL}/EntityDefinitions({{id}})")


def add_column(env: WebApiEnv, table: str, body: dict[str, Any]) -> httpx.Response:
    return env.send("POST", f"EntityDefinitions(LogicalName='{table}')/Attributes", json_body=body)


def definition(env: WebApiEnv, table: str) -> dict[str, Any]:
    response = env.get(f"EntityDefinitions(LogicalName='{table}')")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- tables -----------------------------------------------------------------------------------------------------------
def test_a_created_table_is_described_and_takes_records_at_once(webapi: WebApiEnv) -> None:
    schema = unique("Project")
    logical = schema.lower()
    metadata_id = create_table(webapi, schema, integer_column("new_Count"))
    described = definition(webapi, logical)
    assert described["MetadataId"] == metadata_id
    assert (described["SchemaName"], described["LogicalName"], described["EntitySetName"]) == (
        schema,
        logical,
        f"{logical}s",
    )
    assert (described["PrimaryIdAttribute"], described["PrimaryNameAttribute"]) == (f"{logical}id", "new_name")
    assert described["IsCustomEntity"] is True
    assert webapi.get(f"EntityDefinitions({metadata_id})").json()["LogicalName"] == logical
    filtered = webapi.rows(f"EntityDefinitions?$select=MetadataId,EntitySetName&$filter=LogicalName eq '{logical}'")
    assert [row["MetadataId"] for row in filtered] == [metadata_id]

    record = webapi.create(f"{logical}s", new_name="Apollo", new_count=7)
    row = webapi.get(f"{logical}s({record})?$select=new_name,new_count,_ownerid_value").json()
    assert (row["new_name"], row["new_count"]) == ("Apollo", 7)
    assert re.fullmatch(GUID, row["_ownerid_value"])  # the system columns of a user-owned table
    assert [r["new_name"] for r in webapi.rows(f"{logical}s?$filter=new_count gt 5")] == ["Apollo"]


def test_a_table_name_taken_is_0x8004700b(webapi: WebApiEnv) -> None:
    schema = unique("Project")
    create_table(webapi, schema)
    again = webapi.send("POST", "EntityDefinitions", json_body=table_body(schema.upper().replace("NEW_", "new_")))
    message = dataverse_error(again, 400, "0x8004700b")
    assert message == "An entity with the specified name already exists. Please specify a unique name."


@pytest.mark.parametrize(
    ("schema_name", "part"),
    [
        ("Project", "customization prefix"),
        ("x_Project", "customization prefix"),
        ("toolongprefix_Project", "customization prefix"),
        ("new-Project", "hold only letters, digits and underscores"),
    ],
)
def test_a_table_without_a_valid_prefix_is_400(webapi: WebApiEnv, schema_name: str, part: str) -> None:
    response = webapi.send("POST", "EntityDefinitions", json_body=table_body(schema_name))
    message = dataverse_error(response, 400, INVALID_ARGUMENT)
    assert part in message
    assert schema_name in message
    assert webapi.get(f"EntityDefinitions(LogicalName='{schema_name.lower()}')").status_code == 404


def test_a_column_without_a_prefix_is_400(webapi: WebApiEnv) -> None:
    message = dataverse_error(add_column(webapi, "account", integer_column("Score")), 400, INVALID_ARGUMENT)
    assert "Invalid name for attribute Score" in message


def test_deleting_a_table_drops_its_rows(webapi: WebApiEnv) -> None:
    schema = unique("Project")
    logical = schema.lower()
    metadata_id = create_table(webapi, schema)
    webapi.create(f"{logical}s", new_name="old")
    deleted = webapi.send("DELETE", f"EntityDefinitions({metadata_id})", headers={"If-Match": "*"})
    assert deleted.status_code == 204, deleted.text
    assert webapi.get(f"EntityDefinitions(LogicalName='{logical}')").status_code == 404
    dataverse_error(webapi.get(f"{logical}s"), 404)
    create_table(webapi, schema)
    assert webapi.rows(f"{logical}s") == []


# -- columns ----------------------------------------------------------------------------------------------------------
def test_a_column_posted_by_logical_name_answers_in_that_addressing(webapi: WebApiEnv) -> None:
    schema = unique("Project")
    logical = schema.lower()
    table_id = create_table(webapi, schema)
    by_name = add_column(webapi, logical, integer_column("new_Count"))
    attribute_id = created_id(by_name, f"{API_URL}/EntityDefinitions(LogicalName='{logical}')/Attributes({{id}})")
    described = webapi.get(f"EntityDefinitions(LogicalName='{logical}')/Attributes(LogicalName='new_count')").json()
    assert described["MetadataId"] == attribute_id
    assert described["@odata.type"] == "#Microsoft.Dynamics.CRM.IntegerAttributeMetadata"
    by_id = webapi.send(
        "POST", f"EntityDefinitions({table_id})/Attributes", json_body=string_column("new_Title", max_length=50)
    )
    created_id(by_id, f"{API_URL}/EntityDefinitions({table_id})/Attributes({{id}})")
    record = webapi.create(f"{logical}s", new_name="x", new_count=3, new_title="t")
    assert webapi.get(f"{logical}s({record})?$select=new_title").json()["new_title"] == "t"


def test_a_column_name_taken_is_0x80047013(webapi: WebApiEnv) -> None:
    name = unique("Score")
    assert add_column(webapi, "account", integer_column(name)).status_code == 204
    message = dataverse_error(add_column(webapi, "account", integer_column(name)), 400, "0x80047013")
    assert f"{name} already exists on account" in message


def test_a_lookup_posted_to_attributes_is_refused(webapi: WebApiEnv) -> None:
    name = unique("ContactId")
    lookup = {
        "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        "SchemaName": name,
        "AttributeType": "Lookup",
        "AttributeTypeName": {"Value": "LookupType"},
        "DisplayName": label("Contact"),
        "Targets": ["contact"],
    }
    message = dataverse_error(add_column(webapi, "account", lookup), 400, INVALID_ARGUMENT)
    assert "RelationshipDefinitions" in message
    described = webapi.get(f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{name.lower()}')")
    assert described.status_code == 404


def test_a_custom_column_on_account_is_written_read_and_described(webapi: WebApiEnv) -> None:
    name = unique("Score")
    logical = name.lower()
    assert add_column(webapi, "account", integer_column(name)).status_code == 204
    record = webapi.create("accounts", name="Contoso", **{logical: 42})
    assert webapi.get(f"accounts({record})?$select={logical}").json()[logical] == 42
    assert f'<Property Name="{logical}" Type="Edm.Int32"' in webapi.get("$metadata").text


def test_a_column_deleted_and_added_again_with_another_type_starts_empty(webapi: WebApiEnv) -> None:
    schema, name = unique("Project"), unique("Value")
    logical, column = schema.lower(), name.lower()
    create_table(webapi, schema, integer_column(name))
    record = webapi.create(f"{logical}s", new_name="x", **{column: 12})
    attribute = webapi.get(f"EntityDefinitions(LogicalName='{logical}')/Attributes(LogicalName='{column}')").json()
    deleted = webapi.send(
        "DELETE",
        f"EntityDefinitions(LogicalName='{logical}')/Attributes({attribute['MetadataId']})",
        headers={"If-Match": "*"},
    )
    assert deleted.status_code == 204, deleted.text
    dataverse_error(webapi.get(f"{logical}s({record})?$select={column}"), 400)
    assert add_column(webapi, logical, string_column(name)).status_code == 204
    assert webapi.get(f"{logical}s({record})?$select={column}").json()[column] is None


def test_a_column_of_account_deleted_and_added_again_starts_empty(webapi: WebApiEnv) -> None:
    name = unique("Value")
    column = name.lower()
    assert add_column(webapi, "account", integer_column(name)).status_code == 204
    record = webapi.create("accounts", name="x", **{column: 12})
    deleted = webapi.send("DELETE", f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{column}')")
    assert deleted.status_code == 204, deleted.text
    assert add_column(webapi, "account", string_column(name)).status_code == 204
    assert webapi.get(f"accounts({record})?$select={column}").json()[column] is None


# -- keys -------------------------------------------------------------------------------------------------------------
def test_a_key_answers_in_the_tables_addressing_and_is_enforced(webapi: WebApiEnv) -> None:
    schema, key = unique("Project"), unique("CodeKey")
    logical = schema.lower()
    create_table(webapi, schema, string_column("new_Code"))
    response = webapi.send(
        "POST",
        f"EntityDefinitions(LogicalName='{logical}')/Keys",
        json_body={"SchemaName": key, "KeyAttributes": ["new_code"], "DisplayName": label("Code")},
    )
    key_id = created_id(response, f"{API_URL}/EntityDefinitions(LogicalName='{logical}')/Keys({{id}})")
    keys = webapi.rows(f"EntityDefinitions(LogicalName='{logical}')/Keys")
    assert [(k["MetadataId"], k["SchemaName"], k["KeyAttributes"]) for k in keys] == [(key_id, key, ["new_code"])]
    first = webapi.create(f"{logical}s", new_name="a", new_code="C1")
    dataverse_error(
        webapi.send("POST", f"{logical}s", json_body={"new_name": "b", "new_code": "C1"}), 412, DUPLICATE_KEY
    )
    assert webapi.get(f"{logical}s(new_code='C1')?$select=new_name").json()["new_name"] == "a"
    assert webapi.get(f"{logical}s(new_code='C1')").json()[f"{logical}id"] == first


@pytest.mark.xfail(
    strict=True,
    reason="store/customizations_sql.py change(): creating the unique index of a key over existing duplicate rows "
    "raises DuplicateError (IntegrityError) from directory.write(), which metadata_writes.py lets through: 500 "
    "0x80040216; it should answer a Dataverse error (or accept the key with EntityKeyIndexStatus Failed, as "
    "docs/reference/metadata-writes.md §4 describes)",
)
def test_a_key_over_duplicate_rows_is_a_dataverse_error(webapi: WebApiEnv) -> None:
    """Dataverse accepts the key and lets its index job fail; refusing it is fine, a 500 is not."""
    name = unique("Code")
    column = name.lower()
    assert add_column(webapi, "account", string_column(name)).status_code == 204
    webapi.create("accounts", name="a", **{column: "same"})
    webapi.create("accounts", name="b", **{column: "same"})
    response = webapi.send(
        "POST",
        "EntityDefinitions(LogicalName='account')/Keys",
        json_body={"SchemaName": unique("Key"), "KeyAttributes": [column]},
    )
    assert response.status_code < 500, response.text
    if response.status_code != 204:
        dataverse_error(response, response.status_code)


# -- privileges -------------------------------------------------------------------------------------------------------
def reader(env: WebApiEnv) -> WebApiEnv:
    """The same Web API as an application user whose one role holds prvReadAccount only."""
    tag = uuid.uuid4().hex[:8]
    app = env.directory.create_app(env.tenant.id, f"reader-{tag}")
    secret = env.directory.add_secret(env.tenant.id, app.app_id).value
    role = env.dataverse.create_role("contoso", f"Readers {tag}", ["prvReadAccount:Global"])
    env.dataverse.create_application_user(
        "contoso", app.app_id, object_id=app.service_principal_id, full_name=f"reader {tag}", roles=[role.name]
    )
    return dataclasses.replace(env, token=env.token_for(app.app_id, secret))


def test_a_caller_without_system_administrator_is_403_naming_prvcreateentity(webapi: WebApiEnv) -> None:
    limited = reader(webapi)
    assert limited.get("accounts?$top=1").status_code == 200  # the role works
    schema = unique("Project")
    message = dataverse_error(limited.send("POST", "EntityDefinitions", json_body=table_body(schema)), 403, DENIED)
    assert "is missing prvCreateEntity privilege" in message
    assert webapi.get(f"EntityDefinitions(LogicalName='{schema.lower()}')").status_code == 404
    message = dataverse_error(add_column(limited, "account", integer_column(unique("X"))), 403, DENIED)
    assert "is missing prvCreateAttribute privilege" in message


# -- two organizations ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Org:
    """Another organization of the tenant, called by the same app."""

    env: WebApiEnv
    prefix: str

    def send(self, method: str, path: str, json_body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.env.token}", "Accept": "application/json"}
        content = None if json_body is None else json.dumps(json_body)
        if content is not None:
            headers["Content-Type"] = "application/json"
        return self.env.client.request(method, f"{self.prefix}/{path}", content=content, headers=headers)


def fabrikam(env: WebApiEnv) -> Org:
    env.directory.create_org(env.tenant.id, "fabrikam")
    env.dataverse.ensure_organizations()
    env.dataverse.create_application_user(
        "fabrikam", env.app.app_id, object_id=None, full_name="x", roles=["System Administrator"]
    )
    secret = env.directory.add_secret(env.tenant.id, env.app.app_id).value
    other = dataclasses.replace(env, token=env.token_for(env.app.app_id, secret, FABRIKAM_URL))
    return Org(other, "/orgs/fabrikam/api/data/v9.2")


def test_another_orgs_custom_table_is_invisible(webapi: WebApiEnv) -> None:
    other = fabrikam(webapi)
    schema = unique("Project")
    logical = schema.lower()
    metadata_id = create_table(webapi, schema)
    webapi.create(f"{logical}s", new_name="contoso's")
    dataverse_error(other.send("GET", f"{logical}s"), 404)
    dataverse_error(other.send("POST", f"{logical}s", {"new_name": "x"}), 404)
    assert other.send("GET", f"EntityDefinitions(LogicalName='{logical}')").status_code == 404
    assert other.send("GET", f"EntityDefinitions({metadata_id})").status_code == 404
    assert other.send("GET", f"EntityDefinitions?$filter=LogicalName eq '{logical}'").json()["value"] == []
    assert f'"{logical}s"' not in other.send("GET", "").text
    # and the other org may create a table of that name for itself
    created = other.send("POST", "EntityDefinitions", table_body(schema))
    assert created.status_code == 204, created.text
    assert other.send("GET", f"{logical}s").json()["value"] == []


def test_a_custom_key_binds_only_its_organization(webapi: WebApiEnv) -> None:
    other = fabrikam(webapi)
    name, key = unique("Code"), unique("CodeKey")
    column = name.lower()
    for org in (webapi, other):
        response = (
            add_column(webapi, "account", string_column(name))
            if org is webapi
            else other.send("POST", "EntityDefinitions(LogicalName='account')/Attributes", string_column(name))
        )
        assert response.status_code == 204, response.text
    response = webapi.send(
        "POST",
        "EntityDefinitions(LogicalName='account')/Keys",
        json_body={"SchemaName": key, "KeyAttributes": [column]},
    )
    assert response.status_code == 204, response.text
    for n in range(2):
        created = other.send("POST", "accounts", {"name": f"fabrikam {n}", column: "K1"})
        assert created.status_code == 204, created.text
    webapi.create("accounts", name="contoso", **{column: "K1"})
    dataverse_error(webapi.send("POST", "accounts", json_body={"name": "again", column: "K1"}), 412, DUPLICATE_KEY)
    # the key is contoso's: fabrikam cannot address by it
    dataverse_error(other.send("GET", f"accounts({column}='K1')"), 400)


def test_a_custom_column_on_account_is_in_its_orgs_metadata_only(webapi: WebApiEnv) -> None:
    other = fabrikam(webapi)
    name = unique("Score")
    column = name.lower()
    assert add_column(webapi, "account", integer_column(name)).status_code == 204
    assert f'<Property Name="{column}"' in webapi.get("$metadata").text
    assert f'<Property Name="{column}"' not in other.send("GET", "$metadata").text
    described = other.send("GET", f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{column}')")
    assert described.status_code == 404


def test_another_orgs_custom_column_can_be_neither_written_nor_read(webapi: WebApiEnv) -> None:
    other = fabrikam(webapi)
    name = unique("Score")
    column = name.lower()
    assert add_column(webapi, "account", integer_column(name)).status_code == 204
    assert name.lower() in dataverse_error(other.send("POST", "accounts", {"name": "x", column: 5}), 400)
    created = other.send("POST", "accounts", {"name": "x"})
    assert created.status_code == 204, created.text
    dataverse_error(other.send("GET", f"accounts?$select={column}"), 400)
    dataverse_error(other.send("GET", f"accounts?$filter={column} eq 5"), 400)


# -- one database, two servers -----------------------------------------------------------------------------------------
@contextmanager
def second_server(env: WebApiEnv, database_url: str, tmp_path: Path) -> Iterator[WebApiEnv]:
    """Another server process on the same database: its own engine, caches and app; the same token works."""
    database = open_database(tmp_path, database_url)
    try:
        application = create_app(database, AppOptions(), clock=env.clock)
        with TestClient(application, base_url=BASE_URL, raise_server_exceptions=True) as client:
            yield dataclasses.replace(env, client=client)
    finally:
        database.close()


def test_a_change_is_seen_by_another_server_on_the_same_database(
    webapi: WebApiEnv, database_url: str, tmp_path: Path
) -> None:
    with second_server(webapi, database_url, tmp_path) as other:
        schema = unique("Project")
        logical = schema.lower()
        assert other.get(f"EntityDefinitions(LogicalName='{logical}')").status_code == 404  # cached: not there
        create_table(webapi, schema)
        assert other.get(f"EntityDefinitions(LogicalName='{logical}')").status_code == 200
        record = other.create(f"{logical}s", new_name="from the other server")
        assert webapi.get(f"{logical}s({record})?$select=new_name").json()["new_name"] == "from the other server"
        name = unique("Count")
        assert add_column(other, logical, integer_column(name)).status_code == 204
        webapi.send("PATCH", f"{logical}s({record})", json_body={name.lower(): 5})
        assert other.get(f"{logical}s({record})?$select={name.lower()}").json()[name.lower()] == 5
        deleted = other.send("DELETE", f"EntityDefinitions(LogicalName='{logical}')")
        assert deleted.status_code == 204, deleted.text
        dataverse_error(webapi.get(f"{logical}s"), 404)


# -- RetrieveMetadataChanges ------------------------------------------------------------------------------------------
def test_retrieve_metadata_changes_describes_a_new_table(webapi: WebApiEnv) -> None:
    schema = unique("Project")
    logical = schema.lower()
    create_table(webapi, schema, integer_column("new_Count"))
    query = {
        "Properties": {"PropertyNames": ["LogicalName", "Attributes"]},
        "Criteria": {
            "Conditions": [
                {
                    "PropertyName": "LogicalName",
                    "ConditionOperator": "Equals",
                    "Value": {"Type": "System.String", "Value": logical},
                }
            ]
        },
        "AttributeQuery": {
            "Properties": {"PropertyNames": ["LogicalName", "AttributeType", "MetadataId"]},
            "Criteria": {
                "Conditions": [
                    {
                        "PropertyName": "LogicalName",
                        "ConditionOperator": "Equals",
                        "Value": {"Type": "System.String", "Value": "new_count"},
                    }
                ]
            },
        },
    }
    response = webapi.get(f"RetrieveMetadataChanges(Query=@p1)?@p1={quote(json.dumps(query))}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse")
    (entity,) = body["EntityMetadata"]
    assert entity["LogicalName"] == logical
    (attribute,) = entity["Attributes"]
    assert attribute["@odata.type"].endswith("IntegerAttributeMetadata")
    assert (attribute["LogicalName"], attribute["AttributeType"]) == ("new_count", "Integer")
    described = webapi.get(f"EntityDefinitions(LogicalName='{logical}')/Attributes(LogicalName='new_count')").json()
    assert attribute["MetadataId"] == described["MetadataId"]


@pytest.mark.xfail(
    strict=True,
    reason="dataverse/endpoints/metadata_endpoints.py: RetrieveMetadataChanges types attributes "
    "#Microsoft.Dynamics.CRM.IntegerAttributeMetadata; docs/reference/metadata-writes.md §9 (Microsoft's examples) "
    "gives the Complex… names (#Microsoft.Dynamics.CRM.ComplexIntegerAttributeMetadata)",
)
def test_retrieve_metadata_changes_types_attributes_with_complex_names(webapi: WebApiEnv) -> None:
    query = {
        "Properties": {"PropertyNames": ["LogicalName", "Attributes"]},
        "Criteria": {
            "Conditions": [
                {
                    "PropertyName": "LogicalName",
                    "ConditionOperator": "Equals",
                    "Value": {"Type": "System.String", "Value": "account"},
                }
            ]
        },
        "AttributeQuery": {"Properties": {"PropertyNames": ["LogicalName"]}},
    }
    body = webapi.get(f"RetrieveMetadataChanges(Query=@p1)?@p1={quote(json.dumps(query))}").json()
    types = {a["LogicalName"]: a["@odata.type"] for a in body["EntityMetadata"][0]["Attributes"]}
    assert types["numberofemployees"] == "#Microsoft.Dynamics.CRM.ComplexIntegerAttributeMetadata"


# -- hostile bodies ---------------------------------------------------------------------------------------------------
WRITES = [
    ("POST", "EntityDefinitions"),
    ("POST", "CreateEntities"),
    ("POST", "EntityDefinitions(LogicalName='account')/Attributes"),
    ("POST", "EntityDefinitions(LogicalName='account')/Keys"),
    ("POST", "RelationshipDefinitions"),
    ("POST", "GlobalOptionSetDefinitions"),
    ("PUT", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')"),
]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"EntityMetadata"', id="string"),
        pytest.param(json.dumps({"SchemaName": 5, "Attributes": "x"}).encode(), id="wrong-types"),
        pytest.param(json.dumps({"SchemaName": "new_" + "x" * 100_000}).encode(), id="huge-name"),
        pytest.param(("[" * 10_000 + "]" * 10_000).encode(), id="deep-nesting"),
    ],
)
@pytest.mark.parametrize(("method", "path"), WRITES)
def test_hostile_bodies_are_400_dataverse_errors(webapi: WebApiEnv, method: str, path: str, body: bytes) -> None:
    response = webapi.send(method, path, content=body, headers={"Content-Type": "application/json"})
    dataverse_error(response, 400)


@pytest.mark.parametrize("body", [pytest.param(b"{not json", id="not-json"), pytest.param(b"\xff\xfe", id="not-utf8")])
@pytest.mark.parametrize(("method", "path"), WRITES)
def test_bodies_that_are_not_json_are_400_dataverse_errors(
    webapi: WebApiEnv, method: str, path: str, body: bytes
) -> None:
    response = webapi.send(method, path, content=body, headers={"Content-Type": "application/json"})
    dataverse_error(response, 400)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
KEYS = ["@odata.type", "SchemaName", "DisplayName", "Attributes", "OwnershipType", "KeyAttributes", "Lookup",
        "ReferencedEntity", "ReferencingEntity", "OptionSet", "MaxLength", "IsPrimaryName", "Entities", "Options"]  # fmt: skip
TYPES = ["Microsoft.Dynamics.CRM.EntityMetadata", "Microsoft.Dynamics.CRM.StringAttributeMetadata",
         "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata", "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
         "Microsoft.Dynamics.CRM.OptionSetMetadata", "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata"]  # fmt: skip
bodies = st.dictionaries(
    st.sampled_from(KEYS),
    st.one_of(json_values, st.sampled_from(TYPES), st.sampled_from(["new_X", "new_", "X", "account", "contact"])),
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(write=st.sampled_from(WRITES), body=bodies)
def test_arbitrary_bodies_never_answer_5xx(webapi: WebApiEnv, write: tuple[str, str], body: Mapping[str, Any]) -> None:
    method, path = write
    started = time.monotonic()
    response = webapi.send(method, path, json_body=dict(body))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        dataverse_error(response, response.status_code)
    assert time.monotonic() - started < 30
