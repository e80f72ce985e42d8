"""Microsoft's Dataverse SDK, unmodified, against a real server: records, queries, metadata, batches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.identity import ClientSecretCredential
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError
from PowerPlatform.Dataverse.models.filters import col

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(trust: Server) -> Iterator[DataverseClient]:
    credential = ClientSecretCredential(
        trust.tenant_id, trust.client_id, trust.client_secret, authority=trust.url, disable_instance_discovery=True
    )
    with DataverseClient(trust.credentials["DATAVERSE_URL"], credential) as dataverse:
        yield dataverse


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_retrieve_update_delete(client: DataverseClient) -> None:
    name = unique("Contoso")
    account_id = client.records.create("account", {"name": name, "revenue": 1_000_000.5, "industrycode": "Consulting"})
    record = client.records.retrieve("account", account_id, select=["name", "revenue", "industrycode"])
    assert record is not None
    assert record["name"] == name
    assert record["revenue"] == 1_000_000.5
    assert record["industrycode"] == 7  # the SDK turned the label into the option value via the picklist metadata
    assert record.etag == 'W/"1"'
    client.records.update("account", account_id, {"telephone1": "555-0100"})
    updated = client.records.retrieve("account", account_id, select=["telephone1"])
    assert updated is not None
    assert updated["telephone1"] == "555-0100"
    assert updated.etag == 'W/"2"'
    client.records.delete("account", account_id)
    assert client.records.retrieve("account", account_id) is None


def test_multiple_records(client: DataverseClient) -> None:
    tag = unique("bulk")
    ids = client.records.create("account", [{"name": f"{tag} {i}", "description": tag} for i in range(5)])
    assert len(ids) == 5
    client.records.update("account", ids, {"telephone1": "555-0199"})
    found = client.records.list("account", select=["telephone1"], filter=f"description eq '{tag}'")
    assert {r["telephone1"] for r in found} == {"555-0199"}
    client.records.delete("account", ids)
    assert list(client.records.list("account", select=["name"], filter=f"description eq '{tag}'")) == []


def test_upsert_by_alternate_key(client: DataverseClient) -> None:
    first, second = unique("U"), unique("U")
    client.records.upsert("account", [{"alternate_key": {"accountnumber": first}, "record": {"name": "one"}}])
    client.records.upsert(
        "account",
        [
            {"alternate_key": {"accountnumber": second}, "record": {"name": "two"}},
            {"alternate_key": {"accountnumber": first}, "record": {"name": "one again"}},
        ],
    )
    rows = client.records.list(
        "account", select=["name", "accountnumber"], filter=f"accountnumber eq '{first}' or accountnumber eq '{second}'"
    )
    assert sorted((r["accountnumber"], r["name"]) for r in rows) == sorted([(first, "one again"), (second, "two")])


def test_query_filters_ordering_expand_and_paging(client: DataverseClient) -> None:
    tag = unique("page")
    parent = client.records.create("account", {"name": f"{tag} parent"})
    client.records.create(
        "contact",
        [
            {
                "firstname": f"F{i}",
                "lastname": f"{tag}-{i:02d}",
                "parentcustomerid_account@odata.bind": f"/accounts({parent})",
            }
            for i in range(12)
        ],
    )
    pages = list(
        client.records.list_pages(
            "contact",
            select=["fullname", "lastname"],
            filter=f"startswith(lastname, '{tag}')",
            orderby=["lastname desc"],
            page_size=5,
        )
    )
    assert [len(page) for page in pages] == [5, 5, 2]
    names = [r["lastname"] for page in pages for r in page]
    assert names == sorted(names, reverse=True)
    built = (
        client.query.builder("contact")
        .select("fullname")
        .where(
            col("lastname").startswith(tag)
            & (col("firstname") != "F0")
            & col("firstname").in_(["F1", "F2", "F3", "F4"])
        )
        .order_by("lastname")
        .top(3)
        .execute()
    )
    assert [r["fullname"] for r in built] == [f"F1 {tag}-01", f"F2 {tag}-02", f"F3 {tag}-03"]
    expanded = client.records.list(
        "contact",
        select=["fullname"],
        filter=f"lastname eq '{tag}-00'",
        expand=["parentcustomerid_account($select=name)"],
    )
    (only,) = list(expanded)
    assert only["parentcustomerid_account"]["name"] == f"{tag} parent"
    children = client.records.retrieve(
        "account", parent, select=["name"], expand=["contact_customer_accounts($select=lastname)"]
    )
    assert children is not None
    assert len(children["contact_customer_accounts"]) == 12


def test_tables_get_and_list(client: DataverseClient) -> None:
    account = client.tables.get("account")
    assert account is not None
    assert account.entity_set_name == "accounts"
    assert account.primary_id_attribute == "accountid"
    assert client.tables.get("nosuchtable") is None
    names = {t["LogicalName"] for t in client.tables.list()}
    assert {"account", "contact", "lead", "opportunity", "task", "systemuser", "businessunit", "role", "team"} <= names


def test_batch_with_a_change_set(client: DataverseClient) -> None:
    tag = unique("batch")
    batch = client.batch.new()
    change_set = batch.changeset()
    account = change_set.records.create("account", {"name": tag})
    change_set.records.create("contact", {"lastname": tag, "parentcustomerid_account@odata.bind": account})
    batch.records.list("contact", select=["lastname"], filter=f"lastname eq '{tag}'")
    result = batch.execute()
    statuses = [r.status_code for r in result.responses]
    assert statuses == [204, 204, 200]
    assert result.responses[2].data["value"][0]["lastname"] == tag


def test_a_failing_change_set_rolls_back(client: DataverseClient) -> None:
    tag = unique("rollback")
    batch = client.batch.new()
    change_set = batch.changeset()
    change_set.records.create("account", {"name": tag})
    change_set.records.create("account", {"name": tag, "numberofemployees": -5})
    result = batch.execute()
    assert [r.status_code for r in result.responses] == [400]
    assert list(client.records.list("account", select=["name"], filter=f"name eq '{tag}'")) == []


def test_errors_carry_the_dataverse_code(client: DataverseClient) -> None:
    with pytest.raises(HttpError) as caught:
        client.records.list("account", filter="name eq 'unterminated")
    assert caught.value.status_code == 400
    assert "0x80060888" in str(caught.value.details) or "0x80060888" in str(caught.value)
