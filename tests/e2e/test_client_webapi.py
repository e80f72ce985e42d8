"""d365local.client's Web API clients against a real server: the async client, and ``$batch`` with change sets."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from d365local.client import (
    AsyncTokenProvider,
    AsyncWebApiClient,
    Batch,
    BatchError,
    BatchResult,
    ClientSecret,
    DataverseApiError,
    TokenProvider,
    WebApiClient,
)
from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e
MISSING = "00000000-0000-0000-0000-0000000000ff"


@pytest.fixture
def api(trust: Server) -> Iterator[WebApiClient]:
    with (
        TokenProvider(
            trust.tenant_id, trust.client_id, ClientSecret(trust.client_secret), authority=trust.url
        ) as tokens,
        WebApiClient(trust.credentials["DATAVERSE_URL"], tokens) as client,
    ):
        yield client


def async_tokens(server: Server, verify: ssl.SSLContext | None = None) -> AsyncTokenProvider:
    return AsyncTokenProvider(
        server.tenant_id, server.client_id, ClientSecret(server.client_secret), authority=server.url, verify=verify
    )


def test_async_client_crud_upsert_paging_and_create_multiple(trust: Server) -> None:
    tag = uuid.uuid4().hex[:8]

    async def main() -> None:
        async with (
            async_tokens(trust) as tokens,
            AsyncWebApiClient(trust.credentials["DATAVERSE_URL"], tokens) as api,
        ):
            assert (await api.who_am_i())["UserId"]
            ids = await api.create_multiple("accounts", "account", [{"name": f"{tag}-{i}"} for i in range(7)])
            assert len(ids) == 7
            record_id = await api.create("accounts", {"name": f"{tag}-x"})
            await api.update("accounts", record_id, {"telephone1": "555"})
            assert (await api.get("accounts", record_id, select=["telephone1"]))["telephone1"] == "555"
            await api.upsert("accounts", f"accountnumber='{tag}'", {"name": f"{tag}-u"})  # creates
            await api.upsert("accounts", f"accountnumber='{tag}'", {"telephone1": "777"})  # updates
            upserted = [
                r
                async for r in api.query("accounts", select=["name", "telephone1"], filter=f"accountnumber eq '{tag}'")
            ]
            assert [(r["name"], r["telephone1"]) for r in upserted] == [(f"{tag}-u", "777")]
            names = [
                r["name"]
                async for r in api.query(
                    "accounts", select=["name"], filter=f"startswith(name,'{tag}')", orderby=["name"], page_size=3
                )
            ]
            assert names == sorted([f"{tag}-{i}" for i in range(7)] + [f"{tag}-x", f"{tag}-u"])
            assert await api.count("accounts", filter=f"startswith(name,'{tag}')") == 9
            await api.delete("accounts", record_id)
            with pytest.raises(DataverseApiError) as caught:
                await api.get("accounts", record_id)
            assert (caught.value.status, caught.value.code) == (404, "0x80040217")
            for identifier in [*ids, upserted[0]["accountid"]]:
                await api.delete("accounts", identifier)

    asyncio.run(main())


def account_and_contact(tag: str) -> Batch:
    """A change set creating an account and a contact that points at it through ``$1``, then a GET."""
    batch = Batch()
    with batch.change_set() as change_set:
        account = change_set.create("accounts", {"name": f"{tag}-account"})
        change_set.create("contacts", {"lastname": f"{tag}-contact", "parentcustomerid_account@odata.bind": account})
    batch.query("accounts", select=["name"], filter=f"startswith(name,'{tag}')")
    return batch


def check_account_and_contact(results: list[BatchResult], tag: str) -> tuple[str, str]:
    assert [r.status for r in results] == [204, 204, 200]
    assert [r.content_id for r in results] == ["1", "2", None]
    account_id, contact_id = results[0].entity_id, results[1].entity_id
    assert account_id is not None
    assert contact_id is not None
    assert results[2].body is not None
    assert [r["name"] for r in results[2].body["value"]] == [f"{tag}-account"]  # the GET sees the change set
    return account_id, contact_id


def test_a_change_set_creates_related_records_through_a_reference(api: WebApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    account_id, contact_id = check_account_and_contact(api.execute_batch(account_and_contact(tag)), tag)
    contact = api.get("contacts", contact_id, select=["lastname", "_parentcustomerid_value"])
    assert (contact["lastname"], contact["_parentcustomerid_value"]) == (f"{tag}-contact", account_id)
    assert api.get("accounts", account_id, select=["name"])["name"] == f"{tag}-account"

    batch = Batch()
    with batch.change_set() as change_set:
        change_set.update("contacts", contact_id, {"jobtitle": "Buyer"})
        change_set.delete("contacts", contact_id)
        change_set.delete("accounts", account_id)
    batch.get("accounts", account_id)
    results = api.execute_batch(batch, continue_on_error=True)
    assert [r.status for r in results] == [204, 204, 204, 404]
    assert results[3].error is not None
    assert results[3].error.code == "0x80040217"


def test_a_failed_change_set_keeps_nothing_and_carries_the_dataverse_code(api: WebApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    batch = Batch()
    with batch.change_set() as change_set:
        change_set.create("accounts", {"name": f"{tag}-rolled-back"})
        change_set.update("accounts", MISSING, {"name": "nobody"})
    batch.get("accounts", MISSING)  # never runs: the batch stops at the first failure

    results = api.execute_batch(batch)
    assert [r.status for r in results] == [404, 404]
    error = results[1].error
    assert error is not None
    assert (error.status, error.code) == (404, "0x80040217")
    with pytest.raises(DataverseApiError, match="0x80040217"):
        results[0].raise_for_status()
    with pytest.raises(BatchError) as caught:
        api.execute_batch(batch, raise_on_error=True)
    assert caught.value.code == "0x80040217"
    assert len(caught.value.results) == 2
    assert list(api.query("accounts", filter=f"startswith(name,'{tag}')")) == []


def test_continue_on_error_runs_everything_after_a_failure(api: WebApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    batch = Batch()
    batch.change_set().update("accounts", MISSING, {"name": "nobody"})
    created = batch.change_set()
    created.create("accounts", {"name": f"{tag}-kept"})
    batch.query("accounts", select=["name"], filter=f"startswith(name,'{tag}')")

    stopped = api.execute_batch(batch)
    assert [r.status for r in stopped] == [404]
    results = api.execute_batch(batch, continue_on_error=True)
    assert [r.status for r in results] == [404, 204, 200]
    assert results[2].body is not None
    assert [r["name"] for r in results[2].body["value"]] == [f"{tag}-kept"]
    assert results[1].entity_id is not None
    api.delete("accounts", results[1].entity_id)


def test_the_async_client_runs_the_same_batch(trust: Server) -> None:
    tag = uuid.uuid4().hex[:8]

    async def main() -> tuple[str, str, dict[str, object]]:
        async with (
            async_tokens(trust) as tokens,
            AsyncWebApiClient(trust.credentials["DATAVERSE_URL"], tokens) as api,
        ):
            account_id, contact_id = check_account_and_contact(await api.execute_batch(account_and_contact(tag)), tag)
            contact = await api.get("contacts", contact_id, select=["_parentcustomerid_value"])
            await api.delete("contacts", contact_id)
            await api.delete("accounts", account_id)
            return account_id, contact_id, contact

    account_id, _, contact = asyncio.run(main())
    assert contact["_parentcustomerid_value"] == account_id


def test_a_real_429_is_retried_by_the_async_client(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--service-protection", "requests=3,concurrent=52,execution=1200,window=2")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    async def main() -> None:
        trust = ssl.create_default_context(cafile=server.ca_bundle)
        async with (
            async_tokens(server, trust) as tokens,
            AsyncWebApiClient(server.credentials["DATAVERSE_URL"], tokens, verify=trust, sleep=sleep) as api,
        ):
            for _ in range(5):
                assert (await api.who_am_i())["UserId"]

    try:
        asyncio.run(main())
        assert slept  # at least one 429 was answered and waited out
        assert all(1 <= s <= 3 for s in slept)
    finally:
        stop_server(server)


FORMATTED = "OData.Community.Display.V1.FormattedValue"


def test_annotations_on_get_and_on_every_page_and_the_request_escape_hatch(api: WebApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    person = api.create("contacts", {"firstname": "Ida", "lastname": tag})
    for i in range(3):
        api.create("accounts", {"name": f"{tag}-{i}", "primarycontactid@odata.bind": f"/contacts({person})"})
    rows = list(
        api.query(
            "accounts",
            select=["name", "statecode", "_primarycontactid_value"],
            filter=f"startswith(name,'{tag}')",
            page_size=2,
            annotations="*",
        )
    )
    assert len(rows) == 3
    assert all(row[f"statecode@{FORMATTED}"] == "Active" for row in rows)  # page 2 keeps the preference
    assert all(row[f"_primarycontactid_value@{FORMATTED}"] == f"Ida {tag}" for row in rows)
    one = api.get("accounts", rows[0]["accountid"], select=["statecode"], annotations=FORMATTED)
    assert one[f"statecode@{FORMATTED}"] == "Active"
    assert f"statecode@{FORMATTED}" not in api.get("accounts", rows[0]["accountid"], select=["statecode"])
    counted = api.request("GET", "accounts/$count", params={"$filter": f"startswith(name,'{tag}')"})
    assert counted.text.strip().lstrip("\ufeff") == "3"
    with pytest.raises(DataverseApiError) as caught:
        api.request("GET", f"accounts({MISSING})")
    assert caught.value.code == "0x80040217"
