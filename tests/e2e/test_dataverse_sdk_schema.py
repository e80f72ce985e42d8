"""Microsoft's Dataverse SDK, unmodified, changing the schema of a real server: custom tables with every column type
the SDK offers, columns added and removed, alternate keys and upsert by them, lookups (1:N relationships) used by
records, and everything deleted again."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from enum import IntEnum

import httpx
import pytest
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.relationship import ManyToManyRelationshipMetadata

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


class Priority(IntEnum):
    LOW = 100000000
    MEDIUM = 100000001
    HIGH = 100000002


@pytest.fixture
def client(trust: Server) -> Iterator[DataverseClient]:
    credential = ClientSecretCredential(
        trust.tenant_id, trust.client_id, trust.client_secret, authority=trust.url, disable_instance_discovery=True
    )
    with DataverseClient(trust.credentials["DATAVERSE_URL"], credential) as dataverse:
        yield dataverse


def table_name(stem: str) -> str:
    return f"new_{stem}{uuid.uuid4().hex[:6]}"


def test_a_custom_table_with_every_column_type_the_sdk_offers(client: DataverseClient) -> None:
    name = table_name("Project")
    columns = {
        "new_Notes": "memo",
        "new_Count": "int",
        "new_Ratio": "decimal",
        "new_Budget": "money",
        "new_Score": "float",
        "new_Due": "datetime",
        "new_Done": "bool",
        "new_Attachment": "file",
        "new_Priority": Priority,
    }
    info = client.tables.create(name, columns, display_name="Project")
    logical = name.lower()
    assert info["logical_name"] == logical
    assert info["entity_set_name"] == f"{logical}s"
    assert info["primary_id_attribute"] == f"{logical}id"
    assert info["primary_name_attribute"] == "new_name"
    assert uuid.UUID(info["metadata_id"])
    try:
        record_id = client.records.create(
            logical,
            {
                "new_name": "Apollo",
                "new_notes": "x" * 3000,
                "new_count": 7,
                "new_ratio": 0.25,
                "new_budget": 1500.5,
                "new_score": 9.75,
                "new_due": "2026-12-24",
                "new_done": True,
                "new_priority": "High",  # the SDK turns the label into its value through the picklist metadata
            },
        )
        record = client.records.retrieve(logical, record_id)
        assert record is not None
        assert (record["new_name"], record["new_count"], record["new_ratio"], record["new_budget"]) == (
            "Apollo",
            7,
            0.25,
            1500.5,
        )
        assert (record["new_score"], record["new_due"], record["new_done"]) == (9.75, "2026-12-24", True)
        assert record["new_priority"] == Priority.HIGH
        assert len(record["new_notes"]) == 3000
        assert record["statecode"] == 0
        assert record["_ownerid_value"] is not None

        columns_listed = {c["LogicalName"] for c in client.tables.list_columns(logical)}
        assert {"new_name", "new_count", "new_attachment", "new_priority", "createdon", "ownerid"} <= columns_listed
    finally:
        client.tables.delete(logical)
    assert client.tables.get(logical) is None


def test_columns_are_added_updated_and_removed(client: DataverseClient) -> None:
    name = table_name("Site")
    logical = name.lower()
    client.tables.create(name, {"new_Code": "string"})
    try:
        added = client.tables.add_columns(logical, {"new_Tags": "string", "new_Level": {"type": "int", "max_value": 5}})
        assert sorted(added) == ["new_Level", "new_Tags"]
        record_id = client.records.create(logical, {"new_name": "HQ", "new_tags": "a,b", "new_level": 3})
        record = client.records.retrieve(logical, record_id, select=["new_tags", "new_level"])
        assert record is not None
        assert (record["new_tags"], record["new_level"]) == ("a,b", 3)
        with pytest.raises(HttpError, match="outside the valid range"):
            client.records.update(logical, record_id, {"new_level": 6})

        client.tables.update_column(logical, "new_tags", {"display_name": "Labels", "max_length": 400})
        column = client.tables.get_column(logical, "new_tags", typed=True)
        assert column is not None
        assert column["MaxLength"] == 400

        removed = client.tables.remove_columns(logical, ["new_tags"])
        assert removed == ["new_tags"]
        assert client.tables.get_column(logical, "new_tags") is None
        with pytest.raises(HttpError, match="new_tags"):
            client.records.retrieve(logical, record_id, select=["new_tags"])
        kept = client.records.retrieve(logical, record_id, select=["new_level"])
        assert kept is not None
        assert kept["new_level"] == 3
    finally:
        client.tables.delete(logical)


def test_alternate_keys_are_usable_at_once_for_addressing_and_upsert(client: DataverseClient) -> None:
    name = table_name("Part")
    logical = name.lower()
    client.tables.create(name, {"new_Sku": "string"})
    try:
        key = client.tables.create_alternate_key(logical, "new_SkuKey", ["new_sku"], display_name="SKU")
        keys = client.tables.get_alternate_keys(logical)
        assert [(k.schema_name, k.key_attributes, k.status) for k in keys] == [("new_SkuKey", ["new_sku"], "Active")]
        assert keys[0].metadata_id == key.metadata_id

        client.records.upsert(logical, [{"alternate_key": {"new_sku": "A-1"}, "record": {"new_name": "first"}}])
        client.records.upsert(
            logical,
            [
                {"alternate_key": {"new_sku": "A-1"}, "record": {"new_name": "first again"}},
                {"alternate_key": {"new_sku": "B-2"}, "record": {"new_name": "second"}},
            ],
        )
        rows = client.records.list(logical, select=["new_sku", "new_name"])
        assert sorted((r["new_sku"], r["new_name"]) for page in [rows] for r in page) == [
            ("A-1", "first again"),
            ("B-2", "second"),
        ]
        with pytest.raises(HttpError, match=r"0x80060892|already exists"):
            client.records.create(logical, {"new_name": "duplicate", "new_sku": "A-1"})

        client.tables.delete_alternate_key(logical, key.metadata_id)
        assert client.tables.get_alternate_keys(logical) == []
        client.records.create(logical, {"new_name": "duplicate now allowed", "new_sku": "A-1"})
    finally:
        client.tables.delete(logical)


def test_a_lookup_relationship_binds_expands_and_filters_records(client: DataverseClient) -> None:
    parent, child = table_name("Dept"), table_name("Emp")
    client.tables.create(parent, {"new_Code": "string"})
    client.tables.create(child, {"new_Title": "string"})
    parent_logical, child_logical = parent.lower(), child.lower()
    try:
        relationship = client.tables.create_lookup_field(child_logical, "new_DeptId", parent_logical)
        assert relationship.relationship_schema_name
        found = client.tables.get_relationship(relationship.relationship_schema_name)
        assert found is not None
        assert (found.referenced_entity, found.referencing_entity) == (parent_logical, child_logical)

        department = client.records.create(parent_logical, {"new_name": "Research"})
        navigation = found.lookup_schema_name or "new_DeptId"
        employee = client.records.create(
            child_logical, {"new_name": "Ada", f"{navigation}@odata.bind": f"/{parent_logical}s({department})"}
        )
        rows = client.records.list(
            child_logical, select=["new_name"], filter=f"_new_deptid_value eq {department}", expand=[navigation]
        )
        listed = [r for page in [rows] for r in page]
        assert [r["new_name"] for r in listed] == ["Ada"]
        assert listed[0][navigation]["new_name"] == "Research"

        client.tables.delete_relationship(relationship.relationship_id)
        assert client.tables.get_relationship(relationship.relationship_schema_name) is None
        record = client.records.retrieve(child_logical, employee)
        assert record is not None
        assert "_new_deptid_value" not in record
    finally:
        client.tables.delete(child_logical)
        client.tables.delete(parent_logical)


def test_a_table_referenced_by_a_lookup_cannot_be_deleted_first(client: DataverseClient) -> None:
    parent, child = table_name("Org"), table_name("Unit")
    client.tables.create(parent, {})
    client.tables.create(child, {})
    parent_logical, child_logical = parent.lower(), child.lower()
    try:
        client.tables.create_lookup_field(child_logical, "new_OrgId", parent_logical)
        with pytest.raises(HttpError, match=r"(?i)0x8004f01f|cannot be deleted"):
            client.tables.delete(parent_logical)
    finally:
        client.tables.delete(child_logical)
        client.tables.delete(parent_logical)
    assert client.tables.get(parent_logical) is None


def test_a_many_to_many_relationship_associates_expands_and_disassociates(
    client: DataverseClient, trust: Server
) -> None:
    employee, project = table_name("Staff"), table_name("Job")
    client.tables.create(employee, {})
    client.tables.create(project, {})
    first, second = employee.lower(), project.lower()
    schema_name = f"new_{first[4:]}_{second[4:]}"
    try:
        info = client.tables.create_many_to_many_relationship(
            ManyToManyRelationshipMetadata(
                schema_name=schema_name, entity1_logical_name=first, entity2_logical_name=second
            )
        )
        assert (info.entity1_logical_name, info.entity2_logical_name) == (first, second)
        found = client.tables.get_relationship(schema_name)
        assert found is not None
        assert found.relationship_type == "many_to_many"

        ada = client.records.create(first, {"new_name": "Ada"})
        jobs = client.records.create(second, [{"new_name": "Engine"}, {"new_name": "Notes"}])
        base = f"{trust.credentials['DATAVERSE_URL'].rstrip('/')}/api/data/v9.2"
        token = ClientSecretCredential(
            trust.tenant_id, trust.client_id, trust.client_secret, authority=trust.url, disable_instance_discovery=True
        ).get_token(f"{trust.credentials['DATAVERSE_URL'].rstrip('/')}/.default")
        headers = {"Authorization": f"Bearer {token.token}"}
        with httpx.Client(verify=ssl.create_default_context(cafile=trust.ca_bundle), headers=headers) as http:
            for job in jobs:
                answer = http.post(
                    f"{base}/{first}s({ada})/{schema_name}/$ref", json={"@odata.id": f"{base}/{second}s({job})"}
                )
                assert answer.status_code == 204, answer.text
            again = http.post(f"{base}/{first}s({ada})/{schema_name}/$ref", json={"@odata.id": f"{second}s({jobs[0]})"})
            assert again.status_code == 412  # already associated
            # Either side's navigation property reads the association.
            from_project = http.get(f"{base}/{second}s({jobs[0]})/{schema_name}?$select=new_name").json()
            assert [r["new_name"] for r in from_project["value"]] == ["Ada"]

        rows = client.records.list(first, select=["new_name"], expand=[schema_name])
        listed = [r for page in [rows] for r in page]
        assert sorted(p["new_name"] for p in listed[0][schema_name]) == ["Engine", "Notes"]

        with httpx.Client(verify=ssl.create_default_context(cafile=trust.ca_bundle), headers=headers) as http:
            removed = http.delete(f"{base}/{first}s({ada})/{schema_name}({jobs[1]})/$ref")
            assert removed.status_code == 204, removed.text
            left = http.get(f"{base}/{first}s({ada})/{schema_name}").json()["value"]
            assert [r["new_name"] for r in left] == ["Engine"]
        client.tables.delete_relationship(found.relationship_id)
    finally:
        client.tables.delete(second)
        client.tables.delete(first)


def test_a_custom_tables_privileges_can_be_given_to_a_role_at_once(client: DataverseClient, trust: Server) -> None:
    name = table_name("Ticket")
    logical = name.lower()
    client.tables.create(name, {})
    try:
        role = f"Ticket readers {uuid.uuid4().hex[:6]}"
        org = trust.credentials["DATAVERSE_URL"]
        created = trust.cli("role", "create", "--org", org, "--name", role, "--privilege", f"prvRead{logical}:Global")
        assert created.returncode == 0, created.stderr
        listed = trust.cli("role", "list", "--org", org, "--json")
        assert listed.returncode == 0, listed.stderr
        assert f"prvRead{logical}" in listed.stdout
        unknown = trust.cli("role", "create", "--org", org, "--name", f"{role} 2", "--privilege", "prvReadnew_nothing")
        assert unknown.returncode != 0
        assert "unknown privilege" in unknown.stderr
    finally:
        client.tables.delete(logical)
